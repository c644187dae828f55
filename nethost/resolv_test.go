package nethost

import (
	"net/netip"
	"strings"
	"testing"
)

func TestResolvConf(t *testing.T) {
	h := netip.MustParseAddr("10.0.0.1")
	cases := []struct{ host, want, stub string }{
		{"nameserver 192.0.2.53\nsearch a.example\n", "nameserver 192.0.2.53\nsearch a.example\n", ""},
		{"nameserver 127.0.0.53\noptions edns0\n", "nameserver 10.0.0.1\noptions edns0\n", "127.0.0.53"},
		{"nameserver 127.0.0.1\nnameserver 127.0.0.53\nnameserver 9.9.9.9\n", "nameserver 10.0.0.1\nnameserver 9.9.9.9\n", "127.0.0.1"},
		{"nameserver ::1\nnameserver 2001:db8::1\nnameserver fe80::1%eth0\nnameserver 169.254.169.254\nnameserver 1.1.1.1\n", "nameserver 1.1.1.1\n", ""},
		{"# comment\n; also\n\nnameserver\nnameserver bogus\n  search   x   y \n", "search x y\n", ""},
		{"", "", ""},
	}
	for _, c := range cases {
		text, stub := resolvConf(c.host, h, false)
		body := strings.TrimPrefix(text, "# Made by nspawn from the host's resolv.conf\n")
		gotStub := ""
		if stub.IsValid() {
			gotStub = stub.String()
		}
		if body != c.want || gotStub != c.stub {
			t.Errorf("resolvConf(%q) = %q, stub %q; want %q, stub %q", c.host, body, gotStub, c.want, c.stub)
		}
	}
}

func TestNthSubnet(t *testing.T) {
	if got := nthSubnet(subnetPool, 28, 0).String(); got != "10.0.0.0/28" {
		t.Errorf("first /28: %s", got)
	}
	if got := nthSubnet(subnetPool, 28, 1<<20).String(); got != "10.0.0.0/28" {
		t.Errorf("wraps: %s", got)
	}
	if got := nthSubnet(subnetPool, 24, 65535).String(); got != "10.255.255.0/24" {
		t.Errorf("last /24: %s", got)
	}
	if got := nthAddr(netip.MustParsePrefix("10.1.2.16/28"), 2).String(); got != "10.1.2.18" {
		t.Errorf("second address: %s", got)
	}
	used := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	if !overlapsAny(nthSubnet(subnetPool, 28, 5), used) || overlapsAny(netip.MustParsePrefix("192.168.0.0/28"), used) {
		t.Error("overlap")
	}
}

// The handlers refuse malformed records and do nothing, without error,
// where the namespace, table, bridge or address is not there.
func TestUndoHandlersArgs(t *testing.T) {
	bad := []struct {
		fn   func([]string) error
		args []string
	}{
		{UndoTable, nil}, {UndoTable, []string{""}}, {UndoForwarding, nil},
		{UndoBridgeAddress, []string{"", "vz-x"}}, {UndoBridgeAddress, []string{"", "vz-x", "nonsense"}},
	}
	for _, c := range bad {
		if err := c.fn(c.args); err == nil {
			t.Errorf("accepted %q", c.args)
		}
	}
	gone := "/run/netns/nethost-no-such-namespace"
	for _, err := range []error{
		UndoTable([]string{gone, "nspawn-x"}), UndoForwarding([]string{gone}),
		UndoBridgeAddress([]string{gone, "vz-x", "10.0.0.1/24"}),
	} {
		if err != nil {
			t.Errorf("namespace gone: %v", err)
		}
	}
}

func TestUndoHandlersNothingMade(t *testing.T) {
	n := newTestNet(t)
	before := n.hostState()
	for _, err := range []error{
		UndoTable([]string{n.host, "nspawn-never"}), UndoForwarding([]string{n.host}),
		UndoBridgeAddress([]string{n.host, "vz-never", "10.0.0.1/24"}),
	} {
		if err != nil {
			t.Error(err)
		}
	}
	if got := n.hostState(); got != before {
		t.Errorf("changed:\n%s", diff(before, got))
	}
}
