package nethost

import (
	"errors"
	"fmt"
	"net/netip"

	"golang.org/x/sys/unix"
)

// The undo log's kinds and their handlers. Each takes the host network
// namespace's path first ("" for the cleanup stage's own), is idempotent,
// and is safe when the thing was never made.
const (
	KindTable         = "nethost-table"          // NETNS TABLE: UndoTable
	KindForwarding    = "nethost-forwarding"     // NETNS: UndoForwarding
	KindBridgeAddress = "nethost-bridge-address" // NETNS BRIDGE PREFIX: UndoBridgeAddress
)

// UndoTable deletes the container's nftables table.
func UndoTable(args []string) error {
	if len(args) != 2 {
		return fmt.Errorf("nethost-table: want NETNS TABLE, got %q", args)
	}
	return withNetNS(args[0], func(nsfd int) error { return undoTableAndForwarding(nsfd, args[1]) })
}

// UndoForwarding puts back the forwarding nspawn turned on, if no nspawn
// table is left (the last container).
func UndoForwarding(args []string) error {
	if len(args) != 1 {
		return fmt.Errorf("nethost-forwarding: want NETNS, got %q", args)
	}
	return withNetNS(args[0], func(nsfd int) error { return undoTableAndForwarding(nsfd, "") })
}

// UndoBridgeAddress takes the zone's subnet off its bridge when no
// container is on the bridge any more; while one is, the address stays.
func UndoBridgeAddress(args []string) error {
	if len(args) != 3 {
		return fmt.Errorf("nethost-bridge-address: want NETNS BRIDGE PREFIX, got %q", args)
	}
	p, err := netip.ParsePrefix(args[2])
	if err != nil {
		return fmt.Errorf("nethost-bridge-address: %w", err)
	}
	return withNetNS(args[0], func(nsfd int) error {
		nl, err := dialRoute(nsfd)
		if err != nil {
			return err
		}
		defer nl.Close()
		bridge, err := linkIndex(nl, args[1])
		if err != nil {
			return nil // the bridge is gone, and its address with it
		}
		links, err := nl.Link.List()
		if err != nil {
			return err
		}
		for _, l := range links {
			if l.Attributes != nil && l.Attributes.Master != nil && *l.Attributes.Master == bridge {
				return nil
			}
		}
		return deleteAddress(nsfd, args[1], p)
	})
}

// undoTableAndForwarding deletes table (if named) and restores forwarding
// if no nspawn table is left, under the forwarding lock.
func undoTableAndForwarding(nsfd int, table string) error {
	n := &Network{hostNS: nsfd}
	nft, err := n.nftConn()
	if err != nil {
		return err
	}
	defer nft.CloseLasting()
	nl, err := dialRoute(nsfd)
	if err != nil {
		return err
	}
	defer nl.Close()
	lock, err := forwardingLock(nsfd)
	if err != nil {
		return err
	}
	defer lock.release()
	var errs []error
	if table != "" {
		errs = append(errs, deleteTable(nft, table))
	}
	return errors.Join(append(errs, restoreForwarding(nl, nft, nsfd))...)
}

func withNetNS(path string, fn func(nsfd int) error) error {
	fd, err := openNetNS(path)
	if err != nil {
		if errors.Is(err, unix.ENOENT) {
			return nil // the namespace is gone, with everything in it
		}
		return err
	}
	if fd >= 0 {
		defer unix.Close(fd)
	}
	return fn(fd)
}
