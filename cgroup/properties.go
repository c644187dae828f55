package cgroup

import (
	"fmt"
	"strconv"
)

// property is everything nspawn knows about one --property=NAME: how its
// value is read into Limits, the files that carry it on each cgroup
// hierarchy (written by Create, from Limits.Files), and the unit property
// systemd takes for it (Limits.UnitProperties, which machine hands to
// StartTransientUnit or machined). A new property is a field in Limits and
// a row in properties.
type property struct {
	name string
	// parse reads value into l; "" resets the property, as in systemd.
	parse func(l *Limits, value string, host Host) error
	// unit is the property as systemd's unit property of the same name
	// (org.freedesktop.systemd1(5)) takes it, typed for D-Bus: uint64 is
	// t, []byte ay, []Device a(ss). ok is false when l leaves the property
	// unset, and then nothing else of the row is asked.
	unit func(l Limits) (value any, ok bool)
	// unitName is systemd's name for it where that is not name.
	unitName string
	// unified are its files on the unified hierarchy.
	unified func(l Limits) []File
	// v1 are its files on a hybrid host's v1 hierarchies, as systemd's
	// cgroup.c maps them, or a warning saying why v1 cannot carry it.
	v1 func(l Limits) ([]File, string)
}

// properties are the --property= names nspawn sets, in the order their
// files are written.
var properties = []property{
	{
		name: "MemoryMax",
		parse: func(l *Limits, s string, h Host) (err error) {
			l.MemoryMax, err = parseBytes(s, h.MemTotal)
			return err
		},
		unit: func(l Limits) (any, bool) { return deref(l.MemoryMax) },
		unified: func(l Limits) []File {
			return shown("memory", "memory.max", maxValue(*l.MemoryMax, "max"))
		},
		v1: func(l Limits) ([]File, string) {
			return one("memory", "memory.limit_in_bytes", maxValue(*l.MemoryMax, "-1")), ""
		},
	},
	{
		name: "MemoryHigh",
		parse: func(l *Limits, s string, h Host) (err error) {
			l.MemoryHigh, err = parseBytes(s, h.MemTotal)
			return err
		},
		unit: func(l Limits) (any, bool) { return deref(l.MemoryHigh) },
		unified: func(l Limits) []File {
			return shown("memory", "memory.high", maxValue(*l.MemoryHigh, "max"))
		},
		v1: func(Limits) ([]File, string) {
			return nil, "--property=MemoryHigh= has no effect on this host: cgroup v1 has no memory.high"
		},
	},
	{
		name: "MemorySwapMax",
		parse: func(l *Limits, s string, h Host) (err error) {
			l.MemorySwapMax, err = parseBytes(s, h.MemTotal)
			return err
		},
		unit: func(l Limits) (any, bool) { return deref(l.MemorySwapMax) },
		unified: func(l Limits) []File {
			return shown("memory", "memory.swap.max", maxValue(*l.MemorySwapMax, "max"))
		},
		v1: func(l Limits) ([]File, string) {
			// v1 limits memory and swap together: memsw is their sum.
			if l.MemoryMax == nil || *l.MemoryMax == Infinity || *l.MemorySwapMax == Infinity {
				return nil, "--property=MemorySwapMax= has no effect on this host without a finite MemoryMax=: cgroup v1 limits memory and swap only together"
			}
			return one("memory", "memory.memsw.limit_in_bytes", strconv.FormatUint(*l.MemoryMax+*l.MemorySwapMax, 10)), ""
		},
	},
	{
		name:     "CPUQuota",
		parse:    func(l *Limits, s string, _ Host) (err error) { l.CPUQuota, err = parseCPUQuota(s); return err },
		unit:     func(l Limits) (any, bool) { return deref(l.CPUQuota) },
		unitName: "CPUQuotaPerSecUSec",
		unified: func(l Limits) []File {
			return shown("cpu", "cpu.max", fmt.Sprintf("%d %d", cpuQuota(*l.CPUQuota), cpuPeriod))
		},
		v1: func(l Limits) ([]File, string) {
			return append(one("cpu", "cpu.cfs_period_us", strconv.Itoa(cpuPeriod)),
				one("cpu", "cpu.cfs_quota_us", strconv.FormatUint(cpuQuota(*l.CPUQuota), 10))...), ""
		},
	},
	{
		// Weights are not shown to the container: a weight counts only
		// against its siblings', and the payload cgroup has none to share
		// with, so the scope's weight in the payload would mean nothing.
		name:  "CPUWeight",
		parse: func(l *Limits, s string, _ Host) (err error) { l.CPUWeight, err = parseCPUWeight(s); return err },
		unit:  func(l Limits) (any, bool) { return deref(l.CPUWeight) },
		unified: func(l Limits) []File {
			if *l.CPUWeight == WeightIdle {
				return one("cpu", "cpu.idle", "1")
			}
			return one("cpu", "cpu.weight", strconv.FormatUint(*l.CPUWeight, 10))
		},
		v1: func(l Limits) ([]File, string) {
			// systemd's cgroup_cpu_weight_to_shares: 100 is 1024 shares.
			return one("cpu", "cpu.shares", strconv.FormatUint(clamp(*l.CPUWeight*1024/100, 2, 262144), 10)), ""
		},
	},
	{
		name:  "TasksMax",
		parse: func(l *Limits, s string, h Host) (err error) { l.TasksMax, err = parseTasks(s, h.TasksMax); return err },
		unit:  func(l Limits) (any, bool) { return deref(l.TasksMax) },
		unified: func(l Limits) []File {
			return shown("pids", "pids.max", maxValue(*l.TasksMax, "max"))
		},
		v1: func(l Limits) ([]File, string) {
			return one("pids", "pids.max", maxValue(*l.TasksMax, "max")), ""
		},
	},
	{
		name:  "IOWeight",
		parse: func(l *Limits, s string, _ Host) (err error) { l.IOWeight, err = parseWeight(s); return err },
		unit:  func(l Limits) (any, bool) { return deref(l.IOWeight) },
		unified: func(l Limits) []File {
			// io.bfq.weight comes with the BFQ scheduler, io.weight with
			// blk-iocost; systemd writes both.
			w := *l.IOWeight
			return []File{{Controller: "io",
				Names:  []string{"io.bfq.weight", "io.weight"},
				Values: []string{bfqWeight(w), "default " + strconv.FormatUint(w, 10)}}}
		},
		v1: func(l Limits) ([]File, string) {
			// systemd's cgroup_weight_io_to_blkio: 100 is blkio's 500.
			w := *l.IOWeight
			return []File{{Controller: "blkio",
				Names:  []string{"blkio.bfq.weight", "blkio.weight"},
				Values: []string{bfqWeight(w), strconv.FormatUint(clamp(w*500/100, 10, 1000), 10)}}}, ""
		},
	},
	{
		name:  "AllowedCPUs",
		parse: func(l *Limits, s string, h Host) (err error) { l.AllowedCPUs, err = parseCPUs(s, h.CPUs); return err },
		unit: func(l Limits) (any, bool) {
			return cpuMask(l.AllowedCPUs), l.AllowedCPUs != ""
		},
		unified: func(l Limits) []File { return shown("cpuset", "cpuset.cpus", l.AllowedCPUs) },
		v1: func(l Limits) ([]File, string) {
			return one("cpuset", "cpuset.cpus", l.AllowedCPUs), ""
		},
	},
	{
		// Device rules are no file: DeviceRules turns them into a BPF
		// program (or v1 devices.allow lines) beside the scope's other
		// devices.
		name:    "DeviceAllow",
		parse:   setDevice,
		unit:    func(l Limits) (any, bool) { return l.DeviceAllow, len(l.DeviceAllow) > 0 },
		unified: func(Limits) []File { return nil },
		v1:      func(Limits) ([]File, string) { return nil, "" },
	},
}

