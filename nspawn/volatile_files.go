package nspawn

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/nspawn/nspawn/mounts"
)

// planVolatile checks --volatile against the tree and the other options,
// as systemd-nspawn's verify_arguments() and setup_volatile_*() do, and
// returns its mode ("" for no).
func planVolatile(o *Options, root string) (string, error) {
	mode, err := parseVolatile(o.Volatile)
	if err != nil || mode == "" {
		return "", err
	}
	if o.ReadOnly {
		return "", fmt.Errorf("--volatile=%s: cannot be combined with --read-only; --volatile already shows the tree read-only", o.Volatile)
	}
	switch mode {
	case "state":
		if fi, err := os.Stat(inTree(root, "/var")); err != nil || !fi.IsDir() {
			return "", fmt.Errorf("--volatile=state: the tree has no /var directory for the tmpfs, and the tree is not written; create it first")
		}
	case "yes":
		// The root is /usr alone: /bin must lead into it, as
		// systemd-nspawn's setup_volatile_yes() insists.
		if fi, err := os.Lstat(filepath.Join(root, "bin")); err == nil && fi.IsDir() {
			return "", fmt.Errorf("--volatile=yes: the tree's /bin is a directory, not merged into /usr; it would be missing in a root made of /usr alone; use --volatile=state or overlay")
		} else if err == nil && fi.Mode()&os.ModeSymlink == 0 {
			return "", fmt.Errorf("--volatile=yes: the tree's /bin must be a symlink into /usr or missing")
		}
		if fi, err := os.Stat(filepath.Join(root, "usr")); err != nil || !fi.IsDir() {
			return "", fmt.Errorf("--volatile=yes: the tree has no /usr directory to run from")
		}
	}
	return mode, nil
}

// parseVolatile reads a --volatile mode as systemd-nspawn does, a
// boolean meaning yes or no; "" for no.
func parseVolatile(v string) (string, error) {
	mode := v
	if b, err := parseBool(v); err == nil {
		mode = pick(b, "yes", "no")
	}
	switch mode {
	case "", "no":
		return "", nil
	case "yes", "state", "overlay":
		return mode, nil
	}
	return "", fmt.Errorf("--volatile=%s: unknown mode; use one of %s", v, strings.Join(mounts.VolatileModes, ", "))
}

// planOverlays parses --overlay and --overlay-ro and checks their
// directories before anything is mounted: each must exist, an upper must
// not lie inside one of its lowers, and overlayfs must take the upper's
// filesystem.
func planOverlays(o *Options, root string) ([]mounts.Step, error) {
	var steps []mounts.Step
	for _, b := range []struct {
		flag  string
		specs []string
		ro    bool
	}{{"--overlay", o.Overlays, false}, {"--overlay-ro", o.OverlaysRO, true}} {
		for _, spec := range b.specs {
			s, err := mounts.ParseOverlay(spec, b.ro)
			if err != nil {
				return nil, fmt.Errorf("%s=%s: %v", b.flag, spec, err)
			}
			if err := checkOverlay(root, s); err != nil {
				return nil, fmt.Errorf("%s=%s: %v", b.flag, spec, err)
			}
			steps = append(steps, s)
		}
	}
	return steps, nil
}

func checkOverlay(root string, s mounts.Step) error {
	host := func(p string) string {
		if in, ok := strings.CutPrefix(p, "+"); ok {
			return inTree(root, in)
		}
		return p
	}
	var lowers []string
	for _, l := range s.Lower {
		if fi, err := os.Stat(host(l)); err != nil || !fi.IsDir() {
			return fmt.Errorf("lower directory %s does not exist or is not a directory", l)
		}
		lowers = append(lowers, realPath(host(l)))
	}
	if s.Source == "" {
		return nil
	}
	upper := realPath(host(s.Source))
	if fi, err := os.Stat(upper); err != nil || !fi.IsDir() {
		return fmt.Errorf("upper directory %s does not exist or is not a directory; create it, or leave it empty for a throw-away one", s.Source)
	}
	for i, l := range lowers {
		if upper == l || strings.HasPrefix(upper, strings.TrimSuffix(l, "/")+"/") {
			return fmt.Errorf("upper directory %s is inside lower directory %s; overlayfs refuses layers that overlap", s.Source, s.Lower[i])
		}
		if strings.HasPrefix(l, upper+"/") {
			return fmt.Errorf("lower directory %s is inside upper directory %s; overlayfs refuses layers that overlap", s.Lower[i], s.Source)
		}
	}
	if s.ReadOnly {
		return nil
	}
	var st unix.Statfs_t
	if err := unix.Statfs(upper, &st); err == nil {
		if why := mounts.OverlayUpperFS(int64(st.Type)); why != "" {
			return fmt.Errorf("upper directory %s is on %s, which overlayfs cannot write to; pick one on ext4, xfs, btrfs or tmpfs", s.Source, why)
		}
	}
	// overlayfs wants its work directory on the upper's mount, and
	// nspawn makes it beside the upper, as systemd-nspawn does.
	var up, parent unix.Stat_t
	if unix.Stat(upper, &up) == nil && unix.Stat(filepath.Dir(upper), &parent) == nil && up.Dev != parent.Dev {
		return fmt.Errorf("upper directory %s is a mount point, and overlayfs needs its work directory beside it on the same filesystem; use a directory below it", s.Source)
	}
	return nil
}

// realPath is p with its symlinks resolved, to compare layers by where
// they are.
func realPath(p string) string {
	if r, err := filepath.EvalSymlinks(p); err == nil {
		return r
	}
	return p
}
