package nspawn

import (
	"github.com/nspawn/nspawn/cgroup"
	"github.com/nspawn/nspawn/undo"
)

// UndoHandlers are the kinds of thing nspawn records in its undo log
// before making them on the host, each with what removes it after nspawn
// was killed (undo.Main replays them last first).
func UndoHandlers() map[string]undo.Handler {
	return map[string]undo.Handler{
		cgroup.UndoKind: cgroup.UndoCgroup, // the scope, or the payload cgroup
		undoLockKind:    UndoLockFile,      // the tree's lock files
		undoDirKind:     UndoDir,           // -x's upper on disk, --overlay's work directories
		undoKindTree:    UndoTree,          // a --template copy's temporary
	}
}
