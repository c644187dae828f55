package nethost

import (
	"strings"
	"testing"
)

// The accepted and refused values are the ones systemd-nspawn 252 accepts
// and refuses here (run with each value; refusals say "Failed to parse host
// port", acceptances reach "Cannot use --port= without private networking").
func TestParsePort(t *testing.T) {
	good := []struct {
		in   string
		want Port
	}{
		{"80", Port{"tcp", 80, 80}},
		{"tcp:80", Port{"tcp", 80, 80}},
		{"udp:80:8080", Port{"udp", 80, 8080}},
		{"8080:80", Port{"tcp", 8080, 80}},
		{"0x50", Port{"tcp", 80, 80}},
		{"010", Port{"tcp", 8, 8}},
		{"+80", Port{"tcp", 80, 80}},
		{"65535", Port{"tcp", 65535, 65535}},
		{"udp:0x10:+5", Port{"udp", 16, 5}},
		{"1:65535", Port{"tcp", 1, 65535}},
	}
	for _, c := range good {
		got, err := ParsePort(c.in)
		if err != nil || got != c.want {
			t.Errorf("ParsePort(%q) = %v, %v; want %v", c.in, got, err, c.want)
		}
	}
	bad := []struct{ in, says string }{
		{"", `host port "" is not a number`},
		{" 80", `host port " 80" is not a number`},
		{"80 ", `host port "80 " is not a number`},
		{"-80", `host port "-80" is negative`},
		{"0", `host port "0" is 0`},
		{"00", `host port "00" is 0`},
		{"65536", `host port "65536" is out of range`},
		{"99999999999999999999", "is out of range"},
		{"tcp:", `host port "" is not a number`},
		{"TCP:80", `host port "TCP" is not a number`},
		{"sctp:80", `host port "sctp" is not a number`},
		{"80:", `container port "" is not a number`},
		{":80", `host port "" is not a number`},
		{"1:2:3", `container port "2:3" is not a number`},
		{"tcp: 80", `host port " 80" is not a number`},
		{"8a", `host port "8a" is not a number`},
		{"0x", `host port "0x" is not a number`},
		{"08", `host port "08" is not a number`},
		{"0o10", `host port "0o10" is not a number`},
		{"1_000", `host port "1_000" is not a number`},
		{"tcp:udp:80", `host port "udp" is not a number`},
		{"80:0", `container port "0" is 0`},
		{"80:-1", `container port "-1" is negative`},
		{"+-5", `host port "+-5" is not a number`},
	}
	for _, c := range bad {
		_, err := ParsePort(c.in)
		if err == nil {
			t.Errorf("ParsePort(%q) accepted", c.in)
			continue
		}
		msg := err.Error()
		if !strings.HasPrefix(msg, "--port="+c.in+": ") || !strings.Contains(msg, c.says) ||
			!strings.Contains(msg, "; use [tcp:|udp:]HOSTPORT[:CONTAINERPORT]") || strings.Contains(msg, "\n") {
			t.Errorf("ParsePort(%q) error %q; want it to say %q", c.in, msg, c.says)
		}
	}
}

func TestAddPortDuplicate(t *testing.T) {
	ports, err := AddPort(nil, "80")
	if err != nil {
		t.Fatal(err)
	}
	// Another protocol on the same host port is a different rule (252 too).
	if ports, err = AddPort(ports, "udp:80"); err != nil {
		t.Fatal(err)
	}
	_, err = AddPort(ports, "tcp:80:81")
	if err == nil || err.Error() != "--port=tcp:80:81: host port tcp:80 is already forwarded by --port=tcp:80:80; give each host port once" {
		t.Fatalf("duplicate: %v", err)
	}
	if len(ports) != 2 {
		t.Fatalf("ports %v", ports)
	}
}
