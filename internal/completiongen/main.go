// Command completiongen writes nspawn's shell completions,
// completions/nspawn.bash and completions/_nspawn, from nspawn's own
// option list (nspawn.CompletionOptions), so they offer exactly what
// --help lists. Run it after changing an option:
//
//	go generate ./internal/completiongen
//
// TestCompletionsCommitted fails while the committed scripts differ from
// what it would write.
package main

//go:generate go run . -dir ../../completions

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
)

func main() {
	dir := flag.String("dir", "completions", "the directory the scripts are written to")
	flag.Parse()
	for name, text := range scripts() {
		if err := os.WriteFile(filepath.Join(*dir, name), []byte(text), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "completiongen:", err)
			os.Exit(1)
		}
	}
}

// scripts are the generated files by name.
func scripts() map[string]string {
	return map[string]string{
		"nspawn.bash": bashScript(),
		"_nspawn":     zshScript(),
	}
}
