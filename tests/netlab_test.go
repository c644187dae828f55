package tests

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/nftables"
	"golang.org/x/sys/unix"
)

// The lab's fixed addresses: the host namespace's uplink side, and the
// uplink namespace where the servers listen (TEST-NET-1, never routed).
const (
	labHostAddr   = "192.0.2.1"
	labUplinkAddr = "192.0.2.2"
	// labRemoteAddr is a third namespace behind the uplink, for traffic
	// that comes from "another host" (TEST-NET-2).
	labRemoteAddr = "198.51.100.2"
	// labDNSAnswer is what the lab's DNS server answers for every A query.
	labDNSAnswer = "203.0.113.7"
)

// netLab is a host network namespace where nspawn runs, with an uplink
// namespace beside it joined by a veth (host up0 192.0.2.1, uplink dn0
// 192.0.2.2, the host's default route through it), and a resolv.conf
// bound over /etc/resolv.conf for nspawn only. The machine's own network
// is never touched; everything goes when the test ends.
type netLab struct {
	host, uplink string // names under /run/netns
	resolv       string // the file nspawn sees as /etc/resolv.conf
	bin          string // the nspawn to run: ours, or systemd-nspawn
	before       netState
}

// newNetLab makes the namespaces and records the host namespace's state;
// at the end of the test it checks that state came back and deletes all.
func newNetLab(t *testing.T) *netLab {
	t.Helper()
	suffix := make([]byte, 3)
	rand.Read(suffix)
	id := hex.EncodeToString(suffix)
	lab := &netLab{host: "nsp-h-" + id, uplink: "nsp-u-" + id, bin: nspawnBin}
	lab.resolv = filepath.Join(t.TempDir(), "resolv.conf")
	lab.setResolv(t, "nameserver "+labUplinkAddr+"\n")
	mustIP(t, "netns", "add", lab.host)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", lab.host).Run() })
	mustIP(t, "netns", "add", lab.uplink)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", lab.uplink).Run() })
	// No duplicate address detection in the lab: a "tentative" IPv6
	// address turning final would show as a change.
	for _, ns := range []string{lab.host, lab.uplink} {
		if out, err := exec.Command("ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.all.accept_dad=0", "net.ipv6.conf.default.accept_dad=0").CombinedOutput(); err != nil {
			t.Fatalf("accept_dad in %s: %v: %s", ns, err, out)
		}
	}
	mustIP(t, "-n", lab.host, "link", "set", "lo", "up")
	mustIP(t, "-n", lab.uplink, "link", "set", "lo", "up")
	mustIP(t, "-n", lab.host, "link", "add", "up0", "type", "veth", "peer", "name", "dn0", "netns", lab.uplink)
	mustIP(t, "-n", lab.host, "addr", "add", labHostAddr+"/24", "dev", "up0")
	mustIP(t, "-n", lab.uplink, "addr", "add", labUplinkAddr+"/24", "dev", "dn0")
	mustIP(t, "-n", lab.host, "link", "set", "up0", "up")
	mustIP(t, "-n", lab.uplink, "link", "set", "dn0", "up")
	mustIP(t, "-n", lab.host, "route", "add", "default", "via", labUplinkAddr)
	lab.before = lab.state(t)
	// Runs before the namespaces go (cleanups run last first).
	t.Cleanup(func() { lab.checkRestored(t) })
	return lab
}

func (lab *netLab) hostPath() string   { return "/run/netns/" + lab.host }
func (lab *netLab) uplinkPath() string { return "/run/netns/" + lab.uplink }

