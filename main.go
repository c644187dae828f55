// Command nspawn runs a command or boots an init in a directory tree,
// isolated in fresh namespaces. main only wires: the same binary is the
// supervising process and, re-executed, the container's first process and
// the reaper of a container whose nspawn was killed.
package main

import (
	"os"

	"github.com/nspawn/nspawn/cgroup"
	"github.com/nspawn/nspawn/nspawn"
	"github.com/nspawn/nspawn/userns"
)

func main() {
	if nspawn.IsChild() {
		nspawn.Child()
	}
	if userns.IsHolder() {
		userns.HolderMain()
	}
	if cgroup.IsReaper() {
		os.Exit(cgroup.ReaperMain())
	}
	os.Exit(nspawn.Main(os.Args[1:]))
}
