package nspawn

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/nspawn/nspawn/mounts"
)

// knobEphemeralUpper says where -x keeps what the container writes:
// "tmpfs" (the default: in RAM, gone with the namespaces), "disk" (a
// fresh directory beside the tree, named as systemd-nspawn's -x names
// its copy) or an absolute DIR (a fresh directory below it). An
// environment variable rather than an option: mkosi, debspawn and mock
// run systemd-nspawn -x, pass the environment through but no new option,
// and -x takes no argument (-xb).
const knobEphemeralUpper = "NSPAWN_EPHEMERAL_UPPER"

// minUpperSpace is the least free space an upper on disk must start
// with: less, and the first write inside fails.
const minUpperSpace = 1 << 20

// undoDirKind is the undo log's record of a directory nspawn makes on
// the host and removes, whatever it holds, when it ends: [path].
const undoDirKind = "dir"

// planEphemeralUpper decides -x's upper layer: p.EphemeralUpper is the
// directory its fresh directory goes in, "" for a tmpfs. Every way it
// cannot be is refused here, before anything is made.
func (p *Plan) planEphemeralUpper(o *Options, env []string) error {
	v, _ := lookupEnvOK(env, knobEphemeralUpper)
	if !o.Ephemeral || v == "" || v == "tmpfs" {
		return nil
	}
	bad := func(format string, a ...any) error {
		return fmt.Errorf("$%s=%s: %s", knobEphemeralUpper, v, fmt.Sprintf(format, a...))
	}
	parent := v
	switch {
	case v == "disk":
		parent = filepath.Dir(p.Root)
	case filepath.IsAbs(v):
		if st, err := os.Stat(v); err != nil || !st.IsDir() {
			return bad("directory %s does not exist; create it, or use tmpfs or disk", v)
		}
	default:
		return bad("use tmpfs (in RAM, the default), disk (beside the tree) or an absolute directory")
	}
	real, tree := realPath(parent), realPath(p.Root)
	if real == tree || strings.HasPrefix(real, strings.TrimSuffix(tree, "/")+"/") {
		return bad("%s is inside the tree %s, which is the overlay's lower layer; overlayfs refuses layers that overlap: use a directory outside it", parent, p.Root)
	}
	var st unix.Statfs_t
	if err := unix.Statfs(real, &st); err != nil {
		return bad("%s: %v", parent, err)
	}
	if why := mounts.OverlayUpperFS(int64(st.Type)); why != "" {
		return bad("%s is on %s, which overlayfs cannot write to; use a directory on ext4, xfs, btrfs or tmpfs", parent, why)
	}
	if st.Flags&unix.ST_RDONLY != 0 || errors.Is(unix.Access(real, unix.W_OK), unix.EROFS) {
		return bad("%s is on a read-only filesystem; use a writable one, or tmpfs", parent)
	}
	if uint64(st.Bavail)*uint64(st.Bsize) < minUpperSpace || st.Files > 0 && st.Ffree == 0 {
		return bad("the filesystem of %s has no free space; free some, or use another directory", parent)
	}
	p.EphemeralUpper = parent
	return nil
}

// ephemeralUpperDir is a fresh name for -x's directory in parent, as
// systemd-nspawn names its -x copy of a tree (tempfn_random()):
// .#machine.<tree's name><16 random hex digits>.
func ephemeralUpperDir(parent, root string) (string, error) {
	var b [8]byte
	if _, err := unix.Getrandom(b[:], 0); err != nil {
		return "", fmt.Errorf("-x: a name for the upper directory: %w", err)
	}
	return filepath.Join(parent, fmt.Sprintf(".#machine.%s%x", filepath.Base(root), b)), nil
}

// makeUpperDirs records in the undo log, before anything else is made
// that they would sit under, the directories nspawn removes when the
// container ends: --overlay's work directories (made in the staging
// namespace) and -x's upper on disk, which is made here. Recorded before
// the cgroup, they are undone after its processes are killed.
func (c *container) makeUpperDirs() error {
	for _, dir := range c.plan.OverlayWork {
		if err := c.undo.Record(undoDirKind, dir); err != nil {
			return err
		}
	}
	if c.plan.EphemeralUpper == "" {
		return nil
	}
	dir, err := ephemeralUpperDir(c.plan.EphemeralUpper, c.plan.Root)
	if err != nil {
		return err
	}
	if err := c.undo.Record(undoDirKind, dir); err != nil {
		return err
	}
	// 0700, as systemd-nspawn's copy: what the container writes is the
	// container's alone.
	if err := unix.Mkdir(dir, 0o700); err != nil {
		return fmt.Errorf("-x: make the upper directory %s: %w", dir, err)
	}
	c.upper = dir
	return nil
}

// removeUpper removes -x's upper on disk, full or not.
func (c *container) removeUpper() {
	if c.upper != "" {
		os.RemoveAll(c.upper)
		c.upper = ""
	}
}

// UndoDir removes a directory a killed nspawn recorded (args: its path),
// with everything in it; one never made is nothing to do.
func UndoDir(args []string) error {
	if len(args) != 1 || !filepath.IsAbs(args[0]) {
		return errors.New("dir record: want one absolute path")
	}
	return os.RemoveAll(args[0])
}
