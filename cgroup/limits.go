package cgroup

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Infinity is "no limit" in a byte or task count, as systemd's
// CGROUP_LIMIT_MAX.
const Infinity = math.MaxUint64

// Limits are the resource controls of a container's scope, from
// --property=NAME=VALUE in systemd's unit property syntax
// (systemd.resource-control(5)). A nil field is not set.
type Limits struct {
	MemoryMax     *uint64 // bytes, or Infinity
	MemoryHigh    *uint64
	MemorySwapMax *uint64
	// CPUQuota is CPU time per second of wall time, in µs: 50% is 500000
	// (systemd's CPUQuotaPerSecUSec).
	CPUQuota  *uint64
	CPUWeight *uint64 // 1..10000, or WeightIdle
	TasksMax  *uint64 // or Infinity
	IOWeight  *uint64 // 1..10000
	// AllowedCPUs is a CPU list in the kernel's form ("0-3,6").
	AllowedCPUs string
	DeviceAllow []Device
}

// WeightIdle is CPUWeight=idle: the scheduler runs the container only
// when nothing else wants the CPU (cpu.idle).
const WeightIdle = 0

// Device is one DeviceAllow= entry: a /dev path, char-NAME or block-NAME,
// and the access it gets (some of r, w, m).
type Device struct {
	Path   string
	Access string
}

// Host is what relative values are relative to.
type Host struct {
	MemTotal uint64 // bytes of RAM, for MemoryMax=50%
	TasksMax uint64 // the kernel's task limit, for TasksMax=50%
	CPUs     string // online CPUs ("0-1"), for AllowedCPUs=
}

// Set parses one NAME=VALUE assignment into l, by the row of properties
// named. An empty value resets the property, as systemd does.
func (l *Limits) Set(assignment string, host Host) error {
	name, value, ok := strings.Cut(assignment, "=")
	if !ok {
		return fmt.Errorf("not NAME=VALUE (e.g. MemoryMax=1G)")
	}
	var names []string
	for _, p := range properties {
		if p.name == name {
			return p.parse(l, strings.TrimSpace(value), host)
		}
		names = append(names, p.name)
	}
	return fmt.Errorf("unknown property %s; nspawn sets %s", name, strings.Join(names, ", "))
}

