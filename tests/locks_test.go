package tests

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
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

// treeLockFiles are the paths of tree's two lock files: beside it, and
// by its device and inode under /run.
func treeLockFiles(t *testing.T, tree string) []string {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Stat(tree, &st); err != nil {
		t.Fatal(err)
	}
	return []string{
		filepath.Join(filepath.Dir(tree), ".#"+filepath.Base(tree)+".lck"),
		fmt.Sprintf("/run/systemd/nspawn/locks/inode-%d:%d", st.Dev, st.Ino),
	}
}

// kill SIGKILLs the holder's nspawn and collects it.
func (h *holder) kill() {
	h.cmd.Process.Signal(syscall.SIGKILL)
	h.stdin.Close()
	h.cmd.Wait()
}

// After a SIGKILL of a writer its empty lock files go too: the undo
// stage removes them, as a clean exit does (systemd-nspawn 252 leaves
// them). A lock file a systemd-nspawn holds at that moment stays, and
// its container runs on.
func TestTreeLockFilesGoAfterKill(t *testing.T) {
	before := snapshotHost(t)
	tree := copyTree(t, busyboxTree)
	files := treeLockFiles(t, tree)
	w := hold(t, nspawnBin, tree, "-M", "lock-kf")
	for _, f := range files {
		if _, err := os.Stat(f); err != nil {
			t.Fatalf("no lock file while the writer runs: %v", err)
		}
	}
	w.kill()
	checkNoLeaks(t, before) // waits for the undo stage to be over
	for _, f := range files {
		if _, err := os.Stat(f); !os.IsNotExist(err) {
			t.Errorf("%s left after a SIGKILL of its writer (%v)", f, err)
		}
	}

	sdn, err := exec.LookPath("systemd-nspawn")
	if err != nil {
		t.Skip("needs systemd-nspawn (make deps installs systemd-container)")
	}
	theirs := hold(t, sdn, tree, "--read-only", "-M", "lock-kt")
	ours := hold(t, nspawnBin, tree, "--read-only", "-M", "lock-ko")
	ours.kill()
	// Their container runs on: wait for our undo stage alone.
	for deadline := time.Now().Add(10 * time.Second); len(reapers()) > 0 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	for _, f := range files {
		if _, err := os.Stat(f); err != nil {
			t.Errorf("%s, held by systemd-nspawn, removed after our reader was killed: %v", f, err)
		}
	}
	// Theirs still holds its lock: a writer is refused.
	busyLine(t, "a writer beside systemd-nspawn's reader", run(t, "", "-q", "-M", "lock-kw", "-D", tree, "true"))
	theirs.stop(t)
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

// --inaccessible: each kind of node is replaced by an empty one of its
// type with mode 0, read-only, the same as under systemd-nspawn 252.
func TestInaccessible(t *testing.T) {
	tree := copyTree(t, busyboxTree)
	os.WriteFile(filepath.Join(tree, "root", "secret"), []byte("secret\n"), 0o600)
	os.MkdirAll(filepath.Join(tree, "srv", "d"), 0o755)
	os.WriteFile(filepath.Join(tree, "srv", "d", "f"), nil, 0o644)
	syscall.Mkfifo(filepath.Join(tree, "srv", "fifo"), 0o644)
	args := []string{"-q", "-P", "--inaccessible=/root/secret", "--inaccessible=/srv/d", "--inaccessible=/srv/fifo", "--inaccessible=/dev/null"}
	script := "stat -c '%n %A' /root/secret /srv/d /srv/fifo /dev/null; cat /root/secret; ls /srv/d; echo x > /root/secret || echo refused"
	want := "/root/secret ----------\n/srv/d d---------\n/srv/fifo p---------\n/dev/null c---------\nrefused\n"
	ours := mustRun(t, tree, append(args[1:], "sh", "-c", script)...)
	if ours != want {
		t.Errorf("ours:\n%s\nwant:\n%s", ours, want)
	}
	sdn, err := exec.LookPath("systemd-nspawn")
	if err != nil {
		t.Skip("needs systemd-nspawn (make deps installs systemd-container)")
	}
	// 252 binds the host's /run/systemd/inaccessible nodes, which systemd
	// as PID 1 makes; without it, make them for this run only.
	const nodes = "/run/systemd/inaccessible"
	if _, err := os.Stat(nodes); err != nil {
		os.MkdirAll(nodes, 0o755)
		defer os.RemoveAll(nodes)
		for _, n := range []struct {
			name string
			mode uint32
		}{{"reg", syscall.S_IFREG}, {"fifo", syscall.S_IFIFO}, {"sock", syscall.S_IFSOCK}, {"chr", syscall.S_IFCHR}, {"blk", syscall.S_IFBLK}} {
			syscall.Mknod(filepath.Join(nodes, n.name), n.mode, 0)
		}
		os.Mkdir(filepath.Join(nodes, "dir"), 0)
		os.Chmod(filepath.Join(nodes, "dir"), 0)
	}
	theirTree := copyTree(t, tree)
	out, err := exec.Command(sdn, append(append([]string{"--register=no", "--keep-unit", "-D", theirTree}, args...), "sh", "-c", script)...).Output()
	if err != nil || string(out) != want {
		t.Errorf("systemd-nspawn: %v:\n%s\nwant:\n%s", err, out, want)
	}
}
