package tests

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// limitDir is the container's scope in the hierarchy of controller: the
// unified one on a cgroup v2 host, the controller's own on a hybrid one.
func limitDir(t *testing.T, controller, name string) string {
	scope := "/machine.slice/machine-" + name + ".scope"
	if root := unifiedRoot(t); root == "/sys/fs/cgroup" {
		return root + scope
	}
	return "/sys/fs/cgroup/" + controller + scope
}

func readTrim(t *testing.T, file string) string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// A fork bomb stops at TasksMax; the host goes on starting processes.
func TestLimitsForkBomb(t *testing.T) {
	before := snapshotHost(t)
	lr := startLive(t, "-q", "-D", busyboxTree, "-M", "bomb", "--property=TasksMax=20", "sh", "-c",
		// PID 1 waits on a sleep started before the bomb, so it neither
		// needs a fork nor ends while the bomb runs.
		"sleep 1000 & s=$!; (b() { b & b; }; b) 2>/dev/null & echo ready; wait $s")
	lr.waitLine(t, "ready")
	dir := limitDir(t, "pids", "bomb")
	if got := readTrim(t, dir+"/pids.max"); got != "20" {
		t.Errorf("pids.max %q, want 20", got)
	}
	// Wait for the bomb to hit the limit (pids.events counts refusals).
	for i := 0; i < 500 && readTrim(t, dir+"/pids.events") == "max 0"; i++ {
		exec.Command("sleep", "0.01").Run()
	}
	events := readTrim(t, dir+"/pids.events")
	if strings.Contains(events, "max 0") {
		t.Errorf("the bomb never hit the limit: pids.events %q", events)
	}
	if err := exec.Command("true").Run(); err != nil {
		t.Errorf("the host cannot start a process while the bomb runs: %v", err)
	}
	lr.cmd.Process.Signal(os.Interrupt)
	lr.wait(t)
	checkNoLeaks(t, before)
}

// A memory hog over MemoryMax is OOM-killed inside the container: the
// payload's death (SIGKILL, 137) passes through and nspawn says why.
func TestLimitsMemoryOOM(t *testing.T) {
	before := snapshotHost(t)
	r := run(t, "", "-q", "-D", busyboxTree, "-M", "hog", "--property=MemoryMax=32M", "--property=MemorySwapMax=0",
		"sh", "-c", "x=a; while true; do x=$x$x; done")
	if r.status != 137 {
		t.Errorf("status %d, want 137 (stderr %q)", r.status, r.stderr)
	}
	if !strings.Contains(r.stderr, "OOM killer") {
		t.Errorf("stderr %q does not report the OOM kill", r.stderr)
	}
	checkNoLeaks(t, before)
}

// Each property lands in the file systemd would write for it.
func TestLimitsFiles(t *testing.T) {
	hybrid := unifiedRoot(t) != "/sys/fs/cgroup"
	type check struct{ ctrl, file, want string }
	cases := []struct {
		prop string
		v2   check
		v1   check
	}{
		{"MemoryMax=64M", check{"memory", "memory.max", "67108864"}, check{"memory", "memory.limit_in_bytes", "67108864"}},
		{"TasksMax=77", check{"pids", "pids.max", "77"}, check{"pids", "pids.max", "77"}},
		{"CPUQuota=50%", check{"cpu", "cpu.max", "50000 100000"}, check{"cpu", "cpu.cfs_quota_us", "50000"}},
		{"CPUWeight=200", check{"cpu", "cpu.weight", "200"}, check{"cpu", "cpu.shares", "2048"}},
		{"AllowedCPUs=0", check{"cpuset", "cpuset.cpus", "0"}, check{"cpuset", "cpuset.cpus", "0"}},
	}
	args := []string{"-q", "-D", busyboxTree, "-M", "limited"}
	for _, c := range cases {
		args = append(args, "--property="+c.prop)
	}
	before := snapshotHost(t)
	lr := startLive(t, append(args, "sh", "-c", "echo ready; sleep 1000")...)
	lr.waitLine(t, "ready")
	for _, c := range cases {
		want := c.v2
		if hybrid {
			want = c.v1
		}
		if got := readTrim(t, filepath.Join(limitDir(t, want.ctrl, "limited"), want.file)); got != want.want {
			t.Errorf("%s: %s is %q, want %q", c.prop, want.file, got, want.want)
		}
	}
	lr.cmd.Process.Signal(os.Interrupt)
	lr.wait(t)
	checkNoLeaks(t, before)
}

// Bad properties are refused before anything is made.
func TestLimitsBadInput(t *testing.T) {
	for _, bad := range []string{"Bogus=1", "MemoryMax=lots", "MemoryMax", "CPUQuota=0%", "CPUWeight=10001", "TasksMax=-1", "AllowedCPUs=9999", "DeviceAllow=/etc/passwd r"} {
		checkErrorRun(t, errCase{
			args:   func(tree string) []string { return quietIn(tree, "--property="+bad, "true") },
			status: 1,
			want:   []string{"--property=" + bad},
		})
	}
	checkErrorRun(t, errCase{
		args:   func(tree string) []string { return quietIn(tree, "--stats=yaml", "true") },
		status: 1,
		want:   []string{"--stats=yaml"},
	})
	checkErrorRun(t, errCase{
		args:   func(tree string) []string { return quietIn(tree, "--keep-unit", "--slice=a.slice", "true") },
		status: 1,
		want:   []string{"--slice=", "--keep-unit"},
	})
}

// --stats: one line, json on stderr, or json into a file; read from the
// container's cgroup before it goes.
func TestStats(t *testing.T) {
	before := snapshotHost(t)
	work := "i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; exit 3"
	r := run(t, "", "-q", "-D", busyboxTree, "--stats", "sh", "-c", work)
	if r.status != 3 || !strings.Contains(r.stderr, "used cpu ") || !strings.Contains(r.stderr, "memory peak ") {
		t.Errorf("--stats: status %d, stderr %q", r.status, r.stderr)
	}
	r = run(t, "", "-q", "-D", busyboxTree, "--stats=json", "sh", "-c", work)
	var got map[string]any
	if err := json.Unmarshal([]byte(r.stderr), &got); err != nil {
		t.Fatalf("--stats=json: %v in %q", err, r.stderr)
	}
	for _, key := range []string{"machine", "exit_status", "cpu_user_usec", "cpu_system_usec", "memory_peak_bytes", "tasks_peak"} {
		if _, ok := got[key]; !ok {
			t.Errorf("--stats=json lacks %s: %q", key, r.stderr)
		}
	}
	if got["exit_status"] != 3.0 || got["cpu_user_usec"].(float64)+got["cpu_system_usec"].(float64) == 0 {
		t.Errorf("--stats=json: %q", r.stderr)
	}
	file := filepath.Join(t.TempDir(), "stats.json")
	r = run(t, "", "-q", "-D", busyboxTree, "--stats="+file, "true")
	if data, err := os.ReadFile(file); err != nil || r.stderr != "" || !strings.Contains(string(data), `"memory_peak_bytes"`) {
		t.Errorf("--stats=FILE: %v, %q, stderr %q", err, data, r.stderr)
	}
	checkNoLeaks(t, before)
}
