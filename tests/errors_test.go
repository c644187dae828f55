package tests

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// errCase is one bad invocation. args builds the command line from the
// private tree copy the case runs against; setup, when set, changes that
// copy first (before the "unchanged" digest is taken).
type errCase struct {
	name   string
	setup  func(t *testing.T, tree string)
	args   func(tree string) []string
	status int
	// want are substrings the single "nspawn: " line must hold: the
	// option and/or path at fault. Empty means stderr must be empty (the
	// payload itself failed; nspawn has nothing to say).
	want []string
}

// checkErrorRun runs one case and asserts everything a failed run
// promises: the status, one "nspawn: " line naming the culprit, no
// stdout, and neither the host nor the tree changed.
func checkErrorRun(t *testing.T, c errCase) {
	t.Helper()
	tree := copyTree(t, busyboxTree)
	if c.setup != nil {
		c.setup(t, tree)
	}
	digest := treeDigest(t, tree)
	before := snapshotHost(t)
	r := run(t, "", c.args(tree)...)
	if r.status != c.status {
		t.Errorf("status %d, want %d (stderr %q)", r.status, c.status, r.stderr)
	}
	if r.stdout != "" {
		t.Errorf("stdout %q, want nothing", r.stdout)
	}
	if len(c.want) == 0 {
		if r.stderr != "" {
			t.Errorf("stderr %q, want nothing: the payload's own failure is not nspawn's", r.stderr)
		}
	} else {
		checkOneErrorLine(t, r.stderr, c.want...)
	}
	checkNoLeaks(t, before)
	if treeDigest(t, tree) != digest {
		t.Errorf("the tree changed although the run failed")
	}
}

// checkOneErrorLine requires stderr to be exactly one "nspawn: " line
// containing every one of want.
func checkOneErrorLine(t *testing.T, stderr string, want ...string) {
	t.Helper()
	if !strings.HasPrefix(stderr, "nspawn: ") || !strings.HasSuffix(stderr, "\n") || strings.Count(stderr, "\n") != 1 {
		t.Errorf("stderr %q, want exactly one line starting with \"nspawn: \"", stderr)
		return
	}
	for _, w := range want {
		if !strings.Contains(stderr, w) {
			t.Errorf("stderr %q does not mention %q", stderr, w)
		}
	}
}

// quietIn prefixes a command line with -q -D tree: quiet, so the only line on
// stderr can be the error.
func quietIn(tree string, args ...string) []string {
	return append([]string{"-q", "-D", tree}, args...)
}

func TestErrorsBadDirectory(t *testing.T) {
	for _, c := range []errCase{
		{name: "missing", args: func(tree string) []string { return []string{"-q", "-D", tree + "/nonexistent-dir", "true"} },
			status: 1, want: []string{"--directory", "nonexistent-dir", "does not exist"}},
		{name: "regular file", args: func(tree string) []string { return []string{"-q", "-D", tree + "/etc/passwd", "true"} },
			status: 1, want: []string{"--directory", "/etc/passwd", "not a directory"}},
	} {
		t.Run(c.name, func(t *testing.T) { checkErrorRun(t, c) })
	}
}

// TestErrorsNoShell: without a command nspawn starts root's login shell,
// then /bin/bash, then /bin/sh; a tree with none of them is an error
// found before anything is started.
func TestErrorsNoShell(t *testing.T) {
	checkErrorRun(t, errCase{
		setup: func(t *testing.T, tree string) {
			if err := os.Remove(filepath.Join(tree, "bin/sh")); err != nil {
				t.Fatal(err)
			}
			passwd := filepath.Join(tree, "etc/passwd")
			data, err := os.ReadFile(passwd)
			if err != nil {
				t.Fatal(err)
			}
			data = []byte(strings.Replace(string(data), "root:/bin/sh", "root:/bin/nosuchshell", 1))
			if err := os.WriteFile(passwd, data, 0o644); err != nil {
				t.Fatal(err)
			}
		},
		args:   func(tree string) []string { return quietIn(tree) },
		status: 1, want: []string{"no command", "/bin/nosuchshell"},
	})
}