// parseBytes is systemd's size syntax: a number with an optional
// 1024-based suffix (K, M, G, T, P, E), a percentage of RAM, or infinity.
func parseBytes(s string, memTotal uint64) (*uint64, error) {
	if v, done, err := parseLimit(s, memTotal); done {
		return v, err
	}
	num := strings.TrimSuffix(s, "B")
	mult := float64(1)
	if n := len(num); n > 0 {
		if i := strings.IndexByte("KMGTPE", num[n-1]); i >= 0 {
			mult = math.Pow(1024, float64(i+1))
			num = num[:n-1]
		}
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil || f < 0 || num == "" || strings.ContainsAny(num, "eExXpP+-_") || f*mult >= math.MaxUint64 {
		return nil, fmt.Errorf("%s is not a size (bytes with an optional K, M, G or T suffix, a percentage of RAM, or infinity)", s)
	}
	return ptr(uint64(f * mult)), nil
}

// parseLimit is what byte and task limits share: empty (unset),
// infinity, or a percentage of whole. done is false for anything else,
// which is the caller's to read.
func parseLimit(s string, whole uint64) (v *uint64, done bool, err error) {
	switch {
	case s == "":
		return nil, true, nil
	case s == "infinity":
		return ptr(uint64(Infinity)), true, nil
	}
	pct, ok := strings.CutSuffix(s, "%")
	if !ok {
		return nil, false, nil
	}
	// Digits and a point only: ParseFloat would also take 1e1, 0x1p1,
	// inf and nan.
	f, err := strconv.ParseFloat(pct, 64)
	if err != nil || strings.Trim(pct, "0123456789.") != "" || f > 100 {
		return nil, true, fmt.Errorf("%s is not a percentage from 0%% to 100%%", s)
	}
	return ptr(uint64(float64(whole) * f / 100)), true, nil
}

// parseCPUQuota takes a percentage of one CPU ("150%" is one and a half);
// systemd allows up to two decimals.
func parseCPUQuota(s string) (*uint64, error) {
	if s == "" {
		return nil, nil
	}
	pct, ok := strings.CutSuffix(s, "%")
	f, err := strconv.ParseFloat(pct, 64)
	if !ok || err != nil || f <= 0 || strings.ContainsAny(pct, "eExX+-") || math.IsInf(f, 0) || f > 1e9 {
		return nil, fmt.Errorf("%s is not a CPU quota (a percentage above 0, e.g. 50%% or 200%%)", s)
	}
	return ptr(uint64(math.Round(f * 10000))), nil // µs per second
}

// parseCPUWeight is CPUWeight=: a weight, or idle.
func parseCPUWeight(s string) (*uint64, error) {
	if s == "idle" {
		return ptr(WeightIdle), nil
	}
	return parseWeight(s)
}

// parseWeight is CPUWeight= and IOWeight=: 1 to 10000, default 100.
func parseWeight(s string) (*uint64, error) {
	if s == "" {
		return nil, nil
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil || n < 1 || n > 10000 {
		return nil, fmt.Errorf("%s is not a weight (a whole number from 1 to 10000; the default is 100)", s)
	}
	return &n, nil
}

// parseTasks is TasksMax=: a count, a percentage of the kernel's limit,
// or infinity.
func parseTasks(s string, kernelMax uint64) (*uint64, error) {
	if v, done, err := parseLimit(s, kernelMax); done {
		if err != nil {
			return nil, err
		}
		return atLeastMinTasks(s, v)
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil || n == 0 {
		return nil, fmt.Errorf("%s is not a task count (a whole number above 0, a percentage, or infinity)", s)
	}
	return atLeastMinTasks(s, &n)
}

// MinTasks is the least TasksMax= nspawn takes. The child runs in
// the container's cgroup before it execs the payload, and the --as-pid2
// stub init stays there beside it: both are Go programs, whose runtime
// makes several threads (sysmon, the template thread, one per blocking
// system call) and panics when the kernel refuses one. Refused here, the
// limit is one line before anything starts, on every path.
const MinTasks = 16

func atLeastMinTasks(s string, n *uint64) (*uint64, error) {
	if n != nil && *n != Infinity && *n < MinTasks {
		return nil, fmt.Errorf("%s is below the %d tasks nspawn needs in the container (its first process and the --as-pid2 stub init are Go programs with several threads); use %d or more", s, MinTasks, MinTasks)
	}
	return n, nil
}

// parseCPUs reads a CPU list ("0-3,6", or separated by spaces), checks
// every CPU is online here, and returns it in the kernel's form.
func parseCPUs(s, online string) (string, error) {
	if s == "" {
		return "", nil
	}
	want, err := cpuSet(strings.Join(strings.Fields(strings.ReplaceAll(s, ",", " ")), ","))
	if err != nil {
		return "", fmt.Errorf("%s is not a CPU list (numbers and ranges, e.g. 0-3,6)", s)
	}
	have, _ := cpuSet(online)
	for cpu := range want {
		if online != "" && !have[cpu] {
			return "", fmt.Errorf("CPU %d is not online here (this host's CPUs are %s)", cpu, online)
		}
	}
	return cpuList(want), nil
}

// cpuSet parses the kernel's list format.
func cpuSet(s string) (map[int]bool, error) {
	set := map[int]bool{}
	for _, part := range strings.Split(strings.TrimSpace(s), ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil || a < 0 {
			return nil, fmt.Errorf("bad CPU %q", part)
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil || b < a || b-a > 1<<16 {
				return nil, fmt.Errorf("bad CPU range %q", part)
			}
		}
		for c := a; c <= b; c++ {
			set[c] = true
		}
	}
	return set, nil
}

// cpuList writes a set in the kernel's list format, ranges collapsed.
func cpuList(set map[int]bool) string {
	var parts []string
	for c := 0; len(set) > 0; c++ {
		if !set[c] {
			continue
		}
		start := c
		for set[c+1] {
			delete(set, c)
			c++
		}
		delete(set, c)
		if start == c {
			parts = append(parts, strconv.Itoa(c))
		} else {
			parts = append(parts, fmt.Sprintf("%d-%d", start, c))
		}
	}
	return strings.Join(parts, ",")
}

// parseDevice is DeviceAllow=: "PATH [rwm]", PATH a /dev node or a
// char-/block- device group from /proc/devices.
func parseDevice(s string) (Device, error) {
	fields := strings.Fields(s)
	if len(fields) == 0 || len(fields) > 2 {
		return Device{}, fmt.Errorf("%q is not a device entry (PATH [rwm], e.g. \"/dev/fuse rw\" or \"char-pts rw\")", s)
	}
	d := Device{Path: fields[0], Access: "rwm"}
	if !strings.HasPrefix(d.Path, "/dev/") && !strings.HasPrefix(d.Path, "char-") && !strings.HasPrefix(d.Path, "block-") {
		return Device{}, fmt.Errorf("%s is not a device (a /dev/ path, char-NAME or block-NAME)", d.Path)
	}
	if len(fields) == 2 {
		d.Access = fields[1]
		if strings.Trim(d.Access, "rwm") != "" {
			return Device{}, fmt.Errorf("%s: access %q must be made of r, w and m", d.Path, d.Access)
		}
	}
	return d, nil
}

func ptr(v uint64) *uint64 { return &v }

// CPUs is the set of a CPU list in the kernel's form ("0-3,6").
func CPUs(list string) map[int]bool {
	set, _ := cpuSet(list)
	return set
}
