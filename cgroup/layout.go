// Package cgroup places a container in a cgroup of its own on the cgroup
// filesystem, when no systemd is there to do it: create, delegate, kill,
// remove; and a reaper that removes it when nspawn itself is killed.
package cgroup

import (
	"golang.org/x/sys/unix"
)

// Layout is where this host mounts its cgroup hierarchies, found the way
// systemd finds it (statfs of /sys/fs/cgroup, then /sys/fs/cgroup/unified).
type Layout struct {
	// Unified is the mount point of the cgroup v2 hierarchy: /sys/fs/cgroup
	// on a unified host, /sys/fs/cgroup/unified on a hybrid one, "" when
	// there is none.
	Unified string
	// Hybrid means the controllers live on v1 hierarchies beside Unified.
	Hybrid bool
}

const cgroupRoot = "/sys/fs/cgroup"

// Detect finds the host's layout.
func Detect() Layout {
	var st unix.Statfs_t
	if unix.Statfs(cgroupRoot, &st) != nil {
		return Layout{}
	}
	if st.Type == unix.CGROUP2_SUPER_MAGIC {
		return Layout{Unified: cgroupRoot}
	}
	unified := cgroupRoot + "/unified"
	if unix.Statfs(unified, &st) == nil && st.Type == unix.CGROUP2_SUPER_MAGIC {
		return Layout{Unified: unified, Hybrid: true}
	}
	// Legacy v1 only: the container gets no cgroup of its own.
	return Layout{Hybrid: true}
}
