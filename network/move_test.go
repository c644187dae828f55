package network

import (
	"strings"
	"testing"

	"github.com/jsimonetti/rtnetlink/v2"
)

func TestMoveInAndOut(t *testing.T) {
	needRoot(t)
	host, ctr := newNS(t), newNS(t)
	hostVethPair(t, host, "nic0", "wire0")
	rec := &records{}
	l := openLinks(t, host, ctr, rec)
	m, err := l.MoveIn(Pair{"nic0", "lan0"})
	if err != nil {
		t.Fatal(err)
	}
	if hasLink(t, host, "nic0") || !hasLink(t, ctr, "lan0") {
		t.Fatalf("after MoveIn: host %v container %v", linkNames(t, host), linkNames(t, ctr))
	}
	if len(rec.list) != 1 || rec.list[0] != KindMoved+" nic0 lan0 "+m.MAC {
		t.Errorf("undo records %q", rec.list)
	}
	addAddr(t, host, "wire0", "10.99.6.1/28")
	addAddr(t, ctr, "lan0", "10.99.6.2/28")
	tcpReaches(t, host, ctr, "10.99.6.2")
	if err := l.MoveOut(m); err != nil {
		t.Fatal(err)
	}
	if !hasLink(t, host, "nic0") || hasLink(t, ctr, "lan0") {
		t.Fatalf("after MoveOut: host %v container %v", linkNames(t, host), linkNames(t, ctr))
	}
}

func TestMoveInRefusals(t *testing.T) {
	needRoot(t)
	host, ctr := newNS(t), newNS(t)
	l := openLinks(t, host, ctr, nil)
	hostVethPair(t, host, "nic0", "wire0")
	hostVethPair(t, host, "port0", "wire1")
	c := conn(t, host)
	if err := c.Link.New(&rtnetlink.LinkMessage{Attributes: &rtnetlink.LinkAttributes{Name: "br0", Info: &rtnetlink.LinkInfo{Kind: "bridge"}}}); err != nil {
		t.Fatal(err)
	}
	br, _ := linkByName(c, "br0")
	if err := enslave(c, "port0", br.Index); err != nil {
		t.Fatal(err)
	}
	if _, err := l.MoveIn(Pair{"nic0", "lan0"}); err != nil {
		t.Fatal(err)
	}
	hostVethPair(t, host, "nic1", "wire2")
	for _, tc := range []struct {
		p    Pair
		want string
	}{
		{Pair{"nosuch0", "nosuch0"}, "--network-interface=nosuch0: no interface nosuch0 on the host (is it in another container already?)"},
		{Pair{"nic0", "x"}, "--network-interface=nic0: no interface nic0 on the host"}, // moved already
		{Pair{"port0", "port0"}, "--network-interface=port0: port0 is in use, a port of interface"},
		{Pair{"nic1", "lan0"}, "--network-interface=nic1: the container has an interface lan0 already"},
		{Pair{"br0", "br0"}, `--network-interface=br0: the kernel keeps br0 in its namespace (it is "bridge")`},
		{Pair{"lo", "lo"}, "--network-interface=lo: the kernel keeps lo in its namespace"},
	} {
		_, err := l.MoveIn(tc.p)
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("MoveIn(%v) = %v, want %q", tc.p, err, tc.want)
		}
	}
}

// TestUndoMoved: after a SIGKILL the kernel hands a physical device back
// under its container-side name; the handler finds it by MAC and renames
// it. A veth renamed lan0 on the host stands in for that device.
func TestUndoMoved(t *testing.T) {
	needRoot(t)
	host := newNS(t)
	hostVethPair(t, host, "lan0", "wire0")
	c := conn(t, host)
	link, _ := linkByName(c, "lan0")
	mac := link.Attributes.Address.String()
	for range 2 {
		if err := inNS(host, func() error { return UndoMoved([]string{"nic0", "lan0", mac}) }); err != nil {
			t.Fatal(err)
		}
	}
	if !hasLink(t, host, "nic0") || hasLink(t, host, "lan0") {
		t.Errorf("after UndoMoved: %v", linkNames(t, host))
	}
	// Nothing with that MAC (a veth the kernel destroyed): nothing to do.
	if err := inNS(host, func() error { return UndoMoved([]string{"nic9", "lan9", "02:00:00:00:00:09"}) }); err != nil {
		t.Error(err)
	}
	// Wrong argument counts are refused before any netlink (these run in
	// the test's own namespace: no valid count may reach it).
	for _, bad := range [][]string{nil, {"a"}, {"a", "b", "c", "d"}} {
		if UndoMoved(bad) == nil || UndoLink(bad) == nil || UndoZone(bad) == nil {
			t.Errorf("handlers took %q", bad)
		}
	}
	if UndoMoved([]string{"a", "b"}) == nil || UndoLink([]string{"a", "b", "c"}) == nil || UndoZone([]string{"a", "b", "c"}) == nil {
		t.Error("handlers took a wrong count")
	}
}
