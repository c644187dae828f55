package tests

import (
	"fmt"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// machinectlRun is one way to run the machine "inner" in the booted tree:
// by which binary, and under what systemd knows it as.
type machinectlRun struct {
	name    string // the subtest's
	ours    bool
	start   string // the shell command that starts it
	unit    string // machined's Unit=
	service string // the machine's Service=
	// owner is the unit nspawn runs as: the unit itself, or the
	// systemd-run service beside machine-inner.scope.
	owner string
	// scope: nspawn asked machined for machine-inner.scope (CreateMachine);
	// otherwise the unit is nspawn's own service (RegisterMachine).
	scope bool
}

func machinectlRuns() []machinectlRun {
	var runs []machinectlRun
	for _, r := range []struct {
		bin, service, template string
		ours                   bool
	}{{"/usr/local/bin/nspawn", "nspawn", "nspawn@", true}, {"systemd-nspawn", "systemd-nspawn", "systemd-nspawn@", false}} {
		// RemainAfterExit keeps nspawn's exit status to read after it ends.
		runs = append(runs, machinectlRun{
			name: r.service + " in a scope", ours: r.ours, scope: true, service: r.service,
			start: "systemd-run -q --unit=run-inner -p RemainAfterExit=yes " + r.bin + " -q -b -D /var/lib/machines/inner -M inner",
			unit:  "machine-inner.scope", owner: "run-inner.service",
		}, machinectlRun{
			name: r.template + "inner", ours: r.ours, service: r.service,
			start: "systemctl start " + r.template + "inner",
			unit:  r.template + "inner.service", owner: r.template + "inner.service",
		})
	}
	return runs
}

// cgroup is the unit's cgroup in the booted tree.
func (r machinectlRun) cgroup() string {
	return "/sys/fs/cgroup/machine.slice/" + strings.ReplaceAll(r.unit, "@", `\x40`)
}

// TestMachinectl: in a booted systemd tree (systemd, dbus and machined
// running, as on a host), machinectl's verbs work on a booted container
// run by our nspawn as on one run by systemd-nspawn 252, both in a scope
// machined makes (systemd-run nspawn -b -M inner) and as the unit
// nspawn@inner: list, status and show name it with its leader, root and
// unit; shell and login reach it; reboot boots it again; terminate and
// poweroff end it cleanly, leaving no machine, unit or cgroup.
func TestMachinectl(t *testing.T) {
	before := snapshotHost(t)
	b := bootUnitsHost(t, "sd-mctl")

	// The lines of `machinectl status` each run shows, by key, to name
	// where ours differs from systemd-nspawn's.
	statusKeys := map[string]map[string]bool{}
	for _, r := range machinectlRuns() {
		t.Run(r.name, func(t *testing.T) {
			m := &machinectlCase{t: t, b: b, r: r}
			defer m.cleanUp()
			registered := m.start()
			m.list()
			statusKeys[r.name] = m.status()
			m.shell()
			m.login()
			m.reboot()
			m.terminate()
			m.start()
			gone := m.poweroff()
			t.Logf("%s: start to registered %v, poweroff to gone %v", r.name, registered.Round(time.Millisecond), gone.Round(time.Millisecond))
		})
	}
	for _, r := range machinectlRuns() {
		if !r.ours {
			continue
		}
		theirs := "systemd-nspawn@inner"
		if r.scope {
			theirs = "systemd-nspawn in a scope"
		}
		for key := range statusKeys[theirs] {
			if !statusKeys[r.name][key] {
				t.Errorf("machinectl status shows %q for systemd-nspawn (%s), not for ours (%s)", key, theirs, r.name)
			}
		}
	}

	b.cmd.Process.Signal(syscall.SIGTERM)
	if status := b.wait(t); status != 0 {
		t.Errorf("status %d after SIGTERM, want 0; stderr %q", status, b.stderr.String())
	}
	checkNoLeaks(t, before)
}

// machinectlCase runs machinectl's verbs on one run of inner.
type machinectlCase struct {
	t *testing.T
	b *booted
	r machinectlRun
}

func (m *machinectlCase) sh(script string) string {
	m.t.Helper()
	out, _ := m.b.sh(m.t, script)
	return out
}

// until waits up to a minute for a shell condition in the booted tree.
func (m *machinectlCase) until(what, cond string) {
	m.t.Helper()
	m.b.until(m.t, m.r.name+": "+what, cond, 60*time.Second,
		"machinectl list; systemctl status --no-pager -n 30 "+m.r.owner+" "+m.r.unit)
}

// properties reads `systemctl show` or `machinectl show` output into a map.
func properties(out string) map[string]string {
	p := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			p[k] = v
		}
	}
	return p
}

