package network

import (
	"errors"
	"fmt"
	"time"

	"github.com/jsimonetti/rtnetlink/v2"
	"golang.org/x/sys/unix"
)

// The undo-log kinds this package records, each with its handler. The
// handlers run in the cleanup stage, in the host's network namespace (the
// stage's own), after nspawn died; each is idempotent and leaves alone
// what is not, or no longer, ours.
const (
	KindLink  = "network-link"  // NAME OWNER: UndoLink
	KindZone  = "network-zone"  // BRIDGE LOCKFILE: UndoZone
	KindMoved = "network-moved" // HOSTNAME CONTAINERNAME MAC: UndoMoved
)

// UndoLink deletes the host link NAME if it still carries OWNER as its
// alias: a name reused since by someone else is left alone. A veth whose
// container namespace died is gone already; this catches a bridge port
// the namespace still held.
func UndoLink(args []string) error {
	if len(args) != 2 {
		return fmt.Errorf("%s: want NAME OWNER, got %q", KindLink, args)
	}
	c, err := dial(-1)
	if err != nil {
		return err
	}
	defer c.Close()
	return deleteLink(c, args[0], args[1])
}

// UndoZone removes the zone bridge if it has no port left, under the zone
// lock, as a clean exit's LeaveZone does.
func UndoZone(args []string) error {
	if len(args) != 2 {
		return fmt.Errorf("%s: want BRIDGE LOCKFILE, got %q", KindZone, args)
	}
	c, err := dial(-1)
	if err != nil {
		return err
	}
	defer c.Close()
	return removeEmptyBridge(c, Zone{Bridge: args[0], Lock: args[1]})
}

// UndoMoved renames a physical interface the kernel sent back from the
// dead container's namespace (under its container-side name, or devN
// when that was taken) to its old name. It finds it by MAC; nothing with
// that MAC (a virtual device, destroyed) or the old name already present
// means nothing to do. The container's namespace must be gone first,
// i.e. its processes killed.
func UndoMoved(args []string) error {
	if len(args) != 3 {
		return fmt.Errorf("%s: want HOSTNAME CONTAINERNAME MAC, got %q", KindMoved, args)
	}
	c, err := dial(-1)
	if err != nil {
		return err
	}
	defer c.Close()
	// The kernel hands the device back from a workqueue once the
	// namespace is freed, after the cgroup's processes are killed (a
	// late kind: undone after the cgroup): wait a little for it.
	for deadline := time.Now().Add(returnWait); ; time.Sleep(20 * time.Millisecond) {
		found, err := renameBack(c, args[0], args[2])
		if found || err != nil || time.Now().After(deadline) {
			return err
		}
	}
}

// returnWait is how long UndoMoved waits for the kernel to hand a
// moved interface back; a virtual one never comes (it is destroyed).
const returnWait = 3 * time.Second

// renameBack gives the device with address mac its old name; found says
// whether it is on the host (under either name).
func renameBack(c *rtnetlink.Conn, name, mac string) (found bool, err error) {
	if _, err := linkByName(c, name); err == nil {
		return true, nil
	} else if !errors.Is(err, unix.ENODEV) {
		return false, fmt.Errorf("give %s back its name: %w", name, err)
	}
	links, err := c.Link.List()
	if err != nil {
		return false, fmt.Errorf("give %s back its name: %w", name, err)
	}
	for _, link := range links {
		if link.Attributes == nil || link.Attributes.Address.String() != mac {
			continue
		}
		// A link must be down to be renamed; it came back down anyway.
		err := c.Link.Set(&rtnetlink.LinkMessage{Index: link.Index, Change: unix.IFF_UP, Attributes: &rtnetlink.LinkAttributes{Name: name}})
		if err != nil {
			return true, fmt.Errorf("rename %s back to %s: %w", link.Attributes.Name, name, err)
		}
		return true, nil
	}
	return false, nil
}
