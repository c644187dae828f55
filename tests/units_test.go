package tests

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestImageLookup: -M NAME without -D runs /var/lib/machines/NAME (here a
// symlink to a copy of the busybox tree), as systemd-nspawn 252 does, not
// the current directory; a name found nowhere is one line naming the
// search path, where systemd-nspawn says "No image for machine".
func TestImageLookup(t *testing.T) {
	before := snapshotHost(t)
	tree := copyTree(t, busyboxTree)
	os.WriteFile(filepath.Join(tree, "marker"), []byte("found by name\n"), 0o644)
	name := fmt.Sprintf("nspawn-lookup-%d", os.Getpid())
	link := filepath.Join("/var/lib/machines", name)
	if err := os.MkdirAll("/var/lib/machines", 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(tree, link); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(link) })

	// Run from a directory that is no tree, so the current directory
	// cannot be what runs.
	inDir := func(dir, bin string, args ...string) result {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Dir = dir
		var out, errb strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		status := 0
		if err != nil {
			status = exitStatus(cmd.ProcessState)
		}
		return result{stdout: out.String(), stderr: errb.String(), status: status}
	}
	elsewhere := t.TempDir()
	script := []string{"sh", "-c", "cat /marker; hostname"}
	r := inDir(elsewhere, nspawnBin, append([]string{"-q", "-M", name, "--register=no"}, script...)...)
	if r.status != 0 || r.stdout != "found by name\n"+name+"\n" {
		t.Errorf("nspawn -M %s: status %d, stdout %q, stderr %q", name, r.status, r.stdout, r.stderr)
	}
	if sdn, err := exec.LookPath("systemd-nspawn"); err == nil {
		theirs := inDir(elsewhere, sdn, append([]string{"-q", "-M", name, "--register=no", "--keep-unit", "--pipe"}, script...)...)
		if theirs.status != r.status || theirs.stdout != r.stdout {
			t.Errorf("systemd-nspawn -M %s: status %d stdout %q, ours %d %q", name, theirs.status, theirs.stdout, r.status, r.stdout)
		}
	}

	missing := name + "-none"
	r = inDir(tree, nspawnBin, "-q", "-M", missing, "true")
	if r.status != 1 {
		t.Errorf("nspawn -M %s: status %d, want 1", missing, r.status)
	}
	checkOneErrorLine(t, r.stderr, "--machine="+missing+": no tree named "+missing+" in /etc/machines, /run/machines, /var/lib/machines, /var/lib/container, /usr/local/lib/machines, /usr/lib/machines")
	if sdn, err := exec.LookPath("systemd-nspawn"); err == nil {
		if theirs := inDir(tree, sdn, "-q", "-M", missing, "--register=no", "--keep-unit", "true"); theirs.status != 1 {
			t.Errorf("systemd-nspawn -M %s: status %d, want 1 as ours", missing, theirs.status)
		}
	}
	checkNoLeaks(t, before)
}

