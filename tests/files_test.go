package tests

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
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

// TestFilesNotifySocketLeftOver: a /run that outlives a container (a tmpfs
// an image builder keeps across runs and binds in as the tree's /run)
// holds the last run's notify socket; the next run replaces it instead of
// failing with "address already in use". (A tmpfs on the tree's own /run
// is covered by the container's fresh one and never shows the socket.)
func TestFilesNotifySocketLeftOver(t *testing.T) {
	run := t.TempDir()
	if err := unix.Mount("tmpfs", run, "tmpfs", 0, "mode=0755,size=1m"); err != nil {
		t.Fatalf("mount a tmpfs for /run: %v", err)
	}
	t.Cleanup(func() { unix.Unmount(run, unix.MNT_DETACH) })
	before := snapshotHost(t)
	for i := range 2 {
		if out := mustRun(t, busyboxTree, "--bind="+run+":/run", "/bin/sh", "-c", "test -S /run/host/notify && echo ok"); out != "ok\n" {
			t.Errorf("run %d: got %q, want ok", i+1, out)
		}
	}
	if fi, err := os.Lstat(filepath.Join(run, "host", "notify")); err != nil || fi.Mode()&os.ModeSocket == 0 {
		t.Errorf("the tree's /run keeps no notify socket (%v): the test did not reproduce the leftover", err)
	}
	checkNoLeaks(t, before)
}

// TestFilesTunAndFuse: /dev/net/tun and /dev/fuse are there and usable, as
// VPN clients and FUSE filesystems in a container expect: a tun device is
// made (TUNSETIFF) in the container's private network, and /dev/fuse
// opens for reading and writing, the device filter allowing both.
func TestFilesTunAndFuse(t *testing.T) {
	for _, dev := range []string{"/dev/net/tun", "/dev/fuse"} {
		if _, err := os.Stat(dev); err != nil {
			t.Skipf("needs the host's %s: %v", dev, err)
		}
	}
	const script = `tunctl -t nspawntest0 >/dev/null && ip link show nspawntest0 >/dev/null && echo tun; exec 3<>/dev/fuse && echo fuse`
	for _, extra := range [][]string{nil, {"-U"}} {
		if out := mustRun(t, busyboxTree, append(extra, "/bin/sh", "-c", script)...); out != "tun\nfuse\n" {
			t.Errorf("%q: got %q, want tun and fuse", extra, out)
		}
	}
}

// TestFilesRefuseNonOSTree: a directory that is no OS tree (no /usr) is
// refused with one line, nothing created in it, as systemd-nspawn
// refuses it; booting one without os-release is refused likewise.
func TestFilesRefuseNonOSTree(t *testing.T) {
	dir := t.TempDir()
	r := run(t, "", "-q", "-D", dir, "true")
	checkOneErrorLine(t, r.stderr, "does not look like an OS tree (it has no /usr)")
	if r.status != 1 {
		t.Errorf("status %d, want 1", r.status)
	}
	os.Mkdir(filepath.Join(dir, "usr"), 0o755)
	r = run(t, "", "-q", "-D", dir, "-b")
	checkOneErrorLine(t, r.stderr, "does not look like an OS root directory", "SYSTEMD_NSPAWN_CHECK_OS_RELEASE=0")
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("the directory holds %d entries after the refusals, want only usr", len(entries))
	}
	if sdn, err := exec.LookPath("systemd-nspawn"); err == nil {
		empty := t.TempDir()
		if out, err := exec.Command(sdn, "-q", "--register=no", "--keep-unit", "-D", empty, "true").CombinedOutput(); err == nil {
			t.Errorf("systemd-nspawn ran in a directory without /usr: %s", out)
		}
	}
}

// TestFilesPivotRoot: a tree that holds another tree boots the inner one
// as its root (--pivot-root=PATH), with the outer one at OLD when asked
// for and out of sight when not, as systemd-nspawn does.
func TestFilesPivotRoot(t *testing.T) {
	outer := t.TempDir()
	if out, err := exec.Command("cp", "-a", busyboxTree, filepath.Join(outer, "sysroot")).CombinedOutput(); err != nil {
		t.Fatalf("copy the tree: %v: %s", err, out)
	}
	if err := os.WriteFile(filepath.Join(outer, "outer-marker"), []byte("outer\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	before := snapshotHost(t)
	const script = `cat /oldroot/outer-marker 2>/dev/null || echo no-old; test -e /outer-marker || echo inner; test -d /proc/self && echo proc`
	for spec, want := range map[string]string{
		"/sysroot:/oldroot": "outer\ninner\nproc\n",
		"/sysroot":          "no-old\ninner\nproc\n",
	} {
		if out := mustRun(t, outer, "--pivot-root="+spec, "/bin/sh", "-c", script); out != want {
			t.Errorf("--pivot-root=%s: got %q, want %q", spec, out, want)
		}
	}
	checkNoLeaks(t, before)
}

// TestFilesCredentials: --set-credential (its C escapes undone) and
// --load-credential (from a file and from an AF_UNIX socket) reach the
// payload in $CREDENTIALS_DIRECTORY, on a ramfs, read-only, each file
// 0400 and owned by the payload's user, root or not.
func TestFilesCredentials(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "token")
	if err := os.WriteFile(file, []byte("from a file"), 0o600); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "cred.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Write([]byte("from a socket"))
			c.Close()
		}
	}()
	args := []string{"--set-credential=greeting:a\\x41\\tb\\n", "--load-credential=token:" + file, "--load-credential=sock:" + sock}
	const script = `cd "$CREDENTIALS_DIRECTORY" && echo "$CREDENTIALS_DIRECTORY" && grep -c ramfs /proc/self/mounts && ` +
		`for f in greeting token sock; do stat -c '%n %a %U' $f; cat $f; echo; done; touch new 2>/dev/null || echo read-only`
	for _, user := range []string{"root", "nobody"} {
		out := mustRun(t, busyboxTree, append(args, "-u", user, "/bin/sh", "-c", script)...)
		want := "/run/host/credentials\n1\n" +
			"greeting 400 " + user + "\naA\tb\n\n" +
			"token 400 " + user + "\nfrom a file\n" +
			"sock 400 " + user + "\nfrom a socket\nread-only\n"
		if out != want {
			t.Errorf("-u %s: got %q, want %q", user, out, want)
		}
	}
}

