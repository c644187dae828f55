package nethost

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"net"
	"net/netip"

	"github.com/jsimonetti/rtnetlink/v2"
	"golang.org/x/sys/unix"
)

// subnetPool is where container subnets come from: 10.0.0.0/8, the largest
// of the private ranges systemd-networkd's own container pools use, so a
// start derived from the machine name rarely meets another container's,
// and a machine keeps its subnet from run to run while nothing else took it.
// Every address and route already in the host namespace is avoided.
var subnetPool = netip.MustParsePrefix("10.0.0.0/8")

// Prefix lengths: a /28 per veth as systemd-networkd's
// 80-container-ve.network, a /24 per zone as its 80-container-vz.network.
const (
	vethBits = 28
	zoneBits = 24
)

// usedPrefixes lists every IPv4 address (as itself and as its network) and
// every IPv4 route of every table in the namespace of nl.
func usedPrefixes(nl *rtnetlink.Conn) ([]netip.Prefix, error) {
	var used []netip.Prefix
	addrs, err := nl.Address.List()
	if err != nil {
		return nil, fmt.Errorf("list host addresses: %w", err)
	}
	for _, a := range addrs {
		if a.Family != unix.AF_INET || a.Attributes == nil {
			continue
		}
		for _, ip := range []net.IP{a.Attributes.Address, a.Attributes.Local} {
			if ad, ok := netip.AddrFromSlice(ip.To4()); ok {
				used = append(used, netip.PrefixFrom(ad, 32), netip.PrefixFrom(ad, int(a.PrefixLength)).Masked())
			}
		}
	}
	routes, err := nl.Route.List()
	if err != nil {
		return nil, fmt.Errorf("list host routes: %w", err)
	}
	for _, r := range routes {
		if r.Family != unix.AF_INET || r.DstLength == 0 {
			continue // a default route covers everything and blocks nothing
		}
		if ad, ok := netip.AddrFromSlice(r.Attributes.Dst.To4()); ok {
			used = append(used, netip.PrefixFrom(ad, int(r.DstLength)).Masked())
		}
	}
	return used, nil
}

func overlapsAny(p netip.Prefix, used []netip.Prefix) bool {
	for _, u := range used {
		if u.Overlaps(p) {
			return true
		}
	}
	return false
}

// nthSubnet gives the i-th /bits subnet of the pool, wrapping around.
func nthSubnet(bits int, i uint32) netip.Prefix {
	n := uint32(1) << (bits - subnetPool.Bits())
	base := binary.BigEndian.Uint32(subnetPool.Addr().AsSlice())
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], base+(i%n)<<(32-bits))
	return netip.PrefixFrom(netip.AddrFrom4(b), bits)
}

func nameHash(name string) uint32 {
	h := fnv.New32a()
	h.Write([]byte(name))
	return h.Sum32()
}

// pickSubnet takes a free /bits subnet for machine and returns it with its
// claim held: the caller releases the claim once the host side's address
// is on its link, where every later start sees it. A start that listed the
// host before another put its address there would not see it, so the list
// is taken again after each claim: a subnet is kept only if it is free in a
// list made while holding its claim.
func pickSubnet(nl *rtnetlink.Conn, nsfd int, machine string, bits int) (netip.Prefix, *claim, error) {
	var used []netip.Prefix
	start := nameHash(machine)
	tries := uint32(1) << (bits - subnetPool.Bits())
	for i := uint32(0); i < tries; i++ {
		p := nthSubnet(bits, start+i)
		if overlapsAny(p, used) {
			continue
		}
		c, ok, err := takeClaim(nsfd, "subnet/"+p.String())
		if err != nil {
			return netip.Prefix{}, nil, err
		}
		if !ok {
			continue
		}
		if used, err = usedPrefixes(nl); err != nil {
			c.release()
			return netip.Prefix{}, nil, err
		}
		if !overlapsAny(p, used) {
			return p, c, nil
		}
		c.release()
	}
	return netip.Prefix{}, nil, fmt.Errorf("no free /%d left in %s: every one overlaps an address or route of the host", bits, subnetPool)
}

// nthAddr is the i-th address of subnet p (1 is the first after the
// network's own).
func nthAddr(p netip.Prefix, i uint32) netip.Addr {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], binary.BigEndian.Uint32(p.Masked().Addr().AsSlice())+i)
	return netip.AddrFrom4(b)
}
