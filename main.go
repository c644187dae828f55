// Command nspawn runs a command or boots an init in a directory tree,
// isolated in fresh namespaces. main only wires: the same binary is the
// supervising process and, re-executed under another argv[0], each of
// the helpers in entryPoints.
package main

import (
	"os"

	"github.com/nspawn/nspawn/nspawn"
	"github.com/nspawn/nspawn/undo"
	"github.com/nspawn/nspawn/userns"
)

// entryPoints are the personalities of this binary, by argv[0]: nspawn
// re-executes itself as each. argv[0] rather than an option or a
// variable, so nothing of it reaches a payload.
func entryPoints() map[string]func() int {
	return map[string]func() int{
		nspawn.ChildArg0:  nspawn.Child,      // the container's first process
		nspawn.StubArg0:   nspawn.StubInit,   // PID 1 under --as-pid2
		nspawn.ProcfsArg0: nspawn.MountProc,  // /proc on kernels before 6.15
		userns.HolderArg0: userns.HolderMain, // owns an ID-mapped tree's user namespace
		undo.Arg0:         undoMain,          // undoes what a killed nspawn made
	}
}

// undoMain is the undo watcher's cleanup stage, with nspawn's kinds.
func undoMain() int { return undo.Main(nspawn.UndoHandlers(), nspawn.UndoLate...) }

func main() {
	if entry, ok := entryPoints()[os.Args[0]]; ok {
		os.Exit(entry())
	}
	os.Exit(nspawn.Main(os.Args))
}