// want fails the test for each property of got that differs from want.
func (m *machinectlCase) want(what string, got, want map[string]string) {
	m.t.Helper()
	for k, v := range want {
		if got[k] != v {
			m.t.Errorf("%s: %s: %s=%q, want %q", m.r.name, what, k, got[k], v)
		}
	}
}

// start starts inner, waits until its systemd runs, and returns how long
// machined took to list it.
func (m *machinectlCase) start() time.Duration {
	m.t.Helper()
	registered := m.timed(m.r.start, "machinectl list --no-legend | grep -q '^inner '")
	m.booted()
	return registered
}

// timed runs the shell command cmd in the booted tree and returns how
// long until the condition cond held after it began, polled every 10 ms
// in the same shell (a nsenter per poll would be most of the time).
func (m *machinectlCase) timed(cmd, cond string) time.Duration {
	m.t.Helper()
	out, err := m.b.sh(m.t, `began=$(date +%s%N)
		`+cmd+` >&2 || exit
		for i in $(seq 6000); do if `+cond+`; then echo $(( $(date +%s%N) - began )); exit; fi; sleep 0.01; done
		exit 1`)
	ns, perr := strconv.ParseInt(strings.TrimSpace(out), 10, 64)
	if err != nil || perr != nil {
		m.t.Fatalf("%s: %s, then %s within a minute: %v\n%s", m.r.name, cmd, cond, err, out)
	}
	return time.Duration(ns)
}

// booted waits for inner's own systemd to have finished starting up.
func (m *machinectlCase) booted() {
	m.t.Helper()
	m.until("booted", "systemctl -M inner is-system-running 2>/dev/null | grep -Eq '^(running|degraded)$'")
}

// leader is machined's Leader of inner, checked to be the container's
// PID 1: systemd, PID 1 in its own PID namespace.
func (m *machinectlCase) leader() string {
	m.t.Helper()
	leader := strings.TrimSpace(m.sh("machinectl show inner -p Leader --value"))
	if out := m.sh("grep NSpid /proc/" + leader + "/status; readlink /proc/" + leader + "/exe"); !strings.HasSuffix(out, "\t1\n/usr/lib/systemd/systemd\n") {
		m.t.Errorf("%s: Leader=%s is not the container's systemd as its PID 1: %q", m.r.name, leader, out)
	}
	return leader
}

// list: the machine's row, class container, its service, and with a
// network of its own the addresses machined reads in its namespace (here
// one from TEST-NET-1, put on host0 inside).
func (m *machinectlCase) list() {
	m.t.Helper()
	address := "-"
	if !m.r.scope {
		address = "192.0.2.2"
		if out, err := m.b.sh(m.t, "nsenter -t "+m.leader()+" -n ip addr add "+address+"/24 dev host0 2>&1"); err != nil {
			m.t.Errorf("%s: an address on host0: %v\n%s", m.r.name, err, out)
		}
	}
	out := m.sh("machinectl list --no-legend --no-pager")
	f := strings.Fields(out)
	if len(f) < 6 || f[0] != "inner" || f[1] != "container" || f[2] != m.r.service || f[len(f)-1] != address {
		m.t.Errorf("%s: machinectl list: %q, want inner container %s ... %s", m.r.name, out, m.r.service, address)
	}
	m.t.Logf("%s: machinectl list: %s", m.r.name, strings.TrimSpace(out))
}