// TestErrorsCommand follows the shell's convention: 127 when the command
// is not there, 126 when it is but cannot be executed, and the payload's
// own status, with nothing from nspawn, when it runs and fails.
func TestErrorsCommand(t *testing.T) {
	notExec := func(t *testing.T, tree string) {
		if err := os.WriteFile(filepath.Join(tree, "bin/notexec"), []byte("#!/bin/sh\necho ran\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []errCase{
		{name: "not found", args: func(tree string) []string { return quietIn(tree, "nosuchcmd-xyz") },
			status: 127, want: []string{"nosuchcmd-xyz", "command not found"}},
		{name: "not found by path", args: func(tree string) []string { return quietIn(tree, "/bin/nosuchcmd-xyz") },
			status: 127, want: []string{"/bin/nosuchcmd-xyz", "command not found"}},
		{name: "runs and fails", args: func(tree string) []string { return quietIn(tree, "/bin/sh", "-c", "exit 3") },
			status: 3},
		{name: "not executable by path", args: func(tree string) []string { return quietIn(tree, "/etc/passwd") },
			status: 126, want: []string{"/etc/passwd"}},
		// execvp(3) and every shell give EACCES/126 for a file found in
		// PATH that is not executable, not "command not found".
		{name: "not executable in PATH", setup: notExec, args: func(tree string) []string { return quietIn(tree, "notexec") },
			status: 126, want: []string{"notexec"}},
	} {
		t.Run(c.name, func(t *testing.T) { checkErrorRun(t, c) })
	}
}

// TestErrorsBadOptions: every mistake on the command line or against the
// tree is reported before anything is created, in particular no bind
// destination appears in the tree.
func TestErrorsBadOptions(t *testing.T) {
	for _, c := range []errCase{
		{name: "unknown user", args: func(tree string) []string { return quietIn(tree, "-u", "nosuchuser", "true") },
			want: []string{"--user", "nosuchuser"}},
		{name: "bind source missing", args: func(tree string) []string { return quietIn(tree, "--bind=/nonexistent-xyz:/x", "true") },
			want: []string{"--bind", "/nonexistent-xyz"}},
		{name: "bind-ro source missing", args: func(tree string) []string { return quietIn(tree, "--bind-ro=/nonexistent-xyz:/x", "true") },
			want: []string{"--bind-ro", "/nonexistent-xyz"}},
		// A valid bind before a bad one must not have created its
		// destination either.
		{name: "good bind then bad one", args: func(tree string) []string {
			return quietIn(tree, "--bind=/tmp:/created-too-early", "--bind-ro=/nonexistent-xyz:/y", "true")
		}, want: []string{"--bind-ro", "/nonexistent-xyz"}},
		{name: "good bind then unknown user", args: func(tree string) []string {
			return quietIn(tree, "--bind=/tmp:/created-too-early", "-u", "nosuchuser", "true")
		}, want: []string{"--user", "nosuchuser"}},
		{name: "bind relative destination", args: func(tree string) []string { return quietIn(tree, "--bind=/tmp:relative", "true") },
			want: []string{"--bind", "relative"}},
		{name: "bind unknown option", args: func(tree string) []string { return quietIn(tree, "--bind=/tmp:/x:bogusopt", "true") },
			want: []string{"--bind", "bogusopt"}},
		{name: "bind empty", args: func(tree string) []string { return quietIn(tree, "--bind=", "true") },
			want: []string{"--bind"}},
		{name: "bind-ro relative destination", args: func(tree string) []string { return quietIn(tree, "--bind-ro=/tmp:relative", "true") },
			want: []string{"--bind-ro", "relative"}},
		{name: "bind-ro unknown option", args: func(tree string) []string { return quietIn(tree, "--bind-ro=/tmp:/x:bogusopt", "true") },
			want: []string{"--bind-ro", "bogusopt"}},
		{name: "bind-ro empty", args: func(tree string) []string { return quietIn(tree, "--bind-ro=", "true") },
			want: []string{"--bind-ro"}},
		{name: "tmpfs relative", args: func(tree string) []string { return quietIn(tree, "--tmpfs=relative", "true") },
			want: []string{"--tmpfs", "relative"}},
		{name: "chdir relative", args: func(tree string) []string { return quietIn(tree, "--chdir=data", "true") },
			want: []string{"--chdir", "data"}},
		// An unknown option is getopt's line, after the name as invoked
		// (TestCommandLineAsGetopt in cli_test.go).
		{name: "bad machine name", args: func(tree string) []string { return quietIn(tree, "-M", "bad name", "true") },
			want: []string{"--machine", "bad name"}},
		{name: "bad uuid", args: func(tree string) []string { return quietIn(tree, "--uuid=not-a-uuid", "true") },
			want: []string{"--uuid", "not-a-uuid"}},
		{name: "bad kill signal", args: func(tree string) []string { return quietIn(tree, "--kill-signal=SIGBOGUS", "true") },
			want: []string{"--kill-signal", "SIGBOGUS"}},
	} {
		c.status = 1
		t.Run(c.name, func(t *testing.T) { checkErrorRun(t, c) })
	}
}

// nobodyBinary copies nspawn where uid 65534 can execute it.
func nobodyBinary(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "nspawn-nobody")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "nspawn")
	if out, err := exec.Command("cp", nspawnBin, bin).CombinedOutput(); err != nil {
		t.Fatalf("copy binary: %v: %s", err, out)
	}
	if err := os.Chmod(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	return bin
}

// TestErrorsNotRoot: namespaces and mounts need root, which nspawn says
// plainly; help and version need nothing.
func TestErrorsNotRoot(t *testing.T) {
	bin := nobodyBinary(t)
	tree := copyTree(t, busyboxTree)
	digest := treeDigest(t, tree)
	before := snapshotHost(t)
	for _, c := range []struct {
		args   []string
		status int
		want   string // in stderr's one line; empty: stdout non-empty instead
	}{
		{args: quietIn(tree, "true"), status: 1, want: "root"},
		{args: []string{"--help"}, status: 0},
		{args: []string{"--version"}, status: 0},
	} {
		cmd := exec.Command(bin, c.args...)
		cmd.Dir = "/"
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		var out, errb strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmd.Wait()
		if st := exitStatus(cmd.ProcessState); st != c.status {
			t.Errorf("%q as nobody: status %d, want %d (stderr %q)", c.args, st, c.status, errb.String())
		}
		if c.want != "" {
			if out.String() != "" {
				t.Errorf("%q as nobody: stdout %q, want nothing", c.args, out.String())
			}
			checkOneErrorLine(t, errb.String(), c.want)
		} else if out.String() == "" || errb.String() != "" {
			t.Errorf("%q as nobody: stdout %q, stderr %q; want output and no error", c.args, out.String(), errb.String())
		}
	}
	checkNoLeaks(t, before)
	if treeDigest(t, tree) != digest {
		t.Errorf("the tree changed")
	}
}
