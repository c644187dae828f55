package machine

import (
	"testing"

	"github.com/nspawn/nspawn/cgroup"
)

func TestLimitProperties(t *testing.T) {
	var l cgroup.Limits
	for _, a := range []string{"MemoryMax=1G", "CPUQuota=150%", "CPUWeight=idle", "AllowedCPUs=0", "DeviceAllow=/dev/fuse rw"} {
		if err := l.Set(a, cgroup.Host{CPUs: "0-1"}); err != nil {
			t.Fatal(err)
		}
	}
	want := map[string]string{
		"MemoryMax":          "@t 1073741824",
		"CPUQuotaPerSecUSec": "@t 1500000",
		"CPUWeight":          "@t 0",
		"AllowedCPUs":        "@ay [0x1]",
		"DeviceAllow":        `a(ss) [("/dev/fuse", "rw",)]`,
	}
	props := LimitProperties(l)
	if len(props) != len(want) {
		t.Fatalf("%d properties, want %d: %v", len(props), len(want), props)
	}
	for _, p := range props {
		got := p.Value.String()
		if p.Name == "DeviceAllow" {
			got = p.Value.Signature().String() + " " + got
		}
		if got != want[p.Name] {
			t.Errorf("%s = %s, want %s", p.Name, got, want[p.Name])
		}
	}
}

// TestLimitPropertiesSignatures sets every property and checks the D-Bus
// type systemd's unit property of that name has.
func TestLimitPropertiesSignatures(t *testing.T) {
	want := map[string]string{
		"MemoryMax": "t", "MemoryHigh": "t", "MemorySwapMax": "t", "CPUQuotaPerSecUSec": "t",
		"CPUWeight": "t", "TasksMax": "t", "IOWeight": "t", "AllowedCPUs": "ay", "DeviceAllow": "a(ss)",
	}
	var l cgroup.Limits
	for _, a := range []string{"MemoryMax=1G", "MemoryHigh=1G", "MemorySwapMax=1G", "CPUQuota=10%", "CPUWeight=5",
		"TasksMax=90", "IOWeight=7", "AllowedCPUs=1", "DeviceAllow=char-pts rw"} {
		if err := l.Set(a, cgroup.Host{CPUs: "0-1"}); err != nil {
			t.Fatal(err)
		}
	}
	props := LimitProperties(l)
	if len(props) != len(want) {
		t.Errorf("%d properties, want %d: %v", len(props), len(want), props)
	}
	for _, p := range props {
		if got := p.Value.Signature().String(); got != want[p.Name] {
			t.Errorf("%s has type %s, want %s", p.Name, got, want[p.Name])
		}
	}
	if got := DeviceAllow().Value.Signature().String(); got != "a(ss)" {
		t.Errorf("DeviceAllow() has type %s, want a(ss)", got)
	}
}
