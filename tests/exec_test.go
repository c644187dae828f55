package tests

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// sdnRun runs systemd-nspawn 252 on tree, or skips without it.
func sdnRun(t *testing.T, tree string, args ...string) string {
	t.Helper()
	sdn, err := exec.LookPath("systemd-nspawn")
	if err != nil {
		t.Skip("needs systemd-nspawn (make deps installs systemd-container)")
	}
	cmd := exec.Command(sdn, append([]string{"--register=no", "--keep-unit", "-q", "-P", "-D", tree}, args...)...)
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("systemd-nspawn %q: %v", args, err)
	}
	return string(out)
}

// TestExecEnvironmentSameAsSystemdNspawn: the payload's resource limits
// (the defaults and --rlimit's), OOM score, CPU affinity and personality
// are systemd-nspawn 252's.
func TestExecEnvironmentSameAsSystemdNspawn(t *testing.T) {
	probe := []string{"/bin/sh", "-c", "cat /proc/self/limits /proc/self/oom_score_adj; grep Cpus_allowed_list /proc/self/status; uname -m"}
	tree := copyTree(t, busyboxTree)
	for _, opts := range [][]string{
		nil,
		{"--rlimit=RLIMIT_NOFILE=100:200", "--rlimit=CPU=5", "--rlimit=AS=1G", "--rlimit=RTTIME=1s:infinity", "--rlimit=NICE=-5",
			"--oom-score-adjust=500", "--cpu-affinity=0", "--personality=x86"},
	} {
		ours := mustRun(t, tree, append(opts, probe...)...)
		theirs := sdnRun(t, tree, append(opts, probe...)...)
		if ours != theirs {
			t.Errorf("%q differs:\n%s", opts, lineDiff(ours, theirs))
		}
	}
	if out := mustRun(t, tree, "--personality=x86", "uname", "-m"); out != "i686\n" {
		t.Errorf("uname -m under x86: %q", out)
	}
}

// TestExecRefusals: a value the kernel would refuse in the child is
// refused before anything starts, with the option named.
func TestExecRefusals(t *testing.T) {
	tree := copyTree(t, busyboxTree)
	for _, c := range []struct{ arg, want string }{
		{"--cpu-affinity=1000", "--cpu-affinity=1000: this host has no CPU 1000"},
		{"--rlimit=BOGUS=1", `unknown resource limit "BOGUS"`},
		{"--personality=s390", "--personality=s390: unknown or unsupported"},
		{"--restrict-address-families=AF_NOPE", `unknown address family "AF_NOPE"`},
	} {
		r := run(t, "", "-q", "-D", tree, c.arg, "true")
		if r.status != 1 || !strings.Contains(r.stderr, c.want) || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
			t.Errorf("%s: status %d, stderr %q; want 1 and one line with %q", c.arg, r.status, r.stderr, c.want)
		}
	}
}

// buildExecProbe compiles tests/exec/probe.c statically into tree.
func buildExecProbe(t *testing.T, tree string) {
	t.Helper()
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skip("needs gcc to build the probe (apt-get install gcc)")
	}
	if out, err := exec.Command("gcc", "-static", "-O2", "-o", filepath.Join(tree, "probe"), "exec/probe.c").CombinedOutput(); err != nil {
		t.Skipf("gcc -static cannot build the probe (needs libc6-dev's static libc): %v\n%s", err, out)
	}
}

// TestSuppressSyncSameAsSystemdNspawn: under --suppress-sync=yes every
// sync call succeeds, O_SYNC and O_DSYNC opens fail with EINVAL and
// openat2 with ENOSYS, as under systemd-nspawn 252; without it they work.
func TestSuppressSyncSameAsSystemdNspawn(t *testing.T) {
	tree := copyTree(t, busyboxTree)
	buildExecProbe(t, tree)
	ours := mustRun(t, tree, "--suppress-sync=yes", "/probe")
	theirs := sdnRun(t, tree, "--suppress-sync=yes", "/probe")
	if ours != theirs {
		t.Errorf("differs:\n%s", lineDiff(ours, theirs))
	}
	for _, want := range []string{"fsync=0", "open_O_SYNC=EINVAL", "openat_O_DSYNC=EINVAL", "openat2=ENOSYS", "openat_plain=0"} {
		if !strings.Contains(ours, want+"\n") {
			t.Errorf("--suppress-sync=yes: no %s in\n%s", want, ours)
		}
	}
	plain := mustRun(t, tree, "--suppress-sync=no", "/probe")
	for _, want := range []string{"open_O_SYNC=0", "openat_O_DSYNC=0", "openat2=0"} {
		if !strings.Contains(plain, want+"\n") {
			t.Errorf("--suppress-sync=no: no %s in\n%s", want, plain)
		}
	}
}

