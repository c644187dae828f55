package tests

import (
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// TestWalkingSkeleton is the README's first example: a command runs as PID
// 1 under the machine's hostname, as root.
func TestWalkingSkeleton(t *testing.T) {
	before := snapshotHost(t)
	for _, tree := range []string{busyboxTree, debianTree} {
		out := mustRun(t, tree, "/bin/sh", "-c", "hostname; echo $$; id -u")
		want := filepath.Base(tree) + "\n1\n0\n"
		if out != want {
			t.Errorf("%s: got %q, want %q", tree, out, want)
		}
	}
	checkNoLeaks(t, before)
}

func TestArgumentsAfterCommandGoToIt(t *testing.T) {
	out := mustRun(t, busyboxTree, "echo", "-n", "--bind=/x", "-la")
	if out != "--bind=/x -la" {
		t.Errorf("got %q", out)
	}
}

func TestDefaultCommandIsRootsLoginShell(t *testing.T) {
	r := run(t, "echo shell=$0; pwd\n", "-q", "-D", debianTree)
	if r.status != 0 || r.stdout != "shell=-bash\n/root\n" {
		t.Errorf("status %d, stdout %q, stderr %q", r.status, r.stdout, r.stderr)
	}
}

func TestMachineAndHostname(t *testing.T) {
	if out := mustRun(t, busyboxTree, "-M", "web1", "hostname"); out != "web1\n" {
		t.Errorf("-M web1: hostname %q", out)
	}
	if out := mustRun(t, busyboxTree, "-M", "web1", "--hostname=db.example", "hostname"); out != "db.example\n" {
		t.Errorf("--hostname: hostname %q", out)
	}
}

func TestEnvironment(t *testing.T) {
	t.Setenv("TERM", "xterm-test")
	t.Setenv("SECRET_HOST_VAR", "leak")
	t.Setenv("PASSED", "from-host")
	out := mustRun(t, busyboxTree, "--uuid=0123456789abcdef0123456789abcdef", "-E", "MODE=ci", "-E", "PASSED", "-E", "HOME=/override", "env")
	env := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		k, v, _ := strings.Cut(l, "=")
		env[k] = v
	}
	want := map[string]string{
		"container":      "nspawn",
		"container_uuid": "01234567-89ab-cdef-0123-456789abcdef",
		"PATH":           "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"TERM":           "xterm-test",
		"HOME":           "/override",
		"USER":           "root",
		"LOGNAME":        "root",
		"SHELL":          "/bin/sh",
		"MODE":           "ci",
		"PASSED":         "from-host",
	}
	for k, v := range want {
		if env[k] != v {
			t.Errorf("%s=%q, want %q", k, env[k], v)
		}
	}
	if _, ok := env["SECRET_HOST_VAR"]; ok {
		t.Error("nspawn's own environment leaked into the payload")
	}
}

func TestUserAndGroups(t *testing.T) {
	out := mustRun(t, debianTree, "-u", "tester", "/bin/sh", "-c", "id; echo $HOME $USER $LOGNAME $SHELL; pwd")
	want := "uid=1000(tester) gid=1000(tester) groups=1000(tester),29(audio),44(video)\n/home/tester tester tester /bin/bash\n/\n"
	if out != want {
		t.Errorf("got %q, want %q", out, want)
	}
	out = mustRun(t, busyboxTree, "-u", "1000", "--chdir=/tmp", "/bin/sh", "-c", "id -u; pwd")
	if out != "1000\n/tmp\n" {
		t.Errorf("-u 1000 --chdir=/tmp: got %q", out)
	}
}