// setDevice adds a DeviceAllow= entry; an empty one clears the list.
func setDevice(l *Limits, s string, _ Host) error {
	if s == "" {
		l.DeviceAllow = nil
		return nil
	}
	d, err := parseDevice(s)
	if err == nil {
		l.DeviceAllow = append(l.DeviceAllow, d)
	}
	return err
}

// one is a single file of controller.
func one(controller, name, value string) []File {
	return []File{{Controller: controller, Names: []string{name}, Values: []string{value}}}
}

// shown is a single file of controller that the container sees too: see
// File.Mirror.
func shown(controller, name, value string) []File {
	f := one(controller, name, value)
	f[0].Mirror = true
	return f
}

// deref is a *uint64 limit as a unit property value: uint64 is D-Bus's t.
func deref(v *uint64) (any, bool) {
	if v == nil {
		return nil, false
	}
	return *v, true
}

// cpuMask is a CPU list as systemd's ay of AllowedCPUs=: bit N%8 of
// byte N/8.
func cpuMask(list string) []byte {
	var mask []byte
	for cpu := range CPUs(list) {
		for len(mask) <= cpu/8 {
			mask = append(mask, 0)
		}
		mask[cpu/8] |= 1 << (cpu % 8)
	}
	return mask
}

// UnitProperty is a limit as a property of systemd's unit: its name, and
// its value typed as D-Bus carries it (uint64 is t, []byte ay, []Device
// a(ss)).
type UnitProperty struct {
	Name  string
	Value any
}

// UnitProperties are the limits as the unit properties systemd takes
// for them (org.freedesktop.systemd1(5)); systemd then writes the cgroup
// files itself, on whatever hierarchy it runs.
func (l Limits) UnitProperties() []UnitProperty {
	var props []UnitProperty
	for _, p := range properties {
		v, ok := p.unit(l)
		if !ok {
			continue
		}
		name := p.name
		if p.unitName != "" {
			name = p.unitName
		}
		props = append(props, UnitProperty{Name: name, Value: v})
	}
	return props
}
