package network

import (
	"strings"
	"testing"
)

// TestMacvlanBridgeMode: two containers' macvlans on one host parent (a
// veth standing in for a NIC) reach each other, as bridge mode allows.
func TestMacvlanBridgeMode(t *testing.T) {
	needRoot(t)
	host := newNS(t)
	hostVethPair(t, host, "par0", "par1")
	var ctrs []int
	for i, addr := range []string{"10.99.4.2/28", "10.99.4.3/28"} {
		ctr := newNS(t)
		l := openLinks(t, host, ctr, nil)
		name := MacvlanName("par0")
		mac := MAC(testID, "m", MacvlanMACKey, uint64(i))
		if err := l.AddMacvlan("par0", name, mac); err != nil {
			t.Fatal(err)
		}
		got, err := linkByName(conn(t, ctr), "mv-par0")
		if err != nil || got.Attributes.Address.String() != mac.String() || kind(got) != "macvlan" {
			t.Fatalf("mv-par0 in the container: %v %v", got.Attributes, err)
		}
		addAddr(t, ctr, name, addr)
		ctrs = append(ctrs, ctr)
	}
	tcpReaches(t, ctrs[0], ctrs[1], "10.99.4.3")
	if got := linkNames(t, host); len(got) != 2 {
		t.Errorf("host links %v: a macvlan must not appear on the host", got)
	}
	l := openLinks(t, host, ctrs[0], nil)
	if err := l.AddMacvlan("nosuch0", "mv-nosuch0", nil); err == nil || !strings.HasPrefix(err.Error(), "--network-macvlan=nosuch0: no interface nosuch0 on the host") {
		t.Errorf("missing parent: %v", err)
	}
	if err := l.AddMacvlan("par0", "mv-par0", nil); err == nil || !strings.Contains(err.Error(), "has an interface mv-par0 already") {
		t.Errorf("second macvlan of one name: %v", err)
	}
}

func TestIpvlan(t *testing.T) {
	needRoot(t)
	host := newNS(t)
	hostVethPair(t, host, "par0", "par1")
	var ctrs []int
	for _, addr := range []string{"10.99.5.2/28", "10.99.5.3/28"} {
		ctr := newNS(t)
		l := openLinks(t, host, ctr, nil)
		err := l.AddIpvlan("par0", IpvlanName("par0"))
		if err != nil && strings.Contains(err.Error(), "no ipvlan support") {
			t.Skipf("the kernel has no ipvlan (CONFIG_IPVLAN): %v", err)
		}
		if err != nil {
			t.Fatal(err)
		}
		addAddr(t, ctr, "iv-par0", addr)
		ctrs = append(ctrs, ctr)
	}
	tcpReaches(t, ctrs[0], ctrs[1], "10.99.5.3")
}