// status checks machinectl show and status and returns the keys of the
// status lines.
func (m *machinectlCase) status() map[string]bool {
	m.t.Helper()
	leader := m.leader()
	m.want("machinectl show inner", properties(m.sh("machinectl show inner")), map[string]string{
		"Name": "inner", "Class": "container", "Service": m.r.service, "State": "running",
		"Unit": m.r.unit, "RootDirectory": "/var/lib/machines/inner", "Leader": leader,
	})
	out := m.sh("machinectl status inner --no-pager -n 0")
	keys := map[string]bool{}
	for _, line := range strings.Split(out, "\n") {
		if k, _, ok := strings.Cut(strings.TrimSpace(line), ": "); ok && !strings.ContainsAny(k, " ─│└├") {
			keys[k] = true
		}
	}
	for _, want := range []string{"Leader: " + leader + " (systemd)", "Root: /var/lib/machines/inner", "Unit: " + m.r.unit, "Service: " + m.r.service + "; class container"} {
		if !strings.Contains(out, want) {
			m.t.Errorf("%s: machinectl status lacks %q:\n%s", m.r.name, want, out)
		}
	}
	if m.r.scope {
		// nspawn is the scope's Controller: systemd asks it, by its bus
		// name, to stop the container (RequestStop).
		controller := properties(m.sh("systemctl show machine-inner.scope -p Controller"))["Controller"]
		owner := properties(m.sh("busctl status --no-pager " + controller + " | grep ^PID="))["PID"]
		if main := properties(m.sh("systemctl show run-inner -p MainPID"))["MainPID"]; controller == "" || owner != main {
			m.t.Errorf("%s: machine-inner.scope's Controller=%q is owned by PID %q, not nspawn (%s)", m.r.name, controller, owner, main)
		}
	}
	// The container's systemd is in the unit's cgroup tree.
	if !strings.Contains(out, "─"+leader+" /usr/lib/systemd/systemd") {
		m.t.Errorf("%s: machinectl status shows no leader in the unit's cgroup:\n%s", m.r.name, out)
	}
	return keys
}

// shell: machined enters the container, opens a pty there and asks the
// container's own systemd to run the command on it.
func (m *machinectlCase) shell() {
	m.t.Helper()
	for cmd, want := range map[string]string{"machinectl shell inner /bin/echo hi": "hi", "machinectl shell root@inner /usr/bin/id -u": "0"} {
		out, err := m.b.sh(m.t, cmd+" 2>/dev/null")
		if err != nil || strings.TrimSpace(out) != want {
			m.t.Errorf("%s: %s: %q (%v), want %q", m.r.name, cmd, out, err, want)
		}
	}
}

// login: a getty answers on the pty machined opens, through script's
// pty; ^]^]^] ends the session.
func (m *machinectlCase) login() {
	m.t.Helper()
	out, err := m.b.sh(m.t, `set -e
		rm -f /tmp/login.out /tmp/login.in; mkfifo /tmp/login.in
		script -qfec 'machinectl login inner' /tmp/login.out < /tmp/login.in > /dev/null &
		exec 3> /tmp/login.in
		for i in $(seq 300); do grep -q 'login: ' /tmp/login.out 2>/dev/null && break; sleep 0.1; done
		printf '\035\035\035' >&3
		wait $!
		cat /tmp/login.out`)
	if err != nil || !strings.Contains(out, " login: ") {
		m.t.Errorf("%s: machinectl login: %v\n%s", m.r.name, err, out)
	}
}