// TestFilesystem checks the mounts systemd-nspawn gives a container.
func TestFilesystem(t *testing.T) {
	out := mustRun(t, busyboxTree, "cat", "/proc/self/mountinfo")
	type mnt struct{ fstype, opts string }
	got := map[string]mnt{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Fields(line)
		sep := 0
		for i, x := range f {
			if x == "-" {
				sep = i
				break
			}
		}
		got[f[4]] = mnt{f[sep+1], f[5]}
	}
	for path, want := range map[string]struct {
		fstype string
		flags  []string
	}{
		"/proc":       {"proc", []string{"rw", "nosuid", "nodev", "noexec"}},
		"/proc/sys":   {"proc", []string{"ro"}},
		"/sys":        {"sysfs", []string{"ro", "nosuid", "nodev", "noexec"}},
		"/dev":        {"tmpfs", []string{"rw", "nosuid"}},
		"/dev/pts":    {"devpts", []string{"rw", "nosuid", "noexec"}},
		"/dev/shm":    {"tmpfs", []string{"rw", "nosuid", "nodev"}},
		"/dev/mqueue": {"mqueue", []string{"rw", "nosuid", "nodev", "noexec"}},
		"/run":        {"tmpfs", []string{"rw", "nosuid", "nodev"}},
		"/tmp":        {"tmpfs", []string{"rw", "nosuid", "nodev"}},
	} {
		m, ok := got[path]
		if !ok {
			t.Errorf("%s is not mounted", path)
			continue
		}
		if m.fstype != want.fstype {
			t.Errorf("%s: type %s, want %s", path, m.fstype, want.fstype)
		}
		for _, f := range want.flags {
			if !strings.Contains(","+m.opts+",", ","+f+",") {
				t.Errorf("%s: options %s lack %s", path, m.opts, f)
			}
		}
	}
	if m := got["/"]; !strings.Contains(m.opts, "rw") {
		t.Errorf("/ options %s: want rw without --read-only", m.opts)
	}
}

func TestDevContents(t *testing.T) {
	out := mustRun(t, busyboxTree, "/bin/sh", "-c", "ls -A /dev; for l in ptmx fd stdin stdout stderr; do readlink /dev/$l; done; echo x > /dev/null && head -c 4 /dev/zero | od -An -tx1")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	entries := strings.Fields(strings.Join(lines[:len(lines)-6], " "))
	sort.Strings(entries)
	want := []string{"fd", "full", "mqueue", "null", "ptmx", "pts", "random", "shm", "stderr", "stdin", "stdout", "tty", "urandom", "zero"}
	// /dev/net/tun and /dev/fuse where the host has them.
	for dev, entry := range map[string]string{"/dev/net/tun": "net", "/dev/fuse": "fuse"} {
		if _, err := os.Stat(dev); err == nil {
			want = append(want, entry)
		}
	}
	sort.Strings(want)
	if strings.Join(entries, " ") != strings.Join(want, " ") {
		t.Errorf("/dev holds %q, want %q", entries, want)
	}
	links := lines[len(lines)-6 : len(lines)-1]
	if strings.Join(links, " ") != "pts/ptmx /proc/self/fd /proc/self/fd/0 /proc/self/fd/1 /proc/self/fd/2" {
		t.Errorf("/dev links: %q", links)
	}
	if strings.TrimSpace(lines[len(lines)-1]) != "00 00 00 00" {
		t.Errorf("/dev/zero read %q", lines[len(lines)-1])
	}
}

func TestNamespacesAreNew(t *testing.T) {
	kinds := []string{"mnt", "pid", "uts", "ipc", "cgroup", "net"}
	if _, err := os.Stat("/proc/self/ns/time"); err == nil {
		kinds = append(kinds, "time")
	}
	args := []string{"/bin/sh", "-c", "for k in " + strings.Join(kinds, " ") + "; do readlink /proc/self/ns/$k; done"}
	inside := strings.Fields(mustRun(t, busyboxTree, args...))
	for i, k := range kinds {
		host, _ := os.Readlink("/proc/self/ns/" + k)
		if i >= len(inside) || inside[i] == host {
			t.Errorf("%s namespace is the host's (%s)", k, host)
		}
	}
}

func TestPrivateNetworkHasOnlyLoopbackUp(t *testing.T) {
	out := mustRun(t, busyboxTree, "ip", "-o", "link")
	if strings.Count(out, "\n") != 1 || !strings.Contains(out, "lo:") || !strings.Contains(out, "UP") {
		t.Errorf("ip link inside: %q", out)
	}
	if out := mustRun(t, busyboxTree, "--private-network", "ip", "-o", "link"); strings.Count(out, "\n") != 1 {
		t.Errorf("--private-network: %q", out)
	}
	// The loopback works: a listener and a client inside talk over it.
	out = mustRun(t, busyboxTree, "/bin/sh", "-c", "nc -l -p 7777 & sleep 0.2; echo over-lo | nc 127.0.0.1 7777; wait")
	if out != "over-lo\n" {
		t.Errorf("loopback traffic: %q", out)
	}
}

func TestShareNetworkUsesHostNamespace(t *testing.T) {
	host, _ := os.Readlink("/proc/self/ns/net")
	out := strings.TrimSpace(mustRun(t, busyboxTree, "--share-network", "readlink", "/proc/self/ns/net"))
	if out != host {
		t.Errorf("--share-network: net ns %s, host %s", out, host)
	}
}

