package nethost

import (
	"fmt"
	"hash/fnv"
	"math/bits"
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
// IPv6 subnets come from the host's ULA /48 (ula.go).
var subnetPool = netip.MustParsePrefix("10.0.0.0/8")

// Prefix lengths: a /28 per veth as systemd-networkd's
// 80-container-ve.network, a /24 per zone as its 80-container-vz.network;
// a /64 per veth or zone in IPv6, the only length SLAAC and most tools
// expect of a link.
const (
	vethBits = 28
	zoneBits = 24
	ipv6Bits = 64
)

// usedPrefixes lists every address of family (as itself and as its
// network) and every route of family of every table in the namespace of nl.
func usedPrefixes(nl *rtnetlink.Conn, family uint8) ([]netip.Prefix, error) {
	var used []netip.Prefix
	addrs, err := nl.Address.List()
	if err != nil {
		return nil, fmt.Errorf("list host addresses: %w", err)
	}
	for _, a := range addrs {
		if a.Family != family || a.Attributes == nil {
			continue
		}
		for _, ip := range []net.IP{a.Attributes.Address, a.Attributes.Local} {
			if ad, ok := addrFromIP(ip, family); ok {
				used = append(used, netip.PrefixFrom(ad, ad.BitLen()), netip.PrefixFrom(ad, int(a.PrefixLength)).Masked())
			}
		}
	}
	routes, err := nl.Route.List()
	if err != nil {
		return nil, fmt.Errorf("list host routes: %w", err)
	}
	for _, r := range routes {
		if r.Family != family || r.DstLength == 0 {
			continue // a default route covers everything and blocks nothing
		}
		if ad, ok := addrFromIP(r.Attributes.Dst, family); ok {
			used = append(used, netip.PrefixFrom(ad, int(r.DstLength)).Masked())
		}
	}
	return used, nil
}

// addrFromIP is ip as a netip.Addr of family, if it is one.
func addrFromIP(ip net.IP, family uint8) (netip.Addr, bool) {
	if family == unix.AF_INET {
		return netip.AddrFromSlice(ip.To4())
	}
	if len(ip) != net.IPv6len {
		return netip.Addr{}, false
	}
	return netip.AddrFromSlice(ip)
}

func overlapsAny(p netip.Prefix, used []netip.Prefix) bool {
	for _, u := range used {
		if u.Overlaps(p) {
			return true
		}
	}
	return false
}

// nthSubnet gives the i-th /bits subnet of pool, wrapping around; pool
// holds at most 2^32 of them (bits-pool.Bits() <= 32).
func nthSubnet(pool netip.Prefix, bits int, i uint32) netip.Prefix {
	n := uint64(1) << (bits - pool.Bits())
	return netip.PrefixFrom(addShifted(pool.Masked().Addr(), uint64(i)%n, pool.Addr().BitLen()-bits), bits)
}

// nthAddr is the i-th address of subnet p (1 is the first after the
// network's own).
func nthAddr(p netip.Prefix, i uint32) netip.Addr {
	return addShifted(p.Masked().Addr(), uint64(i), 0)
}

// addShifted is a + v<<shift, in 128-bit arithmetic for both families.
func addShifted(a netip.Addr, v uint64, shift int) netip.Addr {
	b := a.As16()
	hi, lo := be64(b[:8]), be64(b[8:])
	var vhi, vlo uint64
	switch {
	case shift >= 64:
		vhi = v << (shift - 64)
	case shift == 0:
		vlo = v
	default:
		vhi, vlo = v>>(64-shift), v<<shift
	}
	var carry uint64
	lo, carry = bits.Add64(lo, vlo, 0)
	hi, _ = bits.Add64(hi, vhi, carry)
	putBE64(b[:8], hi)
	putBE64(b[8:], lo)
	out := netip.AddrFrom16(b)
	if a.Is4() {
		return out.Unmap()
	}
	return out
}

func be64(b []byte) uint64 {
	var v uint64
	for _, c := range b {
		v = v<<8 | uint64(c)
	}
	return v
}

func putBE64(b []byte, v uint64) {
	for i := 7; i >= 0; i-- {
		b[i], v = byte(v), v>>8
	}
}

func nameHash(name string) uint32 {
	h := fnv.New32a()
	h.Write([]byte(name))
	return h.Sum32()
}

// pickSubnet takes a free /bits subnet of pool for key (the machine, or
// the zone's bridge) and returns it with its claim held: the caller
// releases the claim once the host side's address is on its link, where
// every later start sees it. A start that listed the host before another
// put its address there would not see it, so the list is taken again after
// each claim: a subnet is kept only if it is free in a list made while
// holding its claim.
func pickSubnet(nl *rtnetlink.Conn, nsfd int, pool netip.Prefix, key string, bits int) (netip.Prefix, *claim, error) {
	family := uint8(unix.AF_INET)
	if pool.Addr().Is6() {
		family = unix.AF_INET6
	}
	var used []netip.Prefix
	start := nameHash(key)
	tries := uint64(1) << (bits - pool.Bits())
	for i := uint64(0); i < tries; i++ {
		p := nthSubnet(pool, bits, start+uint32(i))
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
		if used, err = usedPrefixes(nl, family); err != nil {
			c.release()
			return netip.Prefix{}, nil, err
		}
		if !overlapsAny(p, used) {
			return p, c, nil
		}
		c.release()
	}
	return netip.Prefix{}, nil, fmt.Errorf("no free /%d left in %s: every one overlaps an address or route of the host", bits, pool)
}
