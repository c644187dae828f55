package cgroup

import (
	"errors"
	"time"

	"golang.org/x/sys/unix"
)

// UndoKind is the undo log's record of a cgroup about to be made:
// [root, path, "owned"|"existing", v1 directories...], what UndoCgroup
// needs to remove it after nspawn was killed. With no systemd to collect
// an empty scope, nothing else would.
const UndoKind = "cgroup"

// Recorder takes the undo log's record of a thing before it is made
// (undo.Log; nil-safe there).
type Recorder interface {
	Record(kind string, args ...string) error
}

// record writes g's undo record: every v1 hierarchy the scope may get a
// directory on, since those come later.
func (g *Group) record(rec Recorder, l Layout) error {
	owned := "existing"
	var v1 []string
	if g.owned {
		owned = "owned"
		for _, root := range v1Roots(l) {
			v1 = append(v1, root+g.path)
		}
	}
	if rec == nil {
		return nil
	}
	return rec.Record(UndoKind, append([]string{g.root, g.path, owned}, v1...)...)
}

// UndoCgroup removes the cgroup of a record written by Create, after
// nspawn was killed: its processes killed, the scope and the slices made
// for it removed. It runs while the watcher still holds the claim, so a
// nspawn of the same name waits for it.
func UndoCgroup(args []string) error {
	if len(args) < 3 {
		return errors.New("cgroup record: want root, path, owned")
	}
	g := &Group{root: args[0], path: args[1], owned: args[2] == "owned", v1: args[3:], payload: -1, lock: -1}
	if !g.owned && !marked(g.lockDir()) {
		// Not nspawn's, or made the moment before nspawn was killed:
		// only an empty one goes.
		unix.Rmdir(g.lockDir())
		return nil
	}
	// The cgroup may not exist yet (nspawn killed before its mkdir); then
	// only the slices made for it are removed. A lock held after nspawn
	// is gone is a nspawn of the same name in another network namespace:
	// the cgroup is its own now.
	if fd, err := lockDirWait(g.lockDir(), undoLockWait); err == nil {
		g.lock = fd
	} else if errors.Is(err, ErrBusy) {
		return nil
	}
	return g.Remove()
}

// undoLockWait is how long UndoCgroup waits for a dead nspawn's lock:
// its child, between clone and exec, shares the fd for a moment.
const undoLockWait = 100 * time.Millisecond
