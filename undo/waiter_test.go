package undo

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The waiting program, run for real: a byte on stdin makes it exit 0
// without running anything; end-of-file makes it exec argv[1] with the
// arguments after it.
func TestWaitThenExec(t *testing.T) {
	prog := filepath.Join(t.TempDir(), "wait")
	if err := os.WriteFile(prog, waitThenExec(), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, stdin, want string
	}{
		{"byte means done", "x", ""},
		{"end-of-file runs the command", "", "ran it\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cmd := exec.Command(prog, "/bin/echo", "echo-arg0-ignored", "ran", "it")
			cmd.Args[0] = "wait"
			cmd.Stdin = strings.NewReader(c.stdin)
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("%v (output %q)", err, out)
			}
			if string(out) != c.want {
				t.Errorf("output %q, want %q", out, c.want)
			}
		})
	}
	cmd := exec.Command(prog, "/nonexistent")
	if err := cmd.Run(); cmd.ProcessState == nil || cmd.ProcessState.ExitCode() != 127 {
		t.Errorf("a failed exec: %v, want exit status 127", err)
	}
}
