package userns

import (
	"reflect"
	"syscall"
	"testing"

	"github.com/nspawn/nspawn/siphash"
)

func TestParseSpec(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Config
		err  bool
	}{
		{in: "", want: Config{Mode: Identity}},
		{in: "identity", want: Config{Mode: Identity}},
		{in: "no", want: Config{Mode: Off}},
		{in: "false", want: Config{Mode: Off}},
		{in: "yes", want: Config{Mode: Fixed, FromTree: true, Size: RangeSize}},
		{in: "pick", want: Config{Mode: Pick, Size: RangeSize}},
		// All digits are never a boolean, as in systemd-nspawn.
		{in: "0", want: Config{Mode: Fixed, Size: RangeSize}},
		{in: "1", want: Config{Mode: Fixed, Shift: 1, Size: RangeSize}},
		{in: "1879048192", want: Config{Mode: Fixed, Shift: 1879048192, Size: RangeSize}},
		{in: "100000:1000", want: Config{Mode: Fixed, Shift: 100000, Size: 1000}},
		{in: "4294901760:65535", want: Config{Mode: Fixed, Shift: 4294901760, Size: 65535}},
		{in: "4294901760:65536", err: true}, // would reach (uid_t)-1
		{in: "5:0", err: true},
		{in: "4294967295", err: true},
		{in: ":5", err: true},
		{in: "1:2:3", err: true},
		{in: "maybe", err: true},
	} {
		got, err := ParseSpec(tc.in)
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("ParseSpec(%q) = %+v, %v; want %+v, error %v", tc.in, got, err, tc.want, tc.err)
		}
	}
}

// TestPickHashMatchesSystemd checks the hashed candidate against the
// ranges systemd-nspawn 252 chose here for these machine names (-U on a
// tree owned by root).
func TestPickHashMatchesSystemd(t *testing.T) {
	for name, want := range map[string]uint32{"alpha": 1447690240, "test1": 1417084928, "busybox": 68157440} {
		n := uint32(siphash.Sum64([]byte(name), pickKey))
		if got := (n%(pickMax-pickMin) + pickMin) &^ (RangeSize - 1); got != want {
			t.Errorf("%s: range %d, systemd-nspawn picks %d", name, got, want)
		}
	}
}

func TestPickRangeHoldsIt(t *testing.T) {
	first, lease, err := PickRange("pick-test-machine", 0)
	if err != nil {
		t.Fatal(err)
	}
	if first < pickMin || first > pickMax || first%RangeSize != 0 {
		t.Fatalf("picked %d, outside systemd-nspawn's window or unaligned", first)
	}
	// The same name again, while the first lease is held, gets another.
	second, lease2, err := PickRange("pick-test-machine", first)
	if err != nil {
		t.Fatal(err)
	}
	if second == first {
		t.Fatalf("range %d handed out twice", first)
	}
	lease2.Release()
	lease.Release()
	// Released, the tree's own range comes first again.
	again, lease3, err := PickRange("other-name", first)
	if err != nil {
		t.Fatal(err)
	}
	defer lease3.Release()
	if again != first {
		t.Fatalf("tree's range %d not preferred once free: got %d", first, again)
	}
}

// TestSplitMaps: the maps systemd-nspawn 252 wrote on this host for
// --bind-user under -U (/proc/self/uid_map inside).
func TestSplitMaps(t *testing.T) {
	for _, tc := range []struct {
		bound []Bound
		want  []syscall.SysProcIDMap
	}{
		{nil, []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0x80000, Size: 65536}}},
		{[]Bound{{60514, 4321}}, []syscall.SysProcIDMap{
			{ContainerID: 0, HostID: 0x80000, Size: 60514},
			{ContainerID: 60514, HostID: 4321, Size: 1},
			{ContainerID: 60515, HostID: 0x80000 + 60515, Size: 5021},
		}},
		{[]Bound{{60515, 4322}, {60514, 4321}}, []syscall.SysProcIDMap{
			{ContainerID: 0, HostID: 0x80000, Size: 60514},
			{ContainerID: 60514, HostID: 4321, Size: 1},
			{ContainerID: 60515, HostID: 4322, Size: 1},
			{ContainerID: 60516, HostID: 0x80000 + 60516, Size: 5020},
		}},
		{[]Bound{{60514, 4321}, {60516, 4323}}, []syscall.SysProcIDMap{
			{ContainerID: 0, HostID: 0x80000, Size: 60514},
			{ContainerID: 60514, HostID: 4321, Size: 1},
			{ContainerID: 60515, HostID: 0x80000 + 60515, Size: 1},
			{ContainerID: 60516, HostID: 4323, Size: 1},
			{ContainerID: 60517, HostID: 0x80000 + 60517, Size: 5019},
		}},
	} {
		if got := SplitMaps(0x80000, 65536, tc.bound); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("SplitMaps(%v) = %v, want %v", tc.bound, got, tc.want)
		}
	}
}
