package mounts

import "strings"

// Phases are the container's mounts, grouped by when they can be made.
// nspawn builds the tree in a staging mount namespace of its own, whose
// tree is a shared mount; the container's mount namespace is a copy of it
// taken at clone time.
type Phases struct {
	// Tree changes the flags of the tree's own mounts (--read-only). It
	// runs in the staging namespace before the clone: a flag change does
	// not propagate into the copy.
	Tree []Step
	// Staged are /dev, /run, /tmp and the user's binds and tmpfs mounts,
	// made in the staging namespace right after the clone, while the
	// child starts up; they propagate into the container's copy.
	Staged []Step
	// Kernel are /proc and /sys, made once the container exists: proc
	// belongs to its PID namespace and sysfs to its network namespace.
	Kernel []KernelFS
	// Late are the user's mounts below /proc and /sys, which need those
	// first.
	Late []Step
	// Child are mounted by the child inside its own namespaces: the
	// cgroup2 of its cgroup namespace and the mqueue of its IPC
	// namespace.
	Child []Step
	// Files change files in the tree (--resolv-conf, --timezone). The
	// child makes them last, once the command is known to exist, so a
	// start that fails leaves the tree as it was.
	Files []Step
}

// Arrange puts the steps nspawn plans from its options (flag changes of
// the tree first, then the rest in mount order) into their phases, with
// the kernel filesystems and, where the host has cgroup2, the child's
// namespaced ones.
func Arrange(steps []Step, files []Step, cgroup2 bool) Phases {
	p := Phases{Kernel: Kernel(), Child: Namespaced(cgroup2), Files: files}
	for _, s := range steps {
		switch {
		case s.Kind == KindReadOnly && len(p.Staged) == 0 && len(p.Late) == 0:
			p.Tree = append(p.Tree, s)
		case below(s.Target, "/proc"), below(s.Target, "/sys"):
			p.Late = append(p.Late, s)
		default:
			p.Staged = append(p.Staged, s)
		}
	}
	return p
}

// ReadOnlyTree tells whether --read-only made the whole tree read-only.
func (p Phases) ReadOnlyTree() bool {
	for _, s := range p.Tree {
		if s.Target == "/" {
			return true
		}
	}
	return false
}

// Binds are the steps that bind host paths into the container.
func (p Phases) Binds() []Step {
	var binds []Step
	for _, s := range append(append([]Step(nil), p.Staged...), p.Late...) {
		if s.Kind == KindBind {
			binds = append(binds, s)
		}
	}
	return binds
}

// OwnedBy is p with the staged tmpfs and devpts instances given to uid,
// the host's ID of root in a shifted container (see OwnedBy).
func (p Phases) OwnedBy(uid uint32) Phases {
	p.Staged = OwnedBy(p.Staged, uid)
	p.Late = OwnedBy(p.Late, uid)
	return p
}

func below(path, dir string) bool {
	return path == dir || strings.HasPrefix(path, dir+"/")
}
