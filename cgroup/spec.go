package cgroup

import (
	"strconv"
)

// Spec is the cgroup a container gets.
type Spec struct {
	Layout Layout
	// Path is the scope below each hierarchy's root
	// (/machine.slice/machine-x.scope).
	Path string
	// Existing means the scope is not nspawn's to make or remove: systemd
	// made it, or it is nspawn's own cgroup (--keep-unit). Only its
	// payload cgroup is created, and only that is killed and removed.
	Existing bool
	// Supervise moves nspawn itself into a supervisor cgroup beside the
	// payload, as systemd-nspawn does under --keep-unit: a cgroup holding
	// a process cannot hand controllers to its children. Only where
	// systemd removes the unit's whole tree when it ends.
	Supervise bool
	// Files are the limits, written on the scope.
	Files []File
	// Devices, when not nil, are the only device nodes the container may
	// use (and an empty list is none): systemd's DevicePolicy=closed with a
	// DeviceAllow= list. Not applied to an Existing scope: its unit's own
	// DevicePolicy= holds there, as under systemd-nspawn --keep-unit.
	Devices []DeviceRule
	// Accounting joins, on a hybrid host, the v1 hierarchies that --stats
	// reads (memory, pids, blkio) even where no limit needs them.
	Accounting bool
	// Owner, when not 0, is the host UID of root in a container with a
	// shifted user namespace: the payload cgroup is delegated to it, as
	// systemd-nspawn chowns it, so an init inside can make cgroups.
	Owner uint32
}

// SupervisorDir is nspawn's own cgroup beside the payload under Supervise.
const SupervisorDir = "supervisor"

// File is one limit, in the hierarchy of Controller: each of Names the
// kernel offers gets the Value of the same index (IOWeight= goes to BFQ's
// weight and to io.cost's, whichever the host has).
type File struct {
	Controller string
	Names      []string
	Values     []string
	// Mirror means the container sees the limit too: the file is written
	// on the payload cgroup as well (Group.MirrorLimits), the root of the
	// container's cgroup namespace, where runtimes that size themselves
	// from their cgroup (Go's GOMAXPROCS, the JVM) read it. The scope's
	// copy still holds: root inside may rewrite the payload's, not the
	// scope's.
	Mirror bool
}

// accountingControllers are the v1 hierarchies --stats reads; CPU time
// comes from the unified hierarchy's cpu.stat, which every cgroup has.
var accountingControllers = []string{"memory", "pids", "blkio"}

// cpuPeriod is the CFS period systemd uses for CPUQuota=, 100 ms.
const cpuPeriod = 100000

// Files turns limits into the files that carry them on this layout: the
// unified hierarchy's, or on a hybrid host the v1 controllers' (as
// systemd's cgroup.c maps them), in the order of properties. Warnings
// name limits this layout cannot carry.
func (l Limits) Files(layout Layout) (files []File, warnings []string) {
	for _, p := range properties {
		if _, set := p.unit(l); !set {
			continue
		}
		if !layout.Hybrid {
			files = append(files, p.unified(l)...)
			continue
		}
		f, warning := p.v1(l)
		files = append(files, f...)
		if warning != "" {
			warnings = append(warnings, warning)
		}
	}
	return files, warnings
}

// bfqWeight is systemd's BFQ_WEIGHT: BFQ weighs 1 to 1000 around the same
// default of 100.
func bfqWeight(w uint64) string {
	if w <= 100 {
		return strconv.FormatUint(w, 10)
	}
	return strconv.FormatUint(100+(w-100)*900/9900, 10)
}

// cpuQuota is cpu.max's quota per period for a quota per second, at
// least the kernel's 1 ms minimum.
func cpuQuota(perSec uint64) uint64 {
	return max(perSec*cpuPeriod/1000000, 1000)
}

func maxValue(v uint64, unlimited string) string {
	if v == Infinity {
		return unlimited
	}
	return strconv.FormatUint(v, 10)
}

func clamp(v, lo, hi uint64) uint64 { return min(max(v, lo), hi) }