func TestBindMounts(t *testing.T) {
	before := snapshotHost(t)
	tree := copyTree(t, busyboxTree)
	data := t.TempDir()
	os.WriteFile(filepath.Join(data, "in"), []byte("from-host\n"), 0o644)
	ssl := t.TempDir()
	os.WriteFile(filepath.Join(ssl, "cert"), []byte("cert\n"), 0o644)
	digestSSL := treeDigest(t, ssl)

	out := mustRun(t, tree, "--bind="+data+":/data", "--bind-ro="+ssl+":/etc/ssl", "--tmpfs=/scratch:size=1m",
		"--chdir=/data", "/bin/sh", "-c",
		"cat in; echo from-container > out; cat /etc/ssl/cert; touch /etc/ssl/x 2>/dev/null && echo ssl-writable; "+
			"touch /scratch/f && echo scratch-ok; grep -c ' /scratch .* tmpfs ' /proc/self/mountinfo")
	if out != "from-host\ncert\nscratch-ok\n1\n" {
		t.Errorf("got %q", out)
	}
	if b, _ := os.ReadFile(filepath.Join(data, "out")); string(b) != "from-container\n" {
		t.Errorf("write through --bind not on the host: %q", b)
	}
	if treeDigest(t, ssl) != digestSSL {
		t.Error("--bind-ro source changed")
	}
	checkNoLeaks(t, before)
}

// TestBindRecursion: rbind (the default) carries the source's submounts,
// norbind does not.
func TestBindRecursion(t *testing.T) {
	src := t.TempDir()
	sub := filepath.Join(src, "sub")
	os.Mkdir(sub, 0o755)
	if err := hostCmd("mount", "-t", "tmpfs", "tmpfs", sub); err != nil {
		t.Fatal(err)
	}
	defer hostCmd("umount", sub)
	os.WriteFile(filepath.Join(sub, "marker"), nil, 0o644)
	if out := mustRun(t, busyboxTree, "--bind="+src+":/mnt", "ls", "/mnt/sub"); out != "marker\n" {
		t.Errorf("rbind: %q", out)
	}
	if out := mustRun(t, busyboxTree, "--bind="+src+":/mnt:norbind", "ls", "/mnt/sub"); out != "" {
		t.Errorf("norbind: %q", out)
	}
}

func TestBindFromInsideTree(t *testing.T) {
	out := mustRun(t, busyboxTree, "--bind-ro=+/etc:/srv", "cat", "/srv/os-release")
	if !strings.Contains(out, "BusyBox") {
		t.Errorf("got %q", out)
	}
}

// TestBindDestinationSymlinkStaysInTree: a tree whose /mnt is a symlink to
// /etc must not make nspawn mount over the host's /etc (CVE-2021-30465).
func TestBindDestinationSymlinkStaysInTree(t *testing.T) {
	before := snapshotHost(t)
	tree := copyTree(t, busyboxTree)
	os.Remove(filepath.Join(tree, "mnt"))
	os.Symlink("/etc", filepath.Join(tree, "mnt"))
	src := t.TempDir()
	os.WriteFile(filepath.Join(src, "evil"), nil, 0o644)
	mustRun(t, tree, "--bind="+src+":/mnt/x", "true")
	if _, err := os.Stat("/etc/x"); err == nil {
		os.Remove("/etc/x")
		t.Fatal("nspawn created /etc/x on the host")
	}
	checkNoLeaks(t, before)
}

func TestReadOnly(t *testing.T) {
	tree := copyTree(t, busyboxTree)
	digest := treeDigest(t, tree)
	out := mustRun(t, tree, "--read-only", "/bin/sh", "-c",
		"touch /etc/x 2>/dev/null && echo root-writable; touch /tmp/x /run/x /dev/shm/x && echo api-writable")
	if out != "api-writable\n" {
		t.Errorf("got %q", out)
	}
	if treeDigest(t, tree) != digest {
		t.Error("tree changed under --read-only")
	}
}

func TestQuiet(t *testing.T) {
	r := run(t, "", "-D", busyboxTree, "true")
	if r.status != 0 || !strings.Contains(r.stderr, "Spawning container") {
		t.Errorf("without -q: status %d, stderr %q", r.status, r.stderr)
	}
	r = run(t, "", "-q", "-D", busyboxTree, "true")
	if r.status != 0 || r.stderr != "" {
		t.Errorf("with -q: status %d, stderr %q", r.status, r.stderr)
	}
}

// hostCmd runs a command on the host, for test fixtures.
func hostCmd(name string, args ...string) error {
	return exec.Command(name, args...).Run()
}
