package users

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestLookup(t *testing.T) {
	dir := t.TempDir()
	passwd := filepath.Join(dir, "passwd")
	group := filepath.Join(dir, "group")
	os.WriteFile(passwd, []byte("root:x:0:0:root:/root:/bin/bash\n# comment\nbroken:line\ntester:x:1000:1000::/home/tester:/bin/sh\n"), 0o644)
	os.WriteFile(group, []byte("root:x:0:\nwheel:x:10:alice,tester\naudio:x:29:tester\ntester:x:1000:tester\nother:x:5:alice\n"), 0o644)

	for _, tc := range []struct {
		spec string
		want User
		err  bool
	}{
		{spec: "root", want: User{Name: "root", Home: "/root", Shell: "/bin/bash"}},
		{spec: "tester", want: User{Name: "tester", UID: 1000, GID: 1000, Groups: []uint32{10, 29}, Home: "/home/tester", Shell: "/bin/sh"}},
		{spec: "1000", want: User{Name: "tester", UID: 1000, GID: 1000, Groups: []uint32{10, 29}, Home: "/home/tester", Shell: "/bin/sh"}},
		{spec: "nobody", err: true},
		{spec: "4242", err: true},
	} {
		got, err := Lookup(passwd, group, tc.spec)
		if tc.err {
			if err == nil {
				t.Errorf("Lookup(%q) = %+v, want an error", tc.spec, got)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Lookup(%q) = %+v, %v; want %+v", tc.spec, got, err, tc.want)
		}
	}
}

func TestLookupRootWithoutPasswd(t *testing.T) {
	dir := t.TempDir()
	got, err := Lookup(filepath.Join(dir, "passwd"), filepath.Join(dir, "group"), "root")
	if err != nil || got.UID != 0 || got.Home != "/root" {
		t.Fatalf("Lookup(root) in a tree without passwd = %+v, %v", got, err)
	}
}

func TestNamedIDs(t *testing.T) {
	dir := t.TempDir()
	passwd := filepath.Join(dir, "passwd")
	group := filepath.Join(dir, "group")
	os.WriteFile(passwd, []byte("root:x:0:0:root:/root:/bin/bash\n# comment\nbroken:line\nsvc:x:524289:524289::/:/bin/false\n"), 0o644)
	os.WriteFile(group, []byte("root:x:0:\nwheel:x:10:alice\nbad:x:notanumber:\n"), 0o644)
	if got := NamedIDs(passwd, group); !reflect.DeepEqual(got, []uint32{0, 524289, 0, 10}) {
		t.Errorf("NamedIDs = %v", got)
	}
	if got := NamedIDs(filepath.Join(dir, "none"), group); !reflect.DeepEqual(got, []uint32{0, 10}) {
		t.Errorf("NamedIDs without passwd = %v", got)
	}
}
