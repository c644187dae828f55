// Package cgroup places a container in a cgroup of its own on the cgroup
// filesystem: its scope when no systemd is there to make one, else only
// the payload cgroup below systemd's scope. Create, delegate, limit,
// restrict devices, account, kill, remove; and the undo handler that
// removes it when nspawn itself is killed (UndoCgroup).
package cgroup

import (
	"path/filepath"

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
	// V1 maps each v1 controller nspawn uses to its hierarchy's mount
	// point (comounted controllers share one), on a hybrid host.
	V1 map[string]string
}

const cgroupRoot = "/sys/fs/cgroup"

// v1Controllers are the v1 hierarchies limits and accounting use. Not
// devices: the device list is a BPF program on the unified hierarchy.
var v1Controllers = []string{"memory", "cpu", "cpuacct", "pids", "blkio", "cpuset"}

// Detect finds the host's layout.
func Detect() Layout {
	var st unix.Statfs_t
	if unix.Statfs(cgroupRoot, &st) != nil {
		return Layout{}
	}
	if st.Type == unix.CGROUP2_SUPER_MAGIC {
		return Layout{Unified: cgroupRoot}
	}
	l := Layout{Hybrid: true, V1: map[string]string{}}
	for _, c := range v1Controllers {
		dir := cgroupRoot + "/" + c
		if unix.Statfs(dir, &st) == nil && st.Type == unix.CGROUP_SUPER_MAGIC {
			// cpu and cpuacct are often one hierarchy, cpu,cpuacct,
			// with a link of each name.
			if real, err := filepath.EvalSymlinks(dir); err == nil {
				dir = real
			}
			l.V1[c] = dir
		}
	}
	unified := cgroupRoot + "/unified"
	if unix.Statfs(unified, &st) == nil && st.Type == unix.CGROUP2_SUPER_MAGIC {
		l.Unified = unified
	}
	// Legacy v1 only (no Unified): the container gets no cgroup of its own.
	return l
}
