package nethost

import (
	"fmt"
	"net"
	"net/netip"

	"github.com/jsimonetti/rtnetlink/v2"
	"golang.org/x/sys/unix"
)

// addressVeth gives a veth pair a /28 of its own: the host side the first
// address, the container the second.
func (n *Network) addressVeth(host *rtnetlink.Conn, hostIndex uint32) error {
	subnet, c, err := pickSubnet(host, n.hostNS, n.cfg.Machine, vethBits)
	if err != nil {
		return err
	}
	defer c.release()
	n.Subnet, n.HostAddr, n.ContainerAddr = subnet, nthAddr(subnet, 1), nthAddr(subnet, 2)
	if err := addAddress(host, hostIndex, netip.PrefixFrom(n.HostAddr, vethBits)); err != nil {
		n.HostAddr = netip.Addr{}
		return fmt.Errorf("add %s to %s: %w", n.HostAddr, n.cfg.HostLink, err)
	}
	return setUp(host, hostIndex)
}

// addressZone gives the zone's bridge a /24 if it has none yet (the first
// container of the zone, under the zone's claim so that two first starts
// agree), then takes the first address of it no other living container of
// the zone holds; that claim is kept for the container's life.
func (n *Network) addressZone(host *rtnetlink.Conn, bridge uint32) error {
	lock, err := waitClaim(n.hostNS, "zone/"+n.cfg.HostLink)
	if err != nil {
		return err
	}
	defer lock.release()
	subnet, ok, err := bridgeSubnet(host, bridge)
	if err != nil {
		return err
	}
	if !ok {
		var c *claim
		if subnet, c, err = pickSubnet(host, n.hostNS, n.cfg.HostLink, zoneBits); err != nil {
			return err
		}
		defer c.release()
		p := netip.PrefixFrom(nthAddr(subnet, 1), zoneBits)
		if err := n.record(KindBridgeAddress, n.cfg.HostNetNS, n.cfg.HostLink, p.String()); err != nil {
			return err
		}
		if err := addAddress(host, bridge, p); err != nil {
			return fmt.Errorf("add %s to %s: %w", p, n.cfg.HostLink, err)
		}
	}
	if err := setUp(host, bridge); err != nil {
		return err
	}
	n.Subnet, n.HostAddr = subnet, nthAddr(subnet, 1)
	for i := uint32(2); i < 1<<(32-zoneBits)-1; i++ {
		a := nthAddr(subnet, i)
		c, ok, err := takeClaim(n.hostNS, "zone-address/"+a.String())
		if err != nil {
			return err
		}
		if ok {
			n.claims = append(n.claims, c)
			n.ContainerAddr = a
			return nil
		}
	}
	return fmt.Errorf("zone %s: all of %s is taken by its containers", n.cfg.HostLink, subnet)
}

// bridgeSubnet is the IPv4 subnet on the bridge, if it has one.
func bridgeSubnet(nl *rtnetlink.Conn, bridge uint32) (netip.Prefix, bool, error) {
	addrs, err := nl.Address.List()
	if err != nil {
		return netip.Prefix{}, false, fmt.Errorf("list host addresses: %w", err)
	}
	for _, a := range addrs {
		if a.Index != bridge || a.Family != unix.AF_INET || a.Attributes == nil {
			continue
		}
		if ad, ok := netip.AddrFromSlice(a.Attributes.Local.To4()); ok {
			return netip.PrefixFrom(ad, int(a.PrefixLength)).Masked(), true, nil
		}
	}
	return netip.Prefix{}, false, nil
}

// configureContainer, inside the container's namespace: lo and the link up,
// the container's address, a default route via the host side.
func (n *Network) configureContainer() error {
	fd, err := openNetNS(n.cfg.ContainerNetNS)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	nl, err := dialRoute(fd)
	if err != nil {
		return err
	}
	defer nl.Close()
	index, err := linkIndex(nl, n.cfg.ContainerLink)
	if err != nil {
		return fmt.Errorf("container: %w", err)
	}
	if lo, err := linkIndex(nl, "lo"); err == nil {
		if err := setUp(nl, lo); err != nil {
			return fmt.Errorf("container: bring up lo: %w", err)
		}
	}
	if err := addAddress(nl, index, netip.PrefixFrom(n.ContainerAddr, n.Subnet.Bits())); err != nil {
		return fmt.Errorf("container: add %s to %s: %w", n.ContainerAddr, n.cfg.ContainerLink, err)
	}
	if err := setUp(nl, index); err != nil {
		return fmt.Errorf("container: bring up %s: %w", n.cfg.ContainerLink, err)
	}
	err = nl.Route.Add(&rtnetlink.RouteMessage{
		Family: unix.AF_INET, Table: unix.RT_TABLE_MAIN, Protocol: unix.RTPROT_BOOT,
		Scope: unix.RT_SCOPE_UNIVERSE, Type: unix.RTN_UNICAST,
		Attributes: rtnetlink.RouteAttributes{Gateway: net.IP(n.HostAddr.AsSlice()), OutIface: index},
	})
	if err != nil {
		return fmt.Errorf("container: default route via %s: %w", n.HostAddr, err)
	}
	return nil
}
