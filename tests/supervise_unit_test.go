package tests

import (
	"bytes"
	"os"
	"os/exec"
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
	b := bootSystemd(t, systemdTree(t), "-M", "sd-supervise", "--private-users=no",
		"--bind-ro="+nspawnBin+":/usr/local/bin/nspawn",
		"--bind-ro="+busyboxTree+":/srv/busybox",
		"--bind="+bootTree+":/srv/boot", "--bind="+sdBoot+":/srv/sdboot",
		"--bind="+systemdTree(t)+":/srv/sd")
	b.waitReady(t)
	b.waitRunning(t)
	sh := func(script string) (string, error) {
		t.Helper()
		return b.inside(t, "sh", "-c", script)
	}
	until := func(what, cond string, units ...string) {
		t.Helper()
		for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			if _, err := sh(cond); err == nil {
				return
			}
		}
		out, _ := sh("systemctl status --no-pager -n 30 " + strings.Join(units, " "))
		t.Fatalf("%s: %q never held\n%s", what, cond, out)
	}
	unit := func(name, body string) {
		t.Helper()
		if out, err := sh("printf '%s' '" + body + "' > /etc/systemd/system/" + name + ".service && systemctl daemon-reload"); err != nil {
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
			"wd-nspawn":  "/usr/local/bin/nspawn --quiet --keep-unit --register=no -D /srv/busybox sleep 6",
			"wd-sdn":     "systemd-nspawn --quiet --keep-unit --register=no -D /srv/busybox sleep 6",
			"wd-control": "/bin/sleep 6",
		} {
			unit(name, "[Service]\\nWatchdogSec=2s\\nExecStart="+exec+"\\n")
		}
		// A twin without watchdog, for the supervisor's thread count.
		unit("nowd-nspawn", "[Service]\\nExecStart=/usr/local/bin/nspawn --quiet --keep-unit --register=no -D /srv/busybox sleep 6\\n")
		if out, err := sh("systemctl start wd-nspawn wd-sdn wd-control nowd-nspawn"); err != nil {
			t.Fatalf("start: %v\n%s", err, out)
		}
		threads := func(name string) string {
			out, _ := sh("grep Threads: /proc/$(systemctl show -P MainPID " + name + ")/status")
			return strings.TrimSpace(out)
		}
		// Once every payload runs: four sleeps, three in containers.
		until("payloads run", "test $(pgrep -c -x sleep) -ge 4")
		t.Logf("supervising nspawn: with WatchdogSec=2s %s, without %s", threads("wd-nspawn"), threads("nowd-nspawn"))
		until("all ended", "for u in wd-nspawn wd-sdn wd-control nowd-nspawn; do systemctl is-active -q $u && exit 1; done; exit 0", "wd-nspawn", "wd-sdn", "wd-control")
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
			unit(name, "[Service]\\nRestartForceExitStatus=133\\nSuccessExitStatus=133\\nExecStart="+cmd+"\\n")
		}
		if out, err := sh("systemctl start rb-nspawn rb-sdn"); err != nil {
			t.Fatalf("start: %v\n%s", err, out)
		}
		for name, tree := range map[string]string{"rb-nspawn": "/srv/boot", "rb-sdn": "/srv/sdboot"} {
			until(name+" booted twice", "grep -qx 2 "+tree+"/var/boots", name)
			until(name+" restarted by systemd", "systemctl show -p NRestarts "+name+" | grep -qx NRestarts=1", name)
			if out := show(name); !strings.Contains(out, "ActiveState=active") {
				t.Errorf("%s after its restart:\n%s", name, out)
			}
			if out, _ := sh("journalctl -q --no-pager -u " + name + " | grep -c 'status=133' || true"); strings.TrimSpace(out) == "0" {
				t.Logf("%s: no status=133 in the journal", name)
			}
		}
		sh("systemctl stop rb-nspawn rb-sdn")
	})

	t.Run("notify-ready", func(t *testing.T) {
		// The payload, PID 2 under -a, says READY=1 once told to.
		unit("nr-nspawn", "[Service]\\nType=notify\\nExecStart=/usr/local/bin/nspawn --quiet --keep-unit --register=no -a --notify-ready=yes --bind=/run/nr:/flag -D /srv/sd /bin/sh -c \"touch /flag/started; while [ ! -e /flag/go ]; do sleep 0.1; done; systemd-notify --ready; exec sleep 1000\"\\n")
		if out, err := sh("mkdir -p /run/nr && systemctl start --no-block nr-nspawn"); err != nil {
			t.Fatalf("start: %v\n%s", err, out)
		}
		until("payload runs", "test -e /run/nr/started", "nr-nspawn")
		if out, _ := sh("systemctl is-active nr-nspawn"); strings.TrimSpace(out) != "activating" {
			t.Errorf("before READY=1: %q, want activating", out)
		}
		sh("touch /run/nr/go")
		until("active on the payload's READY=1", "systemctl is-active -q nr-nspawn", "nr-nspawn")
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
