package nethost

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// tablePrefix starts the name of every table nspawn makes: one table per
// container ("inet nspawn-MACHINE"), so containers never share or clobber
// rules and a container's rules go in one delete. One inet table rather
// than an ip and an ip6 one: both families' rules appear and vanish in one
// batch, a port is looked up in one place, and the undo log names one
// table; each rule starts with the family it is for (meta nfproto).
const tablePrefix = "nspawn-"

// portTag is a forwarding rule's user data: how another start finds which
// container forwards a port (the tables are the record, the claims only
// guard the moment of the check).
func portTag(p Port) []byte {
	return []byte("nspawn-port " + p.Protocol + ":" + fmt.Sprint(p.HostPort))
}

// tableSpec is everything one container's table holds.
type tableSpec struct {
	name      string
	hostIndex uint32     // the host side's link (the veth, or the zone's bridge)
	container netip.Addr // the container's address
	// container6 is its IPv6 address, or invalid (no IPv6 rules).
	container6 netip.Addr
	ports      []Port
	dnsStub    netip.Addr // the host's loopback resolver, or invalid
	hostAddr   netip.Addr // the host side's address, where the container sends DNS
}

func table(name string) *nftables.Table {
	return &nftables.Table{Name: name, Family: nftables.TableFamilyINet}
}

// addTable queues the whole table in conn's batch; one Flush sends it.
//
//	postrouting: ip saddr CONTAINER oif != HOSTLINK masquerade
//	             ip6 saddr CONTAINER6 oif != HOSTLINK masquerade  (NAT66)
//	             ip saddr 127.0.0.0/8 oif HOSTLINK masquerade  (localhost --port)
//	prerouting, output: fib daddr type local PROTO dport HOSTPORT dnat ip to CONTAINER:PORT
//	prerouting: fib daddr type local PROTO dport HOSTPORT dnat ip6 to [CONTAINER6]:PORT
//	output:     ip6 daddr != ::1 fib daddr type local ... dnat ip6 to [CONTAINER6]:PORT
//	prerouting: iif HOSTLINK ip daddr HOSTADDR PROTO dport 53 dnat STUB:53
//
// [::1]:PORT is not forwarded: IPv6 has no route_localnet, and a packet
// from ::1 may not leave the host, so DNAT from it could only hang.
func addTable(conn *nftables.Conn, s tableSpec) {
	t := conn.AddTable(table(s.name))
	chain := func(name string, hook *nftables.ChainHook, prio *nftables.ChainPriority) *nftables.Chain {
		return conn.AddChain(&nftables.Chain{Name: name, Table: t, Type: nftables.ChainTypeNAT, Hooknum: hook, Priority: prio})
	}
	post := chain("postrouting", nftables.ChainHookPostrouting, nftables.ChainPriorityNATSource)
	pre := chain("prerouting", nftables.ChainHookPrerouting, nftables.ChainPriorityNATDest)
	out := chain("output", nftables.ChainHookOutput, nftables.ChainPriorityNATDest)
	rule := func(c *nftables.Chain, tag []byte, e ...expr.Any) {
		conn.AddRule(&nftables.Rule{Table: t, Chain: c, Exprs: e, UserData: tag})
	}
	idx := binary.NativeEndian.AppendUint32(nil, s.hostIndex)
	v4, v6 := nfproto(unix.NFPROTO_IPV4), nfproto(unix.NFPROTO_IPV6)
	rule(post, nil, append(v4,
		ipField(12), &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: s.container.AsSlice()},
		&expr.Meta{Key: expr.MetaKeyOIF, Register: 1}, &expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: idx},
		&expr.Masq{})...)
	if s.container6.IsValid() {
		rule(post, nil, append(v6,
			ip6Field(8), &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: s.container6.AsSlice()},
			&expr.Meta{Key: expr.MetaKeyOIF, Register: 1}, &expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: idx},
			&expr.Masq{})...)
	}
	if len(s.ports) > 0 {
		rule(post, nil, append(v4,
			ipField(12), &expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: []byte{255, 0, 0, 0}, Xor: []byte{0, 0, 0, 0}},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{127, 0, 0, 0}},
			&expr.Meta{Key: expr.MetaKeyOIF, Register: 1}, &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: idx},
			&expr.Masq{})...)
	}
	local := []expr.Any{
		&expr.Fib{Register: 1, FlagDADDR: true, ResultADDRTYPE: true},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binary.NativeEndian.AppendUint32(nil, unix.RTN_LOCAL)},
	}
	notLoopback6 := []expr.Any{ip6Field(24), &expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: netip.IPv6Loopback().AsSlice()}}
	for _, p := range s.ports {
		for _, c := range []*nftables.Chain{pre, out} {
			rule(c, portTag(p), concat(v4, local, dnat(p.Protocol, p.HostPort, s.container, p.ContainerPort))...)
			if !s.container6.IsValid() {
				continue
			}
			match := concat(v6, local)
			if c == out {
				match = concat(v6, notLoopback6, local)
			}
			rule(c, portTag(p), concat(match, dnat(p.Protocol, p.HostPort, s.container6, p.ContainerPort))...)
		}
	}
	if s.dnsStub.IsValid() {
		for _, proto := range []string{"udp", "tcp"} {
			rule(pre, nil, concat(v4, []expr.Any{
				&expr.Meta{Key: expr.MetaKeyIIF, Register: 1}, &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: idx},
				ipField(16), &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: s.hostAddr.AsSlice()},
			}, dnat(proto, 53, s.dnsStub, 53))...)
		}
	}
}

