package tests

import (
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// nestedOuters are the containers nspawn -a runs nested in: systemd-nspawn
// 252 and nspawn itself, both without a user namespace (inside one no proc
// can be mounted, nested or not; README). Both make the inner nspawn's
// /proc/sys read-only, so it cannot reach its container's ns_last_pid
// there. Each returns the command line that runs inner (an nspawn command
// line inside) with our binary at /usr/local/bin/nspawn and inner at
// /srv/bb.
func nestedOuters(t *testing.T) map[string]func(inner string, args ...string) *exec.Cmd {
	outers := map[string]func(string, ...string) *exec.Cmd{
		"in nspawn": func(inner string, args ...string) *exec.Cmd {
			return exec.Command(nspawnBin, append([]string{"-q", "-D", copyTree(t, busyboxTree), "--register=no", "--private-users=no",
				"--bind-ro=" + nspawnBin + ":/usr/local/bin/nspawn", "--bind=" + inner + ":/srv/bb"}, args...)...)
		},
	}
	if sdn, err := exec.LookPath("systemd-nspawn"); err == nil {
		outers["in systemd-nspawn 252"] = func(inner string, args ...string) *exec.Cmd {
			return exec.Command(sdn, append([]string{"-q", "-D", copyTree(t, busyboxTree), "--register=no", "--keep-unit", "--pipe",
				"--bind-ro=" + nspawnBin + ":/usr/local/bin/nspawn", "--bind=" + inner + ":/srv/bb"}, args...)...)
		}
	} else {
		t.Log("no systemd-nspawn here: nested in nspawn only")
	}
	return outers
}

// TestAsPID2Nested: nspawn -a nested in a container starts its payload
// as PID 2 and passes its exit status out through both containers
// (nested, it used to fail with "set ns_last_pid: bad file descriptor").
func TestAsPID2Nested(t *testing.T) {
	for name, outer := range nestedOuters(t) {
		t.Run(name, func(t *testing.T) {
			before := snapshotHost(t)
			cmd := outer(copyTree(t, busyboxTree), "/usr/local/bin/nspawn", "-q", "-a", "-D", "/srv/bb", "--register=no",
				"sh", "-c", "echo pid=$$; exit 7")
			var stderr strings.Builder
			cmd.Stderr = &stderr
			out, _ := cmd.Output()
			if got := string(out); got != "pid=2\n" || exitStatus(cmd.ProcessState) != 7 {
				t.Errorf("stdout %q, status %d; want pid=2 and 7 (stderr %q)", got, exitStatus(cmd.ProcessState), stderr.String())
			}
			checkNoLeaks(t, before)
		})
	}
}

// TestAsPID2NestedStop: SIGTERM to the outer nspawn reaches the nested
// payload through the inner nspawn and its stub init, and the payload's
// status comes back out.
func TestAsPID2NestedStop(t *testing.T) {
	before := snapshotHost(t)
	cmd := nestedOuters(t)["in nspawn"](copyTree(t, busyboxTree),
		"/usr/local/bin/nspawn", "-q", "-a", "-D", "/srv/bb", "--register=no",
		"sh", "-c", `trap "echo got-term; exit 42" TERM; echo ready pid=$$; while :; do sleep 0.1; done`)
	lr := runLive(t, cmd)
	lr.waitLine(t, "ready pid=2")
	if err := lr.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if status, rest := lr.wait(t); status != 42 || !strings.Contains(rest, "got-term") {
		t.Errorf("status %d, stdout after ready %q, stderr %q; want 42 and got-term", status, rest, lr.stderr.String())
	}
	checkNoLeaks(t, before)
}

// TestAsPID2NestedNotifyUnit: nspawn -a --notify-ready=yes as a
// Type=notify service of a booted systemd (nested, as users wrap
// services): the payload, PID 2, says READY=1 and the unit becomes active.
func TestAsPID2NestedNotifyUnit(t *testing.T) {
	before := snapshotHost(t)
	inner := systemdTree(t)
	b := bootSystemd(t, systemdTree(t), "-M", "sd-nested", "--private-users=no",
		"--bind-ro="+nspawnBin+":/usr/local/bin/nspawn", "--bind="+inner+":/var/lib/machines/inner")
	b.waitReady(t)
	b.waitRunning(t)
	// systemd-run waits for the start job: a Type=notify unit's ends at
	// READY=1, or fails. systemd reads $$$$ in a command line as $$.
	out, err := b.sh(t, `systemd-run -q --unit=nest-notify -p Type=notify nspawn -q -a --notify-ready=yes -D /var/lib/machines/inner --register=no `+
		`sh -c 'echo $$$$ > /root/payload.pid; systemd-notify --ready; exec sleep 1000' 2>&1`)
	if err != nil {
		status, _ := b.sh(t, "systemctl status --no-pager -n 20 nest-notify")
		t.Fatalf("systemd-run: %v\n%s\n%s", err, out, status)
	}
	b.until(t, "active", "systemctl is-active -q nest-notify", 20*time.Second, "systemctl status --no-pager -n 20 nest-notify")
	// Written before READY=1, so there by now.
	if pid, _ := b.sh(t, "cat /var/lib/machines/inner/root/payload.pid"); pid != "2\n" {
		t.Errorf("payload PID %q, want 2", pid)
	}
	b.sh(t, "systemctl stop nest-notify")
	b.until(t, "stopped", "! systemctl is-active -q nest-notify", 20*time.Second, "systemctl status --no-pager -n 20 nest-notify")
	b.cmd.Process.Signal(syscall.SIGTERM)
	b.wait(t)
	checkNoLeaks(t, before)
}

// TestStubInitPrivileges: under -a the payload gets no_new_privs and a
// root payload's ambient capabilities as without -a, and as under
// systemd-nspawn 252 (the stub init used to fork it without either).
func TestStubInitPrivileges(t *testing.T) {
	before := snapshotHost(t)
	probe := []string{"--no-new-privileges=yes", "--ambient-capability=CAP_CHOWN", "sh", "-c", "grep -E '^(NoNewPrivs|CapAmb)' /proc/self/status"}
	want := "CapAmb:\t0000000000000001\nNoNewPrivs:\t1\n"
	for _, extra := range [][]string{nil, {"-a"}} {
		if out := mustRun(t, busyboxTree, append(append([]string{"--register=no"}, extra...), probe...)...); out != want {
			t.Errorf("nspawn %q: %q, want %q", extra, out, want)
		}
	}
	if sdn, err := exec.LookPath("systemd-nspawn"); err == nil {
		out, err := exec.Command(sdn, append([]string{"-q", "-a", "--pipe", "--register=no", "--keep-unit", "-D", copyTree(t, busyboxTree)}, probe...)...).Output()
		if err != nil || string(out) != want {
			t.Errorf("systemd-nspawn -a: %q (%v), want %q as ours", out, err, want)
		}
	}
	checkNoLeaks(t, before)
}

// TestNestedInUserNamespace: nested in a container of ours with its
// default user namespace, the kernel mounts no fresh proc for the inner
// nspawn, and trusted.* (the mark on a --keep-unit payload cgroup) is
// not the inner root's to set: each ends in one line that names the way
// out, --private-users=no on the outer container.
func TestNestedInUserNamespace(t *testing.T) {
	before := snapshotHost(t)
	for _, args := range [][]string{{}, {"--keep-unit"}} {
		inner := append([]string{"/usr/local/bin/nspawn", "-q", "-D", "/srv/bb", "--read-only"}, args...)
		cmd := exec.Command(nspawnBin, append([]string{"-q", "-D", copyTree(t, busyboxTree), "--register=no",
			"--bind-ro=" + nspawnBin + ":/usr/local/bin/nspawn", "--bind-ro=" + busyboxTree + ":/srv/bb"}, append(inner, "true")...)...)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		cmd.Run()
		if status := exitStatus(cmd.ProcessState); status != 1 {
			t.Errorf("%v nested: status %d, want 1; stderr %q", args, status, stderr.String())
		}
		if lines := strings.Split(strings.TrimSpace(stderr.String()), "\n"); len(lines) != 1 || !strings.HasPrefix(lines[0], "nspawn: ") || !strings.HasSuffix(lines[0], "start that container with --private-users=no") {
			t.Errorf("%v nested: stderr %q, want one line naming --private-users=no", args, stderr.String())
		}
	}
	checkNoLeaks(t, before)
}
