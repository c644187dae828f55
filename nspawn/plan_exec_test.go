package nspawn

import (
	"slices"
	"testing"

	"golang.org/x/sys/unix"
)

// TestRlimitValues: each unit as systemd's rlimit_parse() reads it.
func TestRlimitValues(t *testing.T) {
	for _, tc := range []struct {
		value      string
		resource   int
		soft, hard uint64
	}{
		{"RLIMIT_NOFILE=8192:16384", unix.RLIMIT_NOFILE, 8192, 16384},
		{"NOFILE=100", unix.RLIMIT_NOFILE, 100, 100},
		{"AS=1G", unix.RLIMIT_AS, 1 << 30, 1 << 30},
		{"CORE=1.5K:infinity", unix.RLIMIT_CORE, 1536, rlimitInfinity},
		{"CPU=5", unix.RLIMIT_CPU, 5, 5},
		{"CPU=1min 30s", unix.RLIMIT_CPU, 90, 90},
		{"CPU=1ms", unix.RLIMIT_CPU, 1, 1},
		{"RTTIME=1s:infinity", unix.RLIMIT_RTTIME, 1e6, rlimitInfinity},
		{"RTTIME=500", unix.RLIMIT_RTTIME, 500, 500},
		{"NICE=-5", unix.RLIMIT_NICE, 25, 25},
		{"NICE=+19", unix.RLIMIT_NICE, 1, 1},
		{"NICE=30", unix.RLIMIT_NICE, 30, 30},
	} {
		limits := defaultRlimits(ExecFacts{})
		if err := parseRlimit(tc.value, limits); err != nil {
			t.Errorf("%s: %v", tc.value, err)
			continue
		}
		i := slices.IndexFunc(limits, func(l Rlimit) bool { return l.Resource == tc.resource })
		if got := limits[i]; got.Soft != tc.soft || got.Hard != tc.hard {
			t.Errorf("%s: %d:%d, want %d:%d", tc.value, got.Soft, got.Hard, tc.soft, tc.hard)
		}
	}
}

// TestDefaultRlimits: systemd-nspawn's table, with the host init's NPROC
// and SIGPENDING and NOFILE's hard limit cut to fs.nr_open.
func TestDefaultRlimits(t *testing.T) {
	got := defaultRlimits(ExecFacts{InitNPROC: unix.Rlimit{Cur: 7, Max: 8}, InitSIGPENDING: unix.Rlimit{Cur: 9, Max: 9}, NrOpen: 20000})
	want := map[int][2]uint64{
		unix.RLIMIT_NPROC: {7, 8}, unix.RLIMIT_SIGPENDING: {9, 9}, unix.RLIMIT_NOFILE: {1024, 20000},
		unix.RLIMIT_MEMLOCK: {8 << 20, 8 << 20}, unix.RLIMIT_CORE: {0, rlimitInfinity}, unix.RLIMIT_STACK: {8 << 20, rlimitInfinity},
	}
	if len(got) != 16 {
		t.Errorf("%d limits, want 16", len(got))
	}
	for _, l := range got {
		if w, ok := want[l.Resource]; ok && (l.Soft != w[0] || l.Hard != w[1]) {
			t.Errorf("resource %d: %d:%d, want %d:%d", l.Resource, l.Soft, l.Hard, w[0], w[1])
		}
	}
}

// TestContainerHostEnv: the Container Interface's IDs from os-release.
func TestContainerHostEnv(t *testing.T) {
	got := containerHostEnv("# comment\nNAME=\"Debian\"\nID=debian\nVERSION_ID=\"12\"\nVARIANT_ID='server'\nBUILD_ID=\"a\\\"b\"\nIMAGE_ID=x\n")
	want := []string{"container_host_id=debian", "container_host_version_id=12", "container_host_build_id=a\"b", "container_host_variant_id=server"}
	if !slices.Equal(got, want) {
		t.Errorf("%q, want %q", got, want)
	}
	if got := containerHostEnv(""); got != nil {
		t.Errorf("no os-release: %q", got)
	}
}
