package nethost

import (
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/google/nftables"
	"github.com/jsimonetti/rtnetlink/v2"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// recorder is the undo log (package undo's *Log): Record is called before
// the thing it names is made.
type recorder interface {
	Record(kind string, args ...string) error
}

// Config is what Setup needs: the links package network made and where.
type Config struct {
	Machine        string // the machine name; names the nftables table
	HostNetNS      string // path of the host's network namespace; "" for the caller's
	ContainerNetNS string // path of the container's, e.g. /proc/PID/ns/net
	HostLink       string // host side: ve-NAME, vb-NAME's bridge is not ours to address; a zone's vz-NAME
	ContainerLink  string // container side, e.g. host0
	Zone           bool   // HostLink is a zone's bridge, shared with the zone's other containers
	Ports          []Port // --port
	HostResolvConf string // the host's /etc/resolv.conf, for the container's
	Undo           recorder
	// MachineID is the host's machine ID (32 hex digits), which picks the
	// IPv6 pool (ula.go); "" reads /etc/machine-id.
	MachineID string
}

// Network is one container's host-side setup, held until Teardown.
type Network struct {
	Subnet        netip.Prefix // the container's subnet (the zone's, in a zone)
	HostAddr      netip.Addr   // on HostLink; the container's gateway
	ContainerAddr netip.Addr   // on ContainerLink
	ResolvConf    string       // for the container's /etc/resolv.conf

	// IPv6, where the host can forward it per link: the container's /64 of
	// the host's ULA pool, ::1 on HostLink, ::2 (or the container's index
	// in a zone) on ContainerLink. Invalid where Notes says why not.
	Subnet6        netip.Prefix
	HostAddr6      netip.Addr
	ContainerAddr6 netip.Addr
	// Notes are info lines for the user (e.g. why there is no IPv6).
	Notes []string

	cfg    Config
	ipv6   bool
	hostNS int
	claims []*claim // the container's address in a zone, its ports: held for its life
}

// Setup addresses the pair, gives the container its default route, and
// makes the container's table (NAT, ports, DNS) and the forwarding it
// needs. On error everything it made is undone.
func Setup(cfg Config) (n *Network, err error) {
	n = &Network{cfg: cfg, hostNS: -1}
	defer func() {
		if err != nil {
			n.Teardown()
			n = nil
		}
	}()
	if n.hostNS, err = openNetNS(cfg.HostNetNS); err != nil {
		return n, err
	}
	host, err := dialRoute(n.hostNS)
	if err != nil {
		return n, err
	}
	defer host.Close()
	hostIndex, err := linkIndex(host, cfg.HostLink)
	if err != nil {
		return n, err
	}
	if note := ipv6Missing(n.hostNS, cfg.HostLink); note != "" {
		n.Notes = append(n.Notes, note)
	} else {
		n.ipv6 = true
	}
	if cfg.Zone {
		err = n.addressZone(host, hostIndex)
	} else {
		err = n.addressVeth(host, hostIndex)
	}
	if err != nil {
		return n, err
	}
	if err := n.configureContainer(); err != nil {
		return n, err
	}
	if err := writeSysctl(n.hostNS, "net/ipv4/conf/"+cfg.HostLink+"/forwarding", "1"); err != nil {
		return n, fmt.Errorf("enable forwarding on %s: %w", cfg.HostLink, err)
	}
	if n.ipv6 {
		// Dies with the link (a zone's: with the bridge).
		if err := writeSysctl(n.hostNS, "net/ipv6/conf/"+cfg.HostLink+"/force_forwarding", "1"); err != nil {
			return n, fmt.Errorf("enable IPv6 forwarding on %s: %w", cfg.HostLink, err)
		}
	}
	if len(cfg.Ports) > 0 {
		if err := writeSysctl(n.hostNS, "net/ipv4/conf/"+cfg.HostLink+"/route_localnet", "1"); err != nil {
			return n, fmt.Errorf("enable route_localnet on %s: %w", cfg.HostLink, err)
		}
	}
	nft, err := n.nftConn()
	if err != nil {
		return n, err
	}
	defer nft.CloseLasting()
	if err := n.claimPorts(nft); err != nil {
		return n, err
	}
	text, stub := resolvConf(cfg.HostResolvConf, n.HostAddr, n.ipv6)
	n.ResolvConf = text
	if stub.IsValid() {
		if err := writeSysctl(n.hostNS, "net/ipv4/conf/"+cfg.HostLink+"/route_localnet", "1"); err != nil {
			return n, fmt.Errorf("enable route_localnet on %s: %w", cfg.HostLink, err)
		}
	}
	return n, n.makeTable(host, nft, tableSpec{
		name: tableName(cfg.Machine), hostIndex: hostIndex, container: n.ContainerAddr,
		container6: n.ContainerAddr6, ports: cfg.Ports, dnsStub: stub, hostAddr: n.HostAddr,
	})
}

// makeTable records and sends the table in one batch, then the uplinks'
// forwarding, under the forwarding lock.
func (n *Network) makeTable(host *rtnetlink.Conn, nft *nftables.Conn, spec tableSpec) error {
	lock, err := forwardingLock(n.hostNS)
	if err != nil {
		return err
	}
	defer lock.release()
	// Replayed in reverse: the table goes first, then the forwarding check
	// sees whether it was the last.
	if err := n.record(KindForwarding, n.cfg.HostNetNS); err != nil {
		return err
	}
	if err := n.record(KindTable, n.cfg.HostNetNS, spec.name); err != nil {
		return err
	}
	addTable(nft, spec)
	if err := nft.Flush(); err != nil {
		return fmt.Errorf("make nftables table inet %s: %w", spec.name, err)
	}
	return enableForwarding(host, n.hostNS, n.cfg.HostLink, n.ipv6)
}

// claimPorts holds each host port's claim for the container's life, and
// refuses one another container's table forwards, naming it.
func (n *Network) claimPorts(nft *nftables.Conn) error {
	for _, p := range n.cfg.Ports {
		c, ok, err := takeClaim(n.hostNS, fmt.Sprintf("port/%s/%d", p.Protocol, p.HostPort))
		if err != nil {
			return err
		}
		owner := ""
		if ok {
			n.claims = append(n.claims, c)
		}
		if owner, err = portOwner(nft, p); err != nil {
			return err
		}
		if owner == "" && !ok {
			owner = "another container that is starting"
		}
		if owner != "" && owner != n.cfg.Machine {
			return fmt.Errorf("--port=%s: host port %s:%d is already forwarded to container %s; pick another host port, or stop %s",
				p, p.Protocol, p.HostPort, owner, owner)
		}
	}
	return nil
}

// Teardown deletes the table, restores forwarding if this was the last
// container, takes the host side's address off a veth, and lets go of the
// claims. It is safe on a half-made Network and to call twice.
func (n *Network) Teardown() error {
	defer func() {
		for _, c := range n.claims {
			c.release()
		}
		n.claims = nil
		if n.hostNS >= 0 {
			unix.Close(n.hostNS)
			n.hostNS = -1
		}
	}()
	if n.hostNS < 0 && n.cfg.HostNetNS != "" {
		return nil
	}
	errs := []error{undoTableAndForwarding(n.hostNS, tableName(n.cfg.Machine))}
	if !n.cfg.Zone && n.HostAddr.IsValid() {
		errs = append(errs, deleteAddress(n.hostNS, n.cfg.HostLink, netip.PrefixFrom(n.HostAddr, n.Subnet.Bits())))
	}
	if !n.cfg.Zone && n.HostAddr6.IsValid() {
		errs = append(errs, deleteAddress(n.hostNS, n.cfg.HostLink, netip.PrefixFrom(n.HostAddr6, ipv6Bits)))
	}
	return errors.Join(errs...)
}

func (n *Network) record(kind string, args ...string) error {
	if n.cfg.Undo == nil {
		return nil
	}
	if err := n.cfg.Undo.Record(kind, args...); err != nil {
		return fmt.Errorf("undo log: %w", err)
	}
	return nil
}

func (n *Network) nftConn() (*nftables.Conn, error) {
	opts := []nftables.ConnOption{nftables.AsLasting()}
	if n.hostNS >= 0 {
		opts = append(opts, nftables.WithNetNSFd(n.hostNS))
	}
	c, err := nftables.New(opts...)
	if err != nil {
		return nil, fmt.Errorf("nftables: %w", err)
	}
	return c, nil
}

// dialRoute opens rtnetlink in the namespace nsfd (-1: the caller's).
func dialRoute(nsfd int) (*rtnetlink.Conn, error) {
	cfg := &netlink.Config{}
	if nsfd >= 0 {
		cfg.NetNS = nsfd
	}
	c, err := rtnetlink.Dial(cfg)
	if err != nil {
		return nil, fmt.Errorf("rtnetlink: %w", err)
	}
	return c, nil
}

func linkIndex(nl *rtnetlink.Conn, name string) (uint32, error) {
	links, err := nl.Link.List()
	if err != nil {
		return 0, fmt.Errorf("list links: %w", err)
	}
	for _, l := range links {
		if l.Attributes != nil && l.Attributes.Name == name {
			return l.Index, nil
		}
	}
	return 0, fmt.Errorf("link %s: %w", name, unix.ENODEV)
}

// addAddress puts p on the link. An IPv6 address skips duplicate address
// detection (IFA_F_NODAD): it is usable at once, so nothing on the start
// path waits a second for DAD, and it is ours to give (a /64 nobody else
// on the host has, on a link only the container is on).
func addAddress(nl *rtnetlink.Conn, index uint32, p netip.Prefix) error {
	ip := net.IP(p.Addr().AsSlice())
	if p.Addr().Is6() {
		return nl.Address.New(&rtnetlink.AddressMessage{
			Family: unix.AF_INET6, PrefixLength: uint8(p.Bits()), Index: index, Flags: unix.IFA_F_NODAD,
			Attributes: &rtnetlink.AddressAttributes{Address: ip, Flags: unix.IFA_F_NODAD},
		})
	}
	bcast := net.IP(nthAddr(p, (1<<(32-p.Bits()))-1).AsSlice())
	return nl.Address.New(&rtnetlink.AddressMessage{
		Family: unix.AF_INET, PrefixLength: uint8(p.Bits()), Index: index,
		Attributes: &rtnetlink.AddressAttributes{Address: ip, Local: ip, Broadcast: bcast},
	})
}

// ipv6Missing says why the container gets no IPv6, or "". nspawn forwards
// IPv6 only with the per-link force_forwarding (Linux 6.17): the host-wide
// net.ipv6.conf.all.forwarding would turn every link into a router and stop
// the host accepting router advertisements, so it is never the fallback.
func ipv6Missing(nsfd int, hostLink string) string {
	if _, err := readSysctl(nsfd, "net/ipv6/conf/"+hostLink+"/force_forwarding"); err != nil {
		if _, err := readSysctl(nsfd, "net/ipv6/conf/"+hostLink+"/disable_ipv6"); err != nil {
			return "IPv6: the container gets IPv4 only: the host has no IPv6"
		}
		return "IPv6: the container gets IPv4 only: this kernel has no per-link net.ipv6.conf." + hostLink +
			".force_forwarding (Linux 6.17 or later), and nspawn does not turn on the host-wide IPv6 forwarding"
	}
	if v, err := readSysctl(nsfd, "net/ipv6/conf/"+hostLink+"/disable_ipv6"); err != nil || v != "0" {
		return "IPv6: the container gets IPv4 only: IPv6 is disabled on " + hostLink + " (net.ipv6.conf." + hostLink + ".disable_ipv6)"
	}
	return ""
}

func (n *Network) machineID() string {
	if n.cfg.MachineID != "" {
		return n.cfg.MachineID
	}
	return hostMachineID()
}

// deleteAddress takes p off link in the namespace nsfd; a link or address
// that is gone already is no error.
func deleteAddress(nsfd int, link string, p netip.Prefix) error {
	nl, err := dialRoute(nsfd)
	if err != nil {
		return err
	}
	defer nl.Close()
	index, err := linkIndex(nl, link)
	if err != nil {
		return nil
	}
	ip := net.IP(p.Addr().AsSlice())
	msg := &rtnetlink.AddressMessage{
		Family: unix.AF_INET, PrefixLength: uint8(p.Bits()), Index: index,
		Attributes: &rtnetlink.AddressAttributes{Address: ip, Local: ip},
	}
	if p.Addr().Is6() {
		msg.Family, msg.Attributes.Local = unix.AF_INET6, nil
	}
	err = nl.Address.Delete(msg)
	if err != nil && !errors.Is(err, unix.EADDRNOTAVAIL) && !errors.Is(err, unix.ENODEV) {
		return fmt.Errorf("delete %s from %s: %w", p, link, err)
	}
	return nil
}

func setUp(nl *rtnetlink.Conn, index uint32) error {
	return nl.Link.Set(&rtnetlink.LinkMessage{Index: index, Flags: unix.IFF_UP, Change: unix.IFF_UP})
}
