package tests

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Shifted user namespaces (issue 6): -U, --private-users=pick|yes|UID[:COUNT]
// and --private-users-ownership. Root inside is an unprivileged host UID.

// uidMap is the first line of a container's /proc/self/uid_map, fields
// joined by one space.
func uidMap(out string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(out), "\n")
	return strings.Join(strings.Fields(line), " ")
}

func owner(t *testing.T, path string) string {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Lstat(path, &st); err != nil {
		t.Fatal(err)
	}
	return strconv.Itoa(int(st.Uid)) + ":" + strconv.Itoa(int(st.Gid))
}

// leftLease lists what a picked range leaves if it is not given back:
// nspawn's lease (an abstract socket) and the process that owned the
// ID-mapped tree's user namespace.
func leftLease(t *testing.T) []string {
	t.Helper()
	var left []string
	data, _ := os.ReadFile("/proc/net/unix")
	for _, line := range strings.Split(string(data), "\n") {
		if strings.Contains(line, "@nspawn-uid-") {
			left = append(left, line)
		}
	}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		if cmdline, _ := os.ReadFile("/proc/" + e.Name() + "/cmdline"); strings.HasPrefix(string(cmdline), "nspawn-userns\x00") {
			left = append(left, "holder "+e.Name())
		}
	}
	return left
}

// TestPickMapsLikeSystemdNspawn: -U picks the range systemd-nspawn picks
// for the same machine name, shows the tree through an ID-mapped mount
// (owners inside as on disk), and leaves the tree's owners alone.
func TestPickMapsLikeSystemdNspawn(t *testing.T) {
	before := snapshotHost(t)
	tree := copyTree(t, busyboxTree)
	digest := treeDigest(t, tree)
	out := mustRun(t, tree, "-M", "userns-pick", "-U", "sh", "-c",
		"cat /proc/self/uid_map; stat -c %u:%g /bin/busybox /etc; id -u; touch /tmp/x /dev/x /run/x && echo writable")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 5 || lines[1] != "0:0" || lines[2] != "0:0" || lines[3] != "0" || lines[4] != "writable" {
		t.Errorf("inside: %q", out)
	}
	f := strings.Fields(lines[0])
	if len(f) != 3 || f[0] != "0" || f[2] != "65536" || f[1] == "0" {
		t.Fatalf("uid_map %q, want 0 BASE 65536", lines[0])
	}
	if sdn, err := exec.LookPath("systemd-nspawn"); err == nil {
		theirs, err := exec.Command(sdn, "--register=no", "--keep-unit", "-q", "-M", "userns-pick", "-U", "-D", copyTree(t, busyboxTree), "cat", "/proc/self/uid_map").Output()
		if err != nil {
			t.Fatalf("systemd-nspawn -U: %v", err)
		}
		if uidMap(string(theirs)) != uidMap(out) {
			t.Errorf("range: ours %q, systemd-nspawn's %q", uidMap(out), uidMap(string(theirs)))
		}
	}
	if treeDigest(t, tree) != digest {
		t.Error("-U with an ID-mapped tree changed the tree")
	}
	if left := leftLease(t); len(left) > 0 {
		t.Errorf("left behind: %q", left)
	}
	checkNoLeaks(t, before)
}

// TestChownShiftsTheTree: --private-users-ownership=chown moves the tree's
// owners into the range, a second start reuses that range without a
// chown, and --private-users=0 with chown moves them back.
func TestChownShiftsTheTree(t *testing.T) {
	tree := copyTree(t, busyboxTree)
	digest := treeDigest(t, tree)
	os.Chown(filepath.Join(tree, "home"), 1000, 1000)
	out := mustRun(t, tree, "-M", "userns-chown", "-U", "--private-users-ownership=chown", "sh", "-c",
		"cat /proc/self/uid_map; stat -c %u:%g / /home")
	base := strings.Fields(uidMap(out))[1]
	if !strings.HasSuffix(out, "0:0\n1000:1000\n") {
		t.Errorf("owners inside: %q", out)
	}
	b, _ := strconv.Atoi(base)
	if got := owner(t, filepath.Join(tree, "home")); got != strconv.Itoa(b+1000)+":"+strconv.Itoa(b+1000) {
		t.Errorf("host owner of /home %s, want %d+1000", got, b)
	}
	if got := owner(t, filepath.Join(tree, "bin/busybox")); got != base+":"+base {
		t.Errorf("host owner of /bin/busybox %s, want %s", got, base)
	}
	// Another name, same tree: the tree's own range comes first, and the
	// chowned tree is not walked again.
	var st1, st2 syscall.Stat_t
	syscall.Lstat(filepath.Join(tree, "bin/busybox"), &st1)
	again := mustRun(t, tree, "-M", "userns-chown-2", "-U", "cat", "/proc/self/uid_map")
	syscall.Lstat(filepath.Join(tree, "bin/busybox"), &st2)
	if uidMap(again) != uidMap(out) {
		t.Errorf("second start got %q, want the tree's range %q", uidMap(again), uidMap(out))
	}
	if st1.Ctim != st2.Ctim {
		t.Error("the second start chowned the tree again")
	}
	// Chowned back: the tree is as it was.
	mustRun(t, tree, "--private-users=0", "--private-users-ownership=chown", "true")
	os.Chown(filepath.Join(tree, "home"), 0, 0)
	if treeDigest(t, tree) != digest {
		t.Error("--private-users=0 --private-users-ownership=chown did not restore the owners")
	}
}

