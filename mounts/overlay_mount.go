package mounts

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// ParseOverlay parses an --overlay/--overlay-ro value with
// systemd-nspawn's syntax: LOWER:UPPER (mounted at UPPER's path) or
// LOWER[:LOWER...]:UPPER:DEST, the last lower the top one, an empty UPPER
// a throw-away directory, a leading '+' a path inside the tree, "\:" a
// colon in a path.
func ParseOverlay(spec string, readOnly bool) (Step, error) {
	fields, err := splitSpec(spec, 1<<16)
	if err != nil {
		return Step{}, err
	}
	if len(fields) < 2 {
		return Step{}, fmt.Errorf("needs at least LOWER:UPPER")
	}
	s := Step{Kind: KindOverlay, ReadOnly: readOnly}
	var upper, dest string
	if len(fields) == 2 {
		s.Lower, upper = fields[:1], fields[1]
		if upper == "" {
			return Step{}, fmt.Errorf("the upper directory is empty (a throw-away one needs LOWER::DEST)")
		}
		dest = strings.TrimPrefix(upper, "+")
	} else {
		n := len(fields)
		s.Lower, upper, dest = fields[:n-2], fields[n-2], fields[n-1]
	}
	for i, l := range s.Lower {
		if s.Lower[i], err = sourcePath("lower directory", l); err != nil {
			return Step{}, err
		}
	}
	if upper != "" {
		if s.Source, err = sourcePath("upper directory", upper); err != nil {
			return Step{}, err
		}
	}
	if s.Target, err = absPath("destination", dest); err != nil {
		return Step{}, err
	}
	return s, nil
}

// sourcePath checks an absolute path, '+' (inside the tree) allowed.
func sourcePath(what, p string) (string, error) {
	if in, ok := strings.CutPrefix(p, "+"); ok {
		c, err := absPath(what, "/"+strings.TrimLeft(in, "/"))
		return "+" + c, err
	}
	return absPath(what, p)
}

// OverlaySource is where an overlay's path is on the host: '+' paths
// below root.
func OverlaySource(root, p string) (string, error) {
	if in, ok := strings.CutPrefix(p, "+"); ok {
		return InTree(root, in)
	}
	return p, nil
}

// OverlayWorkDir is the work directory overlayfs needs beside an upper
// directory on its filesystem, as systemd-nspawn makes one: removed when
// the container ends (a SIGKILLed nspawn leaves it, and the next run
// reuses it).
func OverlayWorkDir(upper string) string {
	return filepath.Join(filepath.Dir(upper), ".#"+filepath.Base(upper)+".nspawn-work")
}