// TestMakeInstall: make install puts the binary, the man page and the
// unit where a package would, the unit's ExecStart the installed binary.
func TestMakeInstall(t *testing.T) {
	dest := t.TempDir()
	// -o: the binary under test is installed as it is, never rebuilt.
	cmd := exec.Command("make", "-s", "-C", "..", "-o", nspawnBin, "install", "BIN="+nspawnBin, "DESTDIR="+dest, "PREFIX=/usr")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make install: %v\n%s", err, out)
	}
	for path, mode := range map[string]os.FileMode{
		"/usr/bin/nspawn":                               0o755,
		"/usr/share/man/man1/nspawn.1":                  0o644,
		"/usr/lib/systemd/system/nspawn@.service":       0o644,
		"/usr/share/bash-completion/completions/nspawn": 0o644,
		"/usr/share/zsh/vendor-completions/_nspawn":     0o644,
	} {
		st, err := os.Stat(dest + path)
		if err != nil {
			t.Errorf("make install: %v", err)
			continue
		}
		if st.Mode().Perm() != mode {
			t.Errorf("%s: mode %v, want %v", path, st.Mode().Perm(), mode)
		}
	}
	// The completions serve nspawn; systemd-nspawn's are systemd's own.
	if bash := readFile(t, dest+"/usr/share/bash-completion/completions/nspawn"); !strings.Contains(bash, "\ncomplete -F _nspawn nspawn\n") {
		t.Errorf("the installed bash completion does not complete nspawn")
	}
	if zsh := readFile(t, dest+"/usr/share/zsh/vendor-completions/_nspawn"); !strings.HasPrefix(zsh, "#compdef nspawn\n") {
		t.Errorf("the installed zsh completion does not complete nspawn")
	}
	// BASHCOMPDIR and ZSHCOMPDIR move them; /usr/local's zsh directory
	// is site-functions, the one in zsh's fpath there.
	local := t.TempDir()
	cmd = exec.Command("make", "-s", "-C", "..", "-o", nspawnBin, "install", "BIN="+nspawnBin, "DESTDIR="+local, "BASHCOMPDIR=/etc/bash_completion.d")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make install: %v\n%s", err, out)
	}
	for _, path := range []string{"/etc/bash_completion.d/nspawn", "/usr/local/share/zsh/site-functions/_nspawn"} {
		if _, err := os.Stat(local + path); err != nil {
			t.Errorf("make install BASHCOMPDIR=/etc/bash_completion.d: %v", err)
		}
	}
	unit := readFile(t, dest+"/usr/lib/systemd/system/nspawn@.service")
	var execStart string
	for _, line := range strings.Split(unit, "\n") {
		if v, ok := strings.CutPrefix(line, "ExecStart="); ok {
			execStart = v
		}
	}
	want := "/usr/bin/nspawn --quiet --keep-unit --boot --link-journal=try-guest --network-veth -U --settings=override --machine=%i"
	if execStart != want {
		t.Errorf("ExecStart=%s, want %s", execStart, want)
	}
	for _, line := range []string{"Type=notify", "KillMode=mixed", "Delegate=yes", "DevicePolicy=closed", "RestartForceExitStatus=133",
		"SuccessExitStatus=133", "Slice=machine.slice", "WatchdogSec=3min", "PartOf=machines.target", "WantedBy=machines.target"} {
		if !strings.Contains(unit, "\n"+line+"\n") {
			t.Errorf("the installed unit lacks %s", line)
		}
	}
	// Every line of systemd-nspawn@.service but its ExecStart and
	// Documentation is ours too.
	if theirs, err := os.ReadFile("/lib/systemd/system/systemd-nspawn@.service"); err == nil {
		sc := bufio.NewScanner(strings.NewReader(string(theirs)))
		for sc.Scan() {
			line := sc.Text()
			if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, "ExecStart=") || strings.HasPrefix(line, "Documentation=") {
				continue
			}
			if !strings.Contains(unit, line+"\n") {
				t.Errorf("systemd-nspawn@.service has %q; nspawn@.service does not", line)
			}
		}
	}
}

