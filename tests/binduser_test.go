package tests

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// --bind-user (issue 16), beside systemd-nspawn 252 on copies of the
// bookworm tree. The bound user is made up for the test in a throw-away
// way: each run goes in a mount namespace of its own whose /etc/passwd and
// /etc/group are copies of the host's with the user added, so the host's
// files are never written and nothing is left whatever happens.

const (
	boundName = "nspawnbu"
	boundID   = 4321 // its host UID and GID
)

// boundUserHost makes the user's home (holding "hello", the user's) and
// the passwd and group copies, and returns the command prefix that runs a
// program with them as the host's.
func boundUserHost(t *testing.T) (home string, prefix []string) {
	t.Helper()
	passwd, err := os.ReadFile("/etc/passwd")
	if err != nil {
		t.Fatal(err)
	}
	group, err := os.ReadFile("/etc/group")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(passwd)+string(group), "\n") {
		f := strings.Split(line, ":")
		if f[0] == boundName || len(f) > 2 && f[2] == "4321" {
			t.Skipf("the host has %s or ID %d already: %s", boundName, boundID, line)
		}
	}
	dir := t.TempDir()
	home = filepath.Join(dir, "home")
	writeFile(t, filepath.Join(home, "hello"), "hi\n", 0o644)
	for _, p := range []string{home, filepath.Join(home, "hello")} {
		if err := os.Chown(p, boundID, boundID); err != nil {
			t.Fatal(err)
		}
	}
	writeFile(t, filepath.Join(dir, "passwd"), string(passwd)+boundName+":x:4321:4321:Bound:"+home+":/bin/sh\n", 0o644)
	writeFile(t, filepath.Join(dir, "group"), string(group)+boundName+":x:4321:\n", 0o644)
	prefix = []string{"unshare", "-m", "--propagation", "private", "sh", "-c",
		`mount --bind "$1" /etc/passwd && mount --bind "$2" /etc/group && shift 2 && exec "$@"`,
		"sh", filepath.Join(dir, "passwd"), filepath.Join(dir, "group")}
	return home, prefix
}

// runWithUser runs impl with args under prefix; stdout, stderr, status.
func runWithUser(t *testing.T, prefix []string, impl string, args ...string) result {
	t.Helper()
	if impl != nspawnBin {
		args = append([]string{"--register=no", "--keep-unit"}, args...)
	}
	cmd := exec.Command(prefix[0], append(append(prefix[1:], impl), args...)...)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitWithin(t, cmd, impl+" "+strings.Join(args, " "), errb.String)
	return result{out.String(), errb.String(), exitStatus(cmd.ProcessState)}
}

// TestBindUser: what both show inside (the home's owners, the records,
// the maps with the host IDs marked) and that a file the user writes is
// the host user's; then what only nspawn adds, the user known to a tree
// without nss-systemd, and --user of it; the tree never written.
func TestBindUser(t *testing.T) {
	before := snapshotHost(t)
	sdn, _ := exec.LookPath("systemd-nspawn")
	const both = `stat -c '%u:%g %a %n' /run/host/home/nspawnbu /run/host/home/nspawnbu/hello
ls /run/host/userdb
cat /run/host/userdb/nspawnbu.user /run/host/userdb/nspawnbu.group
for m in uid_map gid_map; do while read c h n; do [ "$h" = 4321 ] || h=R; echo "$m $c $h $n"; done < /proc/self/$m; done
setpriv --reuid=60514 --regid=60514 --clear-groups sh -c 'echo mine > /run/host/home/nspawnbu/mine' && echo written`
	want := `60514:60514 755 /run/host/home/nspawnbu
60514:60514 644 /run/host/home/nspawnbu/hello
60514.group
60514.user
nspawnbu.group
nspawnbu.user
{"userName":"nspawnbu","uid":60514,"gid":60514,"homeDirectory":"/run/host/home/nspawnbu","service":"io.systemd.NSpawn"}
{"groupName":"nspawnbu","gid":60514,"service":"io.systemd.NSpawn"}
uid_map 0 R 60514
uid_map 60514 4321 1
uid_map 60515 R 5021
gid_map 0 R 60514
gid_map 60514 4321 1
gid_map 60515 R 5021
written
`
	impls := []string{nspawnBin}
	if sdn != "" {
		impls = append(impls, sdn)
	}
	for _, impl := range impls {
		home, prefix := boundUserHost(t)
		tree := copyTree(t, debianTree)
		digest := treeDigest(t, tree)
		r := runWithUser(t, prefix, impl, "-q", "--console=pipe", "-D", tree, "-M", "binduser", "-U", "--bind-user="+boundName, "sh", "-c", both)
		if r.status != 0 || r.stdout != want {
			t.Errorf("%s: status %d, stderr %q, got:\n%s\nwant:\n%s", impl, r.status, r.stderr, r.stdout, want)
		}
		var st syscall.Stat_t
		if err := syscall.Stat(filepath.Join(home, "mine"), &st); err != nil || st.Uid != boundID || st.Gid != boundID {
			t.Errorf("%s: the user's file on the host: %v, owned by %d:%d; want %d:%d", impl, err, st.Uid, st.Gid, boundID, boundID)
		}
		if impl == nspawnBin && treeDigest(t, tree) != digest {
			t.Errorf("nspawn changed the tree")
		}
	}

	// Only nspawn: bookworm has no nss-systemd, so 252's user is unknown
	// there; ours is in the passwd and group shown, and --user takes it.
	_, prefix := boundUserHost(t)
	tree := copyTree(t, debianTree)
	digest := treeDigest(t, tree)
	r := runWithUser(t, prefix, nspawnBin, "-q", "--console=pipe", "-D", tree, "-U", "--bind-user="+boundName, "sh", "-c",
		"id nspawnbu; getent passwd nspawnbu; getent group nspawnbu; grep -c . /etc/passwd")
	lines, _ := os.ReadFile(filepath.Join(tree, "etc", "passwd"))
	wantOwn := "uid=60514(nspawnbu) gid=60514(nspawnbu) groups=60514(nspawnbu)\n" +
		"nspawnbu:x:60514:60514:nspawnbu:/run/host/home/nspawnbu:/bin/bash\n" +
		"nspawnbu:x:60514:\n" + strconv.Itoa(strings.Count(string(lines), "\n")+1) + "\n"
	if r.status != 0 || r.stdout != wantOwn {
		t.Errorf("the user inside: status %d, stderr %q, got:\n%s\nwant:\n%s", r.status, r.stderr, r.stdout, wantOwn)
	}
	r = runWithUser(t, prefix, nspawnBin, "-q", "--console=pipe", "-D", tree, "-U", "--bind-user="+boundName, "--user="+boundName, "sh", "-c",
		"id; cat /run/host/home/nspawnbu/hello")
	if r.status != 0 || r.stdout != "uid=60514(nspawnbu) gid=60514(nspawnbu) groups=60514(nspawnbu)\nhi\n" {
		t.Errorf("--user=%s: status %d, stderr %q, stdout %q", boundName, r.status, r.stderr, r.stdout)
	}
	if treeDigest(t, tree) != digest {
		t.Errorf("nspawn changed the tree")
	}
	checkNoLeaks(t, before)
}

