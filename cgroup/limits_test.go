package cgroup

import (
	"bytes"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

var testHost = Host{MemTotal: 8 << 30, TasksMax: 4194304, CPUs: "0-3"}

func TestLimitsSet(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Limits
		err  string
	}{
		{in: "MemoryMax=1G", want: Limits{MemoryMax: ptr(1 << 30)}},
		{in: "MemoryMax=1.5K", want: Limits{MemoryMax: ptr(1536)}},
		{in: "MemoryMax=100", want: Limits{MemoryMax: ptr(100)}},
		{in: "MemoryMax=512MB", want: Limits{MemoryMax: ptr(512 << 20)}},
		{in: "MemoryMax=infinity", want: Limits{MemoryMax: ptr(Infinity)}},
		{in: "MemoryMax=25%", want: Limits{MemoryMax: ptr(2 << 30)}},
		{in: "MemoryHigh=64M", want: Limits{MemoryHigh: ptr(64 << 20)}},
		{in: "MemorySwapMax=0", want: Limits{MemorySwapMax: ptr(0)}},
		{in: "MemoryMax=", want: Limits{}},
		{in: "CPUQuota=50%", want: Limits{CPUQuota: ptr(500000)}},
		{in: "CPUQuota=12.5%", want: Limits{CPUQuota: ptr(125000)}},
		{in: "CPUQuota=200%", want: Limits{CPUQuota: ptr(2000000)}},
		{in: "CPUWeight=200", want: Limits{CPUWeight: ptr(200)}},
		{in: "CPUWeight=idle", want: Limits{CPUWeight: ptr(WeightIdle)}},
		{in: "IOWeight=10000", want: Limits{IOWeight: ptr(10000)}},
		{in: "TasksMax=20", want: Limits{TasksMax: ptr(20)}},
		{in: "TasksMax=16", want: Limits{TasksMax: ptr(MinTasks)}},
		{in: "TasksMax=50%", want: Limits{TasksMax: ptr(2097152)}},
		{in: "TasksMax=infinity", want: Limits{TasksMax: ptr(Infinity)}},
		{in: "AllowedCPUs=3,0-1", want: Limits{AllowedCPUs: "0-1,3"}},
		{in: "AllowedCPUs=2 3", want: Limits{AllowedCPUs: "2-3"}},
		{in: "DeviceAllow=/dev/fuse rw", want: Limits{DeviceAllow: []Device{{"/dev/fuse", "rw"}}}},
		{in: "DeviceAllow=char-pts", want: Limits{DeviceAllow: []Device{{"char-pts", "rwm"}}}},
		{in: "Bogus=1", err: "unknown property Bogus"},
		{in: "MemoryMax", err: "not NAME=VALUE"},
		{in: "MemoryMax=lots", err: "not a size"},
		{in: "MemoryMax=-1", err: "not a size"},
		{in: "MemoryMax=1e9", err: "not a size"},
		{in: "MemoryMax=101%", err: "percentage"},
		{in: "MemoryMax=nan%", err: "percentage"},
		{in: "TasksMax=1e1%", err: "percentage"},
		{in: "TasksMax=-5%", err: "percentage"},
		{in: "CPUQuota=50", err: "not a CPU quota"},
		{in: "CPUQuota=0%", err: "not a CPU quota"},
		{in: "CPUWeight=0", err: "not a weight"},
		{in: "CPUWeight=10001", err: "not a weight"},
		{in: "IOWeight=x", err: "not a weight"},
		{in: "TasksMax=0", err: "not a task count"},
		{in: "TasksMax=1", err: "below the 16 tasks"},
		{in: "TasksMax=15", err: "below the 16 tasks"},
		{in: "TasksMax=0.0001%", err: "below the 16 tasks"},
		{in: "AllowedCPUs=4", err: "CPU 4 is not online"},
		{in: "AllowedCPUs=1-", err: "not a CPU list"},
		{in: "DeviceAllow=/etc/passwd r", err: "not a device"},
		{in: "DeviceAllow=/dev/sda rx", err: "r, w and m"},
	} {
		var l Limits
		err := l.Set(tc.in, testHost)
		switch {
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%s: error %v, want one with %q", tc.in, err, tc.err)
		case tc.err == "" && err != nil:
			t.Errorf("%s: %v", tc.in, err)
		case tc.err == "" && !reflect.DeepEqual(l, tc.want):
			t.Errorf("%s: got %+v, want %+v", tc.in, l, tc.want)
		}
	}
}

