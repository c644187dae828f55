package nethost

import (
	"fmt"
	"net"
	"net/netip"

	"github.com/jsimonetti/rtnetlink/v2"
	"golang.org/x/sys/unix"
)

// addressVeth gives a veth pair a /28 of its own, and a /64 of the ULA
// pool where IPv6 is on: the host side the first address, the container
// the second.
func (n *Network) addressVeth(host *rtnetlink.Conn, hostIndex uint32) error {
	subnet, c, err := pickSubnet(host, n.hostNS, subnetPool, n.cfg.Machine, vethBits)
	if err != nil {
		return err
	}
	defer c.release()
	n.Subnet, n.HostAddr, n.ContainerAddr = subnet, nthAddr(subnet, 1), nthAddr(subnet, 2)
	if err := addAddress(host, hostIndex, netip.PrefixFrom(n.HostAddr, vethBits)); err != nil {
		n.HostAddr = netip.Addr{}
		return fmt.Errorf("add %s to %s: %w", n.HostAddr, n.cfg.HostLink, err)
	}
	if n.ipv6 {
		subnet6, c6, err := pickSubnet(host, n.hostNS, ulaPool(n.machineID()), n.cfg.Machine, ipv6Bits)
		if err != nil {
			return err
		}
		defer c6.release()
		n.Subnet6, n.HostAddr6, n.ContainerAddr6 = subnet6, nthAddr(subnet6, 1), nthAddr(subnet6, 2)
		if err := addAddress(host, hostIndex, netip.PrefixFrom(n.HostAddr6, ipv6Bits)); err != nil {
			n.HostAddr6 = netip.Addr{}
			return fmt.Errorf("add %s to %s: %w", n.HostAddr6, n.cfg.HostLink, err)
		}
	}
	return setUp(host, hostIndex)
}

// addressZone gives the zone's bridge a /24 (and a /64) if it has none yet
// (the first container of the zone, under the zone's claim so that two
// first starts agree), then takes the first address of it no other living
// container of the zone holds; that claim is kept for the container's life,
// and the same index is its IPv6 address.
func (n *Network) addressZone(host *rtnetlink.Conn, bridge uint32) error {
	lock, err := waitClaim(n.hostNS, "zone/"+n.cfg.HostLink)
	if err != nil {
		return err
	}
	defer lock.release()
	subnet, err := n.zoneSubnet(host, bridge, subnetPool, zoneBits)
	if err != nil {
		return err
	}
	if n.ipv6 {
		if n.Subnet6, err = n.zoneSubnet(host, bridge, ulaPool(n.machineID()), ipv6Bits); err != nil {
			return err
		}
		n.HostAddr6 = nthAddr(n.Subnet6, 1)
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
			if n.ipv6 {
				n.ContainerAddr6 = nthAddr(n.Subnet6, i)
			}
			return nil
		}
	}
	return fmt.Errorf("zone %s: all of %s is taken by its containers", n.cfg.HostLink, subnet)
}

// zoneSubnet is the bridge's subnet of pool's family, given to it from
// pool (and recorded) if it has none yet. Caller holds the zone's claim.
func (n *Network) zoneSubnet(host *rtnetlink.Conn, bridge uint32, pool netip.Prefix, bits int) (netip.Prefix, error) {
	subnet, ok, err := bridgeSubnet(host, bridge, pool.Addr().Is6())
	if err != nil || ok {
		return subnet, err
	}
	subnet, c, err := pickSubnet(host, n.hostNS, pool, n.cfg.HostLink, bits)
	if err != nil {
		return subnet, err
	}
	defer c.release()
	p := netip.PrefixFrom(nthAddr(subnet, 1), bits)
	if err := n.record(KindBridgeAddress, n.cfg.HostNetNS, n.cfg.HostLink, p.String()); err != nil {
		return subnet, err
	}
	if err := addAddress(host, bridge, p); err != nil {
		return subnet, fmt.Errorf("add %s to %s: %w", p, n.cfg.HostLink, err)
	}
	return subnet, nil
}

// bridgeSubnet is the bridge's IPv4 subnet (IPv6: its global one, not the
// link-local), if it has one.
func bridgeSubnet(nl *rtnetlink.Conn, bridge uint32, ipv6 bool) (netip.Prefix, bool, error) {
	family := uint8(unix.AF_INET)
	if ipv6 {
		family = unix.AF_INET6
	}
	addrs, err := nl.Address.List()
	if err != nil {
		return netip.Prefix{}, false, fmt.Errorf("list host addresses: %w", err)
	}
	for _, a := range addrs {
		if a.Index != bridge || a.Family != family || a.Attributes == nil {
			continue
		}
		ip := a.Attributes.Local
		if ip == nil {
			ip = a.Attributes.Address // IPv6 addresses carry IFA_ADDRESS only
		}
		if ad, ok := addrFromIP(ip, family); ok && !ad.IsLinkLocalUnicast() {
			return netip.PrefixFrom(ad, int(a.PrefixLength)).Masked(), true, nil
		}
	}
	return netip.Prefix{}, false, nil
}

// configureContainer, inside the container's namespace: lo and the link up,
// the container's addresses, default routes via the host side.
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
	if n.ContainerAddr6.IsValid() {
		if err := addAddress(nl, index, netip.PrefixFrom(n.ContainerAddr6, ipv6Bits)); err != nil {
			return fmt.Errorf("container: add %s to %s: %w", n.ContainerAddr6, n.cfg.ContainerLink, err)
		}
	}
	if err := setUp(nl, index); err != nil {
		return fmt.Errorf("container: bring up %s: %w", n.cfg.ContainerLink, err)
	}
	for _, gw := range []netip.Addr{n.HostAddr, n.HostAddr6} {
		if !gw.IsValid() {
			continue
		}
		family := uint8(unix.AF_INET)
		if gw.Is6() {
			family = unix.AF_INET6
		}
		err = nl.Route.Add(&rtnetlink.RouteMessage{
			Family: family, Table: unix.RT_TABLE_MAIN, Protocol: unix.RTPROT_BOOT,
			Scope: unix.RT_SCOPE_UNIVERSE, Type: unix.RTN_UNICAST,
			Attributes: rtnetlink.RouteAttributes{Gateway: net.IP(gw.AsSlice()), OutIface: index},
		})
		if err != nil {
			return fmt.Errorf("container: default route via %s: %w", gw, err)
		}
	}
	return nil
}
