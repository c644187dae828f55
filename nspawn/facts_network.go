package nspawn

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/nspawn/nspawn/network"
)

// NetFacts are what network planning needs of the host: the interfaces
// the options name, and whether systemd-networkd is there to address the
// links.
type NetFacts struct {
	// Networkd: systemd-networkd runs on the host (its Varlink socket
	// answers), so it configures ve-*, vb-* and vz-* links as its
	// 80-container-*.network files say.
	Networkd bool
	// Links are the host interfaces the options name, by name.
	Links map[string]LinkFact
	// NSPathErr is why --network-namespace-path is no network namespace.
	NSPathErr error
}

// LinkFact is a host interface as the probe found it.
type LinkFact = network.LinkFact

// probeNetFacts reads what the network options name; nothing for a run
// without them.
func probeNetFacts(o *Options) NetFacts {
	n := &o.NetworkOptions
	var f NetFacts
	if !n.links() && n.NetworkNSPath == "" {
		return f
	}
	f.Networkd = networkdRuns()
	var names []string
	for _, v := range slices.Concat([]string{n.NetworkBridge}, n.NetworkMacvlan, n.NetworkIpvlan, n.NetworkInterface) {
		name, _, _ := strings.Cut(v, ":")
		if network.ValidIfName(name) {
			names = append(names, name)
		}
	}
	// An error leaves the map empty: planning then names the first
	// interface as missing, with the cause below it unknown; the start
	// would fail on the same socket anyway.
	f.Links, _ = network.Probe(names...)
	if n.NetworkNSPath != "" {
		f.NSPathErr = checkNetNS(n.NetworkNSPath)
	}
	return f
}

// checkNetNS: path is a network namespace (nsfs, and the kernel says
// which type).
func checkNetNS(path string) error {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		if errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("%s does not exist", path)
		}
		return err
	}
	defer unix.Close(fd)
	var fs unix.Statfs_t
	if err := unix.Fstatfs(fd, &fs); err != nil {
		return err
	}
	if fs.Type == unix.NSFS_MAGIC {
		if t, err := unix.IoctlRetInt(fd, unix.NS_GET_NSTYPE); err == nil && t == unix.CLONE_NEWNET {
			return nil
		}
	}
	return fmt.Errorf("%s is not a network namespace; give a /proc/PID/ns/net or a bind mount of one (ip netns add puts them in /run/netns)", path)
}

// unixSocketAnswers: something accepts connections on the socket path.
func unixSocketAnswers(path string) bool {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return false
	}
	defer unix.Close(fd)
	return unix.Connect(fd, &unix.SockaddrUnix{Name: path}) == nil
}

// linkErr says why the host has no interface name to use.
func (f *Facts) linkErr(name string) error {
	if !f.Net.Links[name].Exists {
		return fmt.Errorf("the host has no interface %s (ip link lists them; one moved into another container is gone from the host)", name)
	}
	return nil
}

// bridgeErr says why name is no bridge to join.
func (f *Facts) bridgeErr(name string) error {
	if err := f.linkErr(name); err != nil {
		return err
	}
	if !f.Net.Links[name].Bridge {
		return fmt.Errorf("%s is not a bridge; name a bridge (ip link add NAME type bridge), or use --network-zone= for one nspawn makes", name)
	}
	return nil
}

// netnsErr says why --network-namespace-path is no network namespace.
func (f *Facts) netnsErr() error {
	return f.Net.NSPathErr
}

// networkdRuns: systemd-networkd runs on the host. Its Varlink socket
// answers from systemd 254 on; 252's has none, so where networkd has
// left its state directory a process of that name is looked for.
func networkdRuns() bool {
	if unixSocketAnswers("/run/systemd/netif/io.systemd.Network") {
		return true
	}
	if !exists("/run/systemd/netif/state") {
		return false
	}
	procs, _ := os.ReadDir("/proc")
	for _, p := range procs {
		if p.Name()[0] < '0' || p.Name()[0] > '9' {
			continue
		}
		// comm is cut at 15 bytes: "systemd-network".
		if comm, err := os.ReadFile("/proc/" + p.Name() + "/comm"); err == nil && strings.TrimSpace(string(comm)) == "systemd-network" {
			return true
		}
	}
	return false
}
