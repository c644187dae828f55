package nethost

import (
	"strings"
	"testing"
)

// recording is an undo log kept in memory, replayed by the test.
type recording struct{ records [][]string }

func (r *recording) Record(kind string, args ...string) error {
	r.records = append(r.records, append([]string{kind}, args...))
	return nil
}

// replay runs the handlers in reverse order, as the cleanup stage does.
func (r *recording) replay(t *testing.T) {
	handlers := map[string]func([]string) error{
		"nethost-table": UndoTable, "nethost-forwarding": UndoForwarding, "nethost-bridge-address": UndoBridgeAddress,
	}
	for i := len(r.records) - 1; i >= 0; i-- {
		rec := r.records[i]
		if err := handlers[rec[0]](rec[1:]); err != nil {
			t.Errorf("undo %q: %v", rec, err)
		}
	}
}

// serveInContainer puts echo servers on tcp and udp port 80 in ns.
func startContainer(t *testing.T, n *testNet, name string, ports ...string) (*Network, *recording, error) {
	t.Helper()
	var ps []Port
	for _, s := range ports {
		var err error
		if ps, err = AddPort(ps, s); err != nil {
			t.Fatal(err)
		}
	}
	rec := &recording{}
	cn, err := Setup(Config{
		Machine: name, HostNetNS: n.host, ContainerNetNS: n.container(name),
		HostLink: "ve-" + name, ContainerLink: "host0", Ports: ps,
		HostResolvConf: "nameserver 192.0.2.2\n", Undo: rec,
	})
	return cn, rec, err
}

func TestVethNATAndPorts(t *testing.T) {
	n := newTestNet(t)
	before := n.hostState()

	c1, _, err := startContainer(t, n, "c1", "tcp:8080:80", "udp:8053:80")
	if err != nil {
		t.Fatal(err)
	}
	stop1 := n.echoServers("c1", "0.0.0.0:80")
	c2, _, err := startContainer(t, n, "c2", "8081:80")
	if err != nil {
		t.Fatal(err)
	}
	stop2 := n.echoServers("c2", "0.0.0.0:80")
	if c1.Subnet == c2.Subnet || c1.Subnet.Bits() != 28 {
		t.Fatalf("subnets %s and %s", c1.Subnet, c2.Subnet)
	}

	// While containers run, the uplinks forward and carry the mark that
	// says to put forwarding=0 back.
	during := n.hostState()
	for _, want := range []string{"/h-up/forwarding=1", "/h-rm/forwarding=1", "nspawn:forwarding=0;"} {
		if !strings.Contains(during, want) {
			t.Errorf("host state while running lacks %q:\n%s", want, during)
		}
	}

	// Out through the masquerade: the uplink sees the host's address.
	for _, proto := range []string{"tcp", "udp"} {
		got, err := n.ask("c1", proto, "192.0.2.2:7")
		if err != nil || got != "192.0.2.1:hello" {
			t.Errorf("c1 -> uplink %s: %q, %v", proto, got, err)
		}
	}
	// In through --port: from another host, from the host's own address
	// and from its localhost; tcp and udp; both containers at once.
	cases := []struct{ from, proto, addr, want string }{
		{"remote", "tcp", "198.51.100.1:8080", "198.51.100.2:hello"},
		{"remote", "udp", "198.51.100.1:8053", "198.51.100.2:hello"},
		{"host", "tcp", "192.0.2.1:8080", "192.0.2.1:hello"},
		{"host", "udp", "192.0.2.1:8053", "192.0.2.1:hello"},
		{"host", "tcp", "127.0.0.1:8080", c1.HostAddr.String() + ":hello"},
		{"host", "udp", "127.0.0.1:8053", c1.HostAddr.String() + ":hello"},
		{"remote", "tcp", "198.51.100.1:8081", "198.51.100.2:hello"},
		{"host", "tcp", "127.0.0.1:8081", c2.HostAddr.String() + ":hello"},
	}
	for _, c := range cases {
		got, err := n.ask(c.from, c.proto, c.addr)
		if err != nil || got != c.want {
			t.Errorf("%s -> %s %s: %q, %v; want %q", c.from, c.proto, c.addr, got, err, c.want)
		}
	}
	if c1.ResolvConf != "# Made by nspawn from the host's resolv.conf\nnameserver 192.0.2.2\n" {
		t.Errorf("resolv.conf %q", c1.ResolvConf)
	}

	// A port the first container has: one line naming it, nothing left.
	mid := n.hostState()
	_, _, err = startContainer(t, n, "c3", "udp:9000", "8080")
	want := "--port=tcp:8080:8080: host port tcp:8080 is already forwarded to container c1; pick another host port, or stop c1"
	if err == nil || err.Error() != want {
		t.Errorf("second claim of 8080: %v; want %s", err, want)
	}
	n.end("c3")
	if got := n.hostState(); got != mid {
		t.Errorf("refused start left something:\n%s", diff(mid, got))
	}

	stop1()
	stop2()
	if err := c2.Teardown(); err != nil {
		t.Error(err)
	}
	// c1 still works without c2's table, and forwarding stays on for it.
	if got, err := n.ask("c1", "tcp", "192.0.2.2:7"); err != nil || got != "192.0.2.1:hello" {
		t.Errorf("c1 after c2 ended: %q, %v", got, err)
	}
	if err := c1.Teardown(); err != nil {
		t.Error(err)
	}
	if err := c1.Teardown(); err != nil {
		t.Errorf("second teardown: %v", err)
	}
	n.end("c1")
	n.end("c2")
	if got := n.hostState(); got != before {
		t.Errorf("left behind after teardown:\n%s", diff(before, got))
	}
}

// The cleanup stage's way: nspawn dies, the undo handlers run instead of
// Teardown.
func TestUndoReplayLeavesNothing(t *testing.T) {
	n := newTestNet(t)
	before := n.hostState()
	c1, rec1, err := startContainer(t, n, "c1", "8080:80")
	if err != nil {
		t.Fatal(err)
	}
	c2, rec2, err := startContainer(t, n, "c2", "8081:80")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []*Network{c1, c2} {
		for _, cl := range c.claims {
			cl.release() // the process died
		}
	}
	kinds := []string{}
	for _, r := range rec1.records {
		kinds = append(kinds, r[0])
	}
	if strings.Join(kinds, " ") != "nethost-forwarding nethost-table" {
		t.Errorf("records %q", rec1.records)
	}
	rec1.replay(t)
	if got, err := n.ask("c2", "tcp", "192.0.2.2:7"); err != nil || got != "192.0.2.1:hello" {
		t.Errorf("c2 after c1's undo: %q, %v", got, err)
	}
	rec2.replay(t)
	rec2.replay(t) // idempotent
	n.end("c1")
	n.end("c2")
	if got := n.hostState(); got != before {
		t.Errorf("left behind after undo:\n%s", diff(before, got))
	}
}

func diff(a, b string) string {
	in := map[string]int{}
	for _, l := range strings.Split(a, "\n") {
		in[l]++
	}
	var out []string
	for _, l := range strings.Split(b, "\n") {
		if in[l] > 0 {
			in[l]--
			continue
		}
		out = append(out, "+ "+l)
	}
	for l, k := range in {
		for ; k > 0; k-- {
			out = append(out, "- "+l)
		}
	}
	return strings.Join(out, "\n")
}