// overlay mounts s's overlay at its target in the tree. A throw-away
// upper is a tmpfs that belongs to no path, like Ephemeral's, so nothing
// of it outlives the namespaces; it is owned as s.Data's uid= says (the
// container's root). Read-only, the upper is the top lower layer.
func overlay(root string, s Step) error {
	var lower []string
	for i := len(s.Lower) - 1; i >= 0; i-- {
		l, err := OverlaySource(root, s.Lower[i])
		if err != nil {
			return err
		}
		lower = append(lower, l)
	}
	opts := [][2]string{}
	if s.Source == "" {
		tmp, err := detachedTmpfs(0, "mode=0700")
		if err != nil {
			return fmt.Errorf("overlay on %s: %w", s.Target, err)
		}
		defer unix.Close(tmp)
		owner := ownerOf(s.Data)
		for _, dir := range []string{"upper", "work"} {
			if err := unix.Mkdirat(tmp, dir, 0o755); err != nil {
				return fmt.Errorf("overlay on %s: make its %s directory: %w", s.Target, dir, err)
			}
			if err := unix.Fchownat(tmp, dir, owner, owner, unix.AT_SYMLINK_NOFOLLOW); err != nil {
				return fmt.Errorf("overlay on %s: own its %s directory: %w", s.Target, dir, err)
			}
		}
		layers := fmt.Sprintf("/proc/self/fd/%d/", tmp)
		if s.ReadOnly {
			lower = append([]string{layers + "upper"}, lower...)
		} else {
			opts = append(opts, [2]string{"upperdir", layers + "upper"}, [2]string{"workdir", layers + "work"})
		}
	} else {
		upper, err := OverlaySource(root, s.Source)
		if err != nil {
			return err
		}
		if s.ReadOnly {
			lower = append([]string{upper}, lower...)
		} else {
			work := OverlayWorkDir(upper)
			if err := os.Mkdir(work, 0o700); err != nil && !os.IsExist(err) {
				return fmt.Errorf("overlay on %s: make its work directory: %w", s.Target, err)
			}
			opts = append(opts, [2]string{"upperdir", upper}, [2]string{"workdir", work})
		}
	}
	escaped := make([]string, len(lower))
	for i, l := range lower {
		escaped[i] = strings.ReplaceAll(l, ":", `\:`)
	}
	opts = append([][2]string{{"lowerdir", strings.Join(escaped, ":")}}, opts...)
	fd, err := unix.Fsopen("overlay", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return fmt.Errorf("overlay on %s: the kernel has no overlayfs: %w", s.Target, err)
	}
	defer unix.Close(fd)
	for _, kv := range opts {
		if err := unix.FsconfigSetString(fd, kv[0], kv[1]); err != nil {
			return fmt.Errorf("overlay on %s: %s=%s: %w", s.Target, kv[0], kv[1], err)
		}
	}
	if err := unix.FsconfigCreate(fd); err != nil {
		return fmt.Errorf("overlay on %s: %w%s", s.Target, err, fsLog(fd))
	}
	var attr int
	if s.ReadOnly {
		attr = unix.MOUNT_ATTR_RDONLY
	}
	mnt, err := unix.Fsmount(fd, unix.FSMOUNT_CLOEXEC, attr)
	if err != nil {
		return fmt.Errorf("overlay on %s: %w", s.Target, err)
	}
	defer unix.Close(mnt)
	dst, err := mountPoint(root, s.Target, true)
	if err != nil {
		return err
	}
	if err := unix.MoveMount(mnt, "", unix.AT_FDCWD, dst, unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
		return fmt.Errorf("overlay on %s: %w", s.Target, err)
	}
	return nil
}

// fsLog is what the filesystem said about a refused mount (overlayfs
// names the layer and its fault), read from the fs context fd, as ": ..."
// or "" when it said nothing.
func fsLog(fd int) string {
	var msgs []string
	buf := make([]byte, 1024)
	for {
		n, err := unix.Read(fd, buf)
		if err != nil || n <= 0 {
			break
		}
		// Each message is "e overlay: ...", "w ..." or "i ...".
		msgs = append(msgs, strings.TrimSpace(string(buf[min(n, 2):n])))
	}
	if len(msgs) == 0 {
		return ""
	}
	return " (" + strings.Join(msgs, "; ") + ")"
}

// ownerOf reads the uid= of tmpfs-style options (0 without one).
func ownerOf(data string) int {
	for _, o := range strings.Split(data, ",") {
		if v, ok := strings.CutPrefix(o, "uid="); ok {
			var n int
			fmt.Sscan(v, &n)
			return n
		}
	}
	return 0
}

// OverlayUpperFS names the filesystem of magic when overlayfs refuses it
// as an upper layer, with why; "" when it takes it.
func OverlayUpperFS(magic int64) string {
	switch magic {
	case unix.OVERLAYFS_SUPER_MAGIC:
		return "overlayfs (an overlay cannot be another's upper layer)"
	case unix.MSDOS_SUPER_MAGIC, unix.EXFAT_SUPER_MAGIC:
		return "FAT (no extended attributes, no ownership)"
	case unix.NFS_SUPER_MAGIC:
		return "NFS (no trusted extended attributes)"
	case unix.FUSE_SUPER_MAGIC:
		return "FUSE (no trusted extended attributes)"
	case unix.PROC_SUPER_MAGIC, unix.SYSFS_MAGIC:
		return "a kernel filesystem"
	case unix.SQUASHFS_MAGIC, unix.ISOFS_SUPER_MAGIC, 0x28cd3d45 /* cramfs */, unix.EROFS_SUPER_MAGIC_V1:
		return "a read-only filesystem"
	}
	return ""
}