// TestFilesLinkJournal: --link-journal as systemd-nspawn does it, on a
// tree with a machine ID of its own. guest links the host's
// /var/log/journal/ID to the tree's (and the link stays, for journalctl
// -m); host makes the host's directory and binds it in; auto binds it in
// only where it exists; no and a try- that cannot be done write nothing.
func TestFilesLinkJournal(t *testing.T) {
	if _, err := os.Stat("/var/log/journal"); err != nil {
		t.Skip("needs the host's /var/log/journal")
	}
	tree := copyTree(t, busyboxTree)
	const id = "5f0c1e9a2b3d4c6e8f7a9b0c1d2e3f40"
	if err := os.WriteFile(filepath.Join(tree, "etc", "machine-id"), []byte(id+"\n"), 0o444); err != nil {
		t.Fatal(err)
	}
	hostDir := "/var/log/journal/" + id
	t.Cleanup(func() { os.RemoveAll(hostDir) })
	before := snapshotHost(t)

	mustRun(t, tree, "--link-journal=no", "true")
	if _, err := os.Lstat(hostDir); err == nil {
		t.Fatalf("--link-journal=no made %s", hostDir)
	}
	mustRun(t, tree, "-j", "true")
	if link, err := os.Readlink(hostDir); err != nil || link != filepath.Join(tree, "var/log/journal", id) {
		t.Fatalf("-j: %s -> %q (%v), want a link to the tree's", hostDir, link, err)
	}
	// auto binds the host's side in: through the link, the tree's own.
	if out := mustRun(t, tree, "/bin/sh", "-c", "test -d /var/log/journal/"+id+" && echo ok"); out != "ok\n" {
		t.Errorf("auto after guest: got %q", out)
	}
	os.Remove(hostDir)
	mustRun(t, tree, "--link-journal=host", "/bin/sh", "-c", "echo x > /var/log/journal/"+id+"/written-inside")
	if _, err := os.Stat(filepath.Join(hostDir, "written-inside")); err != nil {
		t.Errorf("--link-journal=host: what the container wrote is not in the host's %s: %v", hostDir, err)
	}
	os.RemoveAll(hostDir)
	checkNoLeaks(t, before)
}

// TestFilesEphemeral: -x runs on a throw-away overlay: what the payload
// writes is there while it runs, the tree is byte-identical after, the
// machine name has systemd-nspawn's random suffix, two run at once, and
// with -U the ID-mapped tree is writable through the overlay.
func TestFilesEphemeral(t *testing.T) {
	tree := copyTree(t, busyboxTree)
	before := snapshotHost(t)
	digest := treeDigest(t, tree)
	const script = `hostname; echo x > /marker && cat /marker; rm /bin/cat && echo removed`
	out := mustRun(t, tree, "-x", "/bin/sh", "-c", script)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !regexp.MustCompile(`^`+filepath.Base(tree)+`-[0-9a-f]{16}$`).MatchString(lines[0]) || lines[1] != "x" || lines[2] != "removed" {
		t.Errorf("-x: got %q, want the name with a 16-digit suffix, x, removed", out)
	}
	if out := mustRun(t, tree, "-x", "-U", "/bin/sh", "-c", "touch /bin/new && echo ok"); out != "ok\n" {
		t.Errorf("-x -U: got %q", out)
	}
	// Two at once, each its own name and copy.
	a := exec.Command(nspawnBin, "-q", "-x", "-D", tree, "/bin/sh", "-c", "echo a > /m; sleep 1; cat /m")
	var aout strings.Builder
	a.Stdout = &aout
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	if out := mustRun(t, tree, "-x", "/bin/sh", "-c", "echo b > /m; cat /m"); out != "b\n" {
		t.Errorf("second -x: got %q", out)
	}
	if err := a.Wait(); err != nil || aout.String() != "a\n" {
		t.Errorf("first -x: got %q (%v)", aout.String(), err)
	}
	if got := treeDigest(t, tree); got != digest {
		t.Errorf("-x changed the tree")
	}
	checkNoLeaks(t, before)
}

// TestFilesEphemeralMany: 20 throw-away containers of one tree at once,
// each writing the same path, each see only their own write.
func TestFilesEphemeralMany(t *testing.T) {
	const n = 20
	tree := copyTree(t, busyboxTree)
	digest := treeDigest(t, tree)
	before := snapshotHost(t)
	type out struct {
		i   int
		got string
		err error
	}
	results := make(chan out, n)
	for i := range n {
		go func() {
			mine := fmt.Sprint(i)
			cmd := exec.Command(nspawnBin, "-q", "-x", "-D", tree, "/bin/sh", "-c", "echo "+mine+" > /etc/shared; sleep 1; cat /etc/shared")
			b, err := cmd.Output()
			results <- out{i, string(b), err}
		}()
	}
	for range n {
		r := <-results
		if r.err != nil || r.got != fmt.Sprintf("%d\n", r.i) {
			t.Errorf("container %d: got %q (%v), want its own write", r.i, r.got, r.err)
		}
	}
	if treeDigest(t, tree) != digest {
		t.Errorf("the -x containers changed the tree")
	}
	checkNoLeaks(t, before)
}
