package tests

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// v1Hierarchies are the cgroup v1 hierarchies this host mounts, by mount
// point; none on a unified host.
func v1Hierarchies(t *testing.T) []string {
	t.Helper()
	var dirs []string
	entries, _ := os.ReadDir("/sys/fs/cgroup")
	for _, e := range entries {
		dir := "/sys/fs/cgroup/" + e.Name()
		if _, err := os.Stat(dir + "/tasks"); err == nil && e.Name() != "systemd" {
			dirs = append(dirs, dir)
		}
	}
	return dirs
}

// A plain start on a hybrid host puts the container in no v1 hierarchy:
// it is cloned into its unified cgroup, and the device list is the BPF
// program there, so nspawn writes no cgroup.procs (each write waits for
// an RCU grace period). A limit that needs a v1 controller still gets its
// hierarchy, and only that one.
func TestCgroupStartJoinsNoV1(t *testing.T) {
	unifiedRoot(t)
	v1 := v1Hierarchies(t)
	if len(v1) == 0 {
		t.Skip("needs a hybrid host (cgroup v1 controllers)")
	}
	before := snapshotHost(t)
	for _, c := range []struct {
		name string
		args []string
		want []string // hierarchies the scope is on
	}{
		{"plain", nil, nil},
		{"memorymax", []string{"--property=MemoryMax=1G"}, []string{"/sys/fs/cgroup/memory"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			machine := "v1" + c.name // no dash: the unit name would escape it
			args := append(append([]string{"-q", "-D", busyboxTree, "-M", machine}, c.args...), "sh", "-c", "echo ready; sleep 1000")
			lr := startLive(t, args...)
			lr.waitLine(t, "ready")
			for _, dir := range v1 {
				scope := dir + "/machine.slice/machine-" + machine + ".scope"
				_, err := os.Stat(scope)
				want := false
				for _, w := range c.want {
					if real, _ := filepath.EvalSymlinks(w); real == dir || w == dir {
						want = true
					}
				}
				if err == nil && !want {
					t.Errorf("the container has a cgroup in the v1 hierarchy %s", dir)
				} else if err != nil && want {
					t.Errorf("no cgroup in the v1 hierarchy %s: %v", dir, err)
				}
			}
			lr.cmd.Process.Kill()
			lr.wait(t)
		})
	}
	checkNoLeaks(t, before)
}

// A SIGKILL of nspawn at any moment of its first 20 ms, which holds the
// scope's mkdir, leaves no scope behind, even when no later container of
// that name would come to remove it: the reaper runs before the mkdir.
func TestCgroupKillLeavesNoScope(t *testing.T) {
	unifiedRoot(t)
	before := snapshotHost(t)
	for i := 0; i < 300; i++ {
		cmd := exec.Command(nspawnBin, "-q", "-D", busyboxTree, "-M", fmt.Sprintf("kill%d", i), "true")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(rand.N(20 * time.Millisecond))
		cmd.Process.Kill()
		cmd.Wait()
	}
	checkNoLeaks(t, before)
}

// inCgroup is a shell command line that moves itself into the cgroup dir
// and then execs args.
func inCgroup(dir string, args ...string) *exec.Cmd {
	return exec.Command("sh", append([]string{"-c", `echo $$ >"$0/cgroup.procs" && exec "$@"`, dir}, args...)...)
}