// TestUnitTemplate: in a booted systemd container, nspawn installed with
// its unit runs /var/lib/machines/NAME (a booted systemd tree) under
// `systemctl start nspawn@NAME`: active once the container runs, and
// `systemctl stop` powers it off, inactive with nothing of it left.
// systemd-nspawn@NAME does the same in the same nested run, for the
// times beside each other.
func TestUnitTemplate(t *testing.T) {
	before := snapshotHost(t)
	b := bootUnitsHost(t, "sd-units")
	sh := func(script string) (string, error) { return b.sh(t, script) }
	until := func(what, cond string) {
		t.Helper()
		b.until(t, what, cond, 60*time.Second, "systemctl status --no-pager -n 30 'nspawn@inner' 'systemd-nspawn@inner'")
	}

	for _, unit := range []string{"nspawn@inner", "systemd-nspawn@inner"} {
		t.Run(unit, func(t *testing.T) {
			start := time.Now()
			if out, err := sh("systemctl start " + unit); err != nil {
				status, _ := sh("systemctl status --no-pager -n 40 " + unit)
				t.Fatalf("systemctl start %s: %v\n%s\n%s", unit, err, out, status)
			}
			started := time.Since(start)
			until("active", "systemctl is-active -q "+unit)
			until("registered", "machinectl list --no-legend | grep -q '^inner '")
			// The container runs its own systemd, in the unit's cgroup.
			until("booted", "systemctl -M inner is-system-running 2>/dev/null | grep -Eq '^(running|degraded)$'")
			if out, _ := sh("systemctl show " + unit + " -p ActiveState -p SubState -p ControlGroup"); !strings.Contains(out, "ActiveState=active") {
				t.Errorf("%s: %s", unit, out)
			}
			start = time.Now()
			if out, err := sh("systemctl stop " + unit); err != nil {
				t.Errorf("systemctl stop %s: %v\n%s", unit, err, out)
			}
			stopped := time.Since(start)
			out, _ := sh("systemctl show " + unit + " -p ActiveState -p Result -p ExecMainStatus")
			for _, want := range []string{"ActiveState=inactive", "Result=success", "ExecMainStatus=0"} {
				if !strings.Contains(out, want) {
					t.Errorf("%s after stop: want %s:\n%s", unit, want, out)
				}
			}
			until("unregistered", "! machinectl list --no-legend | grep -q '^inner '")
			until("cgroup gone", "! test -e /sys/fs/cgroup/machine.slice/"+strings.ReplaceAll(unit, "@", "\\\\x40")+".service")
			if out, _ := sh("ip -o link show | grep -c 've-inner' || true"); strings.TrimSpace(out) != "0" {
				t.Errorf("%s: its veth is left after stop", unit)
			}
			t.Logf("%s: systemctl start %v, systemctl stop %v", unit, started.Round(time.Millisecond), stopped.Round(time.Millisecond))
		})
	}

	// The speed target: start to active and stop to inactive, ours
	// against systemd-nspawn@ in the same nested run, timed inside the
	// booted tree (no nsenter in the figures), five rounds each, taken in
	// turns; each stop is of a guest that has finished booting.
	t.Run("timing", func(t *testing.T) {
		script := `ms() { echo $(( $(date +%s%N) / 1000000 )); }
for round in 1 2 3 4 5; do for u in nspawn@inner systemd-nspawn@inner; do
  a=$(ms); systemctl start $u || exit 1; b=$(ms)
  for i in $(seq 300); do systemctl -M inner is-system-running 2>/dev/null | grep -Eq '^(running|degraded)$' && break; sleep 0.05; done
  c=$(ms); systemctl stop $u || exit 1; d=$(ms)
  while machinectl list --no-legend | grep -q '^inner '; do sleep 0.02; done
  echo "$u $((b-a)) $((d-c))"
done; done`
		out, err := sh(script)
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		times := map[string][2][]int{}
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			var unit string
			var start, stop int
			if _, err := fmt.Sscan(line, &unit, &start, &stop); err != nil {
				t.Fatalf("%q: %v", line, err)
			}
			tt := times[unit]
			tt[0], tt[1] = append(tt[0], start), append(tt[1], stop)
			times[unit] = tt
		}
		for _, unit := range []string{"nspawn@inner", "systemd-nspawn@inner"} {
			t.Logf("%s: systemctl start to active %v ms, stop to inactive %v ms (median of %d; all %v %v)",
				unit, median(times[unit][0]), median(times[unit][1]), len(times[unit][0]), times[unit][0], times[unit][1])
		}
	})

	// NotifyReady=yes in the machine's settings file: the unit is active
	// only once the guest's systemd says it is ready, so the guest has
	// finished booting when systemctl start returns; the unit's status
	// line is the guest's, in systemd-nspawn's words. Both tools read the
	// same file.
	if out, err := sh("mkdir -p /etc/systemd/nspawn && printf '[Exec]\\nNotifyReady=yes\\n' > /etc/systemd/nspawn/inner.nspawn"); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	for _, unit := range []string{"nspawn@inner", "systemd-nspawn@inner"} {
		t.Run(unit+" NotifyReady", func(t *testing.T) {
			if out, err := sh("systemctl start " + unit + " && systemctl -M inner is-system-running"); err != nil && !strings.Contains(out, "degraded") {
				t.Errorf("guest not up when systemctl start %s returned: %v\n%s", unit, err, out)
			}
			if out, _ := sh("systemctl show -P StatusText " + unit); !strings.HasPrefix(out, "Container running") {
				t.Errorf("%s StatusText=%q", unit, out)
			}
			if out, err := sh("systemctl stop " + unit); err != nil {
				t.Errorf("systemctl stop %s: %v\n%s", unit, err, out)
			}
			until("unregistered", "! machinectl list --no-legend | grep -q '^inner '")
		})
	}
	sh("rm /etc/systemd/nspawn/inner.nspawn")

	// systemctl kill -s KILL ends the unit at once, as it ends
	// systemd-nspawn@'s, with nothing left. A plain systemctl kill
	// (SIGTERM to every process of the unit) reaches the guest's systemd
	// too, which takes SIGTERM as "re-execute" and so may miss the
	// poweroff nspawn asks for at the same moment: nspawn kills it after
	// its grace period (systemd-nspawn@ was seen still running a minute
	// later), so only ours is run that way.
	results := map[string]string{}
	for _, unit := range []string{"nspawn@inner", "systemd-nspawn@inner"} {
		t.Run(unit+" kill", func(t *testing.T) {
			kills := []string{"systemctl kill -s KILL " + unit}
			if unit == "nspawn@inner" {
				kills = append(kills, "systemctl kill "+unit)
			}
			for _, kill := range kills {
				if out, err := sh("systemctl start " + unit); err != nil {
					t.Fatalf("systemctl start %s: %v\n%s", unit, err, out)
				}
				b.until(t, "booted", "systemctl -M inner is-system-running 2>/dev/null | grep -Eq '^(running|degraded)$'", 60*time.Second, "")
				start := time.Now()
				sh(kill)
				b.until(t, "ended", "! systemctl is-active -q "+unit, 60*time.Second, "systemctl status --no-pager "+unit)
				until("unregistered", "! machinectl list --no-legend | grep -q '^inner '")
				out, _ := sh("systemctl show -P Result " + unit + "; systemctl show -P ExecMainStatus " + unit)
				t.Logf("%s: ended after %v: Result/status %s", kill, time.Since(start).Round(time.Millisecond), strings.Join(strings.Fields(out), " "))
				if strings.Contains(kill, "KILL") {
					results[unit] = strings.Join(strings.Fields(out), " ")
				}
				sh("systemctl reset-failed " + unit + " 2>/dev/null; true")
			}
		})
	}
	if results["nspawn@inner"] != results["systemd-nspawn@inner"] {
		t.Errorf("after systemctl kill -s KILL: nspawn@inner Result/status %q, systemd-nspawn@inner %q", results["nspawn@inner"], results["systemd-nspawn@inner"])
	}

	// An instance name that is no machine name: the unit fails at once
	// with nspawn's one line, as systemd-nspawn@ fails with its own.
	t.Run("bad instance", func(t *testing.T) {
		if out, err := sh("systemctl start nspawn@bad_name"); err == nil {
			t.Fatalf("systemctl start nspawn@bad_name succeeded: %s", out)
		}
		until("failed", "systemctl is-failed -q nspawn@bad_name")
		if out, _ := sh("systemctl show -P ExecMainStatus nspawn@bad_name"); strings.TrimSpace(out) != "1" {
			t.Errorf("ExecMainStatus=%s, want 1", out)
		}
		log, _ := sh("journalctl -q -o cat -u nspawn@bad_name | grep '^nspawn:'")
		if lines := strings.Split(strings.TrimSpace(log), "\n"); len(lines) != 1 || !strings.HasPrefix(lines[0], "nspawn: --machine=bad_name: not a valid machine name") {
			t.Errorf("journal of nspawn@bad_name: %q", log)
		}
		sh("systemctl reset-failed nspawn@bad_name")
	})

	b.cmd.Process.Signal(syscall.SIGTERM)
	if status := b.wait(t); status != 0 {
		t.Errorf("status %d after SIGTERM, want 0; stderr %q", status, b.stderr.String())
	}
	checkNoLeaks(t, before)
}

