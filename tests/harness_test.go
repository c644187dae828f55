// Package tests runs the built nspawn binary as root against real trees
// and checks what a user would: output, exit status, and that nothing of
// the container is left on the host afterwards.
package tests

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Paths filled in by TestMain.
var (
	nspawnBin   string
	busyboxTree string
	debianTree  string
)

func TestMain(m *testing.M) {
	if os.Geteuid() != 0 {
		fmt.Println("integration tests need root; skipping")
		os.Exit(0)
	}
	nspawnBin = os.Getenv("NSPAWN_BIN")
	if nspawnBin == "" {
		dir, err := os.MkdirTemp("", "nspawn-test-bin")
		if err != nil {
			panic(err)
		}
		defer os.RemoveAll(dir)
		nspawnBin = filepath.Join(dir, "nspawn")
		build := exec.Command("go", "build", "-o", nspawnBin, "..")
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		build.Stdout, build.Stderr = os.Stdout, os.Stderr
		if err := build.Run(); err != nil {
			panic(err)
		}
	}
	busyboxTree = buildTree("busybox")
	debianTree = buildTree("bookworm")
	os.Exit(m.Run())
}

func buildTree(name string) string {
	out, err := exec.Command("trees/build.sh", name).Output()
	if err != nil {
		panic(fmt.Sprintf("build tree %s: %v", name, err))
	}
	return strings.TrimSpace(string(out))
}

// result is one finished nspawn run.
type result struct {
	stdout, stderr string
	status         int
}

// run starts nspawn with args and stdin, waits at most a minute, and
// returns what it printed and its exit status.
func run(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	cmd := exec.Command(nspawnBin, args...)
	cmd.Stdin = strings.NewReader(stdin)
	return runToEnd(t, cmd, args)
}

// runToEnd runs cmd, an nspawn of args, to its end and collects what it
// said.
func runToEnd(t *testing.T, cmd *exec.Cmd, args []string) result {
	t.Helper()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	// A leaked container holding the output pipes must show up as a leak,
	// not hang Wait.
	cmd.WaitDelay = 10 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitWithin(t, cmd, fmt.Sprintf("nspawn %q", args), errb.String)
	return result{out.String(), errb.String(), exitStatus(cmd.ProcessState)}
}

// waitWithin waits for the started cmd at most a minute; past that it
// kills it and fails the test, naming what and quoting its stderr.
func waitWithin(t *testing.T, cmd *exec.Cmd, what string, stderr func() string) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(time.Minute):
		cmd.Process.Kill()
		<-done
		t.Fatalf("%s did not finish within a minute; stderr: %s", what, stderr())
	}
}

// exitStatus is a shell's $?: the exit code, or 128+N for signal N.
func exitStatus(ps *os.ProcessState) int {
	if ws := ps.Sys().(syscall.WaitStatus); ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ps.ExitCode()
}

// mustRun runs a container command in tree and requires exit status 0.
func mustRun(t *testing.T, tree string, args ...string) string {
	t.Helper()
	r := run(t, "", append([]string{"-q", "-D", tree}, args...)...)
	if r.status != 0 {
		t.Fatalf("nspawn -D %s %q: status %d\nstdout: %s\nstderr: %s", tree, args, r.status, r.stdout, r.stderr)
	}
	return r.stdout
}

// hostState is what must be the same before and after any run.
type hostState struct {
	mounts    []string
	foreignNS []string // processes in a PID namespace other than ours
	cgroups   []string // slices and scopes on every cgroup hierarchy
	reapers   []string // nspawn's cgroup reapers still running
}

// settled tells whether nothing is left that the kernel or a reaper is
// still taking away.
func (s hostState) settled(before hostState) bool {
	return len(s.foreignNS) == 0 && len(s.reapers) == 0 &&
		strings.Join(s.cgroups, "\n") == strings.Join(before.cgroups, "\n")
}

func snapshotHost(t *testing.T) hostState {
	t.Helper()
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	var s hostState
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		f := strings.Fields(line)
		s.mounts = append(s.mounts, f[4]+" "+f[3]) // mount point and root
	}
	sort.Strings(s.mounts)
	s.foreignNS = foreignProcesses()
	s.cgroups = unitCgroups()
	s.reapers = reapers()
	return s
}