// --keep-unit run from the cgroup of a systemd-nspawn --keep-unit
// container does not take that container's payload/ for a leftover of its
// own: it refuses in one line, and the container runs on. A payload/ that
// nspawn made and marked is still removed as a leftover.
func TestCgroupKeepUnitSparesStranger(t *testing.T) {
	root := unifiedRoot(t)
	if _, err := exec.LookPath("systemd-nspawn"); err != nil {
		t.Skip("needs systemd-nspawn")
	}
	before := snapshotHost(t)
	unit := root + "/nspawn-test-keepunit"
	if err := os.Mkdir(unit, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		os.WriteFile(unit+"/cgroup.kill", []byte("1"), 0)
		for _, d := range []string{"payload", "supervisor", ""} {
			for deadline := time.Now().Add(5 * time.Second); unix.Rmdir(unit+"/"+d) == unix.EBUSY && time.Now().Before(deadline); {
				time.Sleep(10 * time.Millisecond)
			}
		}
	})

	sd := inCgroup(unit, "systemd-nspawn", "-q", "-D", busyboxTree, "--register=no", "--keep-unit", "sh", "-c", "echo ready; exec sleep 1000")
	out, err := sd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var sdErr strings.Builder
	sd.Stderr = &sdErr
	if err := sd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	if !sc.Scan() || sc.Text() != "ready" {
		sd.Process.Kill()
		sd.Wait()
		t.Fatalf("systemd-nspawn did not start: %q %s", sc.Text(), sdErr.String())
	}
	procs := func() string {
		b, _ := os.ReadFile(unit + "/payload/cgroup.procs")
		return strings.TrimSpace(string(b))
	}
	held := procs()
	if held == "" {
		t.Fatal("systemd-nspawn's container is not in payload/")
	}

	// -x: no lock on the tree, which systemd-nspawn holds.
	ours := inCgroup(unit, nspawnBin, "-q", "-x", "--keep-unit", "-D", busyboxTree, "true")
	var stderr strings.Builder
	ours.Stderr = &stderr
	err = ours.Run()
	if ours.ProcessState.ExitCode() != 1 {
		t.Errorf("nspawn --keep-unit beside systemd-nspawn's container: %v, want exit status 1", err)
	}
	checkOneErrorLine(t, stderr.String(), unit+"/payload", "systemd-nspawn --keep-unit")
	if got := procs(); got != held {
		t.Errorf("systemd-nspawn's container was touched: payload/ held %q, now %q", held, got)
	}

	// The container's end ends systemd-nspawn.
	os.WriteFile(unit+"/payload/cgroup.kill", []byte("1"), 0)
	sd.Wait()
	for _, d := range []string{"payload", "supervisor"} {
		for deadline := time.Now().Add(5 * time.Second); unix.Rmdir(unit+"/"+d) == unix.EBUSY && time.Now().Before(deadline); {
			time.Sleep(10 * time.Millisecond)
		}
	}

	// nspawn's own leftover, marked, goes.
	if err := os.Mkdir(unit+"/payload", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Setxattr(unit+"/payload", "trusted.nspawn", []byte("1"), 0); err != nil {
		t.Fatal(err)
	}
	if b, err := inCgroup(unit, nspawnBin, "-q", "--keep-unit", "-D", busyboxTree, "true").CombinedOutput(); err != nil {
		t.Errorf("nspawn --keep-unit over its own leftover: %v: %s", err, b)
	}
	if _, err := os.Stat(unit + "/payload"); !os.IsNotExist(err) {
		t.Errorf("leftover payload/ still there: %v", err)
	}
	checkNoLeaks(t, before)
}

// A TasksMax= too small for nspawn's own Go stages is refused in one line
// naming the least it takes, never a Go runtime panic; that least runs,
// with the stub init of --as-pid2 too.
func TestCgroupTasksMaxTiny(t *testing.T) {
	unifiedRoot(t)
	before := snapshotHost(t)
	for _, n := range []string{"1", "2", "3", "15"} {
		for _, extra := range [][]string{nil, {"-a"}} {
			for i := 0; i < 4; i++ {
				args := append(append([]string{"-q", "-D", busyboxTree, "--property=TasksMax=" + n}, extra...), "true")
				r := run(t, "", args...)
				if r.status != 1 {
					t.Errorf("TasksMax=%s %q: status %d, want 1", n, extra, r.status)
				}
				checkOneErrorLine(t, r.stderr, "TasksMax="+n, "16")
			}
		}
	}
	for _, extra := range [][]string{nil, {"-a"}} {
		for i := 0; i < 8; i++ {
			args := append(append([]string{"-D", busyboxTree, "--property=TasksMax=16"}, extra...), "echo", "ran")
			if out := mustRun(t, busyboxTree, args[2:]...); out != "ran\n" {
				t.Errorf("TasksMax=16 %q printed %q", extra, out)
			}
		}
	}
	checkNoLeaks(t, before)
}
