package users

import "testing"

func TestValidName(t *testing.T) {
	for name, want := range map[string]bool{
		"alice": true, "_apt": true, "a-b_c9": true, "A": true,
		"": false, "9x": false, "-x": false, "al:ice": false, "a.b": false, "a b": false,
		"abcdefghijklmnopqrstuvwxyz01234": true, "abcdefghijklmnopqrstuvwxyz012345": false,
	} {
		if got := ValidName(name); got != want {
			t.Errorf("ValidName(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestFindUserAndGroup(t *testing.T) {
	passwd := []byte("root:x:0:0:root:/root:/bin/bash\nbroken\nalice:x:1234:1235:Alice:/home/alice:/bin/zsh\n")
	group := []byte("root:x:0:\nalice:x:1235:\n")
	u, ok := FindUser(passwd, "alice")
	if !ok || u != (Entry{Name: "alice", UID: 1234, GID: 1235, Gecos: "Alice", Home: "/home/alice", Shell: "/bin/zsh"}) {
		t.Errorf("FindUser(alice) = %+v, %v", u, ok)
	}
	if _, ok := FindUser(passwd, "bob"); ok {
		t.Error("FindUser(bob) found one")
	}
	if g, ok := GroupName(group, 1235); !ok || g != "alice" {
		t.Errorf("GroupName(1235) = %q, %v", g, ok)
	}
	if _, ok := GroupName(group, 7); ok {
		t.Error("GroupName(7) found one")
	}
	if !HasName(passwd, 7, "root") || HasName(passwd, 7, "broken") || !HasName(group, 4, "alice") {
		t.Error("HasName")
	}
}

// The records are systemd-nspawn 252's, byte for byte (as it wrote them
// on this host for a user at 60514).
func TestRecords(t *testing.T) {
	if got, want := UserRecord("tuser", 60514), `{"userName":"tuser","uid":60514,"gid":60514,"homeDirectory":"/run/host/home/tuser","service":"io.systemd.NSpawn"}`+"\n"; got != want {
		t.Errorf("UserRecord = %s, want %s", got, want)
	}
	if got, want := GroupRecord("tuser", 60514), `{"groupName":"tuser","gid":60514,"service":"io.systemd.NSpawn"}`+"\n"; got != want {
		t.Errorf("GroupRecord = %s, want %s", got, want)
	}
	if got, want := PasswdLine("tuser", 60514, "/bin/sh"), "tuser:x:60514:60514:tuser:/run/host/home/tuser:/bin/sh\n"; got != want {
		t.Errorf("PasswdLine = %q, want %q", got, want)
	}
	if got, want := GroupLine("tuser", 60514), "tuser:x:60514:\n"; got != want {
		t.Errorf("GroupLine = %q, want %q", got, want)
	}
}

func TestNSSReadsSystemd(t *testing.T) {
	for _, tc := range []struct {
		conf, db string
		want     bool
	}{
		{"passwd:         files systemd\ngroup:          files\n", "passwd", true},
		{"passwd:         files systemd\ngroup:          files\n", "group", false},
		{"# passwd: systemd\npasswd: files\n", "passwd", false},
		{"passwd: files # systemd\n", "passwd", false},
		{"group: files [SUCCESS=merge] systemd\n", "group", true},
		{"", "passwd", false},
	} {
		if got := NSSReadsSystemd([]byte(tc.conf), tc.db); got != tc.want {
			t.Errorf("NSSReadsSystemd(%q, %s) = %v, want %v", tc.conf, tc.db, got, tc.want)
		}
	}
}
