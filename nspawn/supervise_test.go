package nspawn

import "testing"

// TestUnitStatus: only a reboot under --keep-unit may end nspawn with
// 133; a container's own 133 becomes 1, as in systemd-nspawn.
func TestUnitStatus(t *testing.T) {
	for in, want := range map[int]int{0: 0, 1: 1, 133: 1, 130: 130, 143: 143, 255: 255} {
		if got := unitStatus(in); got != want {
			t.Errorf("unitStatus(%d) = %d, want %d", in, got, want)
		}
	}
}