// TestFixedRangeConfinesRoot: with a range of its own, root inside is an
// unprivileged user to the host: it cannot read a root-only host file
// bound in, which root under the default identity map can.
func TestFixedRangeConfinesRoot(t *testing.T) {
	secret := filepath.Join(t.TempDir(), "secret")
	os.WriteFile(secret, []byte("s3cret\n"), 0o600)
	tree := copyTree(t, busyboxTree)
	if out := mustRun(t, tree, "--bind-ro="+secret+":/secret", "cat", "/secret"); out != "s3cret\n" {
		t.Fatalf("identity map: %q", out)
	}
	r := run(t, "", "-q", "-D", tree, "--private-users=1879048192:65536", "--private-users-ownership=map", "--bind-ro="+secret+":/secret",
		"sh", "-c", "cat /proc/self/uid_map; cat /secret")
	if uidMap(r.stdout) != "0 1879048192 65536" || strings.Contains(r.stdout, "s3cret") || r.status == 0 {
		t.Errorf("shifted root read a root-only host file: status %d, %q", r.status, r.stdout)
	}
}

// TestPrivateUsersYesReadsTheTree: --private-users=yes takes the range
// the tree is owned by.
func TestPrivateUsersYesReadsTheTree(t *testing.T) {
	tree := copyTree(t, busyboxTree)
	if out := mustRun(t, tree, "--private-users=yes", "cat", "/proc/self/uid_map"); uidMap(out) != "0 0 65536" {
		t.Errorf("tree owned by root: %q", out)
	}
	mustRun(t, tree, "--private-users=1879048192", "--private-users-ownership=chown", "true")
	if out := mustRun(t, tree, "--private-users=yes", "stat", "-c", "%u", "/proc/self/uid_map", "/bin/busybox"); out != "0\n0\n" {
		t.Errorf("shifted tree: %q", out)
	}
	if out := mustRun(t, tree, "--private-users", "cat", "/proc/self/uid_map"); uidMap(out) != "0 1879048192 65536" {
		t.Errorf("shifted tree: %q", out)
	}
}

// TestPrivateUsersErrors: mistakes get one line naming the option and
// leave the tree as it was.
func TestPrivateUsersErrors(t *testing.T) {
	tree := copyTree(t, busyboxTree)
	digest := treeDigest(t, tree)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--private-users=maybe"}, "nspawn: --private-users=maybe: use yes, no, pick, identity or UID[:COUNT]"},
		{[]string{"--private-users=4294901760:65536"}, "nspawn: --private-users=4294901760:65536: the UID range cannot be empty or go beyond 4294967294"},
		{[]string{"--private-users-ownership=copy", "-U"}, "nspawn: --private-users-ownership=copy: use off, chown, map or auto"},
		{[]string{"-U", "--private-users-chown", "--read-only"}, "nspawn: --read-only and --private-users-ownership=chown exclude each other: chown changes the tree (use map)"},
		{[]string{"--private-users=100000", "--private-users-ownership=chown"}, "nspawn: --private-users-ownership=chown: the range must be 65536 IDs from a multiple of 65536, not 100000:65536"},
	} {
		r := run(t, "", append(append([]string{"-q", "-D", tree}, tc.args...), "true")...)
		if r.status == 0 || strings.TrimSpace(r.stderr) != tc.want {
			t.Errorf("%q: status %d, stderr %q, want %q", tc.args, r.status, r.stderr, tc.want)
		}
	}
	if treeDigest(t, tree) != digest {
		t.Error("a refused start changed the tree")
	}
}

// TestPickGivenBackAfterKill: SIGKILL of nspawn -U leaves no lease, no
// namespace holder, no container.
func TestPickGivenBackAfterKill(t *testing.T) {
	before := snapshotHost(t)
	cmd := exec.Command(nspawnBin, "-q", "-D", copyTree(t, busyboxTree), "-M", "userns-kill", "-U", "sh", "-c", "echo up; sleep 60")
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 3)
	stdout.Read(buf)
	if string(buf) != "up\n" {
		t.Fatalf("container did not start: %q", buf)
	}
	if left := leftLease(t); len(left) != 1 || !strings.Contains(left[0], "@nspawn-uid-") {
		t.Errorf("while running: %q, want the lease alone", left)
	}
	cmd.Process.Kill()
	cmd.Wait()
	checkNoLeaks(t, before)
	deadline := time.Now().Add(5 * time.Second)
	for len(leftLease(t)) > 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if left := leftLease(t); len(left) > 0 {
		t.Errorf("after SIGKILL: %q", left)
	}
}
