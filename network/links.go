package network

import (
	"errors"
	"fmt"
	"net"

	"github.com/jsimonetti/rtnetlink/v2"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// recorder is the undo log as this package uses it: one record, written
// before the thing it names is made, so the cleanup stage can undo it
// after a SIGKILL. Record kinds and handlers are in undo.go.
type recorder interface {
	Record(kind string, args ...string) error
}

// Links makes a container's links from two network namespaces given as
// fds: the host's, where ve-/vb- links, bridges and the interfaces to move
// in live, and the container's. Neither is the caller thread's implicitly:
// each connection is opened inside its namespace (netlink.Config.NetNS,
// on a locked thread of the library's own), so the caller may run on any
// thread of any namespace.
type Links struct {
	hostNS, containerNS int
	host, container     *rtnetlink.Conn
	owner               string
	undo                recorder
}

// Open connects to the host's namespace. owner marks every link made on
// the host (its IFLA_IFALIAS), so an undo handler deletes a link only if
// it is still the one this run made: the machine name and nspawn's pid
// are a good owner. undo may be nil (tests).
func Open(hostNS, containerNS int, owner string, undo recorder) (*Links, error) {
	host, err := dial(hostNS)
	if err != nil {
		return nil, fmt.Errorf("connect to rtnetlink in the host's network namespace: %w", err)
	}
	return &Links{hostNS: hostNS, containerNS: containerNS, host: host, owner: owner, undo: undo}, nil
}

// dial opens rtnetlink inside the namespace fd (fd < 0: the thread's own).
func dial(ns int) (*rtnetlink.Conn, error) {
	cfg := &netlink.Config{Strict: true}
	if ns >= 0 {
		cfg.NetNS = ns
	}
	return rtnetlink.Dial(cfg)
}

// containerConn opens the container-side connection on first use: most
// runs (a veth, a macvlan) make everything from the host side.
func (l *Links) containerConn() (*rtnetlink.Conn, error) {
	if l.container == nil {
		c, err := dial(l.containerNS)
		if err != nil {
			return nil, fmt.Errorf("connect to rtnetlink in the container's network namespace: %w", err)
		}
		l.container = c
	}
	return l.container, nil
}

// Close closes the connections; the links stay.
func (l *Links) Close() error {
	err := l.host.Close()
	if l.container != nil {
		err = errors.Join(err, l.container.Close())
	}
	return err
}

func (l *Links) record(kind string, args ...string) error {
	if l.undo == nil {
		return nil
	}
	if err := l.undo.Record(kind, args...); err != nil {
		return fmt.Errorf("record %s %v in the undo log: %w", kind, args, err)
	}
	return nil
}

// Index is the host link name's interface index.
func (l *Links) Index(name string) (int, error) {
	link, err := linkByName(l.host, name)
	return int(link.Index), err
}

// linkByName asks the kernel for one link by name (RTM_GETLINK with
// IFLA_IFNAME, no dump); unix.ENODEV when there is none.
func linkByName(c *rtnetlink.Conn, name string) (rtnetlink.LinkMessage, error) {
	msgs, err := c.Execute(&rtnetlink.LinkMessage{Attributes: &rtnetlink.LinkAttributes{Name: name}}, unix.RTM_GETLINK, netlink.Request)
	if err != nil {
		return rtnetlink.LinkMessage{}, err
	}
	if len(msgs) != 1 {
		return rtnetlink.LinkMessage{}, fmt.Errorf("link %s: %d answers", name, len(msgs))
	}
	link, ok := msgs[0].(*rtnetlink.LinkMessage)
	if !ok || link.Attributes == nil {
		return rtnetlink.LinkMessage{}, fmt.Errorf("link %s: no attributes in the answer", name)
	}
	return *link, nil
}

// kind is a link's IFLA_INFO_KIND ("" for a physical device).
func kind(link rtnetlink.LinkMessage) string {
	if link.Attributes.Info == nil {
		return ""
	}
	return link.Attributes.Info.Kind
}

// setUp brings the named link up in c's namespace.
func setUp(c *rtnetlink.Conn, name string) error {
	link, err := linkByName(c, name)
	if err != nil {
		return fmt.Errorf("bring up %s: %w", name, err)
	}
	if err := c.Link.Set(&rtnetlink.LinkMessage{Index: link.Index, Flags: unix.IFF_UP, Change: unix.IFF_UP}); err != nil {
		return fmt.Errorf("bring up %s: %w", name, err)
	}
	return nil
}

// UpInContainer brings the container's links up (host0, mv-*, moved
// interfaces): 252 leaves that to networkd inside, a payload without it
// needs them up to be addressed.
func (l *Links) UpInContainer(names ...string) error {
	c, err := l.containerConn()
	if err != nil {
		return err
	}
	for _, name := range names {
		if err := setUp(c, name); err != nil {
			return err
		}
	}
	return nil
}

// Delete deletes a link this run made on the host (a veth's host side
// takes its peer with it); one already gone is no error.
func (l *Links) Delete(name string) error {
	return deleteLink(l.host, name, "")
}

// deleteLink deletes name if it exists and, when owner is set, carries
// owner as its alias.
func deleteLink(c *rtnetlink.Conn, name, owner string) error {
	link, err := linkByName(c, name)
	if errors.Is(err, unix.ENODEV) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("delete %s: %w", name, err)
	}
	if owner != "" && (link.Attributes.Alias == nil || *link.Attributes.Alias != owner) {
		return nil
	}
	if err := c.Link.Delete(link.Index); err != nil && !errors.Is(err, unix.ENODEV) {
		return fmt.Errorf("delete %s: %w", name, err)
	}
	return nil
}

