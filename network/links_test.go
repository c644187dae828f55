package network

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/jsimonetti/rtnetlink/v2"
)

var testID = [16]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}

func TestVethCarriesTCP(t *testing.T) {
	needRoot(t)
	host, ctr := newNS(t), newNS(t)
	rec := &records{}
	l := openLinks(t, host, ctr, rec)
	name, _ := HostVethName("averyveryverylongmachinename", false)
	v := Veth{Host: name, HostMAC: MAC(testID, "m", HostMACKey, 0), Container: ContainerVethName, ContainerMAC: MAC(testID, "m", ContainerMACKey, 0), Up: true, Flag: "--network-veth"}
	if err := l.AddVeth(v); err != nil {
		t.Fatal(err)
	}
	if err := l.UpInContainer(ContainerVethName); err != nil {
		t.Fatal(err)
	}
	h, err := linkByName(conn(t, host), name)
	if err != nil {
		t.Fatal(err)
	}
	if h.Attributes.Address.String() != v.HostMAC.String() || h.Attributes.Alias == nil || *h.Attributes.Alias != "nspawn-test" {
		t.Errorf("host side: MAC %s alias %v, want %s nspawn-test", h.Attributes.Address, h.Attributes.Alias, v.HostMAC)
	}
	c, err := linkByName(conn(t, ctr), "host0")
	if err != nil {
		t.Fatalf("host0 not made in the container's namespace: %v", err)
	}
	if c.Attributes.Address.String() != v.ContainerMAC.String() {
		t.Errorf("host0 MAC %s, want %s", c.Attributes.Address, v.ContainerMAC)
	}
	if want := []string{KindLink + " " + name + " nspawn-test"}; !slices.Equal(rec.list, want) {
		t.Errorf("undo records %q, want %q", rec.list, want)
	}
	addAddr(t, host, name, "10.99.0.1/28")
	addAddr(t, ctr, "host0", "10.99.0.2/28")
	tcpReaches(t, host, ctr, "10.99.0.2")
	tcpReaches(t, ctr, host, "10.99.0.1")

	if err := l.AddVeth(v); err == nil || !strings.Contains(err.Error(), "exists already") {
		t.Errorf("second veth of one name: %v", err)
	}
	// The handler leaves a link of that name alone unless it is ours.
	if err := inNS(host, func() error { return UndoLink([]string{name, "someone-else"}) }); err != nil {
		t.Fatal(err)
	}
	if !hasLink(t, host, name) {
		t.Fatal("UndoLink deleted a link with another owner")
	}
	for range 2 { // idempotent: the second finds nothing
		if err := inNS(host, func() error { return UndoLink([]string{name, "nspawn-test"}) }); err != nil {
			t.Fatal(err)
		}
	}
	if hasLink(t, host, name) || hasLink(t, ctr, "host0") {
		t.Errorf("after UndoLink: host %v container %v", linkNames(t, host), linkNames(t, ctr))
	}
}