func (lab *netLab) setResolv(t *testing.T, content string) {
	t.Helper()
	if err := os.WriteFile(lab.resolv, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// addRemote makes a third namespace behind the uplink (198.51.100.2,
// routed through the uplink, which forwards), for traffic from another
// host to the host namespace's address.
func (lab *netLab) addRemote(t *testing.T) string {
	t.Helper()
	remote := strings.Replace(lab.uplink, "nsp-u-", "nsp-r-", 1)
	mustIP(t, "netns", "add", remote)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", remote).Run() })
	mustIP(t, "-n", lab.uplink, "link", "add", "rm0", "type", "veth", "peer", "name", "rm1", "netns", remote)
	mustIP(t, "-n", lab.uplink, "addr", "add", "198.51.100.1/24", "dev", "rm0")
	mustIP(t, "-n", remote, "addr", "add", labRemoteAddr+"/24", "dev", "rm1")
	mustIP(t, "-n", lab.uplink, "link", "set", "rm0", "up")
	mustIP(t, "-n", remote, "link", "set", "rm1", "up")
	mustIP(t, "-n", remote, "link", "set", "lo", "up")
	mustIP(t, "-n", remote, "route", "add", "default", "via", "198.51.100.1")
	if out, err := exec.Command("ip", "netns", "exec", lab.uplink, "sysctl", "-qw", "net.ipv4.ip_forward=1").CombinedOutput(); err != nil {
		t.Fatalf("forwarding in the uplink: %v: %s", err, out)
	}
	return remote
}

func mustIP(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// inHost runs ip in the lab's host namespace and returns its output.
func (lab *netLab) ip(t *testing.T, args ...string) string {
	t.Helper()
	return mustIP(t, append([]string{"-n", lab.host}, args...)...)
}

// command is nspawn with args as it runs in the lab: in a mount namespace
// of its own where the lab's resolv.conf is /etc/resolv.conf, in the
// host namespace. The process is nspawn itself (exec), so a signal sent
// to it reaches nspawn.
//
// /sys/class/net (and the devices it links to) is shown from a sysfs
// mounted in the host namespace, as after "ip netns exec", but with the
// rest of /sys (the cgroup mounts) left in place: nspawn's planning reads
// interfaces from /sys/class/net (nspawn/facts_network.go), which
// otherwise lists the machine's. TestNetProbeUnderNsenter shows that.
func (lab *netLab) command(args ...string) *exec.Cmd {
	return lab.commandWith(true, lab.bin, args...)
}

func (lab *netLab) commandWith(ownSysfs bool, bin string, args ...string) *exec.Cmd {
	inner := `exec "$@"`
	if ownSysfs {
		inner = `s=$(mktemp -d) && mount -t sysfs none "$s" && mount --bind "$s/class/net" /sys/class/net &&
mount --bind "$s/devices/virtual/net" /sys/devices/virtual/net && umount -l "$s" && rmdir "$s" && exec "$@"`
	}
	script := `r=$0 n=$1; shift; mount --bind "$r" /etc/resolv.conf && exec nsenter --net="$n" sh -c '` + inner + `' sh "$@"`
	return exec.Command("unshare", append([]string{"-m", "--propagation", "private", "sh", "-c", script,
		lab.resolv, lab.hostPath(), bin}, args...)...)
}

// run runs nspawn in the lab to its end.
func (lab *netLab) run(t *testing.T, args ...string) result {
	t.Helper()
	return runToEnd(t, lab.command(args...), args)
}

// mustRun runs nspawn in the lab and requires exit status 0.
func (lab *netLab) mustRun(t *testing.T, args ...string) string {
	t.Helper()
	r := lab.run(t, args...)
	if r.status != 0 {
		t.Fatalf("nspawn %q: status %d\nstdout: %s\nstderr: %s", args, r.status, r.stdout, r.stderr)
	}
	return r.stdout
}

// start starts nspawn in the lab, its stdout read line by line.
func (lab *netLab) start(t *testing.T, args ...string) *liveRun {
	t.Helper()
	return runLive(t, lab.command(args...))
}

// lockedWriter lets the test read stderr while nspawn writes it.
type lockedWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// netState is what nspawn may change in a namespace and must give back.
type netState struct {
	links, addrs, routes, nft, sysctls string
}

func (s netState) diff(before netState) string {
	var b strings.Builder
	for _, f := range []struct{ name, was, is string }{
		{"links", before.links, s.links}, {"addresses", before.addrs, s.addrs},
		{"routes", before.routes, s.routes}, {"nftables", before.nft, s.nft},
		{"sysctls", before.sysctls, s.sysctls},
	} {
		if f.was != f.is {
			fmt.Fprintf(&b, "%s changed:\nbefore:\n%s\nafter:\n%s\n", f.name, f.was, f.is)
		}
	}
	return b.String()
}

// state reads the host namespace's links, addresses, routes, nftables
// ruleset and IPv4 sysctls.
func (lab *netLab) state(t *testing.T) netState {
	t.Helper()
	var s netState
	s.links = lab.ip(t, "-o", "link")
	s.addrs = lab.ip(t, "-o", "addr")
	s.routes = lab.ip(t, "route", "show", "table", "all")
	s.nft = nftRuleset(t, lab.hostPath())
	// -s and a status of 0: a link going away while grep walks (a killed
	// container's, its undo stage at work) is no error; checkRestored
	// looks again until the state settles.
	out, err := exec.Command("ip", "netns", "exec", lab.host, "sh", "-c",
		"grep -rs . /proc/sys/net/ipv4/conf/ /proc/sys/net/ipv4/ip_forward /proc/sys/net/ipv6/conf/all/forwarding; exit 0").CombinedOutput()
	if err != nil {
		t.Fatalf("sysctls of %s: %v: %s", lab.host, err, out)
	}
	s.sysctls = string(out)
	return s
}

// checkRestored waits for the undo stage (a killed nspawn's) to finish
// and fails the test if the host namespace differs from when it was made.
func (lab *netLab) checkRestored(t *testing.T) {
	t.Helper()
	var d string
	for deadline := time.Now().Add(10 * time.Second); ; {
		d = lab.state(t).diff(lab.before)
		if d == "" || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if d != "" {
		t.Errorf("host namespace %s not as before:\n%s", lab.host, d)
	}
}

// nftRuleset lists the tables, chains and rules of the namespace at path
// (the machine has no nft command; the library nspawn uses reads it).
func nftRuleset(t *testing.T, nsPath string) string {
	t.Helper()
	f, err := os.Open(nsPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	c, err := nftables.New(nftables.WithNetNSFd(int(f.Fd())))
	if err != nil {
		t.Fatal(err)
	}
	tables, err := c.ListTables()
	if err != nil {
		t.Fatalf("nftables of %s: %v", nsPath, err)
	}
	var lines []string
	for _, tb := range tables {
		lines = append(lines, fmt.Sprintf("table %d %s", tb.Family, tb.Name))
	}
	chains, err := c.ListChains()
	if err != nil {
		t.Fatalf("nftables chains of %s: %v", nsPath, err)
	}
	for _, ch := range chains {
		rules, err := c.GetRules(ch.Table, ch)
		if err != nil {
			t.Fatalf("nftables rules of %s: %v", nsPath, err)
		}
		lines = append(lines, fmt.Sprintf("chain %d %s %s: %d rules", ch.Table.Family, ch.Table.Name, ch.Name, len(rules)))
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// inNetns runs fn on a thread in the namespace at path; sockets made there
// stay in it after the thread goes back.
func inNetns(t *testing.T, path string, fn func()) {
	t.Helper()
	runtime.LockOSThread()
	self, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		runtime.UnlockOSThread()
		t.Fatal(err)
	}
	defer self.Close()
	target, err := os.Open(path)
	if err != nil {
		runtime.UnlockOSThread()
		t.Fatal(err)
	}
	defer target.Close()
	if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		t.Fatalf("setns %s: %v", path, err)
	}
	defer func() {
		// A thread that cannot go back is left locked, so it dies with
		// this goroutine instead of serving others in the wrong namespace.
		if err := unix.Setns(int(self.Fd()), unix.CLONE_NEWNET); err == nil {
			runtime.UnlockOSThread()
		}
	}()
	fn()
}

// tcpServer listens on addr in the namespace at nsPath and answers each
// connection with "from IP" (the source it sees) and closes.
func tcpServer(t *testing.T, nsPath, addr string) {
	t.Helper()
	var l net.Listener
	var err error
	inNetns(t, nsPath, func() { l, err = net.Listen("tcp4", addr) })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			host, _, _ := net.SplitHostPort(c.RemoteAddr().String())
			fmt.Fprintf(c, "from %s\n", host)
			c.Close()
		}
	}()
}

// udpServer answers each datagram on addr with "from IP".
func udpServer(t *testing.T, nsPath, addr string) {
	serveUDP(t, nsPath, addr, func(_ []byte, from net.Addr) []byte {
		host, _, _ := net.SplitHostPort(from.String())
		return []byte("from " + host + "\n")
	})
}

// dnsServer answers every A query on addr (udp) with labDNSAnswer, and
// other types with no records.
func dnsServer(t *testing.T, nsPath, addr string) {
	serveUDP(t, nsPath, addr, func(q []byte, _ net.Addr) []byte { return dnsReply(q) })
}

// serveUDP answers each datagram on addr, in the namespace at nsPath,
// with what reply makes of it (nil: no answer), until the test ends.
func serveUDP(t *testing.T, nsPath, addr string, reply func(q []byte, from net.Addr) []byte) {
	t.Helper()
	var pc net.PacketConn
	var err error
	inNetns(t, nsPath, func() { pc, err = net.ListenPacket("udp4", addr) })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if r := reply(buf[:n], from); r != nil {
				pc.WriteTo(r, from)
			}
		}
	}()
}

// dnsReply builds the answer to one query: the question echoed and, for
// type A, one record.
func dnsReply(q []byte) []byte {
	if len(q) < 12 {
		return nil
	}
	i := 12
	for i < len(q) && q[i] != 0 {
		i += int(q[i]) + 1
	}
	if i+5 > len(q) {
		return nil
	}
	end := i + 5 // zero label, type, class
	qtype := int(q[i+1])<<8 | int(q[i+2])
	r := append([]byte{}, q[:end]...)
	r[2], r[3] = 0x81, 0x80             // response, recursion desired and available
	r[4], r[5] = 0, 1                   // one question
	r[6], r[7], r[8], r[9] = 0, 0, 0, 0 // no answers yet, no authority
	r[10], r[11] = 0, 0                 // no additional
	if qtype == 1 {
		r[7] = 1
		ip := net.ParseIP(labDNSAnswer).To4()
		r = append(r, 0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4)
		r = append(r, ip...)
	}
	return r
}

// dial connects over tcp from the namespace at nsPath and returns what
// the server said.
func dial(t *testing.T, nsPath, network, addr string) (string, error) {
	t.Helper()
	var c net.Conn
	var err error
	inNetns(t, nsPath, func() { c, err = net.DialTimeout(network, addr, 10*time.Second) })
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if network == "udp4" {
		if _, err := c.Write([]byte("hello\n")); err != nil {
			return "", err
		}
	}
	buf := make([]byte, 200)
	n, err := c.Read(buf)
	return strings.TrimSpace(string(buf[:n])), err
}

// netechoSource is a small static program bound into containers (busybox's
// nc has no UDP): "serve UNTIL LABEL tcp:PORT|udp:PORT..." answers each
// connection or datagram with "LABEL from IP", prints READY once it
// listens, and exits when a line can be read from UNTIL; "dial PROTO
// ADDR" sends a line and prints the answer.
const netechoSource = `package main

import (
	"fmt"
	"net"
	"os"
	"strings"
	"time"
)

func main() {
	if len(os.Args) == 4 && os.Args[1] == "dial" {
		c, err := net.DialTimeout(os.Args[2], os.Args[3], 5*time.Second)
		if err != nil {
			fmt.Println("dial:", err)
			os.Exit(1)
		}
		c.SetDeadline(time.Now().Add(5 * time.Second))
		c.Write([]byte("hello\n"))
		buf := make([]byte, 200)
		n, err := c.Read(buf)
		if err != nil {
			fmt.Println("read:", err)
			os.Exit(1)
		}
		fmt.Println(strings.TrimSpace(string(buf[:n])))
		return
	}
	if len(os.Args) < 4 || os.Args[1] != "serve" {
		fmt.Fprintln(os.Stderr, "usage: netecho serve UNTIL LABEL SPEC... | dial PROTO ADDR")
		os.Exit(2)
	}
	label := os.Args[3]
	for _, spec := range os.Args[4:] {
		proto, port, _ := strings.Cut(spec, ":")
		switch proto {
		case "tcp":
			l, err := net.Listen("tcp", ":"+port)
			if err != nil {
				fmt.Println(err)
				os.Exit(1)
			}
			go func() {
				for {
					c, err := l.Accept()
					if err != nil {
						return
					}
					host, _, _ := net.SplitHostPort(c.RemoteAddr().String())
					fmt.Fprintf(c, "%s from %s\n", label, host)
					c.Close()
				}
			}()
		case "udp":
			pc, err := net.ListenPacket("udp", ":"+port)
			if err != nil {
				fmt.Println(err)
				os.Exit(1)
			}
			go func() {
				buf := make([]byte, 1500)
				for {
					_, from, err := pc.ReadFrom(buf)
					if err != nil {
						return
					}
					host, _, _ := net.SplitHostPort(from.String())
					pc.WriteTo([]byte(label+" from "+host+"\n"), from)
				}
			}()
		}
	}
	fmt.Println("READY")
	f, err := os.Open(os.Args[2])
	if err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	// One byte at a time: the next line is another payload's release.
	b := make([]byte, 1)
	for {
		if n, err := f.Read(b); err != nil || n == 1 && b[0] == '\n' {
			return
		}
	}
}
`

// labDir is a directory bound into containers at /mnt: the netecho
// program and the fifo "go" a held payload waits on.
type labDir struct {
	path string
	fifo *os.File // held open read-write, so a release is never lost
}

// newLabDir builds netecho and makes the fifo.
func newLabDir(t *testing.T) *labDir {
	t.Helper()
	dir := t.TempDir()
	buildTestProgram(t, dir, "netecho", netechoSource)
	if err := unix.Mkfifo(filepath.Join(dir, "go"), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(filepath.Join(dir, "go"), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return &labDir{path: dir, fifo: f}
}

// bind is the nspawn option that shows the directory at /mnt.
func (d *labDir) bind() string { return "--bind=" + d.path + ":/mnt" }

// release lets every payload waiting on the fifo go on (one line each).
func (d *labDir) release(t *testing.T, n int) {
	t.Helper()
	if _, err := d.fifo.Write([]byte(strings.Repeat("go\n", n))); err != nil {
		t.Fatal(err)
	}
}

// mark records the host namespace's state again, after a test's own setup
// (a bridge, a parent for macvlan), as what must be there at the end.
func (lab *netLab) mark(t *testing.T) {
	t.Helper()
	lab.before = lab.state(t)
}

// startReady starts nspawn in the lab and returns once its payload printed
// READY, with the lines printed before it.
func (lab *netLab) startReady(t *testing.T, args ...string) (*liveRun, string) {
	t.Helper()
	lr := lab.start(t, args...)
	var out []string
	deadline := time.After(30 * time.Second)
	for {
		select {
		case l, ok := <-lr.lines:
			if !ok {
				t.Fatalf("nspawn %q ended before READY; stdout %q; stderr %q", args, out, lr.stderr.String())
			}
			if l == "READY" {
				return lr, strings.Join(out, "\n")
			}
			out = append(out, l)
		case <-deadline:
			t.Fatalf("nspawn %q: no READY within 30 s; stdout %q; stderr %q", args, out, lr.stderr.String())
		}
	}
}

// ipv4Of returns the address (no prefix) in "ip -o -4 addr" output.
func ipv4Of(out string) string {
	f := strings.Fields(out)
	for i, w := range f {
		if w == "inet" && i+1 < len(f) {
			a, _, _ := strings.Cut(f[i+1], "/")
			return a
		}
	}
	return ""
}
