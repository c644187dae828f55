package network

import (
	"errors"
	"fmt"
	"net"
	"os"

	"github.com/jsimonetti/rtnetlink/v2"
	"golang.org/x/sys/unix"
)

// JoinBridge makes the host link port a port of bridge and brings it up
// (--network-bridge, 252's join_bridge). A bridge that is missing or is
// not a bridge is one line naming flag.
func (l *Links) JoinBridge(port, bridge, flag string) error {
	br, err := linkByName(l.host, bridge)
	if errors.Is(err, unix.ENODEV) {
		return fmt.Errorf("%s=%s: no interface %s on the host; create the bridge first (ip link add %s type bridge)", flag, bridge, bridge, bridge)
	}
	if err != nil {
		return fmt.Errorf("%s=%s: %w", flag, bridge, err)
	}
	if k := kind(br); k != "bridge" {
		if k == "" {
			k = "a device"
		}
		return fmt.Errorf("%s=%s: %s is not a bridge (it is %s); name a bridge", flag, bridge, bridge, k)
	}
	return enslave(l.host, port, br.Index)
}

// enslave sets port's master and brings it up in one RTM_NEWLINK.
func enslave(c *rtnetlink.Conn, port string, master uint32) error {
	link, err := linkByName(c, port)
	if err != nil {
		return fmt.Errorf("add %s to a bridge: %w", port, err)
	}
	if err := c.Link.Set(&rtnetlink.LinkMessage{
		Index: link.Index, Flags: unix.IFF_UP, Change: unix.IFF_UP,
		Attributes: &rtnetlink.LinkAttributes{Master: &master},
	}); err != nil {
		return fmt.Errorf("add %s to a bridge: %w", port, err)
	}
	return nil
}

// Zone is a --network-zone bridge and the lock that orders its creation
// against its removal across every nspawn on the host.
type Zone struct {
	Bridge string // vz-NAME, from ZoneBridgeName
	// Lock is the file flock(2)ed around "join or create" and "remove if
	// empty". 252 uses ZoneLock; sharing it lets our starts and 252's
	// share a zone safely. Its directory must exist.
	Lock string
	// MAC is the bridge's own address, when nspawn makes it: without one
	// a bridge takes its lowest port's and changes it when that port
	// leaves, and the other members' neighbour entries go stale.
	MAC net.HardwareAddr
}

// ZoneLock is systemd-nspawn 252's zone lock file.
const ZoneLock = "/run/systemd/nspawn-network-zone"

// lockZone takes the zone lock; the returned func releases it.
func lockZone(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open the network zone lock: %w", err)
	}
	for {
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return func() { f.Close() }, nil
}

// JoinZone makes port a port of the zone's bridge, making the bridge (up,
// owner-marked) when it is not there yet. Under the zone lock a removal
// cannot run between finding the bridge and joining it, so two starts
// racing end on one bridge and a start never loses its bridge.
func (l *Links) JoinZone(port string, z Zone) error {
	// Recorded by every member, not only the one that makes it: the
	// last to go, however it goes, removes it (UndoZone leaves a bridge
	// with ports alone).
	if err := l.record(KindZone, z.Bridge, z.Lock); err != nil {
		return err
	}
	unlock, err := lockZone(z.Lock)
	if err != nil {
		return err
	}
	defer unlock()
	br, err := linkByName(l.host, z.Bridge)
	if errors.Is(err, unix.ENODEV) {
		br, err = l.makeBridge(z)
	}
	if err != nil {
		return err
	}
	if k := kind(br); k != "bridge" {
		return fmt.Errorf("--network-zone: %s exists on the host and is not a bridge (it is %q); remove it or pick another zone", z.Bridge, k)
	}
	return enslave(l.host, port, br.Index)
}

// makeBridge creates the zone's bridge, up (JoinZone recorded it).
func (l *Links) makeBridge(z Zone) (rtnetlink.LinkMessage, error) {
	owner := l.owner
	err := l.host.Link.New(&rtnetlink.LinkMessage{
		Flags: unix.IFF_UP, Change: unix.IFF_UP,
		Attributes: &rtnetlink.LinkAttributes{Name: z.Bridge, Address: z.MAC, Alias: &owner, Info: &rtnetlink.LinkInfo{Kind: "bridge"}},
	})
	if err != nil {
		return rtnetlink.LinkMessage{}, fmt.Errorf("--network-zone: create bridge %s: %w", z.Bridge, err)
	}
	return linkByName(l.host, z.Bridge)
}

// LeaveZone removes the zone's bridge from the namespace hostNS when no
// port is left (252's remove_bridge), under the zone lock. Call it after
// deleting this container's port: a veth whose namespace died goes away
// asynchronously, so waiting for the kernel would leave the bridge.
func LeaveZone(hostNS int, z Zone) error {
	c, err := dial(hostNS)
	if err != nil {
		return fmt.Errorf("connect to rtnetlink in the host's network namespace: %w", err)
	}
	defer c.Close()
	return removeEmptyBridge(c, z)
}

func removeEmptyBridge(c *rtnetlink.Conn, z Zone) error {
	unlock, err := lockZone(z.Lock)
	if err != nil {
		return err
	}
	defer unlock()
	br, err := linkByName(c, z.Bridge)
	if errors.Is(err, unix.ENODEV) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("remove bridge %s: %w", z.Bridge, err)
	}
	if kind(br) != "bridge" {
		return nil
	}
	links, err := c.Link.List()
	if err != nil {
		return fmt.Errorf("remove bridge %s: list its ports: %w", z.Bridge, err)
	}
	for _, link := range links {
		if link.Attributes != nil && link.Attributes.Master != nil && *link.Attributes.Master == br.Index {
			return nil
		}
	}
	if err := c.Link.Delete(br.Index); err != nil && !errors.Is(err, unix.ENODEV) {
		return fmt.Errorf("remove bridge %s: %w", z.Bridge, err)
	}
	return nil
}
