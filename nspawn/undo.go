package nspawn

import (
	"github.com/nspawn/nspawn/cgroup"
	"github.com/nspawn/nspawn/nethost"
	"github.com/nspawn/nspawn/network"
	"github.com/nspawn/nspawn/undo"
)

// UndoHandlers are the kinds of thing nspawn records in its undo log
// before making them on the host, each with what removes it after nspawn
// was killed (undo.Main replays them last first).
func UndoHandlers() map[string]undo.Handler {
	return map[string]undo.Handler{
		cgroup.UndoKind:           cgroup.UndoCgroup,         // the scope, or the payload cgroup
		undoLockKind:              UndoLockFile,              // the tree's lock files
		undoDirKind:               UndoDir,                   // -x's upper on disk, --overlay's work directories
		undoKindTree:              UndoTree,                  // a --template copy's temporary
		network.KindLink:          network.UndoLink,          // a host-side link (a veth's, a bridge port)
		network.KindZone:          network.UndoZone,          // a zone's bridge, once it has no port
		network.KindMoved:         network.UndoMoved,         // an interface moved in, given its name back
		nethost.KindTable:         nethost.UndoTable,         // the container's nftables table
		nethost.KindForwarding:    nethost.UndoForwarding,    // forwarding turned on for it
		nethost.KindBridgeAddress: nethost.UndoBridgeAddress, // a zone bridge's address, once it has no port
	}
}

// UndoLate are the kinds undone after all others: a moved interface comes
// back to the host only once the container's processes, killed with its
// cgroup (recorded before it), are gone; a zone's bridge can go only once
// its port (a link, undone before the cgroup) is gone.
var UndoLate = []string{network.KindMoved, network.KindZone}