// Veth is one veth pair: its host side named and addressed here, its peer
// made directly in the container's namespace.
type Veth struct {
	Host         string           // ve-NAME, vb-NAME or the extra's HOSTIF
	HostMAC      net.HardwareAddr // from MAC(..., HostMACKey or ExtraHostMACKey, idx)
	Container    string           // host0 or the extra's CONTAINERIF
	ContainerMAC net.HardwareAddr
	// AltName is the host side's full name when Host is it shortened
	// (HostVethName's long), given as an alternative name as 252 does.
	AltName string
	Up      bool   // bring the host side up (a bridge port, or nspawn addresses it)
	Flag    string // the option that asked for it, for errors: "--network-veth"
}

// AddVeth makes the pair in one RTM_NEWLINK: host side named, with its MAC
// and owner alias, the peer named, with its MAC, created straight into the
// container's namespace (IFLA_NET_NS_FD in the peer's attributes), as 252's
// add_veth does with the child's pid. The undo record comes first; a
// name already taken on the host is one line.
func (l *Links) AddVeth(v Veth) error {
	if err := l.record(KindLink, v.Host, l.owner); err != nil {
		return err
	}
	ns := uint32(l.containerNS)
	owner := l.owner
	req := &rtnetlink.LinkMessage{
		Attributes: &rtnetlink.LinkAttributes{
			Name:    v.Host,
			Address: v.HostMAC,
			Alias:   &owner,
			Info: &rtnetlink.LinkInfo{Kind: "veth", Data: &vethPeer{peer: &rtnetlink.LinkMessage{
				Attributes: &rtnetlink.LinkAttributes{
					Name:    v.Container,
					Address: v.ContainerMAC,
					NetNS:   rtnetlink.NetNSForFD(ns),
				},
			}}},
		},
	}
	if v.Up {
		req.Flags, req.Change = unix.IFF_UP, unix.IFF_UP
	}
	if err := l.host.Link.New(req); err != nil {
		if errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("%s: an interface %s exists already on the host or %s in the container; remove it or pick another name", v.Flag, v.Host, v.Container)
		}
		return fmt.Errorf("%s: add veth %s:%s: %w", v.Flag, v.Host, v.Container, err)
	}
	// The kernel ignores IFLA_IFALIAS in RTM_NEWLINK on some versions;
	// set it again where it did not stick, the undo handler needs it.
	if err := l.ensureAlias(v.Host); err != nil {
		return err
	}
	if v.AltName != "" {
		return l.setAltName(v.Host, v.AltName)
	}
	return nil
}

