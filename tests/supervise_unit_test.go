package tests

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestNotifyWithoutManager: with no service manager above nspawn (no
// $NOTIFY_SOCKET), /run/host/notify still takes the payload's messages,
// so `systemd-notify --ready` inside succeeds, as under systemd-nspawn
// 252, which keeps its notify socket whatever runs it.
func TestNotifyWithoutManager(t *testing.T) {
	before := snapshotHost(t)
	tree := systemdTree(t)
	script := "systemd-notify --ready --status=up && echo notified"
	env := []string{}
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "NOTIFY_SOCKET=") {
			env = append(env, e)
		}
	}
	for _, bin := range []string{nspawnBin, "systemd-nspawn"} {
		args := []string{"-q", "-D", tree, "/bin/sh", "-c", script}
		if bin == "systemd-nspawn" {
			args = append([]string{"--register=no", "--keep-unit"}, args...)
		}
		cmd := exec.Command(bin, args...)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "notified") {
			t.Errorf("%s: systemd-notify --ready inside: %v\n%s", bin, err, out)
		}
	}
	checkNoLeaks(t, before)
}

// TestBootRebootKeepUnit: under --keep-unit a booted init's reboot ends
// nspawn with 133, for the unit's RestartForceExitStatus=133 to restart
// it, and the container does not boot again in place; a payload's own
// exit status 133 becomes 1, so only a reboot restarts a unit.
func TestBootRebootKeepUnit(t *testing.T) {
	before := snapshotHost(t)
	tree := busyboxInitTree(t, `::once:/bin/sh -c 'echo boot; reboot'
`)
	r := runInOwnCgroup(t, "-D", tree, "-b", "-P", "--keep-unit", "--register=no")
	if r.status != 133 || r.stdout != "boot\n" {
		t.Errorf("reboot under --keep-unit: status %d, stdout %q, want 133 and one boot; stderr %q", r.status, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stderr, "is being rebooted.") {
		t.Errorf("stderr lacks the reboot: %q", r.stderr)
	}
	for _, keep := range [][]string{nil, {"--keep-unit"}} {
		r = runInOwnCgroup(t, append(keep, "-q", "-D", busyboxTree, "--register=no", "sh", "-c", "exit 133")...)
		if r.status != 1 {
			t.Errorf("%v payload exiting 133: status %d, want 1 (as systemd-nspawn)", keep, r.status)
		}
	}
	checkNoLeaks(t, before)
}

// runInOwnCgroup runs nspawn in a fresh cgroup, as a unit of its own
// would run it: --keep-unit then meets no stranger's payload/.
func runInOwnCgroup(t *testing.T, args ...string) result {
	t.Helper()
	cgroups := callerCgroups(t)
	script := `n=$0; while [ "$n" -gt 0 ]; do echo $$ >"$1/cgroup.procs" || exit 125; shift; n=$((n-1)); done; exec "$@"`
	cmd := exec.Command("/bin/sh", slices.Concat([]string{"-c", script, strconv.Itoa(len(cgroups))}, cgroups, []string{nspawnBin}, args)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	cmd.Run()
	return result{stdout: out.String(), stderr: errb.String(), status: cmd.ProcessState.ExitCode()}
}

// TestSupervisorUnits runs our nspawn as systemd's service, in the nested
// systemd of TestUnitTemplate: WatchdogSec= is fed by nspawn's pings for
// as long as it supervises; a reboot inside under --keep-unit exits 133
// and systemd restarts the unit; and under -a --notify-ready=yes a
// Type=notify unit becomes active when the payload says READY=1.
func TestSupervisorUnits(t *testing.T) {
	before := snapshotHost(t)
	bootTree := busyboxInitTree(t, `::once:/bin/sh -c 'n=$(cat /var/boots 2>/dev/null || echo 0); n=$((n+1)); echo $n > /var/boots; if [ $n -lt 2 ]; then reboot; fi'
`)
	sdBoot := copyTree(t, bootTree)
	outer := systemdTree(t)
	b := bootSystemd(t, outer, "-M", "sd-supervise", "--private-users=no",
		"--bind-ro="+nspawnBin+":/usr/local/bin/nspawn",
		"--bind-ro="+busyboxTree+":/srv/busybox",
		"--bind="+bootTree+":/srv/boot", "--bind="+sdBoot+":/srv/sdboot",
		"--bind="+systemdTree(t)+":/srv/sd")
	b.waitReady(t)
	b.waitRunning(t)
	sh := func(script string) (string, error) { return b.sh(t, script) }
	until := func(t *testing.T, what, cond string, units ...string) {
		t.Helper()
		b.until(t, what, cond, 60*time.Second, "systemctl status --no-pager -n 30 "+strings.Join(units, " ")+"; journalctl --no-pager -n 60")
	}
	unit := func(name, body string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(outer, "etc/systemd/system", name+".service"), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		if out, err := sh("systemctl daemon-reload"); err != nil {
			t.Fatalf("installing %s: %v\n%s", name, err, out)
		}
	}
	show := func(name string) string {
		out, _ := sh("systemctl show -p Result -p NRestarts -p ActiveState -p ExecMainStatus " + name)
		return out
	}

	t.Run("watchdog", func(t *testing.T) {
		// The payload outlives the watchdog three times over; the unit
		// ends on its own, with success only if the pings came. A
		// plain sleep as the service shows the watchdog does bite.
		for name, exec := range map[string]string{
			"wd-nspawn":  "/usr/local/bin/nspawn --quiet --keep-unit --register=no --read-only -D /srv/busybox sleep 6",
			"wd-sdn":     "systemd-nspawn --quiet --keep-unit --register=no --read-only -D /srv/busybox sleep 6",
			"wd-control": "/bin/sleep 6",
		} {
			unit(name, "[Service]\nWatchdogSec=2s\nExecStart="+exec+"\n")
		}
		// A twin without watchdog, for the supervisor's thread count.
		unit("nowd-nspawn", "[Service]\nExecStart=/usr/local/bin/nspawn --quiet --keep-unit --register=no --read-only -D /srv/busybox sleep 6\n")
		if out, err := sh("systemctl start wd-nspawn wd-sdn wd-control nowd-nspawn"); err != nil {
			t.Fatalf("start: %v\n%s", err, out)
		}
		threads := func(name string) string {
			out, _ := sh("grep Threads: /proc/$(systemctl show -P MainPID " + name + ")/status")
			return strings.TrimSpace(out)
		}
		// Once both nspawns supervise their payload, a child of theirs.
		until(t, "payloads run", "for u in wd-nspawn nowd-nspawn; do p=$(systemctl show -P MainPID $u); [ \"$p\" -gt 0 ] && grep -qs \"^PPid:[[:space:]]*$p$\" /proc/[0-9]*/status || exit 1; done", "wd-nspawn", "nowd-nspawn")
		t.Logf("supervising nspawn: with WatchdogSec=2s %s, without %s", threads("wd-nspawn"), threads("nowd-nspawn"))
		until(t, "all ended", "for u in wd-nspawn wd-sdn wd-control nowd-nspawn; do systemctl is-active -q $u && exit 1; done; exit 0", "wd-nspawn", "wd-sdn", "wd-control")
		for name, want := range map[string]string{"wd-nspawn": "Result=success", "wd-sdn": "Result=success", "wd-control": "Result=watchdog"} {
			if out := show(name); !strings.Contains(out, want) {
				t.Errorf("%s: want %s:\n%s", name, want, out)
			}
		}
	})

	t.Run("reboot", func(t *testing.T) {
		// The tree's init reboots on its first boot only; /var/boots
		// counts the boots.
		for name, cmd := range map[string]string{
			"rb-nspawn": "/usr/local/bin/nspawn --quiet --keep-unit --register=no -b -D /srv/boot",
			"rb-sdn":    "systemd-nspawn --quiet --keep-unit --register=no -b -D /srv/sdboot",
		} {
			unit(name, "[Service]\nRestartForceExitStatus=133\nSuccessExitStatus=133\nExecStart="+cmd+"\n")
		}
		if out, err := sh("systemctl start rb-nspawn rb-sdn"); err != nil {
			t.Fatalf("start: %v\n%s", err, out)
		}
		for name, tree := range map[string]string{"rb-nspawn": "/srv/boot", "rb-sdn": "/srv/sdboot"} {
			until(t, name+" booted twice", "grep -qx 2 "+tree+"/var/boots", name)
			until(t, name+" restarted by systemd", "systemctl show -p NRestarts "+name+" | grep -qx NRestarts=1", name)
			if out := show(name); !strings.Contains(out, "ActiveState=active") {
				t.Errorf("%s after its restart:\n%s", name, out)
			}
		}
		sh("systemctl stop rb-nspawn rb-sdn")
	})

	t.Run("notify-ready", func(t *testing.T) {
		// The payload's child, not the container's PID 1, says READY=1
		// once told to. (-a itself fails nested, before the payload
		// runs: "set ns_last_pid: invalid argument"; TestNotifyReadyAsPID2
		// covers -a.)
		unit("nr-nspawn", "[Service]\nType=notify\nExecStart=/usr/local/bin/nspawn --quiet --keep-unit --register=no --notify-ready=yes --bind=/run/nr:/flag -D /srv/sd /bin/sh -c \"touch /flag/started; while [ ! -e /flag/go ]; do sleep 0.1; done; systemd-notify --ready; exec sleep 1000\"\n")
		if out, err := sh("mkdir -p /run/nr && systemctl start --no-block nr-nspawn"); err != nil {
			t.Fatalf("start: %v\n%s", err, out)
		}
		until(t, "payload runs", "test -e /run/nr/started", "nr-nspawn")
		if out, _ := sh("systemctl is-active nr-nspawn"); strings.TrimSpace(out) != "activating" {
			t.Errorf("before READY=1: %q, want activating", out)
		}
		sh("touch /run/nr/go")
		until(t, "active on the payload's READY=1", "systemctl is-active -q nr-nspawn", "nr-nspawn")
		if out, err := sh("systemctl stop nr-nspawn"); err != nil {
			t.Errorf("stop: %v\n%s", err, out)
		}
	})

	b.cmd.Process.Signal(syscall.SIGTERM)
	if status := b.wait(t); status != 0 {
		t.Errorf("status %d after SIGTERM, want 0; stderr %q", status, b.stderr.String())
	}
	checkNoLeaks(t, before)
}

// TestNotifyReadyAsPID2: under -a --notify-ready=yes the payload, PID 2,
// is the service nspawn stands for: its READY=1 reaches nspawn's manager
// (systemd-nspawn 252 takes only PID 1's, the stub init's, which never
// sends one).
func TestNotifyReadyAsPID2(t *testing.T) {
	before := snapshotHost(t)
	conn, path := notifyListener(t)
	cmd := exec.Command(nspawnBin, "-q", "-a", "--notify-ready=yes", "-D", debianTree, "perl", "-e", "print \"pid $$\\n\"; "+sendReady)
	cmd.Env = append(os.Environ(), "NOTIFY_SOCKET="+path)
	stdin, _ := cmd.StdinPipe()
	var out bytes.Buffer
	cmd.Stdout = &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	leaderPID(t, receive(conn, 20*time.Second), false)
	if msg := receive(conn, 500*time.Millisecond); msg != "" {
		t.Fatalf("got %q before the payload said anything", msg)
	}
	stdin.Write([]byte("go\n"))
	if msg := receive(conn, 20*time.Second); !strings.Contains(msg, "READY=1") {
		t.Fatalf("service manager got %q, want READY=1", msg)
	}
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.String(), "pid 2\n") {
		t.Errorf("payload output %q, want it to run as PID 2", out.String())
	}
	checkNoLeaks(t, before)
}