func TestExtraVeths(t *testing.T) {
	needRoot(t)
	host, ctr := newNS(t), newNS(t)
	l := openLinks(t, host, ctr, nil)
	for i, p := range []Pair{{"extra0", "inner0"}, {"extra1", "extra1"}} {
		v := Veth{Host: p.Host, HostMAC: MAC(testID, "m", ExtraHostMACKey, uint64(i)), Container: p.Container, ContainerMAC: MAC(testID, "m", ExtraContainerMACKey, uint64(i)), Up: true, Flag: "--network-veth-extra"}
		if err := l.AddVeth(v); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.UpInContainer("inner0", "extra1"); err != nil {
		t.Fatal(err)
	}
	addAddr(t, host, "extra1", "10.99.1.1/28")
	addAddr(t, ctr, "extra1", "10.99.1.2/28")
	tcpReaches(t, host, ctr, "10.99.1.2")
	if got := linkNames(t, ctr); !slices.Equal(got, []string{"inner0", "extra1"}) {
		t.Errorf("container links %v", got)
	}
}

func TestBridgeRefusals(t *testing.T) {
	needRoot(t)
	host, ctr := newNS(t), newNS(t)
	l := openLinks(t, host, ctr, nil)
	hostVethPair(t, host, "notbr0", "notbr1")
	if err := l.AddVeth(Veth{Host: "vb-m", Container: "host0", Flag: "--network-bridge"}); err != nil {
		t.Fatal(err)
	}
	for bridge, want := range map[string]string{
		"br9":    "--network-bridge=br9: no interface br9 on the host; create the bridge first",
		"notbr0": `--network-bridge=notbr0: notbr0 is not a bridge (it is veth); name a bridge`,
	} {
		if err := l.JoinBridge("vb-m", bridge, "--network-bridge"); err == nil || err.Error() != want+strings.TrimPrefix(err.Error(), want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("JoinBridge(%s) = %v, want %q", bridge, err, want)
		}
	}
}

// TestBridgePortCarriesTCP: a container's vb- link on the host's bridge
// reaches an address on the bridge.
func TestBridgePortCarriesTCP(t *testing.T) {
	needRoot(t)
	host, ctr := newNS(t), newNS(t)
	l := openLinks(t, host, ctr, nil)
	if err := conn(t, host).Link.New(&rtnetlink.LinkMessage{Attributes: &rtnetlink.LinkAttributes{Name: "br0", Info: &rtnetlink.LinkInfo{Kind: "bridge"}}}); err != nil {
		t.Fatal(err)
	}
	if err := l.AddVeth(Veth{Host: "vb-m", Container: "host0", Up: true, Flag: "--network-bridge"}); err != nil {
		t.Fatal(err)
	}
	if err := l.JoinBridge("vb-m", "br0", "--network-bridge"); err != nil {
		t.Fatal(err)
	}
	if err := l.UpInContainer("host0"); err != nil {
		t.Fatal(err)
	}
	addAddr(t, host, "br0", "10.99.2.1/28")
	addAddr(t, ctr, "host0", "10.99.2.2/28")
	tcpReaches(t, host, ctr, "10.99.2.2")
}

// zoneMember starts one zone container: its namespace, veth, bridge port.
func zoneMember(t *testing.T, host int, z Zone, name string, rec recorder) (int, *Links, error) {
	ctr := newNS(t)
	l, err := Open(host, ctr, "nspawn-"+name, rec)
	if err != nil {
		return 0, nil, err
	}
	port, _ := HostVethName(name, true)
	if err := l.AddVeth(Veth{Host: port, Container: "host0", Up: true, Flag: "--network-zone"}); err != nil {
		return 0, l, err
	}
	return ctr, l, l.JoinZone(port, z)
}

func TestZoneTwoMembersTalk(t *testing.T) {
	needRoot(t)
	host := newNS(t)
	z := Zone{Bridge: "vz-test", Lock: t.TempDir() + "/lock"}
	rec := &records{}
	var ctrs []int
	for i, name := range []string{"a", "b"} {
		ctr, l, err := zoneMember(t, host, z, name, rec)
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		addAddr(t, ctr, "host0", fmt.Sprintf("10.99.3.%d/28", i+2))
		ctrs = append(ctrs, ctr)
	}
	if err := setUp(conn(t, host), "vz-test"); err != nil {
		t.Fatal(err)
	}
	tcpReaches(t, ctrs[0], ctrs[1], "10.99.3.3")
	if n := strings.Count(strings.Join(rec.list, ","), KindZone); n != 2 {
		t.Errorf("zone recorded %d times, want once per member (the last to go removes it): %q", n, rec.list)
	}
	// Not empty: the zone stays; then each leaves, the last takes it.
	if err := LeaveZone(host, z); err != nil {
		t.Fatal(err)
	}
	if !hasLink(t, host, "vz-test") {
		t.Fatal("LeaveZone removed a bridge with ports")
	}
	if err := openLinks(t, host, ctrs[0], nil).Delete("vb-a"); err != nil {
		t.Fatal(err)
	}
	if err := LeaveZone(host, z); err != nil || !hasLink(t, host, "vz-test") {
		t.Fatalf("after a: %v, bridge there %v", err, hasLink(t, host, "vz-test"))
	}
	if err := openLinks(t, host, ctrs[1], nil).Delete("vb-b"); err != nil {
		t.Fatal(err)
	}
	if err := inNS(host, func() error { return UndoZone([]string{"vz-test", z.Lock}) }); err != nil {
		t.Fatal(err)
	}
	if got := linkNames(t, host); len(got) != 0 {
		t.Errorf("left on the host: %v", got)
	}
}

// TestZoneRace: 20 containers start and stop in one zone at once; every
// start finds a bridge to join, and at the end there is no bridge and no
// link.
func TestZoneRace(t *testing.T) {
	needRoot(t)
	host := newNS(t)
	z := Zone{Bridge: "vz-race", Lock: t.TempDir() + "/lock"}
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := fmt.Sprintf("m%d", i)
			_, l, err := zoneMember(t, host, z, name, nil)
			if l != nil {
				defer l.Close()
			}
			if err != nil {
				errs <- fmt.Errorf("%s: %w", name, err)
				return
			}
			port, _ := HostVethName(name, true)
			if err := l.Delete(port); err != nil {
				errs <- err
			}
			if err := LeaveZone(host, z); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got := linkNames(t, host); len(got) != 0 {
		t.Errorf("left on the host: %v", got)
	}
}
