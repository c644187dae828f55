package tests

import (
	"bufio"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// holder is a container that keeps its tree locked until stopped.
type holder struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
}

// hold starts bin (ours or systemd-nspawn) on tree with args and waits
// for its payload's marker: from then on it holds the tree's lock.
func hold(t *testing.T, bin string, tree string, args ...string) *holder {
	t.Helper()
	argv := append([]string{"-q", "-P", "-D", tree}, args...)
	if strings.HasSuffix(bin, "systemd-nspawn") {
		argv = append([]string{"--register=no", "--keep-unit"}, argv...)
	}
	argv = append(argv, "sh", "-c", "echo ready; read x")
	cmd := exec.Command(bin, argv...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	h := &holder{cmd, stdin}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if strings.TrimSpace(line) != "ready" {
		h.stop(t)
		t.Fatalf("%s %q: no marker (%q, %v); stderr: %s", bin, argv, line, err, stderr.String())
	}
	return h
}

// stop ends the holder's payload by closing its stdin and waits for it.
func (h *holder) stop(t *testing.T) {
	t.Helper()
	h.stdin.Close()
	waitWithin(t, h.cmd, "holder", func() string { return "" })
}

// busyLine checks a refused start: a failure status and one line on
// stderr that says the tree is busy.
func busyLine(t *testing.T, who string, r result) {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
	if r.status == 0 || len(lines) != 1 || !strings.Contains(lines[0], "is currently busy") {
		t.Errorf("%s beside a writer: status %d, stderr %q; want a failure and one line saying the tree is busy", who, r.status, r.stderr)
	}
}

// Two containers that would write one tree: the second is refused, in
// one line; a -x beside the writer runs, and any number of --read-only
// ones run together, as with systemd-nspawn 252, whose locks are ours.
func TestTreeLocksOurs(t *testing.T) {
	before := snapshotHost(t)
	tree := copyTree(t, busyboxTree)

	// Each its own machine name: the locks are what is tested.
	w := hold(t, nspawnBin, tree, "-M", "lock-w")
	busyLine(t, "a second writer", run(t, "", "-q", "-M", "lock-w2", "-D", tree, "true"))
	// A read lock waits for no writer either: refused too, as in 252.
	busyLine(t, "--read-only", run(t, "", "-q", "-M", "lock-r", "--read-only", "-D", tree, "true"))
	mustRun(t, tree, "-x", "true")
	w.stop(t)

	r1 := hold(t, nspawnBin, tree, "--read-only", "-M", "lock-r1")
	r2 := hold(t, nspawnBin, tree, "--read-only", "-M", "lock-r2")
	mustRun(t, tree, "--read-only", "-M", "lock-r3", "true")
	mustRun(t, tree, "-x", "true")
	busyLine(t, "a writer beside --read-only", run(t, "", "-q", "-M", "lock-w3", "-D", tree, "true"))
	r1.stop(t)
	r2.stop(t)

	// Free again, and the lock files gone with the last holder.
	mustRun(t, tree, "-M", "lock-w4", "true")
	if _, err := os.Stat(filepath.Join(filepath.Dir(tree), ".#busybox.lck")); err == nil {
		t.Errorf("the tree's lock file is left after the last holder ended")
	}
	checkNoLeaks(t, before)
}

// A SIGKILLed nspawn leaves no lock: it was on nspawn's open file.
func TestTreeLockDiesWithNspawn(t *testing.T) {
	before := snapshotHost(t)
	tree := copyTree(t, busyboxTree)
	w := hold(t, nspawnBin, tree, "-M", "lock-k")
	w.cmd.Process.Signal(syscall.SIGKILL)
	w.stdin.Close()
	w.cmd.Wait()
	mustRun(t, tree, "-M", "lock-k2", "true")
	checkNoLeaks(t, before)
}

// Ours and systemd-nspawn 252 respect each other's locks, both ways.
func TestTreeLocksBesideSystemdNspawn(t *testing.T) {
	sdn, err := exec.LookPath("systemd-nspawn")
	if err != nil {
		t.Skip("needs systemd-nspawn (make deps installs systemd-container)")
	}
	tree := copyTree(t, busyboxTree)

	theirs := hold(t, sdn, tree)
	busyLine(t, "ours beside systemd-nspawn", run(t, "", "-q", "-M", "lock-o", "-D", tree, "true"))
	mustRun(t, tree, "-x", "true")
	theirs.stop(t)

	ours := hold(t, nspawnBin, tree, "-M", "lock-o2")
	out, err := exec.Command(sdn, "--register=no", "--keep-unit", "-q", "-D", tree, "true").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "Directory tree "+tree+" is currently busy.") {
		t.Errorf("systemd-nspawn beside ours: %v, %q; want it refused as busy", err, out)
	}
	ours.stop(t)

	r := hold(t, sdn, tree, "--read-only", "-M", "lock-t")
	mustRun(t, tree, "--read-only", "-M", "lock-o3", "true")
	r.stop(t)
}
