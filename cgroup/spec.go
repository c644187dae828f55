package cgroup

import (
	"fmt"
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
}

// accountingControllers are the v1 hierarchies --stats reads; CPU time
// comes from the unified hierarchy's cpu.stat, which every cgroup has.
var accountingControllers = []string{"memory", "pids", "blkio"}

// cpuPeriod is the CFS period systemd uses for CPUQuota=, 100 ms.
const cpuPeriod = 100000

// Files turns limits into the files that carry them on this layout: the
// unified hierarchy's, or on a hybrid host the v1 controllers' (as
// systemd's cgroup.c maps them). Warnings name limits this layout cannot
// carry.
func (l Limits) Files(layout Layout) (files []File, warnings []string) {
	add := func(ctrl, value string, name string) {
		files = append(files, File{Controller: ctrl, Names: []string{name}, Values: []string{value}})
	}
	if !layout.Hybrid {
		if l.MemoryMax != nil {
			add("memory", maxValue(*l.MemoryMax, "max"), "memory.max")
		}
		if l.MemoryHigh != nil {
			add("memory", maxValue(*l.MemoryHigh, "max"), "memory.high")
		}
		if l.MemorySwapMax != nil {
			add("memory", maxValue(*l.MemorySwapMax, "max"), "memory.swap.max")
		}
		if l.CPUQuota != nil {
			add("cpu", fmt.Sprintf("%d %d", cpuQuota(*l.CPUQuota), cpuPeriod), "cpu.max")
		}
		if l.CPUWeight != nil && *l.CPUWeight == WeightIdle {
			add("cpu", "1", "cpu.idle")
		} else if l.CPUWeight != nil {
			add("cpu", strconv.FormatUint(*l.CPUWeight, 10), "cpu.weight")
		}
		if l.TasksMax != nil {
			add("pids", maxValue(*l.TasksMax, "max"), "pids.max")
		}
		if w := l.IOWeight; w != nil {
			// io.bfq.weight comes with the BFQ scheduler, io.weight with
			// blk-iocost; systemd writes both.
			files = append(files, File{Controller: "io",
				Names:  []string{"io.bfq.weight", "io.weight"},
				Values: []string{bfqWeight(*w), "default " + strconv.FormatUint(*w, 10)}})
		}
		if l.AllowedCPUs != "" {
			add("cpuset", l.AllowedCPUs, "cpuset.cpus")
		}
		return files, nil
	}
	if l.MemoryMax != nil {
		add("memory", maxValue(*l.MemoryMax, "-1"), "memory.limit_in_bytes")
	}
	if l.MemoryHigh != nil {
		warnings = append(warnings, "--property=MemoryHigh= has no effect on this host: cgroup v1 has no memory.high")
	}
	if l.MemorySwapMax != nil {
		// v1 limits memory and swap together: memsw is their sum.
		if l.MemoryMax == nil || *l.MemoryMax == Infinity || *l.MemorySwapMax == Infinity {
			warnings = append(warnings, "--property=MemorySwapMax= has no effect on this host without a finite MemoryMax=: cgroup v1 limits memory and swap only together")
		} else {
			add("memory", strconv.FormatUint(*l.MemoryMax+*l.MemorySwapMax, 10), "memory.memsw.limit_in_bytes")
		}
	}
	if l.CPUQuota != nil {
		add("cpu", strconv.Itoa(cpuPeriod), "cpu.cfs_period_us")
		add("cpu", strconv.FormatUint(cpuQuota(*l.CPUQuota), 10), "cpu.cfs_quota_us")
	}
	if l.CPUWeight != nil {
		// systemd's cgroup_cpu_weight_to_shares: 100 is 1024 shares.
		add("cpu", strconv.FormatUint(clamp(*l.CPUWeight*1024/100, 2, 262144), 10), "cpu.shares")
	}
	if l.TasksMax != nil {
		add("pids", maxValue(*l.TasksMax, "max"), "pids.max")
	}
	if w := l.IOWeight; w != nil {
		// systemd's cgroup_weight_io_to_blkio: 100 is blkio's 500.
		files = append(files, File{Controller: "blkio",
			Names:  []string{"blkio.bfq.weight", "blkio.weight"},
			Values: []string{bfqWeight(*w), strconv.FormatUint(clamp(*w*500/100, 10, 1000), 10)}})
	}
	if l.AllowedCPUs != "" {
		add("cpuset", l.AllowedCPUs, "cpuset.cpus")
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