// setAltName gives the host link name the alternative name alt
// (RTM_NEWLINKPROP with IFLA_ALT_IFNAME), as systemd-nspawn gives a
// shortened ve- or vb- link its full name: `ip link show ve-LONGNAME`
// and networkd's matching by name still find it. The library has no
// message for it, so it is built here on a plain netlink socket.
func (l *Links) setAltName(name, alt string) error {
	cfg := &netlink.Config{}
	if l.hostNS >= 0 {
		cfg.NetNS = l.hostNS
	}
	c, err := netlink.Dial(unix.NETLINK_ROUTE, cfg)
	if err != nil {
		return fmt.Errorf("name %s %s: %w", name, alt, err)
	}
	defer c.Close()
	ae := netlink.NewAttributeEncoder()
	ae.String(unix.IFLA_IFNAME, name)
	ae.Nested(unix.IFLA_PROP_LIST, func(nae *netlink.AttributeEncoder) error {
		nae.String(unix.IFLA_ALT_IFNAME, alt)
		return nil
	})
	attrs, err := ae.Encode()
	if err != nil {
		return fmt.Errorf("name %s %s: %w", name, alt, err)
	}
	// An ifinfomsg of zeros: the link is found by IFLA_IFNAME.
	data := append(make([]byte, unix.SizeofIfInfomsg), attrs...)
	_, err = c.Execute(netlink.Message{Header: netlink.Header{Type: unix.RTM_NEWLINKPROP, Flags: netlink.Request | netlink.Acknowledge}, Data: data})
	if err != nil && !errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("name %s %s: %w", name, alt, err)
	}
	return nil
}

// ensureAlias sets the owner alias on a host link if it is missing.
func (l *Links) ensureAlias(name string) error {
	link, err := linkByName(l.host, name)
	if err != nil {
		return fmt.Errorf("read back %s: %w", name, err)
	}
	if link.Attributes.Alias != nil && *link.Attributes.Alias == l.owner {
		return nil
	}
	owner := l.owner
	if err := l.host.Link.Set(&rtnetlink.LinkMessage{Index: link.Index, Attributes: &rtnetlink.LinkAttributes{Alias: &owner}}); err != nil {
		return fmt.Errorf("mark %s as ours: %w", name, err)
	}
	return nil
}

// vethPeer encodes VETH_INFO_PEER: an ifinfomsg and the peer's attributes.
// The library's driver.Veth does the same; this one is ours so that the
// driver package (and its init registering every kind) stays out.
type vethPeer struct{ peer *rtnetlink.LinkMessage }

func (v *vethPeer) New() rtnetlink.LinkDriver { return &vethPeer{} }
func (*vethPeer) Kind() string                { return "veth" }
func (*vethPeer) Decode(*netlink.AttributeDecoder) error {
	return nil
}
func (v *vethPeer) Encode(ae *netlink.AttributeEncoder) error {
	b, err := v.peer.MarshalBinary()
	if err != nil {
		return err
	}
	ae.Bytes(1, b) // VETH_INFO_PEER
	return nil
}

// LinkFact is what planning needs of a host interface.
type LinkFact struct {
	Exists, Bridge bool
}

// Probe looks the named interfaces up in the caller's own network
// namespace, over rtnetlink: /sys/class/net shows the namespace that
// mounted /sys, which under nsenter or a container is not nspawn's.
// Names not found are absent from the map.
func Probe(names ...string) (map[string]LinkFact, error) {
	facts := map[string]LinkFact{}
	if len(names) == 0 {
		return facts, nil
	}
	c, err := dial(-1)
	if err != nil {
		return nil, fmt.Errorf("connect to rtnetlink: %w", err)
	}
	defer c.Close()
	for _, name := range names {
		link, err := linkByName(c, name)
		if errors.Is(err, unix.ENODEV) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("look up interface %s: %w", name, err)
		}
		facts[name] = LinkFact{Exists: true, Bridge: kind(link) == "bridge"}
	}
	return facts, nil
}