func TestLimitsFiles(t *testing.T) {
	var l Limits
	for _, a := range []string{"MemoryMax=32M", "MemorySwapMax=0", "MemoryHigh=16M", "CPUQuota=50%", "CPUWeight=200", "TasksMax=infinity", "IOWeight=300", "AllowedCPUs=0"} {
		if err := l.Set(a, testHost); err != nil {
			t.Fatal(err)
		}
	}
	show := func(files []File) string {
		var b strings.Builder
		for _, f := range files {
			for i := range f.Names {
				b.WriteString(f.Controller + ":" + f.Names[i] + "=" + f.Values[i] + "\n")
			}
		}
		return b.String()
	}
	v2, warnings := l.Files(Layout{Unified: "/sys/fs/cgroup"})
	want := "memory:memory.max=33554432\nmemory:memory.high=16777216\nmemory:memory.swap.max=0\ncpu:cpu.max=50000 100000\ncpu:cpu.weight=200\npids:pids.max=max\nio:io.bfq.weight=118\nio:io.weight=default 300\ncpuset:cpuset.cpus=0\n"
	if got := show(v2); got != want || len(warnings) > 0 {
		t.Errorf("v2:\n%s%v\nwant\n%s", got, warnings, want)
	}
	v1, warnings := l.Files(Layout{Unified: "/sys/fs/cgroup/unified", Hybrid: true})
	want = "memory:memory.limit_in_bytes=33554432\nmemory:memory.memsw.limit_in_bytes=33554432\ncpu:cpu.cfs_period_us=100000\ncpu:cpu.cfs_quota_us=50000\ncpu:cpu.shares=2048\npids:pids.max=max\nblkio:blkio.bfq.weight=118\nblkio:blkio.weight=1000\ncpuset:cpuset.cpus=0\n"
	if got := show(v1); got != want || len(warnings) != 1 || !strings.Contains(warnings[0], "MemoryHigh") {
		t.Errorf("v1:\n%s%v\nwant\n%s and a MemoryHigh warning", got, warnings, want)
	}
}

func TestCPUMask(t *testing.T) {
	for list, want := range map[string][]byte{"0-1": {0x03}, "3,9": {0x08, 0x02}, "8": {0x00, 0x01}} {
		if got := cpuMask(list); !bytes.Equal(got, want) {
			t.Errorf("cpuMask(%q) = %x, want %x", list, got, want)
		}
	}
}

// showFiles is files one a line, CONTROLLER:NAME=VALUE, with a + before a
// file the container sees too (Mirror).
func showFiles(files []File) string {
	var b strings.Builder
	for _, f := range files {
		for i := range f.Names {
			if f.Mirror {
				b.WriteString("+")
			}
			b.WriteString(f.Controller + ":" + f.Names[i] + "=" + f.Values[i] + "\n")
		}
	}
	return b.String()
}

