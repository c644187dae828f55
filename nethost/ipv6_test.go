package nethost

import (
	"net/netip"
	"strings"
	"testing"
)

// IPv6 as the user sees it: the container's ULA, out to the uplink through
// NAT66, --port over IPv6 from another host and from the host's own global
// address (not from ::1), two containers, and nothing left after.
func TestVethIPv6(t *testing.T) {
	n := newTestNet(t)
	before := n.hostState()
	c1, _, err := startContainer(t, n, "c1", "tcp:8080:80", "udp:8053:80")
	if err != nil {
		t.Fatal(err)
	}
	stop1 := n.echoServers("c1", "[::]:80")
	c2, _, err := startContainer(t, n, "c2", "8081:80")
	if err != nil {
		t.Fatal(err)
	}
	stop2 := n.echoServers("c2", "[::]:80")
	ula := netip.MustParsePrefix("fd00::/8")
	for _, c := range []*Network{c1, c2} {
		if len(c.Notes) > 0 || c.Subnet6.Bits() != 64 || !ula.Contains(c.Subnet6.Addr()) ||
			c.HostAddr6 != nthAddr(c.Subnet6, 1) || c.ContainerAddr6 != nthAddr(c.Subnet6, 2) {
			t.Fatalf("IPv6 of %s: %s host %s container %s, notes %q", c.cfg.Machine, c.Subnet6, c.HostAddr6, c.ContainerAddr6, c.Notes)
		}
	}
	if c1.Subnet6 == c2.Subnet6 || c1.Subnet6.Addr().As16()[5] != c2.Subnet6.Addr().As16()[5] {
		t.Errorf("subnets %s and %s: want two /64s of one /48", c1.Subnet6, c2.Subnet6)
	}

	during := n.hostState()
	for _, want := range []string{"ipv6/conf/h-up/force_forwarding=1", "ipv6/conf/h-rm/force_forwarding=1",
		"ipv6/conf/all/forwarding=0", "ipv6/conf/h-up/forwarding=0", "ipv6/conf/h-up/accept_ra=1", "nspawn:force_forwarding=0;"} {
		if !strings.Contains(during, want) {
			t.Errorf("host state while running lacks %q:\n%s", want, during)
		}
	}

	for _, proto := range []string{"tcp", "udp"} {
		got, err := n.ask("c1", proto, "[2001:db8:1::2]:7")
		if err != nil || got != "2001:db8:1::1:hello" {
			t.Errorf("c1 -> uplink over IPv6 %s: %q, %v (want the host's address: NAT66)", proto, got, err)
		}
	}
	cases := []struct{ from, proto, addr, want string }{
		{"remote", "tcp", "[2001:db8:2::1]:8080", "2001:db8:2::2:hello"},
		{"remote", "udp", "[2001:db8:2::1]:8053", "2001:db8:2::2:hello"},
		{"host", "tcp", "[2001:db8:1::1]:8080", "2001:db8:1::1:hello"},
		{"host", "udp", "[2001:db8:2::1]:8053", "2001:db8:2::1:hello"},
		{"remote", "tcp", "[2001:db8:2::1]:8081", "2001:db8:2::2:hello"},
		{"host", "tcp", "[2001:db8:1::1]:8081", "2001:db8:1::1:hello"},
		// And the container's address itself, from the host.
		{"host", "tcp", "[" + c2.ContainerAddr6.String() + "]:80", c2.HostAddr6.String() + ":hello"},
	}
	for _, c := range cases {
		got, err := n.ask(c.from, c.proto, c.addr)
		if err != nil || got != c.want {
			t.Errorf("%s -> %s %s: %q, %v; want %q", c.from, c.proto, c.addr, got, err, c.want)
		}
	}
	// ::1 is not forwarded: nothing listens there on the host.
	if got, err := n.ask("host", "tcp", "[::1]:8080"); err == nil {
		t.Errorf("[::1]:8080 answered %q; IPv6 cannot DNAT from loopback", got)
	}

	stop1()
	stop2()
	if err := c2.Teardown(); err != nil {
		t.Error(err)
	}
	if got, err := n.ask("c1", "tcp", "[2001:db8:1::2]:7"); err != nil || got != "2001:db8:1::1:hello" {
		t.Errorf("c1 after c2 ended: %q, %v", got, err)
	}
	if err := c1.Teardown(); err != nil {
		t.Error(err)
	}
	n.end("c1")
	n.end("c2")
	if got := n.hostState(); got != before {
		t.Errorf("left behind after teardown:\n%s", diff(before, got))
	}
}

func TestResolvConfIPv6(t *testing.T) {
	host := "nameserver 2001:db8::53\nnameserver ::1\nnameserver fe80::1%eth0\nnameserver 192.0.2.53\n"
	h := netip.MustParseAddr("10.0.0.1")
	if got, _ := resolvConf(host, h, true); got != "# Made by nspawn from the host's resolv.conf\nnameserver 2001:db8::53\nnameserver 192.0.2.53\n" {
		t.Errorf("with IPv6: %q", got)
	}
	if got, _ := resolvConf(host, h, false); got != "# Made by nspawn from the host's resolv.conf\nnameserver 192.0.2.53\n" {
		t.Errorf("without IPv6: %q", got)
	}
}
