// Command nspawn runs a command or boots an init in a directory tree,
// isolated in fresh namespaces. main only wires: the same binary is the
// supervising process and, re-executed, the container's first process.
package main

import (
	"os"

	"github.com/nspawn/nspawn/nspawn"
)

func main() {
	if nspawn.IsChild() {
		nspawn.Child()
	}
	os.Exit(nspawn.Main(os.Args[1:]))
}
