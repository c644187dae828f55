package network

import (
	"errors"
	"fmt"
	"net"

	"github.com/jsimonetti/rtnetlink/v2"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// AddMacvlan makes a macvlan on the host's parent, in bridge mode as 252
// does (so containers on one parent reach each other), named name and
// addressed mac, created straight into the container's namespace: nothing
// of it exists on the host, it dies with the container.
func (l *Links) AddMacvlan(parent, name string, mac net.HardwareAddr) error {
	return l.addOnParent("--network-macvlan", parent, name, mac, &linkData{kind: "macvlan", attr: unix.IFLA_MACVLAN_MODE, u32: macvlanModeBridge})
}

// AddIpvlan makes an ipvlan in L2 mode (252's choice) on the host's
// parent, in the container's namespace; it shares the parent's MAC.
func (l *Links) AddIpvlan(parent, name string) error {
	return l.addOnParent("--network-ipvlan", parent, name, nil, &linkData{kind: "ipvlan", attr: unix.IFLA_IPVLAN_MODE, u16: true})
}

func (l *Links) addOnParent(flag, parent, name string, mac net.HardwareAddr, data *linkData) error {
	p, err := linkByName(l.host, parent)
	if errors.Is(err, unix.ENODEV) {
		return fmt.Errorf("%s=%s: no interface %s on the host; name one that exists", flag, parent, parent)
	}
	if err != nil {
		return fmt.Errorf("%s=%s: %w", flag, parent, err)
	}
	parentIndex := p.Index
	err = l.host.Link.New(&rtnetlink.LinkMessage{Attributes: &rtnetlink.LinkAttributes{
		Name:    name,
		Address: mac,
		Type:    parentIndex, // IFLA_LINK, the library's name for it
		NetNS:   rtnetlink.NetNSForFD(uint32(l.containerNS)),
		Info:    &rtnetlink.LinkInfo{Kind: data.kind, Data: data},
	}})
	switch {
	case err == nil:
		return nil
	case errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.ENOENT):
		return fmt.Errorf("%s=%s: this kernel has no %s support (CONFIG_%s); use --network-veth", flag, parent, data.kind, upper(data.kind))
	case errors.Is(err, unix.EEXIST):
		return fmt.Errorf("%s=%s: the container has an interface %s already", flag, parent, name)
	case errors.Is(err, unix.EINVAL) || errors.Is(err, unix.EBUSY):
		return fmt.Errorf("%s=%s: %s cannot carry a %s (it is %q, or a port of another device); name a physical or veth interface", flag, parent, parent, data.kind, kind(p))
	}
	return fmt.Errorf("%s=%s: add %s %s: %w", flag, parent, data.kind, name, err)
}

func upper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'a' && c <= 'z' {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}

// linkData encodes a kind's IFLA_INFO_DATA of one mode attribute: the
// library's macvlan driver would do for macvlan, it has none for ipvlan,
// and this keeps its driver package (an init registering every kind) out.
type linkData struct {
	kind string
	attr uint16
	u32  uint32
	u16  bool // IFLA_IPVLAN_MODE is a u16 (IPVLAN_MODE_L2 is 0)
}

func (d *linkData) New() rtnetlink.LinkDriver { return &linkData{kind: d.kind} }
func (d *linkData) Kind() string              { return d.kind }
func (d *linkData) Decode(*netlink.AttributeDecoder) error {
	return nil
}
func (d *linkData) Encode(ae *netlink.AttributeEncoder) error {
	if d.u16 {
		ae.Uint16(d.attr, uint16(d.u32))
	} else {
		ae.Uint32(d.attr, d.u32)
	}
	return nil
}

// macvlanModeBridge is MACVLAN_MODE_BRIDGE of linux/if_link.h.
const macvlanModeBridge = 4
