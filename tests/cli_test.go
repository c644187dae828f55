package tests

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// asSystemdNspawn is a directory holding a systemd-nspawn symlink to the
// nspawn under test, as make install SYSTEMD_NSPAWN_DIR= makes one.
func asSystemdNspawn(t *testing.T) string {
	t.Helper()
	link := filepath.Join(t.TempDir(), "systemd-nspawn")
	if err := os.Symlink(nspawnBin, link); err != nil {
		t.Fatal(err)
	}
	return link
}

// runAs runs bin (nspawn under some name, or systemd-nspawn) with args
// and returns its stdout, stderr and exit status.
func runAs(t *testing.T, bin string, args ...string) result {
	t.Helper()
	cmd := exec.Command(bin, args...)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	cmd.WaitDelay = 10 * time.Second
	cmd.Run()
	return result{out.String(), errb.String(), exitStatus(cmd.ProcessState)}
}

// TestCommandLineAsGetopt: the words and exit status of a command line
// getopt_long refuses are systemd-nspawn 252's, after the name as invoked,
// and the forms callers write (separate values, bundles) run.
func TestCommandLineAsGetopt(t *testing.T) {
	link := asSystemdNspawn(t)
	for _, args := range [][]string{
		{"--foo"}, {"--foo=1"}, {"-y"}, {"-qy"}, {"--bind"}, {"-D"}, {"-qD"}, {"--directory"}, {"--quiet=yes"},
		{"--capability"}, {"-S"},
	} {
		// glibc prints argv[0] as given: our link by its path, theirs by
		// the bare name exec.Command passes.
		ours := runAs(t, link, args...)
		ours.stderr = strings.ReplaceAll(ours.stderr, link, "systemd-nspawn")
		theirs := runAs(t, "systemd-nspawn", args...)
		if ours.stderr != theirs.stderr || ours.status != theirs.status || ours.stdout != "" {
			t.Errorf("%q: ours %d %q, systemd-nspawn's %d %q", args, ours.status, ours.stderr, theirs.status, theirs.stderr)
		}
	}
	// Under its own name, the name as invoked leads the line, as glibc's.
	if r := runAs(t, nspawnBin, "--foo"); r.stderr != nspawnBin+": unrecognized option '--foo'\n" || r.status != 1 {
		t.Errorf("nspawn --foo: %d %q", r.status, r.stderr)
	}
	out := mustRun(t, busyboxTree, "--setenv", "A=1", "-E", "B=2", "--bind-ro", "/etc:/mnt", "--chdir", "/mnt", "sh", "-c", `echo $A$B $(pwd)`)
	if out != "12 /mnt\n" {
		t.Errorf("separate values: %q", out)
	}
	if r := run(t, "", "-qaD", busyboxTree, "sh", "-c", "echo $$"); r.status != 0 || r.stdout != "2\n" {
		t.Errorf("-qaD TREE: %d %q %q", r.status, r.stdout, r.stderr)
	}
}

// TestVersionAndHelpValues: --version's first line and the lists =help
// prints have systemd-nspawn 252's shape (and, for the values both
// accept, its content).
func TestVersionAndHelpValues(t *testing.T) {
	ours := strings.Fields(runAs(t, nspawnBin, "--version").stdout)
	theirs := strings.Fields(runAs(t, "systemd-nspawn", "--version").stdout)
	if len(ours) < 3 || ours[0] != theirs[0] || ours[1] != theirs[1] || !strings.HasPrefix(strings.Trim(ours[2], "()"), ours[1]) {
		t.Errorf("--version: ours %q, systemd-nspawn's %q", ours, theirs[:3])
	}
	for _, opt := range []string{"--capability=help", "--drop-capability=help", "--resolv-conf=help", "--timezone=help", "--console=help", "--private-users-ownership=help"} {
		ours, theirs := runAs(t, nspawnBin, opt), runAs(t, "systemd-nspawn", opt)
		if ours.status != 0 || ours.stdout != theirs.stdout {
			t.Errorf("%s: ours %d %q, systemd-nspawn's %d %q", opt, ours.status, ours.stdout, theirs.status, theirs.stdout)
		}
	}
	// 252 lists "0" first, a signal it cannot send; the rest agree.
	ours2, theirs2 := runAs(t, nspawnBin, "--kill-signal=help"), runAs(t, "systemd-nspawn", "--kill-signal=help")
	if ours2.status != 0 || ours2.stdout != strings.TrimPrefix(theirs2.stdout, "0\n") {
		t.Errorf("--kill-signal=help: ours %d %q, systemd-nspawn's %q", ours2.status, ours2.stdout, theirs2.stdout)
	}
}

