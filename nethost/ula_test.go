package nethost

import (
	"net/netip"
	"strings"
	"testing"
)

func TestULAPool(t *testing.T) {
	id := "3d1219c7c4c5404aaa1f6d2a48adfda4"
	p := ulaPool(id)
	if p.Bits() != 48 || !netip.MustParsePrefix("fd00::/8").Contains(p.Addr()) || p.Masked() != p {
		t.Fatalf("pool %s: want a /48 in fd00::/8", p)
	}
	if ulaPool(id+"\n") != p {
		t.Error("a trailing newline (as /etc/machine-id has) changes the pool")
	}
	if q := ulaPool(strings.Replace(id, "3", "4", 1)); q == p {
		t.Errorf("two machine IDs, one pool %s", q)
	}
	// The global ID is not the machine ID's bytes.
	if strings.HasPrefix(p.Addr().StringExpanded(), "fd3d:1219:c7") {
		t.Errorf("pool %s shows the machine ID", p)
	}
}

func TestNthSubnetIPv6(t *testing.T) {
	pool := netip.MustParsePrefix("fd12:3456:789a::/48")
	cases := []struct {
		i    uint32
		want string
	}{
		{0, "fd12:3456:789a::/64"},
		{1, "fd12:3456:789a:1::/64"},
		{0xabcd, "fd12:3456:789a:abcd::/64"},
		{0xffff, "fd12:3456:789a:ffff::/64"},
		{0x10000, "fd12:3456:789a::/64"},      // wraps inside the /48
		{0x1abcd, "fd12:3456:789a:abcd::/64"}, // the name hash's high bits go
	}
	for _, c := range cases {
		if got := nthSubnet(pool, 64, c.i).String(); got != c.want {
			t.Errorf("nthSubnet(%s, 64, %#x) = %s; want %s", pool, c.i, got, c.want)
		}
	}
	s := netip.MustParsePrefix("fd12:3456:789a:abcd::/64")
	for i, want := range map[uint32]string{1: "fd12:3456:789a:abcd::1", 2: "fd12:3456:789a:abcd::2", 0x1ff: "fd12:3456:789a:abcd::1ff"} {
		if got := nthAddr(s, i).String(); got != want {
			t.Errorf("nthAddr(%s, %d) = %s; want %s", s, i, got, want)
		}
	}
	// Carry across the 64-bit halves, and IPv4 stays IPv4.
	if got := addShifted(netip.MustParseAddr("fd00::ffff:ffff:ffff:ffff"), 1, 0).String(); got != "fd00:0:0:1::" {
		t.Errorf("carry: %s", got)
	}
	if got := nthAddr(netip.MustParsePrefix("10.0.0.240/28"), 15); !got.Is4() || got.String() != "10.0.0.255" {
		t.Errorf("IPv4 last address: %s", got)
	}
	used := []netip.Prefix{netip.MustParsePrefix("fd12:3456:789a:5::1/128"), netip.MustParsePrefix("fd12:3456:789a:8::/62")}
	for i, want := range map[uint32]bool{4: false, 5: true, 7: false, 8: true, 11: true, 12: false} {
		if got := overlapsAny(nthSubnet(pool, 64, i), used); got != want {
			t.Errorf("subnet %d overlaps %v: %v", i, used, got)
		}
	}
}
