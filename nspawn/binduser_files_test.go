package nspawn

import (
	"os"
	"path/filepath"
	"reflect"
	"syscall"
	"testing"
)

// TestPlanBindUsers: the UIDs given (60514 taken by the tree is skipped,
// a name given twice is bound once), the homes' binds, the passwd and
// group shown, and the maps; a tree with nss-systemd keeps its files.
func TestPlanBindUsers(t *testing.T) {
	dir := t.TempDir()
	home := filepath.Join(dir, "home")
	os.MkdirAll(home, 0o755)
	tree := filepath.Join(dir, "tree")
	fakeTree(tree)
	os.MkdirAll(filepath.Join(tree, "etc"), 0o755)
	os.WriteFile(filepath.Join(tree, "etc", "passwd"), []byte("root:x:0:0::/root:/bin/sh\nsvc:x:60514:60514::/:/bin/sh"), 0o644)
	os.WriteFile(filepath.Join(tree, "etc", "group"), []byte("root:x:0:\n"), 0o644)
	facts := testFacts(dir)
	facts.Files = map[string]HostFile{
		"/etc/passwd": {Content: []byte("alice:x:1234:1234::" + home + ":/bin/zsh\nbob:x:1300:1301::" + home + ":/bin/sh\n")},
		"/etc/group":  {Content: []byte("alice:x:1234:\nbob:x:1301:\n")},
	}
	o, err := ParseOptions([]string{"-D", tree, "--private-users=1048576", "--bind-user=alice", "--bind-user=bob", "--bind-user=alice", "true"})
	if err != nil {
		t.Fatal(err)
	}
	p, err := BuildPlan(o, facts)
	if err != nil {
		t.Fatal(err)
	}
	want := []boundUser{{Name: "alice", UID: 60515, HostUID: 1234, HostGID: 1234}, {Name: "bob", UID: 60516, HostUID: 1300, HostGID: 1301}}
	if !reflect.DeepEqual(p.BoundUsers.Users, want) {
		t.Errorf("users %+v, want %+v", p.BoundUsers.Users, want)
	}
	if got, want := p.BoundUsers.Passwd, "root:x:0:0::/root:/bin/sh\nsvc:x:60514:60514::/:/bin/sh\n"+
		"alice:x:60515:60515:alice:/run/host/home/alice:/bin/sh\nbob:x:60516:60516:bob:/run/host/home/bob:/bin/sh\n"; got != want {
		t.Errorf("passwd %q, want %q", got, want)
	}
	if got, want := p.BoundUsers.Group, "root:x:0:\nalice:x:60515:\nbob:x:60516:\n"; got != want {
		t.Errorf("group %q, want %q", got, want)
	}
	staged := p.Mounts.Staged[len(p.Mounts.Staged)-4:]
	for i, target := range []string{"/run/host", "/run/host/home", "/run/host/home/alice", "/run/host/home/bob"} {
		if staged[i].Target != target {
			t.Errorf("staged mount %d at %s, want %s", i, staged[i].Target, target)
		}
	}
	if staged[2].Source != home {
		t.Errorf("alice's bind from %s, want %s", staged[2].Source, home)
	}
	uids, gids := p.BoundUsers.idMaps(p.UserNS)
	if uids[2] != (syscall.SysProcIDMap{ContainerID: 60516, HostID: 1300, Size: 1}) || gids[2] != (syscall.SysProcIDMap{ContainerID: 60516, HostID: 1301, Size: 1}) {
		t.Errorf("maps %v / %v", uids, gids)
	}

	os.WriteFile(filepath.Join(tree, "etc", "nsswitch.conf"), []byte("passwd: files systemd\ngroup: files systemd\n"), 0o644)
	if p, err = BuildPlan(o, facts); err != nil || p.BoundUsers.Passwd != "" || p.BoundUsers.Group != "" {
		t.Errorf("with nss-systemd: %v, passwd %q, group %q; want both left alone", err, p.BoundUsers.Passwd, p.BoundUsers.Group)
	}
}