// TestSystemdNspawnNetworkDefault: run as systemd-nspawn, the container
// sees the host's interfaces, as under systemd-nspawn, unless
// --private-network; as nspawn it sees only lo.
func TestSystemdNspawnNetworkDefault(t *testing.T) {
	link := asSystemdNspawn(t)
	host, err := os.ReadDir("/sys/class/net")
	if err != nil || len(host) < 2 {
		t.Skip("the host has no interface but lo")
	}
	links := func(bin string, args ...string) []string {
		r := runAs(t, bin, append([]string{"-q", "-D", busyboxTree}, append(args, "ls", "/sys/class/net")...)...)
		if r.status != 0 {
			t.Fatalf("%s %q: %d %q", bin, args, r.status, r.stderr)
		}
		return strings.Fields(r.stdout)
	}
	var want []string
	for _, e := range host {
		want = append(want, e.Name())
	}
	if got := links(link); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("as systemd-nspawn: %q, want the host's %q", got, want)
	}
	if got := links(link, "--private-network"); strings.Join(got, " ") != "lo" {
		t.Errorf("as systemd-nspawn --private-network: %q, want lo", got)
	}
	if got := links(nspawnBin); strings.Join(got, " ") != "lo" {
		t.Errorf("as nspawn: %q, want lo", got)
	}
	// What ip link shows inside, for the record of what was compared.
	if r := runAs(t, link, "-q", "-D", busyboxTree, "ip", "-o", "link"); r.status == 0 {
		t.Logf("ip link as systemd-nspawn:\n%s", r.stdout)
	}
}

// TestBootWithoutTerminalShowsConsole: -b with stdout a pipe gets the
// read-only console, as under systemd-nspawn 252, so systemd's boot
// messages reach the caller; SIGTERM then powers it off with 0.
func TestBootWithoutTerminalShowsConsole(t *testing.T) {
	before := snapshotHost(t)
	cmd := exec.Command(nspawnBin, "-q", "-D", systemdTree(t), "-b", "-M", "sd-console")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	cmd.WaitDelay = 10 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	lines := make(chan string)
	go func() {
		s := bufio.NewScanner(stdout)
		for s.Scan() {
			lines <- s.Text()
		}
		close(lines)
	}()
	var seen []string
	deadline := time.After(90 * time.Second)
wait:
	for {
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatalf("stdout ended before systemd's status lines; got %q, stderr %q", seen, stderr.String())
			}
			seen = append(seen, line)
			// A unit's status line: the manager runs, its signal
			// handlers are in (the kernel drops a signal PID 1 has
			// none for), so SIGTERM reaches it.
			if strings.Contains(line, "Reached target") {
				break wait
			}
		case <-deadline:
			t.Fatalf("no status line within 90 s; got %q", seen)
		}
	}
	cmd.Process.Signal(syscall.SIGTERM)
	go func() {
		for range lines { // drain the shutdown messages
		}
	}()
	cmd.Wait()
	if status := exitStatus(cmd.ProcessState); status != 0 {
		t.Errorf("status %d after SIGTERM, want 0; stderr %q", status, stderr.String())
	}
	checkNoLeaks(t, before)
}

// TestInstall: make install puts the binary, the manual page and, with
// SYSTEMD_NSPAWN_DIR, a systemd-nspawn symlink under DESTDIR, and nothing
// outside it.
func TestInstall(t *testing.T) {
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("needs make")
	}
	dest := t.TempDir()
	cmd := exec.Command("make", "-C", "..", "install", "DESTDIR="+dest, "PREFIX=/opt/nspawn", "SYSTEMD_NSPAWN_DIR=/opt/nspawn/compat",
		// The binary under test, never rebuilt by make.
		"BIN="+nspawnBin, "-o", nspawnBin)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make install: %v\n%s", err, out)
	}
	for _, f := range []string{"/opt/nspawn/bin/nspawn", "/opt/nspawn/share/man/man1/nspawn.1"} {
		if _, err := os.Stat(dest + f); err != nil {
			t.Error(err)
		}
	}
	if target, err := os.Readlink(dest + "/opt/nspawn/compat/systemd-nspawn"); err != nil || target != "/opt/nspawn/bin/nspawn" {
		t.Errorf("symlink: %q %v", target, err)
	}
	st, _ := os.Stat(dest + "/opt/nspawn/bin/nspawn")
	if want, _ := os.Stat(nspawnBin); st == nil || want == nil || st.Size() != want.Size() {
		t.Errorf("installed binary is not the one under test")
	}
}
