package nethost

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/nftables"
	"golang.org/x/sys/unix"
)

// testNet is the test's own world of network namespaces, all made with
// ip netns add under unique names and deleted at the end:
//
//	uplink 192.0.2.2 ---- 192.0.2.1 host 198.51.100.1 ---- 198.51.100.2 remote
//	uplink 2001:db8:1::2 -- 2001:db8:1::1 host 2001:db8:2::1 -- 2001:db8:2::2 remote
//	                                 ve-NAME ---- host0 in container NAME
//
// The uplink holds TCP and UDP echo servers on port 7 (both families); the
// host's default routes go there. Nothing touches the machine's own namespace.
type testNet struct {
	t      *testing.T
	prefix string
	host   string // path of the host namespace
}

func ip(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
}

func newTestNet(t *testing.T) *testNet {
	if os.Getuid() != 0 {
		t.Skip("needs root to make network namespaces")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs ip(8)")
	}
	n := &testNet{t: t, prefix: fmt.Sprintf("nh%d%s", os.Getpid()%100000, strings.ToLower(t.Name()[4:7]))}
	for _, ns := range []string{"host", "uplink", "remote"} {
		n.addNS(ns)
	}
	n.host = n.path("host")
	ip(t, "link", "add", "h-up", "netns", n.name("host"), "type", "veth", "peer", "name", "u0", "netns", n.name("uplink"))
	ip(t, "link", "add", "h-rm", "netns", n.name("host"), "type", "veth", "peer", "name", "r0", "netns", n.name("remote"))
	for _, c := range [][]string{
		{"host", "addr", "add", "192.0.2.1/24", "dev", "h-up"},
		{"host", "addr", "add", "198.51.100.1/24", "dev", "h-rm"},
		{"host", "link", "set", "h-up", "up"}, {"host", "link", "set", "h-rm", "up"}, {"host", "link", "set", "lo", "up"},
		{"host", "route", "add", "default", "via", "192.0.2.2"},
		{"uplink", "addr", "add", "192.0.2.2/24", "dev", "u0"}, {"uplink", "link", "set", "u0", "up"},
		{"remote", "addr", "add", "198.51.100.2/24", "dev", "r0"}, {"remote", "link", "set", "r0", "up"},
		{"host", "addr", "add", "2001:db8:1::1/64", "dev", "h-up", "nodad"},
		{"host", "addr", "add", "2001:db8:2::1/64", "dev", "h-rm", "nodad"},
		{"host", "-6", "route", "add", "default", "via", "2001:db8:1::2"},
		{"uplink", "addr", "add", "2001:db8:1::2/64", "dev", "u0", "nodad"},
		{"uplink", "-6", "route", "add", "default", "via", "2001:db8:1::1"},
		{"remote", "addr", "add", "2001:db8:2::2/64", "dev", "r0", "nodad"},
		{"remote", "-6", "route", "add", "default", "via", "2001:db8:2::1"},
	} {
		ip(t, append([]string{"-n", n.name(c[0])}, c[1:]...)...)
	}
	n.echoServers("uplink", "0.0.0.0:7")
	n.echoServers("uplink", "[::]:7")
	return n
}

func (n *testNet) name(ns string) string { return n.prefix + "-" + ns }
func (n *testNet) path(ns string) string { return filepath.Join("/run/netns", n.name(ns)) }

func (n *testNet) addNS(ns string) {
	ip(n.t, "netns", "add", n.name(ns))
	n.t.Cleanup(func() { exec.Command("ip", "netns", "del", n.name(ns)).Run() })
}

// container makes namespace NAME joined to the host by ve-NAME/host0.
func (n *testNet) container(name string) string {
	n.addNS(name)
	ip(n.t, "link", "add", "ve-"+name, "netns", n.name("host"), "type", "veth", "peer", "name", "host0", "netns", n.name(name))
	return n.path(name)
}