// TestBindUserModes: the user bound under each way of showing the tree
// that systemd-nspawn 252 takes with --bind-user (-x, --volatile,
// --read-only, each ownership), the tree unchanged (but by chown).
func TestBindUserModes(t *testing.T) {
	before := snapshotHost(t)
	const script = `stat -c '%u:%g' /run/host/home/nspawnbu/hello; id -u nspawnbu; grep -c 4321 /proc/self/uid_map`
	for _, args := range [][]string{
		{"-U", "-x"},
		{"-U", "--volatile=overlay"},
		{"-U", "--volatile=state"},
		{"-U", "--read-only"},
		{"-U", "--private-users-ownership=map"},
		{"-U", "--private-users-ownership=chown"},
		{"--private-users=1048576", "--private-users-ownership=map"},
	} {
		_, prefix := boundUserHost(t)
		tree := copyTree(t, debianTree)
		digest := treeDigest(t, tree)
		r := runWithUser(t, prefix, nspawnBin, append(append([]string{"-q", "--console=pipe", "-D", tree, "--bind-user=" + boundName}, args...), "sh", "-c", script)...)
		if r.status != 0 || r.stdout != "60514:60514\n60514\n1\n" {
			t.Errorf("%v: status %d, stderr %q, stdout %q", args, r.status, r.stderr, r.stdout)
		}
		if args[1] != "--private-users-ownership=chown" && treeDigest(t, tree) != digest {
			t.Errorf("%v: the tree changed", args)
		}
	}
	checkNoLeaks(t, before)
}

// TestBindUserRefused: each refused line is one line, exit 1, before
// anything is made (the tree unchanged); beside systemd-nspawn 252's
// refusal where it refuses too.
func TestBindUserRefused(t *testing.T) {
	before := snapshotHost(t)
	sdn, _ := exec.LookPath("systemd-nspawn")
	home, prefix := boundUserHost(t)
	os.RemoveAll(home)
	for _, tc := range []struct {
		args []string
		want string
		// sdnRefuses: systemd-nspawn 252 refuses it too (not all before
		// starting).
		sdnRefuses bool
	}{
		{[]string{"--bind-user=" + boundName}, "nspawn: --bind-user=nspawnbu: needs a user namespace with a range of its own", true},
		{[]string{"-U", "--bind-user=nosuchuser"}, "nspawn: --bind-user=nosuchuser: the host has no such user in /etc/passwd", true},
		{[]string{"-U", "--bind-user=root"}, "nspawn: --bind-user=root: binding root is not supported", true},
		{[]string{"-U", "--bind-user=9bad"}, "nspawn: --bind-user=9bad: not a valid user name", true},
		{[]string{"-U", "--bind-user=" + boundName}, "nspawn: --bind-user=nspawnbu: the user's home " + home + " does not exist", true},
		{[]string{"-U", "--bind-user=daemon"}, "nspawn: --bind-user=daemon: the tree's /etc/passwd has a user daemon already", true},
	} {
		tree := copyTree(t, debianTree)
		digest := treeDigest(t, tree)
		r := runWithUser(t, prefix, nspawnBin, append(append([]string{"-q", "--console=pipe", "-D", tree}, tc.args...), "true")...)
		if r.status != 1 || !strings.HasPrefix(r.stderr, tc.want) || strings.Count(r.stderr, "\n") != 1 {
			t.Errorf("%v: status %d, stderr %q; want one line starting %q", tc.args, r.status, r.stderr, tc.want)
		}
		if treeDigest(t, tree) != digest {
			t.Errorf("%v: the tree changed", tc.args)
		}
		if sdn != "" && tc.sdnRefuses {
			r := runWithUser(t, prefix, sdn, append(append([]string{"-q", "--console=pipe", "-D", copyTree(t, debianTree)}, tc.args...), "true")...)
			if r.status == 0 {
				t.Errorf("%v: systemd-nspawn 252 took it: %q", tc.args, r.stderr)
			}
		}
	}
	checkNoLeaks(t, before)
}
