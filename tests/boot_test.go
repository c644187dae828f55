package tests

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// busyboxInitTree is a copy of the busybox tree whose /sbin/init (busybox
// init) runs the given inittab.
func busyboxInitTree(t *testing.T, inittab string) string {
	t.Helper()
	tree := copyTree(t, busyboxTree)
	if err := os.WriteFile(filepath.Join(tree, "etc", "inittab"), []byte(inittab), 0o644); err != nil {
		t.Fatal(err)
	}
	return tree
}

// TestBootRebootAndPoweroff: a reboot from inside restarts the container
// in place; a poweroff ends nspawn with 0.
func TestBootRebootAndPoweroff(t *testing.T) {
	before := snapshotHost(t)
	tree := busyboxInitTree(t, `::sysinit:/bin/echo sysinit-ran
::once:/bin/sh -c 'n=$(cat /var/boots 2>/dev/null || echo 0); n=$((n+1)); echo $n > /var/boots; echo boot-$n; if [ $n -lt 2 ]; then reboot; else poweroff; fi'
`)
	// -P: init's console byte-exact (without a terminal -b defaults to
	// the read-only pty, whose output and init's own messages differ).
	r := run(t, "", "-D", tree, "-b", "-P")
	if r.status != 0 {
		t.Fatalf("status %d, stderr %q", r.status, r.stderr)
	}
	if r.stdout != "sysinit-ran\nboot-1\nsysinit-ran\nboot-2\n" {
		t.Errorf("stdout %q", r.stdout)
	}
	for _, want := range []string{"is being rebooted.", "has been shut down."} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q: %q", want, r.stderr)
		}
	}
	checkNoLeaks(t, before)
}

// TestBootStop: SIGTERM to nspawn asks init to halt with --kill-signal
// (SIGUSR2 is busybox init's poweroff), ending nspawn with 0. A second
// SIGTERM kills the container at once, as in systemd-nspawn: busybox init
// ignores the default, systemd's SIGRTMIN+3.
func TestBootStop(t *testing.T) {
	inittab := "::once:/bin/sh -c 'echo ready; exec sleep 1000'\n"
	for _, tc := range []struct {
		args  []string
		terms int
		want  int
	}{
		{[]string{"--kill-signal=SIGUSR2"}, 1, 0},
		{nil, 2, 137},
	} {
		before := snapshotHost(t)
		args := append([]string{"-q", "-D", busyboxInitTree(t, inittab), "-b"}, tc.args...)
		lr := startLive(t, args...)
		lr.waitLine(t, "ready")
		for i := 0; i < tc.terms; i++ {
			lr.cmd.Process.Signal(syscall.SIGTERM)
			time.Sleep(100 * time.Millisecond)
		}
		if status, stderr := lr.wait(t); status != tc.want {
			t.Errorf("%q: status %d, want %d; stderr %q", tc.args, status, tc.want, stderr)
		}
		checkNoLeaks(t, before)
	}
}

func TestBootErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"-D", debianTree, "-b"}, []string{"--boot", "init"}},
		{[]string{"-D", busyboxTree, "-b", "-a"}, []string{"--boot", "--as-pid2"}},
		{[]string{"-D", busyboxTree, "-b", "-u", "tester"}, []string{"--boot", "--user"}},
	} {
		r := run(t, "", append([]string{"-q"}, tc.args...)...)
		if r.status != 1 {
			t.Errorf("%q: status %d", tc.args, r.status)
		}
		checkOneErrorLine(t, r.stderr, tc.want...)
	}
}