// in runs fn in namespace ns of the test.
func (n *testNet) in(ns string, fn func() error) error {
	fd, err := unix.Open(n.path(ns), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	return inNetNS(fd, fn)
}

// echoServers answers every TCP connection and UDP datagram on addr in ns
// with "FROM-ADDR:" and what it got, so a test sees the source address.
// It returns a func that stops them (a listening socket keeps its
// namespace alive).
func (n *testNet) echoServers(ns, addr string) (stop func()) {
	var l net.Listener
	var pc net.PacketConn
	v := family(addr)
	err := n.in(ns, func() (err error) {
		if l, err = net.Listen("tcp"+v, addr); err != nil {
			return err
		}
		pc, err = net.ListenPacket("udp"+v, addr)
		return err
	})
	if err != nil {
		n.t.Fatalf("echo servers in %s: %v", ns, err)
	}
	stop = func() { l.Close(); pc.Close() }
	n.t.Cleanup(stop)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				line, _ := bufio.NewReader(c).ReadString('\n')
				host, _, _ := net.SplitHostPort(c.RemoteAddr().String())
				fmt.Fprintf(c, "%s:%s", host, line)
			}()
		}
	}()
	go func() {
		buf := make([]byte, 512)
		for {
			k, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			host, _, _ := net.SplitHostPort(from.String())
			pc.WriteTo([]byte(host+":"+string(buf[:k])), from)
		}
	}()
	return stop
}

// ask sends "hello\n" over proto to addr from namespace ns and returns
// the echo's reply ("SOURCE:hello").
func (n *testNet) ask(ns, proto, addr string) (string, error) {
	var c net.Conn
	err := n.in(ns, func() (err error) {
		c, err = net.DialTimeout(proto+family(addr), addr, 5*time.Second)
		return err
	})
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte("hello\n")); err != nil {
		return "", err
	}
	if proto == "tcp" {
		// Read to the server's end of file, so the server closes first
		// and its side takes TIME_WAIT: a TIME_WAIT socket here would
		// keep the container's namespace, and its veth, alive for a
		// minute after the test deletes it.
		got, err := io.ReadAll(c)
		return strings.TrimSpace(string(got)), err
	}
	buf := make([]byte, 512)
	k, err := c.Read(buf)
	return strings.TrimSpace(string(buf[:k])), err
}

// family is "6" for an address "[IPv6]:port", "4" otherwise.
func family(addr string) string {
	if strings.HasPrefix(addr, "[") {
		return "6"
	}
	return "4"
}

// hostState is what must be the same before and after: nspawn tables,
// addresses, aliases and the IPv4 sysctls of the host namespace.
func (n *testNet) hostState() string {
	var b strings.Builder
	out, _ := exec.Command("ip", "-n", n.name("host"), "-o", "-4", "addr").CombinedOutput()
	b.Write(out)
	out, _ = exec.Command("ip", "-n", n.name("host"), "-o", "-6", "addr", "show", "scope", "global").CombinedOutput() // link-local ones change from tentative as DAD ends
	b.Write(out)
	out, _ = exec.Command("ip", "-n", n.name("host"), "-o", "link").CombinedOutput()
	for _, l := range strings.Split(string(out), "\n") {
		if i := strings.Index(l, "alias"); i >= 0 {
			b.WriteString(l[i:] + "\n")
		}
	}
	fd, _ := unix.Open(n.host, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	defer unix.Close(fd)
	nft, err := nftables.New(nftables.WithNetNSFd(fd))
	if err == nil {
		ts, _ := nft.ListTables()
		for _, t := range ts {
			b.WriteString("table " + t.Name + "\n")
		}
	}
	var keys []string
	inNetNS(fd, func() error {
		keys, _ = filepath.Glob("/proc/sys/net/ipv4/conf/*/*")
		for _, k := range []string{"forwarding", "force_forwarding", "accept_ra", "disable_ipv6", "accept_dad"} {
			k6, _ := filepath.Glob("/proc/sys/net/ipv6/conf/*/" + k)
			keys = append(keys, k6...)
		}
		keys = append(keys, "/proc/sys/net/ipv4/ip_forward")
		sort.Strings(keys)
		for _, k := range keys {
			if strings.Contains(k, "/ve-") {
				continue // dies with its container
			}
			v, _ := os.ReadFile(k)
			b.WriteString(k + "=" + string(v))
		}
		return nil
	})
	return b.String()
}

// end deletes container ns and waits until its host side ve-NAME is gone:
// a namespace is destroyed by a kernel worker after its last reference.
func (n *testNet) end(name string) { n.endLink(name, "ve-"+name) }

// endLink deletes container ns and waits until its host side link is gone.
func (n *testNet) endLink(name, link string) {
	exec.Command("ip", "netns", "del", n.name(name)).Run()
	// The kernel frees a namespace on a worker once its last reference
	// goes (a socket in it is one: see ask), which can take a moment.
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if exec.Command("ip", "-n", n.name("host"), "link", "show", link).Run() != nil {
			return
		}
	}
	n.t.Fatalf("%s still there 30s after its namespace was deleted", link)
}
