package nethost

import (
	"net/netip"
	"strings"
	"testing"
)

// A zone: the bridge (made here as package network would) gets a /24 from
// the first container, the second takes the next address from it, the two
// reach each other and the outside, and the bridge's address goes when the
// undo handler finds no container left on it.
func TestZone(t *testing.T) {
	n := newTestNet(t)
	// A fixed MAC, or the bridge takes its lowest port's and changes it when
	// that port goes, leaving the other containers' ARP entries stale.
	ip(t, "-n", n.name("host"), "link", "add", "vz-z", "address", "02:00:00:00:00:01", "type", "bridge")
	before := n.hostState()
	var nets []*Network
	var recs []*recording
	for _, name := range []string{"z1", "z2"} {
		n.addNS(name)
		ip(t, "link", "add", "vb-"+name, "netns", n.name("host"), "type", "veth", "peer", "name", "host0", "netns", n.name(name))
		ip(t, "-n", n.name("host"), "link", "set", "vb-"+name, "master", "vz-z", "up")
		rec := &recording{}
		cn, err := Setup(Config{Machine: name, HostNetNS: n.host, ContainerNetNS: n.path(name),
			HostLink: "vz-z", ContainerLink: "host0", Zone: true, Undo: rec})
		if err != nil {
			t.Fatal(err)
		}
		nets, recs = append(nets, cn), append(recs, rec)
	}
	if nets[0].Subnet != nets[1].Subnet || nets[0].Subnet.Bits() != 24 ||
		nets[0].ContainerAddr == nets[1].ContainerAddr || nets[0].HostAddr != nets[1].HostAddr {
		t.Fatalf("zone addresses: %+v %+v", nets[0], nets[1])
	}
	if nets[0].Subnet6 != nets[1].Subnet6 || nets[0].HostAddr6 != nets[1].HostAddr6 || !nets[1].ContainerAddr6.IsValid() ||
		nets[0].ContainerAddr6 == nets[1].ContainerAddr6 {
		t.Fatalf("zone IPv6 addresses: %s %s, %s %s", nets[0].Subnet6, nets[0].ContainerAddr6, nets[1].Subnet6, nets[1].ContainerAddr6)
	}
	stop6 := n.echoServers("z2", "[::]:80")
	if got, err := n.ask("z1", "tcp", "["+nets[1].ContainerAddr6.String()+"]:80"); err != nil || got != nets[0].ContainerAddr6.String()+":hello" {
		t.Errorf("z1 -> z2 over IPv6: %q, %v", got, err)
	}
	if got, err := n.ask("z2", "udp", "[2001:db8:1::2]:7"); err != nil || got != "2001:db8:1::1:hello" {
		t.Errorf("z2 -> uplink over IPv6: %q, %v", got, err)
	}
	stop6()
	stop := n.echoServers("z2", "0.0.0.0:80")
	if got, err := n.ask("z1", "tcp", nets[1].ContainerAddr.String()+":80"); err != nil || got != nets[0].ContainerAddr.String()+":hello" {
		t.Errorf("z1 -> z2: %q, %v", got, err)
	}
	if got, err := n.ask("z2", "udp", "192.0.2.2:7"); err != nil || got != "192.0.2.1:hello" {
		t.Errorf("z2 -> uplink: %q, %v", got, err)
	}
	stop()
	if len(recs[1].records) != 2 || len(recs[0].records) != 4 || recs[0].records[0][0] != "nethost-bridge-address" ||
		recs[0].records[1][0] != "nethost-bridge-address" || recs[0].records[1][3] != netip.PrefixFrom(nets[0].HostAddr6, 64).String() {
		t.Errorf("records: %q, %q", recs[0].records, recs[1].records)
	}
	// Replayed while z2 is still on the bridge, z1's records keep the address.
	nets[0].Teardown()
	recs[0].replay(t)
	n.endLink("z1", "vb-z1")
	if got, err := n.ask("z2", "tcp", "192.0.2.2:7"); err != nil || got != "192.0.2.1:hello" {
		t.Errorf("z2 after z1 ended: %q, %v", got, err)
	}
	nets[1].Teardown()
	n.endLink("z2", "vb-z2")
	recs[0].replay(t) // now the last: the bridge's address goes
	after := n.hostState()
	for _, l := range strings.Split(after, "\n") {
		if strings.Contains(l, "vz-z") && (strings.Contains(l, "inet ") || strings.Contains(l, "inet6 fd")) {
			t.Errorf("bridge address left: %s", l)
		}
	}
	// The bridge's own per-link settings go with the bridge.
	ip(t, "-n", n.name("host"), "link", "del", "vz-z")
	if got := n.hostState(); !strings.Contains(before, "vz-z") || got != strings.Join(dropLines(before, "vz-z"), "\n") {
		t.Errorf("left behind:\n%s", diff(strings.Join(dropLines(before, "vz-z"), "\n"), got))
	}
}

func dropLines(s, word string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if !strings.Contains(l, word) {
			out = append(out, l)
		}
	}
	return out
}

// A host on a loopback stub resolver (systemd-resolved's 127.0.0.53): the
// container is pointed at the host side, and port 53 there reaches the stub.
func TestDNSThroughLoopbackStub(t *testing.T) {
	n := newTestNet(t)
	n.echoServers("host", "127.0.0.53:53")
	cn, err := Setup(Config{Machine: "d1", HostNetNS: n.host, ContainerNetNS: n.container("d1"),
		HostLink: "ve-d1", ContainerLink: "host0", HostResolvConf: "nameserver 127.0.0.53\noptions edns0 trust-ad\nsearch example.org\n"})
	if err != nil {
		t.Fatal(err)
	}
	defer cn.Teardown()
	want := "# Made by nspawn from the host's resolv.conf\nnameserver " + cn.HostAddr.String() + "\noptions edns0 trust-ad\nsearch example.org\n"
	if cn.ResolvConf != want {
		t.Errorf("resolv.conf %q; want %q", cn.ResolvConf, want)
	}
	for _, proto := range []string{"udp", "tcp"} {
		if got, err := n.ask("d1", proto, cn.HostAddr.String()+":53"); err != nil || got != cn.ContainerAddr.String()+":hello" {
			t.Errorf("%s DNS via the host side: %q, %v", proto, got, err)
		}
	}
}
