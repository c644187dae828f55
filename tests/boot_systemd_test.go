package tests

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// systemdTree builds (once, cached like the others) the bookworm tree with
// systemd, dbus and systemd-container, and returns a private copy of it:
// booting writes to the tree (journal, random seed, timers).
var systemdTreeOnce = sync.OnceValue(func() string { return buildTree("bookworm-systemd") })

func systemdTree(t *testing.T) string {
	t.Helper()
	return copyTree(t, systemdTreeOnce())
}

// booted is a systemd container under nspawn, with the test as nspawn's
// service manager.
type booted struct {
	cmd    *exec.Cmd
	notify chan string // messages nspawn sent to its $NOTIFY_SOCKET
	done   chan struct{}
	stderr strings.Builder
}

func bootSystemd(t *testing.T, tree string, args ...string) *booted {
	t.Helper()
	conn, path := notifyListener(t)
	b := &booted{notify: make(chan string, 64), done: make(chan struct{})}
	b.cmd = exec.Command(nspawnBin, append([]string{"-q", "-D", tree, "-b", "--notify-ready=yes"}, args...)...)
	b.cmd.Env = append(os.Environ(), "NOTIFY_SOCKET="+path)
	b.cmd.Stderr = &b.stderr
	b.cmd.WaitDelay = 5 * time.Second
	if err := b.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			msg := receive(conn, time.Hour)
			if msg == "" {
				return
			}
			b.notify <- msg
		}
	}()
	go func() { b.cmd.Wait(); close(b.done) }()
	t.Cleanup(func() {
		b.cmd.Process.Kill()
		<-b.done
	})
	return b
}

// waitReady waits for READY=1 from nspawn.
func (b *booted) waitReady(t *testing.T) {
	t.Helper()
	deadline := time.After(90 * time.Second)
	for {
		select {
		case msg := <-b.notify:
			if strings.Contains(msg, "READY=1") {
				return
			}
		case <-b.done:
			t.Fatalf("nspawn exited before READY=1; stderr %q", b.stderr.String())
		case <-deadline:
			t.Fatalf("no READY=1 within 90 s; stderr %q", b.stderr.String())
		}
	}
}

// init is the host PID of the container's PID 1: nspawn's child.
func (b *booted) init(t *testing.T) int {
	t.Helper()
	tasks, _ := os.ReadDir("/proc/" + strconv.Itoa(b.cmd.Process.Pid) + "/task")
	for _, task := range tasks {
		data, _ := os.ReadFile("/proc/" + strconv.Itoa(b.cmd.Process.Pid) + "/task/" + task.Name() + "/children")
		for _, f := range strings.Fields(string(data)) {
			pid, _ := strconv.Atoi(f)
			if exe, _ := os.Readlink("/proc/" + f + "/exe"); strings.HasSuffix(exe, "/systemd") {
				return pid
			}
		}
	}
	t.Fatal("no systemd among nspawn's children")
	return 0
}

// inside runs a command in every namespace of the container.
func (b *booted) inside(t *testing.T, args ...string) (string, error) {
	t.Helper()
	out, err := exec.Command("nsenter", append([]string{"-t", strconv.Itoa(b.init(t)), "-a"}, args...)...).CombinedOutput()
	return string(out), err
}

// sh runs a shell script inside (b.inside with sh -c).
func (b *booted) sh(t *testing.T, script string) (string, error) {
	t.Helper()
	return b.inside(t, "sh", "-c", script)
}

// until polls the shell condition cond inside every 100 ms for at most
// within, and fails the test naming what never held, with the output of
// the shell script diagnose ("" for none) to show why.
func (b *booted) until(t *testing.T, what, cond string, within time.Duration, diagnose string) {
	t.Helper()
	for deadline := time.Now().Add(within); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if _, err := b.sh(t, cond); err == nil {
			return
		}
	}
	var why string
	if diagnose != "" {
		why, _ = b.sh(t, diagnose)
	}
	t.Fatalf("%s: %q never held\n%s", what, cond, why)
}

// waitRunning polls systemctl is-system-running (--wait right after start
// cannot reach the bus yet) until it settles; degraded names its failures.
func (b *booted) waitRunning(t *testing.T) {
	t.Helper()
	var state string
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		out, _ := b.inside(t, "systemctl", "is-system-running")
		state = strings.TrimSpace(out)
		if state == "running" {
			return
		}
		if state == "degraded" {
			failed, _ := b.inside(t, "systemctl", "--failed", "--no-pager", "--no-legend")
			t.Logf("degraded; failed units:\n%s", failed)
			return
		}
	}
	t.Fatalf("system state %q after 60 s", state)
}

func (b *booted) wait(t *testing.T) int {
	t.Helper()
	select {
	case <-b.done:
	case <-time.After(60 * time.Second):
		t.Fatalf("nspawn still running 60 s after shutdown began; stderr %q", b.stderr.String())
	}
	return exitStatus(b.cmd.ProcessState)
}

