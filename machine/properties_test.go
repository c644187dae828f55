package machine

import (
	"bytes"
	"testing"

	"github.com/nspawn/nspawn/cgroup"
)

func TestCPUMask(t *testing.T) {
	for list, want := range map[string][]byte{"0-1": {0x03}, "3,9": {0x08, 0x02}, "8": {0x00, 0x01}} {
		if got := cpuMask(list); !bytes.Equal(got, want) {
			t.Errorf("cpuMask(%q) = %x, want %x", list, got, want)
		}
	}
}

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
