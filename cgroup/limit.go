package cgroup

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// limit writes spec's limits on the scope: on the unified hierarchy, or
// on a hybrid host in the v1 hierarchies, whose scope directories it makes
// (the container joins them with Join).
func (g *Group) limit(spec Spec) (warnings []string, err error) {
	if !spec.Layout.Hybrid {
		for _, f := range spec.Files {
			if w, err := write(g.Dir(), f); err != nil {
				return nil, err
			} else if w != "" {
				warnings = append(warnings, w)
			}
		}
		return warnings, nil
	}
	ctrls := spec.v1Controllers()
	dirs := map[string]string{} // controller -> the scope in its hierarchy
	for _, c := range ctrls {
		root, ok := spec.Layout.V1[c]
		if !ok {
			continue
		}
		dir := root + g.path
		if _, done := dirs[c]; !done && !slices.Contains(g.v1, dir) {
			if err := mkdirsV1(root, g.path, c == "cpuset"); err != nil {
				return nil, err
			}
			g.v1 = append(g.v1, dir)
		}
		dirs[c] = dir
	}
	for _, f := range spec.Files {
		dir, ok := dirs[f.Controller]
		if !ok {
			warnings = append(warnings, fmt.Sprintf("%s has no effect on this host: no %s hierarchy is mounted", f.Names[0], f.Controller))
			continue
		}
		if w, err := write(dir, f); err != nil {
			return nil, err
		} else if w != "" {
			warnings = append(warnings, w)
		}
	}
	return warnings, nil
}

// v1Controllers are the controllers whose v1 hierarchies spec's limits
// and accounting need, on a hybrid host.
func (spec Spec) v1Controllers() []string {
	if !spec.Layout.Hybrid {
		return nil
	}
	var ctrls []string
	if spec.Accounting {
		ctrls = append(ctrls, accountingControllers...)
	}
	for _, f := range spec.Files {
		ctrls = append(ctrls, f.Controller)
	}
	return ctrls
}

// JoinsV1 tells whether the container joins a v1 hierarchy (with Join,
// after its clone): a limit or --stats needs a v1 controller the host
// mounts. Only then must the child wait to be moved before it enters its
// cgroup namespace; a plain start writes no cgroup.procs at all.
func (spec Spec) JoinsV1() bool {
	for _, c := range spec.v1Controllers() {
		if _, ok := spec.Layout.V1[c]; ok {
			return true
		}
	}
	return false
}

// write writes f in dir; a limit none of whose files the kernel offers
// is a warning.
func write(dir string, f File) (warning string, err error) {
	written := false
	for i, name := range f.Names {
		err := writeFile(dir+"/"+name, f.Values[i])
		if errors.Is(err, unix.ENOENT) {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("set %s to %q in %s: %w", name, f.Values[i], dir, err)
		}
		written = true
	}
	if written {
		return "", nil
	}
	return fmt.Sprintf("%s has no effect on this host: the kernel offers no %s", f.Names[0], strings.Join(f.Names, " or ")), nil
}

// mkdirsV1 creates path's levels in a v1 hierarchy. A new v1 cpuset
// starts with no CPUs and no memory nodes, and no task may join it until
// it has some: each level gets its parent's.
func mkdirsV1(root, p string, cpuset bool) error {
	dir := root
	for _, name := range strings.Split(strings.Trim(p, "/"), "/") {
		parent := dir
		dir += "/" + name
		if err := unix.Mkdir(dir, 0o755); err != nil && !errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("create cgroup %s: %w", dir, err)
		}
		if cpuset {
			for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
				if cur, _ := readFile(dir + "/" + f); len(strings.TrimSpace(string(cur))) > 0 {
					continue
				}
				v, err := readFile(parent + "/" + f)
				if err == nil {
					err = writeFile(dir+"/"+f, strings.TrimSpace(string(v)))
				}
				if err != nil {
					return fmt.Errorf("cgroup %s: copy %s: %w", dir, f, err)
				}
			}
		}
	}
	return nil
}

// Join moves pid into the scope's v1 directories: the v1 hierarchies
// have no CLONE_INTO_CGROUP, so the child waits for this before it
// goes on.
func (g *Group) Join(pid int) error {
	for _, dir := range g.v1 {
		if err := writeFile(dir+"/cgroup.procs", strconv.Itoa(pid)); err != nil {
			return fmt.Errorf("move the container into %s: %w", dir, err)
		}
	}
	return nil
}

// JoinPayload moves pid into the payload cgroup: a scope systemd made
// holds the child itself, where the rule of no processes in inner
// cgroups would keep it from delegating controllers below.
func (g *Group) JoinPayload(pid int) error {
	dir := g.Dir() + "/" + PayloadDir
	if err := writeFile(dir+"/cgroup.procs", strconv.Itoa(pid)); err != nil {
		return fmt.Errorf("move the container into %s: %w", dir, err)
	}
	// Now that the scope holds no process of its own.
	delegate(g.Dir())
	return nil
}
