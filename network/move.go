package network

import (
	"errors"
	"fmt"

	"github.com/jsimonetti/rtnetlink/v2"
	"golang.org/x/sys/unix"
)

// Moved is an interface moved into the container, what MoveOut needs to
// give it back.
type Moved struct {
	Pair
	MAC string // its address, how UndoMoved finds it again after a SIGKILL
}

// MoveIn moves the host's p.Host into the container, renamed p.Container,
// in one RTM_NEWLINK (IFLA_NET_NS_FD and IFLA_IFNAME), as 252's
// --network-interface. It is refused with one line when it is missing
// (or in another container's namespace already), a bridge's or bond's
// port, or a device the kernel keeps in its namespace (lo, bridges).
func (l *Links) MoveIn(p Pair) (Moved, error) {
	flag := "--network-interface=" + p.Host
	link, err := linkByName(l.host, p.Host)
	if errors.Is(err, unix.ENODEV) {
		return Moved{}, fmt.Errorf("%s: no interface %s on the host (is it in another container already?); name one that exists", flag, p.Host)
	}
	if err != nil {
		return Moved{}, fmt.Errorf("%s: %w", flag, err)
	}
	if a := link.Attributes; a.Master != nil && *a.Master != 0 {
		return Moved{}, fmt.Errorf("%s: %s is in use, a port of interface %d; release it first (ip link set %s nomaster)", flag, p.Host, *a.Master, p.Host)
	}
	m := Moved{Pair: p, MAC: link.Attributes.Address.String()}
	if err := l.record(KindMoved, p.Host, p.Container, m.MAC); err != nil {
		return Moved{}, err
	}
	err = l.host.Link.Set(&rtnetlink.LinkMessage{Index: link.Index, Attributes: &rtnetlink.LinkAttributes{
		Name:  p.Container,
		NetNS: rtnetlink.NetNSForFD(uint32(l.containerNS)),
	}})
	switch {
	case err == nil:
		return m, nil
	case errors.Is(err, unix.EEXIST):
		return Moved{}, fmt.Errorf("%s: the container has an interface %s already; give another name (%s:NAME)", flag, p.Container, p.Host)
	case errors.Is(err, unix.EINVAL) || errors.Is(err, unix.EOPNOTSUPP):
		return Moved{}, fmt.Errorf("%s: the kernel keeps %s in its namespace (it is %q); move a physical, veth or macvlan interface", flag, p.Host, kind(link))
	}
	return Moved{}, fmt.Errorf("%s: move into the container: %w", flag, err)
}

// MoveOut gives a moved interface back to the host under its old name, on
// a clean exit (252's move_back_network_interfaces). A SIGKILL needs
// UndoMoved instead: when the container's namespace dies the kernel sends
// physical devices to the initial namespace under their container-side
// name and destroys virtual ones (veth, macvlan).
func (l *Links) MoveOut(m Moved) error {
	c, err := l.containerConn()
	if err != nil {
		return err
	}
	link, err := linkByName(c, m.Container)
	if errors.Is(err, unix.ENODEV) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("give %s back to the host: %w", m.Host, err)
	}
	err = c.Link.Set(&rtnetlink.LinkMessage{Index: link.Index, Attributes: &rtnetlink.LinkAttributes{
		Name:  m.Host,
		NetNS: rtnetlink.NetNSForFD(uint32(l.hostNS)),
	}})
	if err != nil {
		return fmt.Errorf("give %s back to the host as %s: %w", m.Container, m.Host, err)
	}
	return nil
}
