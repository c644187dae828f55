package network

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/jsimonetti/rtnetlink/v2"
	"golang.org/x/sys/unix"
)

// These tests make real links in network namespaces of their own, never in
// the machine's: each namespace is made by a thread that unshares
// CLONE_NEWNET and then exits locked (the runtime discards it), held only
// by the fd the test closes at the end, which destroys it and its links.

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to make network namespaces")
	}
}

// newNS makes a network namespace and returns an fd holding it.
func newNS(t testing.TB) int {
	t.Helper()
	var fd int
	err := onThread(func() error {
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			return fmt.Errorf("unshare: %w", err)
		}
		var err error
		fd, err = unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	return fd
}

// onThread runs fn on a thread of its own that is thrown away afterwards,
// so a namespace change in fn never reaches the test's other goroutines.
func onThread(fn func() error) error {
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread dies with the goroutine
		done <- fn()
	}()
	return <-done
}

// inNS runs fn inside the namespace ns, on a throw-away thread; sockets
// fn opens stay in ns.
func inNS(ns int, fn func() error) error {
	return onThread(func() error {
		if err := unix.Setns(ns, unix.CLONE_NEWNET); err != nil {
			return fmt.Errorf("setns: %w", err)
		}
		return fn()
	})
}

type records struct {
	mu   sync.Mutex
	list []string
}

func (r *records) Record(kind string, args ...string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.list = append(r.list, kind+" "+strings.Join(args, " "))
	return nil
}

func openLinks(t *testing.T, host, container int, undo recorder) *Links {
	t.Helper()
	l, err := Open(host, container, "nspawn-test", undo)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func conn(t *testing.T, ns int) *rtnetlink.Conn {
	t.Helper()
	c, err := dial(ns)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// addAddr gives name in ns the address prefix and brings it up.
func addAddr(t *testing.T, ns int, name, prefix string) {
	t.Helper()
	c := conn(t, ns)
	p := netip.MustParsePrefix(prefix)
	link, err := linkByName(c, name)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	local := net.IP(p.Addr().AsSlice())
	err = c.Address.New(&rtnetlink.AddressMessage{
		Family: unix.AF_INET, PrefixLength: uint8(p.Bits()), Index: link.Index,
		Attributes: &rtnetlink.AddressAttributes{Address: local, Local: local},
	})
	if err != nil {
		t.Fatalf("address %s on %s: %v", prefix, name, err)
	}
	if err := setUp(c, name); err != nil {
		t.Fatal(err)
	}
}

// tcpReaches listens on addr:port in ns and connects to it from from,
// then passes a line across.
func tcpReaches(t *testing.T, from, ns int, addr string) {
	t.Helper()
	var ln net.Listener
	if err := inNS(ns, func() (err error) {
		ln, err = net.Listen("tcp4", addr+":0")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan string, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			got <- err.Error()
			return
		}
		defer c.Close()
		b := make([]byte, 5)
		n, _ := c.Read(b)
		got <- string(b[:n])
	}()
	err := inNS(from, func() error {
		c, err := net.Dial("tcp4", ln.Addr().String())
		if err != nil {
			return err
		}
		defer c.Close()
		_, err = c.Write([]byte("hello"))
		return err
	})
	if err != nil {
		t.Fatalf("connect to %s: %v", ln.Addr(), err)
	}
	if s := <-got; s != "hello" {
		t.Fatalf("across to %s: got %q", ln.Addr(), s)
	}
}

// linkNames lists the links of ns but lo.
func linkNames(t *testing.T, ns int) []string {
	t.Helper()
	links, err := conn(t, ns).Link.List()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, l := range links {
		if l.Attributes.Name != "lo" {
			names = append(names, l.Attributes.Name)
		}
	}
	return names
}

func hasLink(t *testing.T, ns int, name string) bool {
	t.Helper()
	_, err := linkByName(conn(t, ns), name)
	if err != nil && !errors.Is(err, unix.ENODEV) {
		t.Fatal(err)
	}
	return err == nil
}

// hostVethPair makes a plain veth a:b inside ns (a stand-in for a host's
// physical interface), both ends up.
func hostVethPair(t *testing.T, ns int, a, b string) {
	t.Helper()
	c := conn(t, ns)
	err := c.Link.New(&rtnetlink.LinkMessage{Flags: unix.IFF_UP, Change: unix.IFF_UP, Attributes: &rtnetlink.LinkAttributes{
		Name: a,
		Info: &rtnetlink.LinkInfo{Kind: "veth", Data: &vethPeer{peer: &rtnetlink.LinkMessage{Attributes: &rtnetlink.LinkAttributes{Name: b}}}},
	}})
	if err != nil {
		t.Fatalf("veth %s:%s: %v", a, b, err)
	}
	if err := setUp(c, b); err != nil {
		t.Fatal(err)
	}
}
