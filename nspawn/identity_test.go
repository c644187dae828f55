package nspawn

import (
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestValidHostname(t *testing.T) {
	for s, want := range map[string]bool{
		"web1": true, "a.b-c.d": true, "": false, "a..b": false, ".a": false, "a b": false,
		"x/y": false, "a_b": false, "-x": false, "x-": false, "a-.b": false, "a.-b": false,
		strings.Repeat("a", 64): true, strings.Repeat("a", 65): false,
	} {
		if got := validHostname(s); got != want {
			t.Errorf("validHostname(%q) = %v", s, got)
		}
	}
}

func TestMachineName(t *testing.T) {
	for _, tc := range []struct{ given, root, want string }{
		{"", "/srv/trees/bookworm", "bookworm"},
		{"", "/srv/my tree!", "mytree"},
		{"", "/srv/My_Tree..x-", "MyTree.x"},
		{"web1", "/srv/x", "web1"},
	} {
		if got, err := machineName(tc.given, tc.root); err != nil || got != tc.want {
			t.Errorf("machineName(%q, %q) = %q, %v; want %q", tc.given, tc.root, got, err, tc.want)
		}
	}
	if _, err := machineName("bad name", "/x"); err == nil {
		t.Error("machineName accepted a name with a space")
	}
	if _, err := machineName("", "/srv/!!!"); err == nil {
		t.Error("machineName derived a name from nothing")
	}
}

func TestParseSignal(t *testing.T) {
	for s, want := range map[string]unix.Signal{
		"SIGTERM": unix.SIGTERM, "TERM": unix.SIGTERM, "term": unix.SIGTERM, "15": unix.SIGTERM,
		"SIGRTMIN+3": 37, "RTMIN+3": 37, "SIGRTMIN": 34, "SIGKILL": unix.SIGKILL,
	} {
		if got, err := parseSignal(s); err != nil || got != want {
			t.Errorf("parseSignal(%q) = %v, %v; want %v", s, got, err, want)
		}
	}
	for _, s := range []string{"", "SIGBOGUS", "0", "65", "RTMIN+40", "RTMIN3"} {
		if _, err := parseSignal(s); err == nil {
			t.Errorf("parseSignal(%q) accepted", s)
		}
	}
}

func TestMachineUUID(t *testing.T) {
	for in, want := range map[string]string{
		"0123456789abcdef0123456789abcdef":     "01234567-89ab-cdef-0123-456789abcdef",
		"01234567-89ab-cdef-0123-456789abcdef": "01234567-89ab-cdef-0123-456789abcdef",
	} {
		if got, err := machineUUID(in); err != nil || got != want {
			t.Errorf("machineUUID(%q) = %q, %v", in, got, err)
		}
	}
	for _, in := range []string{"xyz", "0123456789abcdef0123456789abcdeg", "00000000000000000000000000000000", "0123-456789abcdef0123456789abcdef"} {
		if _, err := machineUUID(in); err == nil {
			t.Errorf("machineUUID(%q) accepted", in)
		}
	}
	a, _ := machineUUID("")
	b, _ := machineUUID("")
	if a == b || len(a) != 36 || a[14] != '4' {
		t.Errorf("random UUIDs %q %q", a, b)
	}
}
