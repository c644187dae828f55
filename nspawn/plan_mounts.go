package nspawn

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/nspawn/nspawn/mounts"
)

// planMounts lists every mount, by phase, with --resolv-conf's and
// --timezone's binds after the others and their file changes last, as
// systemd-nspawn orders them.
func (p *Plan) planMounts(o *Options, host *Facts) (err error) {
	if p.Volatile, err = planVolatile(o, p.Root); err != nil {
		return err
	}
	steps, err := mountPlan(o, p.Root, host.Cwd, p.envBool(host.Env, knobTmpfsTmp, true), p.Volatile)
	if err != nil {
		return err
	}
	for _, s := range steps {
		if s.Kind == mounts.KindOverlay && s.Source != "" && !s.ReadOnly {
			upper, _ := mounts.OverlaySource(p.Root, s.Source)
			p.OverlayWork = append(p.OverlayWork, mounts.OverlayWorkDir(upper))
		}
	}
	resolv, err := parseMode("--resolv-conf", o.ResolvConf, resolvModes)
	if err != nil {
		return err
	}
	tz, err := parseMode("--timezone", o.Timezone, timezoneModes)
	if err != nil {
		return err
	}
	if p.oldRoot != nil {
		// After --read-only's flag change of the tree, before /dev.
		at := 0
		if o.ReadOnly {
			at = 1
		}
		steps = slices.Insert(steps, at, *p.oldRoot)
	}
	tf := &treeFiles{host: host}
	tf.timezone(tz, p.Root, o.ReadOnly)
	tf.resolvConf(resolv, p.PrivateNetwork, o.ReadOnly)
	p.Warnings = append(p.Warnings, tf.warnings...)
	p.Mounts = mounts.Arrange(append(steps, tf.binds...), tf.changes, p.Cgroup.Spec.Layout.Unified != "")
	if err := p.planCredentials(o, host); err != nil {
		return err
	}
	return p.checkOSTree(pick(o.Directory == "", host.Cwd, o.Directory))
}

// mountPlan lists every mount: with --read-only first the tree and every
// mount it carries, as systemd-nspawn does, so only what is mounted later
// stays writable; then the standard API filesystems; then the user's binds
// and tmpfs mounts, parents before children. Bind sources and destinations
// are checked here, before anything is created.
func mountPlan(o *Options, root, cwd string, tmpfsTmp bool, volatile string) ([]mounts.Step, error) {
	var custom []mounts.Step
	for _, b := range []struct {
		flag  string
		specs []string
		ro    bool
	}{{"--bind", o.Binds, false}, {"--bind-ro", o.BindsRO, true}} {
		for _, spec := range b.specs {
			s, err := mounts.ParseBind(spec, b.ro, cwd)
			if err != nil {
				return nil, fmt.Errorf("%s=%s: %v", b.flag, spec, err)
			}
			src := s.Source
			if s.SourceInTree {
				src = inTree(root, s.Source)
			}
			st, err := os.Stat(src)
			if err != nil {
				return nil, fmt.Errorf("%s=%s: %s does not exist", b.flag, spec, s.Source)
			}
			if dst, err := os.Stat(inTree(root, s.Target)); err == nil && dst.IsDir() != st.IsDir() {
				return nil, fmt.Errorf("%s=%s: cannot bind %s onto %s in the tree", b.flag, spec, kind(st), kind(dst))
			}
			custom = append(custom, s)
		}
	}
	overlays, err := planOverlays(o, root)
	if err != nil {
		return nil, err
	}
	custom = append(custom, overlays...)
	for _, spec := range o.Tmpfs {
		s, err := mounts.ParseTmpfs(spec)
		if err != nil {
			return nil, fmt.Errorf("--tmpfs=%s: %v", spec, err)
		}
		custom = append(custom, s)
	}
	mounted := len(custom)
	for _, path := range o.Inaccessible {
		s, err := inaccessibleStep(root, path, custom[:mounted])
		if err != nil {
			return nil, err
		}
		custom = append(custom, s)
	}
	if o.ReadOnly || volatile == "state" {
		flag := pick(o.ReadOnly, "--read-only", "--volatile=state")
		for _, s := range custom {
			if volatile == "state" && (s.Target == "/var" || strings.HasPrefix(s.Target, "/var/")) {
				continue // on the tmpfs /var
			}
			if _, err := os.Lstat(inTree(root, s.Target)); err != nil {
				return nil, fmt.Errorf("%s: mount point %s is missing in the tree and cannot be created in a read-only one; create it first", flag, s.Target)
			}
		}
	}
	// Mount /a before /a/b whatever order the flags came in, as
	// systemd-nspawn sorts its custom mounts.
	sort.SliceStable(custom, func(i, j int) bool {
		return strings.Count(custom[i].Target, "/") < strings.Count(custom[j].Target, "/")
	})
	var steps []mounts.Step
	if o.ReadOnly {
		steps = append(steps, mounts.Step{Kind: mounts.KindReadOnly, Target: "/", Recursive: true})
	}
	for _, s := range mounts.Standard() {
		if s.Target != "/tmp" || tmpfsTmp {
			steps = append(steps, s)
		}
	}
	return append(steps, custom...), nil
}

// inaccessibleStep checks --inaccessible's PATH: absolute, and there in
// the tree unless a mount of the container's brings it (/dev/null, a
// bind's files): systemd-nspawn fails on a missing one once the tree is
// up; here it is refused before.
func inaccessibleStep(root, path string, custom []mounts.Step) (mounts.Step, error) {
	if !filepath.IsAbs(path) {
		return mounts.Step{}, fmt.Errorf("--inaccessible=%s: the path must be absolute, inside the container; write /%s", path, path)
	}
	if filepath.Clean(path) == "/" {
		return mounts.Step{}, fmt.Errorf("--inaccessible=%s: the container's root cannot be made inaccessible; name a path below it", path)
	}
	brought := false
	for _, m := range append(mounts.Standard(), custom...) {
		if m.Target != "/" && (path == m.Target || strings.HasPrefix(path, m.Target+"/")) {
			brought = true
		}
	}
	for _, api := range []string{"/proc", "/sys"} {
		brought = brought || path == api || strings.HasPrefix(path, api+"/")
	}
	if _, err := os.Lstat(inTree(root, path)); err != nil && !brought {
		return mounts.Step{}, fmt.Errorf("--inaccessible=%s: %s does not exist in the tree; name an existing path", path, path)
	}
	return mounts.Step{Kind: mounts.KindInaccessible, Target: filepath.Clean(path)}, nil
}

func kind(fi os.FileInfo) string {
	if fi.IsDir() {
		return "a directory"
	}
	return "a file"
}

// inTree resolves an in-container path to its host path for reading; an
// unresolvable path yields one that does not exist.
func inTree(root, path string) string {
	p, err := mounts.InTree(root, path)
	if err != nil {
		return filepath.Join(root, "nonexistent")
	}
	return p
}