// TestBootSystemd: the tree's systemd boots to running with journald and
// dbus up, its cgroup tree delegated, READY=1 passed on; SIGTERM powers
// it off and nspawn exits 0 leaving nothing behind.
func TestBootSystemd(t *testing.T) {
	before := snapshotHost(t)
	b := bootSystemd(t, systemdTree(t), "-M", "sd-test")
	b.waitReady(t)
	b.waitRunning(t)
	for _, unit := range []string{"systemd-journald.service", "dbus.service"} {
		if out, err := b.inside(t, "systemctl", "is-active", unit); err != nil {
			t.Errorf("%s: %s", unit, out)
		}
	}
	// systemd moved itself to init.scope in the container's own tree, and
	// knows it runs in a container ($container is not one it names).
	out, _ := b.inside(t, "sh", "-c", "grep ^0:: /proc/1/cgroup; systemd-detect-virt")
	if out != "0::/init.scope\ncontainer-other\n" {
		t.Errorf("inside: %q", out)
	}
	if _, err := os.Stat(scopeDir(t, `sd\x2dtest`) + "/payload/system.slice"); err != nil {
		t.Errorf("systemd's system.slice is not below the container's cgroup: %v", err)
	}
	b.cmd.Process.Signal(syscall.SIGTERM)
	if status := b.wait(t); status != 0 {
		t.Errorf("status %d after SIGTERM, want 0; stderr %q", status, b.stderr.String())
	}
	checkNoLeaks(t, before)
}

// TestBootSystemdRebootAndPoweroff: systemctl reboot inside starts the
// container again (a second READY=1); systemctl poweroff ends nspawn
// with 0.
func TestBootSystemdRebootAndPoweroff(t *testing.T) {
	before := snapshotHost(t)
	b := bootSystemd(t, systemdTree(t))
	b.waitReady(t)
	first := b.init(t)
	b.waitRunning(t)
	b.inside(t, "systemctl", "reboot")
	b.waitReady(t)
	if second := b.init(t); second == first {
		t.Errorf("PID 1 is still host PID %d after the reboot", first)
	}
	b.waitRunning(t)
	b.inside(t, "systemctl", "poweroff")
	if status := b.wait(t); status != 0 {
		t.Errorf("status %d after poweroff, want 0; stderr %q", status, b.stderr.String())
	}
	checkNoLeaks(t, before)
}

// TestBootSystemdShifted: with -U (a picked range, the tree ID-mapped) the
// tree's systemd boots to running with no failed units, runs as an
// unprivileged host UID, manages its delegated cgroup, and the tree's
// owners on disk stay as they were.
func TestBootSystemdShifted(t *testing.T) {
	before := snapshotHost(t)
	tree := systemdTree(t)
	b := bootSystemd(t, tree, "-M", "sd-shifted", "-U")
	b.waitReady(t)
	b.waitRunning(t)
	if out, _ := b.inside(t, "systemctl", "is-system-running"); strings.TrimSpace(out) != "running" {
		t.Errorf("state %q, want running", out)
	}
	out, _ := b.inside(t, "sh", "-c", "cat /proc/1/uid_map; systemctl is-active systemd-journald dbus; stat -c %U /var/log/journal")
	f := strings.Fields(out)
	if len(f) != 6 || f[0] != "0" || f[1] == "0" || f[3] != "active" || f[4] != "active" || f[5] != "root" {
		t.Errorf("inside: %q", out)
	}
	var st syscall.Stat_t
	syscall.Stat("/proc/"+strconv.Itoa(b.init(t)), &st)
	if len(f) > 1 && strconv.Itoa(int(st.Uid)) != f[1] {
		t.Errorf("PID 1 runs as host UID %d, want the range's base %s", st.Uid, f[1])
	}
	if _, err := os.Stat(scopeDir(t, `sd\x2dshifted`) + "/payload/system.slice"); err != nil {
		t.Errorf("systemd made no system.slice in its delegated cgroup: %v", err)
	}
	b.cmd.Process.Signal(syscall.SIGTERM)
	if status := b.wait(t); status != 0 {
		t.Errorf("status %d after SIGTERM, want 0; stderr %q", status, b.stderr.String())
	}
	if err := syscall.Stat(tree+"/etc/passwd", &st); err != nil || st.Uid != 0 {
		t.Errorf("the ID-mapped tree's /etc/passwd is owned by %d on disk", st.Uid)
	}
	checkNoLeaks(t, before)
	if left := leftLease(t); len(left) > 0 {
		t.Errorf("left behind: %q", left)
	}
}

// TestBootSystemdEphemeral: the systemd tree boots to running on a
// throw-away root (-x), and powers off, leaving the tree byte-identical
// and nothing on the host.
func TestBootSystemdEphemeral(t *testing.T) {
	tree := systemdTree(t)
	digest := treeDigest(t, tree)
	before := snapshotHost(t)
	b := bootSystemd(t, tree, "-x")
	b.waitReady(t)
	b.waitRunning(t)
	if out, err := b.inside(t, "sh", "-c", "echo booted > /var/lib/ephemeral-marker && cat /var/lib/ephemeral-marker"); err != nil || out != "booted\n" {
		t.Errorf("writing inside: %q (%v)", out, err)
	}
	b.cmd.Process.Signal(syscall.SIGTERM)
	if status := b.wait(t); status != 0 {
		t.Errorf("status %d after SIGTERM, want 0; stderr %q", status, b.stderr.String())
	}
	checkNoLeaks(t, before)
	if treeDigest(t, tree) != digest {
		t.Errorf("-x -b changed the tree")
	}
}
