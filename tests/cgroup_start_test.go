package tests

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
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