// TestProperties runs every row of properties through all it says: the
// parse, the unified files, the v1 files or warning, and the unit
// property. Every row must have a case.
func TestProperties(t *testing.T) {
	cases := []struct {
		set       []string // the property last: the others are what it needs
		v2, v1    string
		v1Warning string
		unit      string // NAME TYPE VALUE
	}{
		{set: []string{"MemoryMax=1G"},
			v2:   "+memory:memory.max=1073741824\n",
			v1:   "memory:memory.limit_in_bytes=1073741824\n",
			unit: "MemoryMax uint64 1073741824"},
		{set: []string{"MemoryMax=infinity"},
			v2:   "+memory:memory.max=max\n",
			v1:   "memory:memory.limit_in_bytes=-1\n",
			unit: "MemoryMax uint64 18446744073709551615"},
		{set: []string{"MemoryHigh=64M"},
			v2:        "+memory:memory.high=67108864\n",
			v1Warning: "no memory.high",
			unit:      "MemoryHigh uint64 67108864"},
		{set: []string{"MemoryMax=1G", "MemorySwapMax=1M"},
			v2:   "+memory:memory.max=1073741824\n+memory:memory.swap.max=1048576\n",
			v1:   "memory:memory.limit_in_bytes=1073741824\nmemory:memory.memsw.limit_in_bytes=1074790400\n",
			unit: "MemorySwapMax uint64 1048576"},
		{set: []string{"MemorySwapMax=0"},
			v2:        "+memory:memory.swap.max=0\n",
			v1Warning: "without a finite MemoryMax",
			unit:      "MemorySwapMax uint64 0"},
		{set: []string{"CPUQuota=50%"},
			v2:   "+cpu:cpu.max=50000 100000\n",
			v1:   "cpu:cpu.cfs_period_us=100000\ncpu:cpu.cfs_quota_us=50000\n",
			unit: "CPUQuotaPerSecUSec uint64 500000"},
		{set: []string{"CPUQuota=0.5%"},
			v2:   "+cpu:cpu.max=1000 100000\n",
			v1:   "cpu:cpu.cfs_period_us=100000\ncpu:cpu.cfs_quota_us=1000\n",
			unit: "CPUQuotaPerSecUSec uint64 5000"},
		{set: []string{"CPUWeight=50"},
			v2:   "cpu:cpu.weight=50\n",
			v1:   "cpu:cpu.shares=512\n",
			unit: "CPUWeight uint64 50"},
		{set: []string{"CPUWeight=idle"},
			v2:   "cpu:cpu.idle=1\n",
			v1:   "cpu:cpu.shares=2\n",
			unit: "CPUWeight uint64 0"},
		{set: []string{"TasksMax=50"},
			v2:   "+pids:pids.max=50\n",
			v1:   "pids:pids.max=50\n",
			unit: "TasksMax uint64 50"},
		{set: []string{"IOWeight=10000"},
			v2:   "io:io.bfq.weight=1000\nio:io.weight=default 10000\n",
			v1:   "blkio:blkio.bfq.weight=1000\nblkio:blkio.weight=1000\n",
			unit: "IOWeight uint64 10000"},
		{set: []string{"AllowedCPUs=1,3"},
			v2:   "+cpuset:cpuset.cpus=1,3\n",
			v1:   "cpuset:cpuset.cpus=1,3\n",
			unit: "AllowedCPUs []uint8 [10]"},
		{set: []string{"DeviceAllow=/dev/fuse rw"},
			unit: "DeviceAllow []cgroup.Device [{/dev/fuse rw}]"},
	}
	tested := map[string]bool{}
	for _, tc := range cases {
		var l Limits
		for _, a := range tc.set {
			if err := l.Set(a, testHost); err != nil {
				t.Fatalf("%s: %v", a, err)
			}
		}
		last := tc.set[len(tc.set)-1]
		name, _, _ := strings.Cut(last, "=")
		tested[name] = true
		v2, warnings := l.Files(Layout{Unified: "/sys/fs/cgroup"})
		if got := showFiles(v2); got != tc.v2 || len(warnings) > 0 {
			t.Errorf("%s: v2 files\n%s%v\nwant\n%s", last, got, warnings, tc.v2)
		}
		v1, warnings := l.Files(Layout{Unified: "/sys/fs/cgroup/unified", Hybrid: true})
		if got := showFiles(v1); got != tc.v1 {
			t.Errorf("%s: v1 files\n%swant\n%s", last, got, tc.v1)
		}
		if w := strings.Join(warnings, "\n"); tc.v1Warning == "" && w != "" || !strings.Contains(w, tc.v1Warning) {
			t.Errorf("%s: v1 warnings %q, want one with %q", last, w, tc.v1Warning)
		}
		var unit []string
		for _, p := range l.UnitProperties() {
			if strings.HasPrefix(p.Name, name) {
				unit = append(unit, fmt.Sprintf("%s %T %v", p.Name, p.Value, p.Value))
			}
		}
		if len(unit) != 1 || unit[0] != tc.unit {
			t.Errorf("%s: unit property %q, want %q", last, unit, tc.unit)
		}
	}
	for _, p := range properties {
		if !tested[p.name] {
			t.Errorf("property %s has no case in TestProperties", p.name)
		}
	}
	if len(Limits{}.UnitProperties()) > 0 {
		t.Errorf("empty limits have unit properties %v", Limits{}.UnitProperties())
	}
}
