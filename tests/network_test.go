package tests

import (
	"crypto/rand"
	"encoding/hex"
	mrand "math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Every test here runs nspawn in a network namespace of its own (see
// netlab_test.go) with an uplink namespace beside it; the machine's own
// network is never touched.

// machineName is a name short enough that ve-NAME, vb-NAME are not
// shortened, random so that concurrent tests never share links.
func machineName(prefix string) string {
	b := make([]byte, 3)
	rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// field returns the text after "KEY=" on the line that starts with it.
func field(out, key string) string {
	for _, l := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(l, key+"="); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// TestNetVethWithoutNetworkd: -n on a host without networkd carries
// traffic: TCP and UDP to the uplink through the masquerade (the server
// sees the host namespace's uplink address), names through the DNS server
// of the host's resolv.conf, the host side addressed; afterwards the host
// namespace is as before.
func TestNetVethWithoutNetworkd(t *testing.T) {
	lab := newNetLab(t)
	before := snapshotHost(t)
	dir := newLabDir(t)
	tcpServer(t, lab.uplinkPath(), labUplinkAddr+":7001")
	udpServer(t, lab.uplinkPath(), labUplinkAddr+":7002")
	dnsServer(t, lab.uplinkPath(), labUplinkAddr+":53")
	name := machineName("nv")
	script := `echo TCP=$(/mnt/netecho dial tcp4 ` + labUplinkAddr + `:7001)
echo UDP=$(/mnt/netecho dial udp4 ` + labUplinkAddr + `:7002)
echo DNS=$(nslookup probe.nsp.test | tail -n +3 | grep Address | head -1)
echo RESOLV=$(grep nameserver /etc/resolv.conf)
echo ADDR=$(ip -o -4 addr show dev host0 | awk '{print $4}')
echo ROUTE=$(ip route show default)
echo READY
read x < /mnt/go`
	lr := lab.start(t, "-q", "--read-only", "-D", busyboxTree, "-M", name, "-n", dir.bind(), "sh", "-c", script)
	var out []string
	for l := range lr.lines {
		if l == "READY" {
			break
		}
		out = append(out, l)
	}
	got := strings.Join(out, "\n")
	t.Logf("inside:\n%s", got)
	if v := field(got, "TCP"); v != "from "+labHostAddr {
		t.Errorf("tcp to the uplink: %q, want an answer from %s (masqueraded)", v, labHostAddr)
	}
	if v := field(got, "UDP"); v != "from "+labHostAddr {
		t.Errorf("udp to the uplink: %q, want an answer from %s (masqueraded)", v, labHostAddr)
	}
	if v := field(got, "DNS"); !strings.Contains(v, labDNSAnswer) {
		t.Errorf("nslookup through the host's resolver: %q, want %s", v, labDNSAnswer)
	}
	if v := field(got, "RESOLV"); v == "" {
		t.Errorf("the container's resolv.conf names no server")
	}
	addr := field(got, "ADDR")
	ip, subnet, err := net.ParseCIDR(addr)
	if err != nil {
		t.Errorf("host0 has no IPv4 address: %q", addr)
	}
	hostSide := lab.ip(t, "-o", "-4", "addr", "show", "dev", "ve-"+name)
	if f := strings.Fields(hostSide); len(f) < 4 || subnet == nil {
		t.Errorf("ve-%s has no IPv4 address: %q", name, hostSide)
	} else if hip, _, err := net.ParseCIDR(f[3]); err != nil || !subnet.Contains(hip) || hip.Equal(ip) {
		t.Errorf("ve-%s has %s, container host0 %s: want another address of one subnet", name, f[3], addr)
	}
	if !strings.Contains(field(got, "ROUTE"), "default via") {
		t.Errorf("no default route inside: %q", field(got, "ROUTE"))
	}
	dir.release(t, 1)
	if status, rest := lr.wait(t); status != 0 {
		t.Errorf("status %d; rest %q; stderr %q", status, rest, lr.stderr.String())
	}
	checkNoLeaks(t, before)
}

// TestNetVethLocalStub: a host whose resolv.conf names a local stub
// (127.0.0.53, as with systemd-resolved) resolves inside through it.
func TestNetVethLocalStub(t *testing.T) {
	lab := newNetLab(t)
	before := snapshotHost(t)
	lab.setResolv(t, "nameserver 127.0.0.53\n")
	dnsServer(t, lab.hostPath(), "127.0.0.53:53")
	name := machineName("ns")
	out := lab.mustRun(t, "-q", "--read-only", "-D", debianTree, "-M", name, "-n",
		"sh", "-c", "grep nameserver /etc/resolv.conf; getent hosts probe.nsp.test || echo getent failed")
	t.Logf("inside: %s", out)
	if !strings.Contains(out, labDNSAnswer) {
		t.Errorf("getent hosts through the host's stub: %q, want %s", out, labDNSAnswer)
	}
	checkNoLeaks(t, before)
}

// TestNetBadInput: each mistake is one line, exit status 1, and nothing
// changed in the host namespace (the lab checks that at the end).
func TestNetBadInput(t *testing.T) {
	lab := newNetLab(t)
	before := snapshotHost(t)
	for _, args := range [][]string{
		{"--network-interface=nosuch0"},
		{"--network-bridge=up0"}, // a veth, not a bridge
		{"--network-zone=abcdefghijklm"},
		{"--network-namespace-path=/etc/passwd"},
		{"-p", "8080"},
		{"-n", "-p", "0"},
		{"-n", "-p", "tcp:80x"},
		{"-n", "-p", "sctp:80"},
		{"-n", "-p", "80:70000"},
		{"--share-network", "-n"},
	} {
		r := lab.run(t, append([]string{"-q", "--read-only", "-D", busyboxTree, "-M", machineName("nb")}, append(args, "true")...)...)
		lines := strings.Split(strings.TrimRight(r.stderr, "\n"), "\n")
		if r.status != 1 || len(lines) != 1 || !strings.HasPrefix(lines[0], "nspawn: ") {
			t.Errorf("%q: status %d, stderr %q; want 1 and one line", args, r.status, r.stderr)
		} else {
			t.Logf("%q: %s", args, lines[0])
		}
	}
	checkNoLeaks(t, before)
}

// TestNetProbeUnderNsenter: nspawn started by plain "nsenter --net" (the
// /sys of the machine still mounted) must judge interfaces by its own
// network namespace: the lab's bridge is accepted and the machine's
// interfaces are not there.
func TestNetProbeUnderNsenter(t *testing.T) {
	lab := newNetLab(t)
	// A fixed MAC, as an admin gives a bridge: one that takes its ports' goes
	// to zeros when its last port leaves, which is the kernel's doing.
	lab.ip(t, "link", "add", "brp0", "address", "02:00:00:00:00:01", "type", "bridge")
	lab.mark(t)
	before := snapshotHost(t)
	cmd := lab.commandWith(false, nspawnBin, "-q", "--read-only", "-D", busyboxTree, "-M", machineName("np"),
		"--network-bridge=brp0", "--network-configure=networkd", "ip", "-o", "link", "show", "host0")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "host0") {
		t.Errorf("--network-bridge=brp0 (a bridge of nspawn's namespace) under nsenter --net: %v: %s", err, out)
	}
	checkNoLeaks(t, before)
}

// mustEnd releases nothing; it waits for lr and requires status 0.
func mustEnd(t *testing.T, lr *liveRun) {
	t.Helper()
	if status, rest := lr.wait(t); status != 0 {
		t.Errorf("status %d; rest %q; stderr %q", status, rest, lr.stderr.String())
	}
}

// TestNetZone: two containers started at once in a new zone agree on one
// bridge vz-ZONE; a third in the zone reaches both and the uplink; the
// bridge stays while one container is left and goes with the last.
func TestNetZone(t *testing.T) {
	lab := newNetLab(t)
	before := snapshotHost(t)
	dir := newLabDir(t)
	tcpServer(t, lab.uplinkPath(), labUplinkAddr+":7001")
	zone := machineName("z")
	bridge := "vz-" + zone
	serve := `echo ADDR=$(ip -o -4 addr show dev host0); exec /mnt/netecho serve /mnt/go $0 tcp:7000`
	type started struct {
		lr        *liveRun
		name, out string
	}
	names := []string{machineName("za"), machineName("zb")}
	results := make(chan started, 2)
	for _, name := range names {
		go func() {
			// t.Fatal is not for other goroutines: startReady's failure
			// shows as a missing answer below.
			lr := lab.start(t, "-q", "--read-only", "-D", busyboxTree, "-M", name, "--network-zone="+zone, dir.bind(), "sh", "-c", serve, name)
			var out []string
			for l := range lr.lines {
				if l == "READY" {
					break
				}
				out = append(out, l)
			}
			results <- started{lr, name, strings.Join(out, "\n")}
		}()
	}
	var addrs []string
	var runs []*liveRun
	for i := range names {
		s := <-results
		names[i] = s.name // in the order of the addresses
		runs = append(runs, s.lr)
		a := ipv4Of(field(s.out, "ADDR"))
		if a == "" {
			t.Fatalf("a zone container has no address: %q; stderr %q", s.out, s.lr.stderr.String())
		}
		addrs = append(addrs, a)
	}
	links := lab.ip(t, "-o", "link", "show", "type", "bridge")
	if n := strings.Count(links, "vz-"); n != 1 || !strings.Contains(links, bridge+":") {
		t.Errorf("bridges after two concurrent first starts: want one %s\n%s", bridge, links)
	}
	ports := lab.ip(t, "-o", "link", "show", "master", bridge)
	for _, name := range names {
		if !strings.Contains(ports, "vb-"+name+"@") {
			t.Errorf("vb-%s is not a port of %s: %s", name, bridge, ports)
		}
	}
	if a := ipv4Of(lab.ip(t, "-o", "-4", "addr", "show", "dev", bridge)); a == "" {
		t.Errorf("%s has no address", bridge)
	}
	script := "for a in " + strings.Join(addrs, " ") + " " + labUplinkAddr + `; do p=7000; [ $a = ` + labUplinkAddr + ` ] && p=7001; echo "$a: $(/mnt/netecho dial tcp4 $a:$p)"; done; ping -c1 -W5 ` + addrs[0] + ` >/dev/null && echo ping ok`
	out := lab.mustRun(t, "-q", "--read-only", "-D", busyboxTree, "-M", machineName("zc"), "--network-zone="+zone, dir.bind(), "sh", "-c", script)
	t.Logf("third container:\n%s", out)
	for i, a := range addrs {
		if !strings.Contains(out, a+": "+names[i]+" from ") {
			t.Errorf("the third container did not reach %s (%s): %s", names[i], a, out)
		}
	}
	if !strings.Contains(out, labUplinkAddr+": from ") {
		t.Errorf("the third container did not reach the uplink: %s", out)
	}
	if !strings.Contains(out, "ping ok") {
		t.Errorf("no ping between zone containers: %s", out)
	}
	dir.release(t, 1)
	// One of the two ends; the bridge stays for the other.
	var left *liveRun
	select {
	case <-runs[0].done:
		left = runs[1]
	case <-runs[1].done:
		left = runs[0]
	case <-time.After(time.Minute):
		t.Fatal("neither zone container ended after the release")
	}
	if _, err := exec.Command("ip", "-n", lab.host, "link", "show", bridge).CombinedOutput(); err != nil {
		t.Errorf("%s went while a container of the zone still runs", bridge)
	}
	dir.release(t, 1)
	mustEnd(t, left)
	for _, lr := range runs {
		mustEnd(t, lr)
	}
	if out, err := exec.Command("ip", "-n", lab.host, "link", "show", bridge).CombinedOutput(); err == nil {
		t.Errorf("%s still there after the last container: %s", bridge, out)
	}
	checkNoLeaks(t, before)
}

// TestNetBridge: vb-NAME is a port of the user's bridge; the container,
// given an address from inside (nspawn does not address a user's
// bridge), reaches an address on the bridge.
func TestNetBridge(t *testing.T) {
	lab := newNetLab(t)
	// A fixed MAC and a port of its own (a veth to the uplink), so the
	// bridge's carrier and MAC do not change when vb-NAME comes and goes
	// (the kernel's doing, not nspawn's).
	lab.ip(t, "link", "add", "brn0", "address", "02:00:5e:00:53:01", "type", "bridge")
	lab.ip(t, "addr", "add", "198.51.100.65/26", "dev", "brn0")
	lab.ip(t, "link", "set", "brn0", "up")
	lab.ip(t, "link", "add", "bp0", "master", "brn0", "up", "type", "veth", "peer", "name", "bp1", "netns", lab.uplink)
	mustIP(t, "-n", lab.uplink, "link", "set", "bp1", "up")
	lab.mark(t)
	before := snapshotHost(t)
	dir := newLabDir(t)
	tcpServer(t, lab.hostPath(), "198.51.100.65:7100")
	name := machineName("nr")
	script := `ip addr add 198.51.100.66/26 dev host0 && ip link set host0 up && echo GOT=$(/mnt/netecho dial tcp4 198.51.100.65:7100); echo READY; read x < /mnt/go`
	lr, out := lab.startReady(t, "-q", "--read-only", "-D", busyboxTree, "-M", name, "--network-bridge=brn0", dir.bind(), "sh", "-c", script)
	if got := field(out, "GOT"); got != "from 198.51.100.66" {
		t.Errorf("container to the bridge's address: %q, want from 198.51.100.66", got)
	}
	if ports := lab.ip(t, "-o", "link", "show", "master", "brn0"); !strings.Contains(ports, "vb-"+name+"@") {
		t.Errorf("vb-%s is not a port of brn0: %s", name, ports)
	}
	dir.release(t, 1)
	mustEnd(t, lr)
	checkNoLeaks(t, before)
}

// vlanParent makes a veth in the host namespace whose peer (in the
// uplink, with addr/prefix) the container reaches through a macvlan or
// ipvlan on it.
func vlanParent(t *testing.T, lab *netLab, parent, peer, addr string) {
	lab.ip(t, "link", "add", parent, "type", "veth", "peer", "name", peer, "netns", lab.uplink)
	lab.ip(t, "link", "set", parent, "up")
	mustIP(t, "-n", lab.uplink, "addr", "add", addr, "dev", peer)
	mustIP(t, "-n", lab.uplink, "link", "set", peer, "up")
}

// TestNetMacvlanIpvlan: mv-IF and iv-IF inside, each carrying traffic to
// the parent's peer once given an address from inside.
func TestNetMacvlanIpvlan(t *testing.T) {
	for _, c := range []struct{ kind, flag, parent, peer, inside, peerAddr, own string }{
		{"macvlan", "--network-macvlan", "mvp0", "mvq0", "mv-mvp0", "198.51.100.130", "198.51.100.131"},
		{"ipvlan", "--network-ipvlan", "ivp0", "ivq0", "iv-ivp0", "198.51.100.146", "198.51.100.147"},
	} {
		t.Run(c.kind, func(t *testing.T) {
			lab := newNetLab(t)
			vlanParent(t, lab, c.parent, c.peer, c.peerAddr+"/28")
			if out, err := exec.Command("ip", "-n", lab.host, "link", "add", "probe0", "link", c.parent, "type", c.kind).CombinedOutput(); err != nil {
				lab.mark(t)
				t.Skipf("the kernel cannot make a %s here: %s", c.kind, out)
			}
			lab.ip(t, "link", "del", "probe0")
			lab.mark(t)
			before := snapshotHost(t)
			dir := newLabDir(t)
			tcpServer(t, lab.uplinkPath(), c.peerAddr+":7200")
			script := `ip -o link show ` + c.inside + ` >/dev/null && echo LINK=ok; ip addr add ` + c.own + `/28 dev ` + c.inside + ` && ip link set ` + c.inside + ` up && echo GOT=$(/mnt/netecho dial tcp4 ` + c.peerAddr + `:7200)`
			out := lab.mustRun(t, "-q", "--read-only", "-D", busyboxTree, "-M", machineName("nm"), c.flag+"="+c.parent, dir.bind(), "sh", "-c", script)
			if field(out, "LINK") != "ok" {
				t.Errorf("no %s inside: %s", c.inside, out)
			}
			if got := field(out, "GOT"); got != "from "+c.own {
				t.Errorf("through %s: %q, want from %s", c.inside, got, c.own)
			}
			checkNoLeaks(t, before)
		})
	}
}

// TestNetMovedInterface: --network-interface=X:lan0 moves X in as lan0,
// traffic goes through it, and X is back in the host namespace under its
// own name afterwards (the lab's state check: same links as before).
func TestNetMovedInterface(t *testing.T) {
	lab := newNetLab(t)
	// Never up before it moves: a link that was up keeps its "noqueue"
	// qdisc, one moved back down shows "noop" (the kernel's doing).
	lab.ip(t, "link", "add", "mi0", "type", "veth", "peer", "name", "mi1", "netns", lab.uplink)
	mustIP(t, "-n", lab.uplink, "addr", "add", "198.51.100.194/28", "dev", "mi1")
	mustIP(t, "-n", lab.uplink, "link", "set", "mi1", "up")
	lab.mark(t)
	before := snapshotHost(t)
	dir := newLabDir(t)
	tcpServer(t, lab.uplinkPath(), "198.51.100.194:7300")
	script := `ip addr add 198.51.100.195/28 dev lan0 && ip link set lan0 up && echo GOT=$(/mnt/netecho dial tcp4 198.51.100.194:7300); echo READY; read x < /mnt/go`
	lr, out := lab.startReady(t, "-q", "--read-only", "-D", busyboxTree, "-M", machineName("ni"), "--network-interface=mi0:lan0", dir.bind(), "sh", "-c", script)
	if got := field(out, "GOT"); got != "from 198.51.100.195" {
		t.Errorf("through the moved interface: %q, want from 198.51.100.195", got)
	}
	if out, err := exec.Command("ip", "-n", lab.host, "link", "show", "mi0").CombinedOutput(); err == nil {
		t.Errorf("mi0 still in the host namespace while the container runs: %s", out)
	}
	dir.release(t, 1)
	mustEnd(t, lr)
	if out, err := exec.Command("ip", "-n", lab.host, "link", "show", "mi0").CombinedOutput(); err != nil {
		t.Errorf("mi0 not back in the host namespace: %s", out)
	}
	checkNoLeaks(t, before)
}

// TestNetVethExtra: --network-veth-extra=HOST:INSIDE; traffic from the
// host namespace to a server inside over it.
func TestNetVethExtra(t *testing.T) {
	lab := newNetLab(t)
	before := snapshotHost(t)
	dir := newLabDir(t)
	hostIf := machineName("xa")
	script := `ip addr add 198.51.100.34/28 dev xb0 && ip link set xb0 up && exec /mnt/netecho serve /mnt/go inside tcp:7400`
	lr, _ := lab.startReady(t, "-q", "--read-only", "-D", busyboxTree, "-M", machineName("nx"), "--network-veth-extra="+hostIf+":xb0", dir.bind(), "sh", "-c", script)
	lab.ip(t, "addr", "add", "198.51.100.33/28", "dev", hostIf)
	lab.ip(t, "link", "set", hostIf, "up")
	if got, err := dial(t, lab.hostPath(), "tcp4", "198.51.100.34:7400"); got != "inside from 198.51.100.33" {
		t.Errorf("host to the container over the extra veth: %q (%v), want inside from 198.51.100.33", got, err)
	}
	dir.release(t, 1)
	mustEnd(t, lr)
	checkNoLeaks(t, before)
}

// TestNetNamespacePath: --network-namespace-path runs the container in a
// namespace the test made, and its traffic goes through what that has.
func TestNetNamespacePath(t *testing.T) {
	lab := newNetLab(t)
	ns := strings.Replace(lab.host, "nsp-h-", "nsp-p-", 1)
	mustIP(t, "netns", "add", ns)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	mustIP(t, "-n", ns, "link", "add", "pp0", "type", "veth", "peer", "name", "pq0", "netns", lab.uplink)
	mustIP(t, "-n", ns, "addr", "add", "198.51.100.50/28", "dev", "pp0")
	mustIP(t, "-n", ns, "link", "set", "pp0", "up")
	mustIP(t, "-n", lab.uplink, "addr", "add", "198.51.100.49/28", "dev", "pq0")
	mustIP(t, "-n", lab.uplink, "link", "set", "pq0", "up")
	lab.mark(t)
	before := snapshotHost(t)
	dir := newLabDir(t)
	tcpServer(t, lab.uplinkPath(), "198.51.100.49:7500")
	out := lab.mustRun(t, "-q", "--read-only", "-D", busyboxTree, "-M", machineName("nn"), "--network-namespace-path=/run/netns/"+ns, dir.bind(),
		"sh", "-c", "ip -o link show pp0 >/dev/null && echo LINK=ok; echo GOT=$(/mnt/netecho dial tcp4 198.51.100.49:7500)")
	if field(out, "LINK") != "ok" {
		t.Errorf("pp0 of the namespace not seen inside: %s", out)
	}
	if got := field(out, "GOT"); got != "from 198.51.100.50" {
		t.Errorf("through the namespace's pp0: %q, want from 198.51.100.50", got)
	}
	checkNoLeaks(t, before)
}

// TestNetPort: -p forwards tcp and udp from the host namespace's own
// address, from 127.0.0.1 and from a remote namespace behind the uplink;
// two containers forward different ports at once; a third asking for a
// taken port gets one line and status 1; after exit the port is free.
func TestNetPort(t *testing.T) {
	lab := newNetLab(t)
	remote := lab.addRemote(t)
	lab.mark(t)
	before := snapshotHost(t)
	dir := newLabDir(t)
	serve := `exec /mnt/netecho serve /mnt/go $0 tcp:80 udp:53 tcp:8000`
	a, _ := lab.startReady(t, "-q", "--read-only", "-D", busyboxTree, "-M", machineName("pa"), "-n", "-p", "8080:80", "-p", "udp:5353:53", dir.bind(), "sh", "-c", serve, "A")
	b, _ := lab.startReady(t, "-q", "--read-only", "-D", busyboxTree, "-M", machineName("pb"), "-n", "-p", "9090:8000", dir.bind(), "sh", "-c", serve, "B")
	for _, c := range []struct{ from, nsPath, network, addr, want string }{
		{"host", lab.hostPath(), "tcp4", labHostAddr + ":8080", "A"},
		{"host", lab.hostPath(), "tcp4", "127.0.0.1:8080", "A"},
		{"host", lab.hostPath(), "udp4", labHostAddr + ":5353", "A"},
		{"host", lab.hostPath(), "udp4", "127.0.0.1:5353", "A"},
		{"host", lab.hostPath(), "tcp4", labHostAddr + ":9090", "B"},
		{"host", lab.hostPath(), "tcp4", "127.0.0.1:9090", "B"},
		{"remote", "/run/netns/" + remote, "tcp4", labHostAddr + ":8080", "A"},
		{"remote", "/run/netns/" + remote, "udp4", labHostAddr + ":5353", "A"},
		{"remote", "/run/netns/" + remote, "tcp4", labHostAddr + ":9090", "B"},
	} {
		got, err := dial(t, c.nsPath, c.network, c.addr)
		if !strings.HasPrefix(got, c.want+" from ") {
			t.Errorf("%s: %s %s: %q (%v), want container %s", c.from, c.network, c.addr, got, err, c.want)
		} else {
			t.Logf("%s: %s %s: %s", c.from, c.network, c.addr, got)
		}
	}
	r := lab.run(t, "-q", "--read-only", "-D", busyboxTree, "-M", machineName("pc"), "-n", "-p", "8080", "true")
	if lines := strings.Split(strings.TrimRight(r.stderr, "\n"), "\n"); r.status != 1 || len(lines) != 1 {
		t.Errorf("a taken port: status %d, stderr %q; want 1 and one line", r.status, r.stderr)
	} else {
		t.Logf("a taken port: %s", lines[0])
	}
	dir.release(t, 2)
	mustEnd(t, a)
	mustEnd(t, b)
	lab.mustRun(t, "-q", "--read-only", "-D", busyboxTree, "-M", machineName("pd"), "-n", "-p", "8080", "-p", "udp:5353", "true")
	checkNoLeaks(t, before)
}

// TestNetKillDuringStart: nspawn SIGKILLed at random moments of its start
// (-n with -p, and a zone), 50 rounds: each time the host namespace is
// as before (the undo stage's work) and nothing of the container is left
// on the machine.
func TestNetKillDuringStart(t *testing.T) {
	lab := newNetLab(t)
	before := snapshotHost(t)
	dir := newLabDir(t)
	zone := machineName("k")
	variants := [][]string{{"-n", "-p", "8080", "-p", "udp:5353"}, {"--network-zone=" + zone, "-p", "8081"}}
	// How long a start takes here, to spread the kills over it.
	var full time.Duration
	for _, v := range variants {
		began := time.Now()
		lr, _ := lab.startReady(t, append(append([]string{"-q", "--read-only", "-D", busyboxTree, "-M", machineName("kt"), dir.bind()}, v...), "sh", "-c", "echo READY; read x < /mnt/go")...)
		full = max(full, time.Since(began))
		dir.release(t, 1)
		mustEnd(t, lr)
	}
	lab.checkRestored(t)
	t.Logf("a start takes about %v", full)
	for round := range 50 {
		v := variants[round%2]
		delay := time.Duration(mrand.Int64N(int64(full) * 6 / 5))
		lr := lab.start(t, append(append([]string{"-q", "--read-only", "-D", busyboxTree, "-M", machineName("kr")}, v...), "sleep", "1000")...)
		time.Sleep(delay) // not an assertion: where in the start the kill lands
		lr.cmd.Process.Signal(syscall.SIGKILL)
		<-lr.done
		lab.checkRestored(t)
		checkNoLeaks(t, before)
		if t.Failed() {
			t.Fatalf("round %d (%q, killed after %v): something left", round, v, delay)
		}
	}
}

// TestNetBesideSystemdNspawn: systemd-nspawn 252 -n and ours in the same
// kind of host namespace: the same link names and MACs on both sides;
// 252's host0 has no address and carries nothing (no networkd here), ours
// reaches the uplink.
func TestNetBesideSystemdNspawn(t *testing.T) {
	sd, err := exec.LookPath("systemd-nspawn")
	if err != nil {
		t.Skip("no systemd-nspawn on this machine")
	}
	name := machineName("nc")
	script := `echo LINKS=$(ip -o link | awk -F': ' '{print $2}' | cut -d@ -f1 | sort | tr '\n' ' ')
echo MAC=$(cat /sys/class/net/host0/address)
echo ADDR=$(ip -o -4 addr show dev host0 | awk '{print $4}')
echo GOT=$(/mnt/netecho dial tcp4 ` + labUplinkAddr + `:7001 2>&1)
echo READY
read x < /mnt/go`
	type view struct{ links, mac, addr, got, hostLink string }
	probe := func(bin, tree string, extra ...string) view {
		lab := newNetLab(t)
		lab.bin = bin
		before := snapshotHost(t)
		dir := newLabDir(t)
		tcpServer(t, lab.uplinkPath(), labUplinkAddr+":7001")
		args := append(append(extra, "-q", "-D", tree, "-M", name, "-n", dir.bind()), "sh", "-c", script)
		lr, out := lab.startReady(t, args...)
		f := strings.Fields(lab.ip(t, "-o", "link", "show", "dev", "ve-"+name))
		v := view{links: field(out, "LINKS"), mac: field(out, "MAC"), addr: field(out, "ADDR"), got: field(out, "GOT")}
		for i, w := range f {
			if w == "link/ether" && i+1 < len(f) {
				v.hostLink = "ve-" + name + " " + f[i+1]
			}
		}
		dir.release(t, 1)
		mustEnd(t, lr)
		checkNoLeaks(t, before)
		lab.checkRestored(t)
		return v
	}
	theirs := probe(sd, copyTree(t, busyboxTree), "--register=no", "--keep-unit")
	ours := probe(nspawnBin, busyboxTree, "--read-only")
	t.Logf("systemd-nspawn: %+v", theirs)
	t.Logf("nspawn:         %+v", ours)
	if ours.links != theirs.links || ours.mac != theirs.mac || ours.hostLink != theirs.hostLink {
		t.Errorf("links differ:\nsystemd-nspawn: %+v\nnspawn:         %+v", theirs, ours)
	}
	if theirs.hostLink == "" || theirs.mac == "" {
		t.Errorf("no ve-%s or host0 MAC seen under systemd-nspawn: %+v", name, theirs)
	}
	// The difference, by design: without networkd 252's veth carries nothing.
	if theirs.addr != "" || strings.HasPrefix(theirs.got, "from ") {
		t.Errorf("systemd-nspawn 252's host0 was addressed or reached the uplink: %+v", theirs)
	}
	if ours.addr == "" || ours.got != "from "+labHostAddr {
		t.Errorf("nspawn's host0 has no address or did not reach the uplink: %+v", ours)
	}
}

// TestNetResolvConfModeKept: nspawn shows its own resolv.conf only for
// --resolv-conf=auto; another mode is the user's choice and is kept (off:
// the tree's own file, untouched).
func TestNetResolvConfModeKept(t *testing.T) {
	lab := newNetLab(t)
	before := snapshotHost(t)
	tree, err := os.ReadFile(filepath.Join(debianTree, "etc/resolv.conf"))
	if err != nil {
		t.Fatal(err)
	}
	r := lab.run(t, "-q", "-x", "-D", debianTree, "-M", machineName("rc"), "-n", "--resolv-conf=off", "cat", "/etc/resolv.conf")
	if r.status != 0 || r.stdout != string(tree) {
		t.Errorf("-n --resolv-conf=off: status %d, /etc/resolv.conf inside %q, want the tree's %q; stderr %q", r.status, r.stdout, tree, r.stderr)
	}
	lab.checkRestored(t)
	checkNoLeaks(t, before)
}