// TestRestrictAddressFamilies: socket(2) of a family left out fails with
// EAFNOSUPPORT; an empty value lifts the restriction.
func TestRestrictAddressFamilies(t *testing.T) {
	tree := copyTree(t, busyboxTree)
	buildExecProbe(t, tree)
	sockets := func(args ...string) string {
		var b strings.Builder
		for _, l := range strings.Split(mustRun(t, tree, append(args, "/probe")...), "\n") {
			if strings.HasPrefix(l, "socket_") && !strings.HasPrefix(l, "socket_vsock") {
				b.WriteString(l + " ")
			}
		}
		return b.String()
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{nil, "socket_unix=0 socket_inet=0 socket_inet6=0 socket_netlink=0 "},
		{[]string{"--restrict-address-families=AF_UNIX AF_INET"}, "socket_unix=0 socket_inet=0 socket_inet6=EAFNOSUPPORT socket_netlink=EAFNOSUPPORT "},
		{[]string{"--restrict-address-families=~AF_NETLINK"}, "socket_unix=0 socket_inet=0 socket_inet6=0 socket_netlink=EAFNOSUPPORT "},
		{[]string{"--restrict-address-families=none"}, "socket_unix=EAFNOSUPPORT socket_inet=EAFNOSUPPORT socket_inet6=EAFNOSUPPORT socket_netlink=EAFNOSUPPORT "},
		{[]string{"--restrict-address-families=AF_UNIX", "--restrict-address-families="}, "socket_unix=0 socket_inet=0 socket_inet6=0 socket_netlink=0 "},
	} {
		if got := sockets(c.args...); got != c.want {
			t.Errorf("%q: %s, want %s", c.args, got, c.want)
		}
	}
}

// TestContainerInterfaceEnv: LANG and the host's os-release IDs as
// $container_host_*, with the values systemd-nspawn 252 gives.
func TestContainerInterfaceEnv(t *testing.T) {
	tree := copyTree(t, busyboxTree)
	pick := func(env string) string {
		var b strings.Builder
		for _, l := range strings.Split(env, "\n") {
			if strings.HasPrefix(l, "container_host_") || strings.HasPrefix(l, "LANG=") {
				b.WriteString(l + "\n")
			}
		}
		return b.String()
	}
	ours := pick(mustRun(t, tree, "/bin/env"))
	if !strings.Contains(ours, "LANG=C.UTF-8\n") {
		t.Errorf("no LANG=C.UTF-8 in %q", ours)
	}
	if osr, err := os.ReadFile("/etc/os-release"); err == nil && strings.Contains(string(osr), "\nID=") && !strings.Contains(ours, "container_host_id=") {
		t.Errorf("no container_host_id in %q", ours)
	}
	theirs := pick(sdnRun(t, tree, "/bin/sh", "-c", "env | sort"))
	if got := pick(mustRun(t, tree, "/bin/sh", "-c", "env | sort")); got != theirs {
		t.Errorf("differs:\n%s", lineDiff(got, theirs))
	}
}

// TestNetBindServiceDropped: with the host's network and a user
// namespace root has no CAP_NET_BIND_SERVICE (systemd-nspawn 258); with
// a network of its own, or no user namespace, or asked for, it has.
func TestNetBindServiceDropped(t *testing.T) {
	tree := copyTree(t, busyboxTree)
	const bit = 1 << 10 // CAP_NET_BIND_SERVICE
	for _, c := range []struct {
		args []string
		has  bool
	}{
		{[]string{"--share-network"}, false},
		{[]string{"--share-network", "--capability=CAP_NET_BIND_SERVICE"}, true},
		{[]string{"--share-network", "--private-users=no"}, true},
		{nil, true},
	} {
		out := mustRun(t, tree, append(c.args, "/bin/sh", "-c", "grep CapBnd /proc/self/status")...)
		var bnd uint64
		if f := strings.Fields(out); len(f) == 2 {
			bnd = parseHex(f[1])
		}
		if got := bnd&bit != 0; got != c.has {
			t.Errorf("%q: CAP_NET_BIND_SERVICE %v (%s), want %v", c.args, got, strings.TrimSpace(out), c.has)
		}
	}
}

func parseHex(s string) uint64 {
	var n uint64
	for _, c := range s {
		n <<= 4
		switch {
		case c >= '0' && c <= '9':
			n |= uint64(c - '0')
		case c >= 'a' && c <= 'f':
			n |= uint64(c-'a') + 10
		}
	}
	return n
}