// reboot: inner's systemd reboots and comes back with a new leader. In a
// scope, nspawn starts the container again itself; as a unit, nspawn
// exits 133 and systemd starts the unit again.
func (m *machinectlCase) reboot() {
	m.t.Helper()
	first := m.leader()
	mainPID := properties(m.sh("systemctl show " + m.r.owner + " -p MainPID"))["MainPID"]
	if out, err := m.b.sh(m.t, "machinectl reboot inner 2>&1"); err != nil {
		m.t.Fatalf("%s: machinectl reboot: %v\n%s", m.r.name, err, out)
	}
	m.until("a new leader", fmt.Sprintf("l=$(machinectl show inner -p Leader --value) && [ -n \"$l\" ] && [ \"$l\" != %s ]", first))
	m.booted()
	m.leader()
	got := properties(m.sh("systemctl show " + m.r.owner + " -p ActiveState -p NRestarts -p MainPID"))
	if m.r.scope {
		m.want("after reboot", got, map[string]string{"ActiveState": "active", "NRestarts": "0", "MainPID": mainPID})
	} else {
		m.want("after reboot", got, map[string]string{"ActiveState": "active", "NRestarts": "1"})
	}
}

// terminate: systemd stops the unit; the container's systemd powers off
// (nspawn sends it SIGRTMIN+3), nspawn exits 0.
func (m *machinectlCase) terminate() {
	m.t.Helper()
	if out, err := m.b.sh(m.t, "machinectl terminate inner 2>&1"); err != nil {
		m.t.Fatalf("%s: machinectl terminate: %v\n%s", m.r.name, err, out)
	}
	m.ended("terminate")
	// The guest shut down, rather than being killed: its journal's last
	// boot ends with systemd's own last words.
	if out := m.sh("journalctl -D /var/lib/machines/inner/var/log/journal -b 0 -o cat --no-pager | tail -3"); !strings.Contains(out, "Shutting down.") {
		m.t.Errorf("%s: after terminate, inner's systemd did not shut down; its journal ends:\n%s", m.r.name, out)
	}
}

// poweroff: inner's systemd powers off, nspawn exits 0; it returns how
// long until the machine and its unit were gone.
func (m *machinectlCase) poweroff() time.Duration {
	m.t.Helper()
	gone := m.timed("machinectl poweroff inner", "! machinectl list --no-legend | grep -q '^inner '")
	m.ended("poweroff")
	return gone
}

// ended waits for inner to be gone after verb, nspawn exited 0, and
// checks nothing of it is left.
func (m *machinectlCase) ended(verb string) {
	m.t.Helper()
	m.until(verb+": unregistered", "! machinectl list --no-legend | grep -q '^inner '")
	if m.r.scope {
		// run-inner stays (RemainAfterExit) with nspawn's exit status.
		m.until(verb+": nspawn exited", "systemctl show run-inner -p SubState | grep -Eq '=(exited|failed)$'")
		m.want(verb, properties(m.sh("systemctl show run-inner -p Result -p ExecMainCode -p ExecMainStatus")),
			map[string]string{"Result": "success", "ExecMainCode": "1", "ExecMainStatus": "0"})
		m.until(verb+": scope gone", "systemctl show machine-inner.scope -p LoadState | grep -q not-found")
		m.sh("systemctl stop run-inner; systemctl reset-failed run-inner")
	} else {
		m.until(verb+": unit inactive", "! systemctl is-active -q "+m.r.unit)
		m.want(verb, properties(m.sh("systemctl show "+m.r.unit+" -p ActiveState -p Result -p ExecMainStatus")),
			map[string]string{"ActiveState": "inactive", "Result": "success", "ExecMainStatus": "0"})
		m.until(verb+": veth gone", "! ip link show ve-inner >/dev/null 2>&1")
	}
	m.until(verb+": cgroup gone", "! test -e '"+m.r.cgroup()+"'")
}

// cleanUp stops whatever a failed subtest left running, so the next run
// of inner can start.
func (m *machinectlCase) cleanUp() {
	m.sh("machinectl terminate inner; systemctl stop " + m.r.owner + "; systemctl reset-failed " + m.r.owner +
		"; for i in $(seq 100); do machinectl list --no-legend | grep -q '^inner ' || break; sleep 0.1; done")
}
