package tests

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// unifiedRoot is where this host mounts cgroup v2.
func unifiedRoot(t *testing.T) string {
	for _, p := range []string{"/sys/fs/cgroup/unified", "/sys/fs/cgroup"} {
		if _, err := os.Stat(p + "/cgroup.controllers"); err == nil {
			return p
		}
	}
	t.Skip("no cgroup v2 hierarchy on this host")
	return ""
}

// scopeDir is the scope of machine name on the host.
func scopeDir(t *testing.T, name string) string {
	return unifiedRoot(t) + "/machine.slice/machine-" + name + ".scope"
}

// Inside, the container's cgroup is the root of its own cgroup namespace,
// and /sys/fs/cgroup is a writable cgroup v2 tree of it (63677270 is
// CGROUP2_SUPER_MAGIC).
func TestCgroupNamespaceAndMount(t *testing.T) {
	before := snapshotHost(t)
	out := mustRun(t, busyboxTree, "sh", "-c",
		"grep '^0::' /proc/self/cgroup; stat -f -c %t /sys/fs/cgroup; mkdir /sys/fs/cgroup/sub && echo $$ > /sys/fs/cgroup/sub/cgroup.procs && grep '^0::' /proc/self/cgroup")
	if want := "0::/\n63677270\n0::/sub\n"; out != want {
		t.Errorf("inside:\n%s\nwant:\n%s", out, want)
	}
	checkNoLeaks(t, before)
}

// While it runs, the container's processes are in
// machine.slice/machine-NAME.scope/payload on the host.
func TestCgroupScopeOnHost(t *testing.T) {
	before := snapshotHost(t)
	lr := startLive(t, "-q", "-D", busyboxTree, "-M", "cg-test", "sh", "-c", "sleep 1000 & echo ready; wait")
	lr.waitLine(t, "ready")
	procs, err := os.ReadFile(scopeDir(t, `cg\x2dtest`) + "/payload/cgroup.procs")
	if err != nil {
		t.Fatal(err)
	}
	if n := len(strings.Fields(string(procs))); n != 2 {
		t.Errorf("payload cgroup holds %d processes, want 2 (sh and sleep): %q", n, procs)
	}
	lr.cmd.Process.Signal(os.Interrupt)
	lr.wait(t)
	checkNoLeaks(t, before)
}

// A second container of the same name is refused while the first runs;
// the first carries on.
func TestCgroupSameNameRefused(t *testing.T) {
	before := snapshotHost(t)
	lr := startLive(t, "-q", "-D", busyboxTree, "-M", "twin", "sh", "-c", "sleep 1000 & echo ready; wait")
	lr.waitLine(t, "ready")
	// -x: it takes no lock on the tree, which a second writer would find
	// taken first.
	r := run(t, "", "-q", "-x", "-D", busyboxTree, "-M", "twin", "true")
	if r.status != 1 {
		t.Errorf("second container: status %d, want 1", r.status)
	}
	checkOneErrorLine(t, r.stderr, "machine twin is already running", "--machine=")
	if _, err := os.Stat(scopeDir(t, "twin") + "/payload"); err != nil {
		t.Errorf("the first container's cgroup is gone: %v", err)
	}
	lr.cmd.Process.Kill()
	lr.wait(t)
	checkNoLeaks(t, before)
}

// A scope left behind (nspawn killed before its reaper started, or a
// crash) does not block the next start of that name, and goes with it.
func TestCgroupLeftoverRemoved(t *testing.T) {
	before := snapshotHost(t)
	left := scopeDir(t, "leftover")
	if err := os.MkdirAll(left+"/payload/init.scope", 0o755); err != nil {
		t.Fatal(err)
	}
	mustRun(t, busyboxTree, "-M", "leftover", "true")
	if _, err := os.Stat(left); !os.IsNotExist(err) {
		t.Errorf("leftover scope still there: %v", err)
	}
	checkNoLeaks(t, before)
}

// SIGKILL of nspawn: the reaper kills what is left and removes the scope,
// with the cgroups the container made below it. A new container of the
// same name started at once waits for that instead of being hit by it.
func TestCgroupReaperAfterKill(t *testing.T) {
	before := snapshotHost(t)
	for i := 0; i < 5; i++ {
		lr := startLive(t, "-q", "-D", busyboxTree, "-M", "reaped", "sh", "-c",
			"mkdir /sys/fs/cgroup/a /sys/fs/cgroup/a/b && (echo $$ > /sys/fs/cgroup/a/b/cgroup.procs; sleep 1000 & sleep 1000 & echo ready; wait)")
		lr.waitLine(t, "ready")
		lr.cmd.Process.Kill()
		<-lr.done
		out := mustRun(t, busyboxTree, "-M", "reaped", "echo", "next one runs")
		if out != "next one runs\n" {
			t.Errorf("next container printed %q", out)
		}
	}
	checkNoLeaks(t, before)
	if _, err := os.Stat(filepath.Dir(scopeDir(t, "reaped"))); !os.IsNotExist(err) {
		t.Errorf("machine.slice left behind: %v", err)
	}
}

// --slice places the scope in a nested slice, which goes with it; a name
// that is not a slice is refused before anything is made.
func TestCgroupSlice(t *testing.T) {
	before := snapshotHost(t)
	lr := startLive(t, "-q", "-D", busyboxTree, "-M", "sliced", "--slice=ci-nspawn.slice", "sh", "-c", "sleep 1000 & echo ready; wait")
	lr.waitLine(t, "ready")
	if _, err := os.Stat(unifiedRoot(t) + "/ci.slice/ci-nspawn.slice/machine-sliced.scope/payload"); err != nil {
		t.Errorf("scope not in the slice: %v", err)
	}
	lr.cmd.Process.Signal(os.Interrupt)
	lr.wait(t)
	checkNoLeaks(t, before)
	for _, bad := range []string{"ci.service", "ci--x.slice", "-.slice.slice", "ci/x.slice"} {
		checkErrorRun(t, errCase{
			args:   func(tree string) []string { return quietIn(tree, "--slice="+bad, "true") },
			status: 1,
			want:   []string{"--slice=" + bad},
		})
	}
}