// nfproto matches packets of one family in an inet table; a rule must
// know the family before it loads addresses from the network header.
func nfproto(family byte) []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{family}},
	}
}

func concat(parts ...[]expr.Any) []expr.Any {
	var out []expr.Any
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// ip6Field loads 16 bytes of the IPv6 header at off (8 source, 24
// destination).
func ip6Field(off uint32) expr.Any {
	return &expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: off, Len: 16}
}

// ipField loads 4 bytes of the IPv4 header at off (12 source, 16 destination).
func ipField(off uint32) expr.Any {
	return &expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: off, Len: 4}
}

// dnat matches PROTO's destination port and rewrites to addr:port.
func dnat(proto string, dport uint16, addr netip.Addr, port uint16) []expr.Any {
	l4 := byte(unix.IPPROTO_TCP)
	if proto == "udp" {
		l4 = unix.IPPROTO_UDP
	}
	family := uint32(unix.NFPROTO_IPV4)
	if addr.Is6() {
		family = unix.NFPROTO_IPV6
	}
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1}, &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{l4}},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binary.BigEndian.AppendUint16(nil, dport)},
		&expr.Immediate{Register: 1, Data: addr.AsSlice()},
		&expr.Immediate{Register: 2, Data: binary.BigEndian.AppendUint16(nil, port)},
		&expr.NAT{Type: expr.NATTypeDestNAT, Family: family, RegAddrMin: 1, RegProtoMin: 2, Specified: true},
	}
}

// nspawnTables lists the names of every nspawn table in the namespace.
func nspawnTables(conn *nftables.Conn) ([]string, error) {
	ts, err := conn.ListTablesOfFamily(nftables.TableFamilyINet)
	if err != nil {
		return nil, fmt.Errorf("list nftables tables: %w", err)
	}
	var names []string
	for _, t := range ts {
		if strings.HasPrefix(t.Name, tablePrefix) {
			names = append(names, t.Name)
		}
	}
	return names, nil
}

// portOwner names the container whose table forwards p, or "".
func portOwner(conn *nftables.Conn, p Port) (string, error) {
	names, err := nspawnTables(conn)
	if err != nil {
		return "", err
	}
	tag := string(portTag(p))
	for _, name := range names {
		rules, err := conn.GetRules(table(name), &nftables.Chain{Name: "prerouting", Table: table(name)})
		if err != nil {
			continue // a table going away under us
		}
		for _, r := range rules {
			if string(r.UserData) == tag {
				return strings.TrimPrefix(name, tablePrefix), nil
			}
		}
	}
	return "", nil
}

// deleteTable removes the table; one that is not there is no error.
func deleteTable(conn *nftables.Conn, name string) error {
	conn.DelTable(table(name))
	if err := conn.Flush(); err != nil && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("delete nftables table inet %s: %w", name, err)
	}
	return nil
}

// tableName is the table of machine: "nspawn-MACHINE" (machine names are
// at most 64 characters, nftables names 255).
func tableName(machine string) string { return tablePrefix + machine }
