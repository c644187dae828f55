package tests

import (
	"os/exec"
	"sort"
	"strings"
	"testing"
)

// TestSameAsSystemdNspawn runs one probe through nspawn and through the
// real systemd-nspawn on copies of the same tree and compares what both
// promise alike: the API filesystems and their read-only state, the device
// nodes, the environment's names, the hostname, the exit status.
func TestSameAsSystemdNspawn(t *testing.T) {
	sdn, err := exec.LookPath("systemd-nspawn")
	if err != nil {
		t.Skip("needs systemd-nspawn (make deps installs systemd-container)")
	}
	probe := `
for m in /proc /proc/sys /sys /dev /dev/pts /dev/shm /dev/mqueue /run /tmp; do
  awk -v m=$m '$5 == m { split($6, o, ","); for (i = 1; i < NF; i++) if ($i == "-") t = $(i+1); print "mount", m, t, o[1] }' /proc/self/mountinfo | tail -1
done
for d in null zero full random urandom tty ptmx pts shm fd stdin stdout stderr; do
  [ -e /dev/$d ] || [ -L /dev/$d ] && echo "dev $d"
done
env | cut -d= -f1 | grep -E '^(PATH|container|container_uuid|HOME|USER|LOGNAME|TERM)$' | sed 's/^/env /' | sort
echo "path $PATH"
echo "host $(hostname)"
exit 7`
	run := func(bin string, args ...string) (string, int) {
		cmd := exec.Command(bin, append(args, "/bin/sh", "-c", probe)...)
		cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"}
		out, _ := cmd.Output()
		return string(out), exitStatus(cmd.ProcessState)
	}
	ours, ourStatus := run(nspawnBin, "-q", "-P", "-M", "probe", "-D", copyTree(t, busyboxTree))
	theirs, theirStatus := run(sdn, "--register=no", "--keep-unit", "-q", "-P", "-M", "probe", "-D", copyTree(t, busyboxTree))
	if ourStatus != 7 || theirStatus != 7 {
		t.Errorf("exit status: ours %d, systemd-nspawn %d, want 7 for both", ourStatus, theirStatus)
	}
	if ours != theirs {
		t.Errorf("probe differs:\n%s", lineDiff(ours, theirs))
	}
}

// lineDiff lists the lines only one side printed.
func lineDiff(ours, theirs string) string {
	count := map[string]int{}
	for _, l := range strings.Split(ours, "\n") {
		count[l]++
	}
	for _, l := range strings.Split(theirs, "\n") {
		count[l]--
	}
	var diff []string
	for l, n := range count {
		switch {
		case n > 0:
			diff = append(diff, "only nspawn:         "+l)
		case n < 0:
			diff = append(diff, "only systemd-nspawn: "+l)
		}
	}
	sort.Strings(diff)
	return strings.Join(diff, "\n")
}

// TestCapabilitiesSameAsSystemdNspawn: root in the container holds
// systemd-nspawn's retained set (with CAP_NET_ADMIN in a network namespace
// of its own) in every set but the ambient one; another user holds none.
func TestCapabilitiesSameAsSystemdNspawn(t *testing.T) {
	sdn, err := exec.LookPath("systemd-nspawn")
	if err != nil {
		t.Skip("needs systemd-nspawn (make deps installs systemd-container)")
	}
	probe := []string{"grep", "^Cap", "/proc/self/status"}
	// The Debian tree: systemd-nspawn resolves -u with getent inside.
	tree := copyTree(t, debianTree)
	for _, c := range []struct{ ours, theirs []string }{
		{nil, []string{"--private-network"}},
		// Without a user namespace, as systemd-nspawn 252's default: in
		// one, CAP_NET_BIND_SERVICE goes (TestNetBindServiceDropped).
		{[]string{"--share-network", "--private-users=no"}, nil},
		{[]string{"-u", "tester"}, []string{"--private-network", "-u", "tester"}},
	} {
		ours := mustRun(t, tree, append(c.ours, probe...)...)
		out, err := exec.Command(sdn, append(append([]string{"--register=no", "--keep-unit", "-q", "-P", "-D", tree}, c.theirs...), probe...)...).Output()
		if err != nil {
			t.Fatalf("systemd-nspawn %q: %v", c.theirs, err)
		}
		if ours != string(out) {
			t.Errorf("%q: ours\n%s\nsystemd-nspawn %q:\n%s", c.ours, ours, c.theirs, out)
		}
	}
}
