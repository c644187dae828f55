package tests

import (
	"strings"
	"syscall"
	"testing"
	"time"
)

// In a booted systemd container (systemd, dbus and machined running, as
// on a real host), nspawn runs nested and talks to that systemd: the
// registration and scope code meet the real D-Bus services, never a fake.
// The outer container has no user namespace: inside one, the kernel lets
// no fresh proc be mounted over the outer's hardened /proc, so nesting
// needs --private-users=no, as README says.
func TestSystemdRegistration(t *testing.T) {
	before := snapshotHost(t)
	bb := copyTree(t, busyboxTree)
	b := bootSystemd(t, systemdTree(t), "-M", "sd-reg", "--private-users=no",
		"--bind-ro="+nspawnBin+":/usr/local/bin/nspawn", "--bind="+bb+":/srv/bb")
	b.waitReady(t)
	b.waitRunning(t)
	sh := func(script string) string {
		t.Helper()
		out, _ := b.sh(t, script)
		return out
	}
	// until polls a shell condition inside for up to 20 s.
	until := func(what, cond string) {
		t.Helper()
		b.until(t, what, cond, 20*time.Second, "")
	}

	t.Run("machined", func(t *testing.T) {
		sh("systemd-run -q --unit=nest-a nspawn -q -D /srv/bb -M inner --property=MemoryMax=64M --property=TasksMax=50 /bin/sleep 1000")
		until("registered", "machinectl list --no-legend | grep -q '^inner '")
		got := sh("systemctl show machine-inner.scope -p Delegate -p MemoryMax -p TasksMax -p DevicePolicy -p Slice -p ActiveState")
		for _, want := range []string{"Delegate=yes", "MemoryMax=67108864", "TasksMax=50", "DevicePolicy=closed", "Slice=machine.slice", "ActiveState=active"} {
			if !strings.Contains(got, want) {
				t.Errorf("machine-inner.scope lacks %s:\n%s", want, got)
			}
		}
		if procs := sh("cat /sys/fs/cgroup/machine.slice/machine-inner.scope/payload/cgroup.procs"); strings.TrimSpace(procs) == "" {
			t.Errorf("the container is not in the scope's payload cgroup")
		}
		if status := sh("machinectl status inner --no-pager | head -5"); !strings.Contains(status, "Leader:") || !strings.Contains(status, "/srv/bb") {
			t.Errorf("machinectl status inner:\n%s", status)
		}
		sh("systemctl stop nest-a")
		until("unregistered", "! machinectl list --no-legend | grep -q '^inner '")
		until("scope gone", "systemctl show machine-inner.scope -p LoadState | grep -q not-found")
	})

	t.Run("scope", func(t *testing.T) {
		sh("systemd-run -q --unit=nest-b nspawn -q -D /srv/bb -M inner2 --register=no --property=CPUWeight=50 /bin/sleep 1000")
		until("scope", "systemctl is-active -q inner2.scope")
		got := sh("systemctl show inner2.scope -p Delegate -p CPUWeight -p Slice; machinectl list --no-legend")
		for _, want := range []string{"Delegate=yes", "CPUWeight=50", "Slice=machine.slice"} {
			if !strings.Contains(got, want) {
				t.Errorf("inner2.scope lacks %s:\n%s", want, got)
			}
		}
		if strings.Contains(got, "inner2") {
			t.Errorf("--register=no registered the machine:\n%s", got)
		}
		sh("systemctl stop nest-b")
		until("scope gone", "systemctl show inner2.scope -p LoadState | grep -q not-found")
	})

	t.Run("keep-unit", func(t *testing.T) {
		out := sh(`systemd-run --wait --pipe -q sh -c '
			systemd-run --scope -q --unit=kept nspawn -q -D /srv/bb -M inner3 --keep-unit /bin/sleep 1000 &
			for i in $(seq 100); do machinectl list --no-legend | grep -q "^inner3 " && break; sleep 0.1; done
			machinectl show inner3 -p Unit; systemd-cgls --no-pager -u kept.scope; systemctl stop kept.scope'`)
		if !strings.Contains(out, "Unit=kept.scope") || !strings.Contains(out, "payload") || !strings.Contains(out, "supervisor") || !strings.Contains(out, "sleep 1000") {
			t.Errorf("--keep-unit in a scope:\n%s", out)
		}
	})

	t.Run("nspawn killed", func(t *testing.T) {
		sh("systemd-run -q --unit=nest-d nspawn -q -D /srv/bb -M inner4 /bin/sleep 1000")
		until("registered", "machinectl list --no-legend | grep -q '^inner4 '")
		sh("systemctl kill -s KILL --kill-whom=main nest-d")
		until("unregistered", "! machinectl list --no-legend | grep -q '^inner4 '")
		until("scope gone", "systemctl show machine-inner4.scope -p LoadState | grep -q not-found")
		// Gone with its cgroup, so no process of it is left.
		until("cgroup gone", "! test -e /sys/fs/cgroup/machine.slice/machine-inner4.scope")
	})

	// machined learns of the container only once its leader stands in
	// the tree: machinectl, systemctl -M and machined itself enter the
	// leader's namespaces, and must find the container's files there,
	// never the host's (its bus socket, its os-release), however early
	// they ask.
	t.Run("registered in the tree", func(t *testing.T) {
		out := sh(`systemd-run -q --unit=nest-root nspawn -q -D /srv/bb -M inner8 /bin/sleep 1000
			i=0; until L=$(machinectl show --value -p Leader inner8 2>/dev/null); do i=$((i+1)); [ $i -lt 20000 ] || exit 1; done
			stat -L -c %d:%i /proc/$L/root/ /srv/bb/`)
		if f := strings.Fields(out); len(f) != 2 || f[0] != f[1] {
			t.Errorf("the leader's root when machined first knew it, and the tree's: %q", out)
		}
		sh("systemctl stop nest-root")
		until("scope gone", "systemctl show machine-inner8.scope -p LoadState | grep -q not-found")
	})

	// nspawn is its scope's Controller=: a stop of the scope (systemctl
	// stop, machinectl terminate, the host shutting down) reaches nspawn
	// as systemd's RequestStop, and nspawn stops the container as on its
	// own SIGTERM, as systemd-nspawn does: here the payload, which
	// catches SIGTERM, exits 7, and nspawn with it. Both scopes: the one
	// machined makes and nspawn's own (--register=no).
	for _, tc := range []struct{ name, args, scope string }{
		{"inner6", "", "machine-inner6.scope"},
		{"inner7", "--register=no", "inner7.scope"},
	} {
		t.Run("stop request "+tc.scope, func(t *testing.T) {
			sh("systemd-run -q --unit=nest-" + tc.name + " -p RemainAfterExit=yes nspawn -D /srv/bb -M " + tc.name + " " + tc.args +
				` sh -c 'trap "exit 7" TERM; while :; do sleep 0.1; done'`)
			until("scope", "systemctl is-active -q "+tc.scope)
			if got := sh("systemctl show -P Controller " + tc.scope); !strings.HasPrefix(got, ":") {
				t.Errorf("%s: Controller=%q, want nspawn's bus name", tc.scope, got)
			}
			sh("systemctl stop " + tc.scope)
			until("nspawn exited", "systemctl show -P ExecMainCode nest-"+tc.name+" | grep -qx 1")
			if got := strings.TrimSpace(sh("systemctl show -P ExecMainStatus nest-" + tc.name)); got != "7" {
				t.Errorf("nspawn exited %s, want the payload's 7", got)
			}
			if log := sh("journalctl -q -o cat -u nest-" + tc.name); !strings.Contains(log, "Container termination requested. Attempting to halt container.") {
				t.Errorf("nspawn did not take the stop request:\n%s", log)
			}
			sh("systemctl stop nest-" + tc.name)
			until("scope gone", "systemctl show "+tc.scope+" -p LoadState | grep -q not-found")
		})
	}

	t.Run("bad property", func(t *testing.T) {
		out, err := b.inside(t, "nspawn", "-q", "-D", "/srv/bb", "-M", "inner5", "--property=Bogus=1", "true")
		if err == nil || !strings.HasPrefix(out, "nspawn: --property=Bogus=1: ") {
			t.Errorf("--property=Bogus=1: %v %q", err, out)
		}
		if got := sh("systemctl list-units --all --no-legend 'machine-inner5*' 'inner5*'"); got != "" {
			t.Errorf("units made for a refused start: %s", got)
		}
	})

	b.cmd.Process.Signal(syscall.SIGTERM)
	if status := b.wait(t); status != 0 {
		t.Errorf("status %d after SIGTERM, want 0; stderr %q", status, b.stderr.String())
	}
	checkNoLeaks(t, before)
}