// unitCgroups lists the cgroups named like systemd units (*.slice,
// *.scope), where nspawn places containers, on every hierarchy.
func unitCgroups() []string {
	var list []string
	filepath.WalkDir("/sys/fs/cgroup", func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return nil
		}
		if strings.HasSuffix(p, ".scope") {
			list = append(list, p)
		}
		return nil
	})
	// A slice counts with the scopes below it. An empty machine.slice may
	// be left when a reaper's rmdir of it races with the next container's
	// mkdir below it: a shared parent, not a container's, and systemd
	// keeps it for good anyway; the next container's end removes it.
	for _, scope := range slices.Clone(list) {
		for dir := filepath.Dir(scope); strings.HasSuffix(dir, ".slice"); dir = filepath.Dir(dir) {
			if !slices.Contains(list, dir) {
				list = append(list, dir)
			}
		}
	}
	sort.Strings(list)
	return list
}

// reapers lists nspawn's undo watchers (and the cgroup reapers they
// replaced).
func reapers() []string {
	entries, _ := os.ReadDir("/proc")
	var list []string
	for _, e := range entries {
		cmdline, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err == nil && (bytes.HasPrefix(cmdline, []byte("nspawn-reaper\x00")) || bytes.HasPrefix(cmdline, []byte("nspawn-cgroup-reaper\x00")) ||
			bytes.HasPrefix(cmdline, []byte("nspawn-undo\x00")) || bytes.HasPrefix(cmdline, []byte("nspawn-undo-wait\x00"))) {
			list = append(list, e.Name()+" "+strings.ReplaceAll(string(cmdline), "\x00", " "))
		}
	}
	return list
}

// foreignProcesses lists processes whose PID namespace differs from the
// test's own: a container's leftovers.
func foreignProcesses() []string {
	self, _ := os.Readlink("/proc/self/ns/pid")
	entries, _ := os.ReadDir("/proc")
	var list []string
	for _, e := range entries {
		if e.Name()[0] < '0' || e.Name()[0] > '9' {
			continue
		}
		ns, err := os.Readlink("/proc/" + e.Name() + "/ns/pid")
		if err != nil || ns == self {
			continue
		}
		cmdline, _ := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		list = append(list, e.Name()+" "+strings.ReplaceAll(string(cmdline), "\x00", " "))
	}
	return list
}

// checkNoLeaks fails the test if the host's mount table differs from
// before or a process of a container is still alive. Processes get a few
// seconds to be reaped by the kernel after their namespace's init died.
func checkNoLeaks(t *testing.T, before hostState) {
	t.Helper()
	var after hostState
	for deadline := time.Now().Add(10 * time.Second); ; {
		after = snapshotHost(t)
		if after.settled(before) || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if len(after.foreignNS) > 0 {
		t.Errorf("container processes left on the host: %q", after.foreignNS)
	}
	if len(after.reapers) > 0 {
		t.Errorf("cgroup reapers still running: %q", after.reapers)
	}
	if strings.Join(before.cgroups, "\n") != strings.Join(after.cgroups, "\n") {
		t.Errorf("host cgroups changed:\nbefore: %q\nafter:  %q", before.cgroups, after.cgroups)
	}
	if strings.Join(before.mounts, "\n") != strings.Join(after.mounts, "\n") {
		t.Errorf("host mount table changed:\nbefore: %q\nafter:  %q", before.mounts, after.mounts)
	}
}

// treeDigest hashes every path, type, mode, owner, size and content of a
// tree, so any change a run makes to it shows.
func treeDigest(t *testing.T, root string) string {
	t.Helper()
	h := sha256.New()
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		st := info.Sys().(*syscall.Stat_t)
		fmt.Fprintf(h, "%s %v %d:%d %d %d\n", p, info.Mode(), st.Uid, st.Gid, info.Size(), st.Mtim.Nano())
		if d.Type()&fs.ModeSymlink != 0 {
			target, _ := os.Readlink(p)
			fmt.Fprintf(h, "-> %s\n", target)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%x", h.Sum(nil))
}

// copyTree makes a private copy of a tree for a test that changes it.
func copyTree(t testing.TB, src string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), filepath.Base(src))
	if out, err := exec.Command("cp", "-a", src, dst).CombinedOutput(); err != nil {
		t.Fatalf("copy %s: %v: %s", src, err, out)
	}
	return dst
}
