package tests

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The tree's /etc/machine-id is the container's UUID, over --uuid, as in
// systemd-nspawn; missing, empty or "uninitialized" leaves it to --uuid;
// anything else is refused before the start. The file is never written.
func TestMachineIDFromTree(t *testing.T) {
	tree := copyTree(t, busyboxTree)
	idFile := filepath.Join(tree, "etc/machine-id")
	probe := []string{"sh", "-c", "echo $container_uuid; cat /run/host/container-uuid"}
	const given = "11111111-2222-3333-4444-555555555555"
	for _, c := range []struct {
		name, content, want string
	}{
		{"valid", "0123456789ABCDEF0123456789abcdef\n", "01234567-89ab-cdef-0123-456789abcdef"},
		{"no newline", "0123456789abcdef0123456789abcdef", "01234567-89ab-cdef-0123-456789abcdef"},
		{"empty", "", given},
		{"uninitialized", "uninitialized\n", given},
	} {
		t.Run(c.name, func(t *testing.T) {
			if err := os.WriteFile(idFile, []byte(c.content), 0o444); err != nil {
				t.Fatal(err)
			}
			digest := treeDigest(t, tree)
			out := mustRun(t, tree, append([]string{"--uuid=" + given}, probe...)...)
			if want := c.want + "\n" + c.want + "\n"; out != want {
				t.Errorf("got %q, want %q", out, want)
			}
			if treeDigest(t, tree) != digest {
				t.Error("the tree changed")
			}
		})
	}
	for _, c := range []struct{ name, content, want string }{
		{"zeros", "00000000000000000000000000000000\n", "all zeros"},
		{"dashed", "01234567-89ab-cdef-0123-456789abcdef\n", "not a machine ID"},
		{"garbage", "hello\n", "not a machine ID"},
	} {
		t.Run(c.name, func(t *testing.T) {
			checkErrorRun(t, errCase{
				setup: func(t *testing.T, tree string) {
					if err := os.WriteFile(filepath.Join(tree, "etc/machine-id"), []byte(c.content), 0o444); err != nil {
						t.Fatal(err)
					}
				},
				args:   func(tree string) []string { return quietIn(tree, "true") },
				status: 1,
				want:   []string{"/etc/machine-id", c.want},
			})
		})
	}
}

// Each --resolv-conf mode against the host's /etc/resolv.conf.
func TestResolvConf(t *testing.T) {
	host, err := os.ReadFile("/etc/resolv.conf")
	if err != nil {
		t.Skip("the host has no /etc/resolv.conf")
	}
	tree := copyTree(t, debianTree)
	file := filepath.Join(tree, "etc/resolv.conf")
	reset := func(content string, mode os.FileMode) {
		os.Remove(file)
		if err := os.WriteFile(file, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		os.Chmod(file, mode)
	}
	probe := "cat /etc/resolv.conf; stat -c %a /etc/resolv.conf; grep -c ' /etc/resolv.conf ' /proc/self/mountinfo || true"
	for _, c := range []struct {
		args []string
		want string // content, mode and mount count inside
		left string // the tree's file afterwards
	}{
		// A private network (the default) has nothing to resolve with.
		{nil, "tree\n755\n0\n", "tree\n"},
		{[]string{"--share-network"}, string(host) + "755\n0\n", string(host)},
		{[]string{"--resolv-conf=copy-host"}, string(host) + "755\n0\n", string(host)},
		{[]string{"--resolv-conf=replace-host"}, string(host) + "644\n0\n", string(host)},
		{[]string{"--resolv-conf=bind-host"}, string(host) + "755\n1\n", "tree\n"},
		{[]string{"--resolv-conf=off", "--share-network"}, "tree\n755\n0\n", "tree\n"},
		{[]string{"--read-only", "--share-network"}, string(host) + "755\n1\n", "tree\n"},
	} {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			reset("tree\n", 0o755)
			out := mustRun(t, tree, append(c.args, "sh", "-c", probe)...)
			if out != c.want {
				t.Errorf("inside: %q, want %q", out, c.want)
			}
			if left, _ := os.ReadFile(file); string(left) != c.left {
				t.Errorf("tree's file afterwards: %q, want %q", left, c.left)
			}
		})
	}
	t.Run("delete", func(t *testing.T) {
		reset("tree\n", 0o644)
		mustRun(t, tree, "--resolv-conf=delete", "true")
		if _, err := os.Lstat(file); !os.IsNotExist(err) {
			t.Errorf("still there: %v", err)
		}
	})
	t.Run("copy leaves a symlink alone", func(t *testing.T) {
		os.Remove(file)
		os.Symlink("../run/resolv.conf", file)
		r := run(t, "", "-D", tree, "--resolv-conf=copy-host", "true")
		if r.status != 0 || strings.Contains(r.stderr, "ignoring") {
			t.Errorf("status %d, stderr %q", r.status, r.stderr)
		}
		if l, _ := os.Readlink(file); l != "../run/resolv.conf" {
			t.Errorf("symlink now %q", l)
		}
	})
	checkErrorRun(t, errCase{args: func(tree string) []string { return quietIn(tree, "--resolv-conf=copy", "true") }, status: 1, want: []string{"--resolv-conf=copy", "copy-host"}})
}

// --timezone: auto keeps a tree already in the host's zone as it is; the
// other modes do what they say; a failed start changes nothing.
func TestTimezone(t *testing.T) {
	hostLink, err := os.Readlink("/etc/localtime")
	if err != nil {
		t.Skip("the host's /etc/localtime is not a symlink")
	}
	hostZone, err := os.ReadFile("/etc/localtime")
	if err != nil {
		t.Skip("the host's /etc/localtime is dangling")
	}
	tree := copyTree(t, debianTree)
	file := filepath.Join(tree, "etc/localtime")
	digest := treeDigest(t, tree)
	mustRun(t, tree, "true")
	if treeDigest(t, tree) != digest {
		t.Error("--timezone=auto changed a tree in the host's zone")
	}
	zone := hostLink[strings.Index(hostLink, "zoneinfo/")+len("zoneinfo/"):]

	os.Remove(file)
	mustRun(t, tree, "--timezone=symlink", "true")
	if l, _ := os.Readlink(file); l != "../usr/share/zoneinfo/"+zone {
		t.Errorf("symlink: %q, want ../usr/share/zoneinfo/%s", l, zone)
	}
	mustRun(t, tree, "--timezone=copy", "true")
	if got, _ := os.ReadFile(file); string(got) != string(hostZone) {
		t.Error("copy: not the host's zone file")
	}
	if st, err := os.Lstat(file); err != nil || !st.Mode().IsRegular() {
		t.Errorf("copy: not a regular file: %v", err)
	}
	out := mustRun(t, tree, "--timezone=bind", "sh", "-c", "grep -c ' /etc/localtime ' /proc/self/mountinfo")
	if out != "1\n" {
		t.Errorf("bind: %q mounts on /etc/localtime, want 1", out)
	}
	digest = treeDigest(t, tree)
	if r := run(t, "", "-q", "-D", tree, "--timezone=delete", "no-such-command"); r.status != 127 {
		t.Errorf("status %d, want 127", r.status)
	}
	if treeDigest(t, tree) != digest {
		t.Error("a start that failed changed the tree")
	}
	mustRun(t, tree, "--timezone=delete", "true")
	if _, err := os.Lstat(file); !os.IsNotExist(err) {
		t.Errorf("delete: still there: %v", err)
	}
	checkErrorRun(t, errCase{args: func(tree string) []string { return quietIn(tree, "--timezone=utc", "true") }, status: 1, want: []string{"--timezone=utc", "symlink"}})
}
