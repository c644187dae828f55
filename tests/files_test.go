package tests

import (
	"os/exec"
	"testing"
)

// TestFilesTmpfsMountOptions: --tmpfs options that mix mount flags and
// tmpfs data (as debos and mkosi pass them) mount, with the flags as
// flags, beside systemd-nspawn.
func TestFilesTmpfsMountOptions(t *testing.T) {
	args := []string{"--tmpfs=/srv/w:rw,nosuid,noexec,mode=0710,size=1m"}
	const script = `grep ' /srv/w ' /proc/self/mounts | cut -d' ' -f3,4 | tr , '\n' | grep -E '^(tmpfs|rw|nosuid|nodev|noexec|mode=)' | tr '\n' ' '; stat -c %a /srv/w`
	const want = "tmpfs rw nosuid nodev noexec mode=710 710\n"
	if out := mustRun(t, busyboxTree, append(args, "/bin/sh", "-c", script)...); out != want {
		t.Errorf("inside: got %q, want %q", out, want)
	}
	sdn, err := exec.LookPath("systemd-nspawn")
	if err != nil {
		t.Skip("needs systemd-nspawn to compare")
	}
	tree := copyTree(t, busyboxTree)
	out, err := exec.Command(sdn, append(append([]string{"-q", "--pipe", "--register=no", "--keep-unit", "-D", tree}, args...), "/bin/sh", "-c", script)...).Output()
	if err != nil || string(out) != want {
		t.Errorf("systemd-nspawn inside: got %q (%v), want %q", out, err, want)
	}
}