// median is the middle of xs (the upper one of two).
func median(xs []int) int {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

// bootUnitsHost boots the systemd tree as the host of nested units,
// machine name machine: our binary bound at /usr/local/bin/nspawn, a
// second systemd tree at /var/lib/machines/inner, the units installed
// (installUnits); it returns once the tree's systemd is up.
func bootUnitsHost(t *testing.T, machine string) *booted {
	t.Helper()
	units, err := filepath.Abs("../units")
	if err != nil {
		t.Fatal(err)
	}
	b := bootSystemd(t, systemdTree(t), "-M", machine, "--private-users=no",
		"--bind-ro="+nspawnBin+":/usr/local/bin/nspawn", "--bind="+systemdTree(t)+":/var/lib/machines/inner",
		"--bind-ro="+units+":/srv/units")
	b.waitReady(t)
	b.waitRunning(t)
	installUnits(t, b)
	return b
}

// installUnits installs, in the booted tree b (our binary bound at
// /usr/local/bin/nspawn, the repository's units/ at /srv/units), the
// nspawn@.service make install writes, and drop-ins that run both
// nspawn@ and systemd-nspawn@ as they can run nested; it starts
// systemd-networkd for their veths.
func installUnits(t *testing.T, b *booted) {
	t.Helper()
	// The unit as make install writes it, for a binary in /usr/local/bin.
	install := `sed 's|@BINDIR@|/usr/local/bin|g' /srv/units/nspawn@.service > /etc/systemd/system/nspawn@.service`
	// Nested, -U cannot work for either: a user namespace in a container
	// whose /proc has masks over it may mount no proc of its own (the
	// kernel's mount_too_revealing()), so systemd-nspawn@ fails there
	// with "Failed to mount proc". Both units run without it, through the
	// same drop-in.
	t.Log("nested: both units run without -U (no proc can be mounted in a nested user namespace)")
	for unit, bin := range map[string]string{"nspawn@": "/usr/local/bin/nspawn", "systemd-nspawn@": "systemd-nspawn"} {
		line := bin + " --quiet --keep-unit --boot --link-journal=try-guest --network-veth --settings=override --machine=%i"
		dir := "/etc/systemd/system/" + unit + ".service.d"
		install += " && mkdir -p " + dir + " && printf '[Service]\\nExecStart=\\nExecStart=%s\\n' '" + line + "' > " + dir + "/nested.conf"
	}
	// systemd-networkd configures the veths, as on a host that runs
	// these units: nspawn sees it run and leaves them to it
	// (--network-configure=auto), as systemd-nspawn does.
	install += " && systemctl start systemd-networkd"
	if out, err := b.sh(t, install+" && systemctl daemon-reload 2>&1"); err != nil {
		t.Fatalf("installing the unit: %v\n%s", err, out)
	}
}
