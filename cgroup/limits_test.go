package cgroup

import (
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
