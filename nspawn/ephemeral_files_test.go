package nspawn

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// Where -x's upper goes: nowhere on disk by default or for tmpfs, the
// tree's parent for disk, DIR for an absolute DIR; the variable means
// nothing without -x.
func TestPlanEphemeralUpper(t *testing.T) {
	dir := t.TempDir()
	tree := filepath.Join(dir, "tree")
	fakeTree(tree)
	scratch := filepath.Join(dir, "scratch")
	os.Mkdir(scratch, 0o755)
	for _, row := range []struct {
		args  []string
		value string
		want  string
	}{
		{[]string{"-x", "true"}, "", ""},
		{[]string{"-x", "true"}, "tmpfs", ""},
		{[]string{"-x", "true"}, "disk", dir},
		{[]string{"-x", "true"}, scratch, scratch},
		{[]string{"true"}, "disk", ""},
	} {
		o, err := ParseOptions(append([]string{"-D", tree}, row.args...))
		if err != nil {
			t.Fatal(err)
		}
		facts := testFacts(dir)
		if row.value != "" {
			facts.Env = append(facts.Env, knobEphemeralUpper+"="+row.value)
		}
		p, err := BuildPlan(o, facts)
		if err != nil {
			t.Errorf("%v %s: %v", row.args, row.value, err)
			continue
		}
		if p.EphemeralUpper != row.want {
			t.Errorf("%v %s: upper in %q, want %q", row.args, row.value, p.EphemeralUpper, row.want)
		}
	}
}

// The upper's name is systemd-nspawn's -x copy's: .#machine.<tree><hex>,
// fresh each time.
func TestEphemeralUpperDir(t *testing.T) {
	a, err := ephemeralUpperDir("/srv", "/srv/trees/deb")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := ephemeralUpperDir("/srv", "/srv/trees/deb")
	name := filepath.Base(a)
	if filepath.Dir(a) != "/srv" || !strings.HasPrefix(name, ".#machine.deb") || len(name) != len(".#machine.deb")+16 || a == b {
		t.Errorf("ephemeralUpperDir = %q, %q", a, b)
	}
}

// UndoDir removes a full directory, and a missing one is no error.
func TestUndoDir(t *testing.T) {
	d := filepath.Join(t.TempDir(), "up")
	os.MkdirAll(filepath.Join(d, "upper", "a", "b"), 0o755)
	os.WriteFile(filepath.Join(d, "upper", "a", "b", "f"), []byte("x"), 0o644)
	os.Mkdir(filepath.Join(d, "work"), 0)
	for i := 0; i < 2; i++ {
		if err := UndoDir([]string{d}); err != nil {
			t.Errorf("round %d: %v", i, err)
		}
	}
	if _, err := os.Stat(d); !os.IsNotExist(err) {
		t.Errorf("%s is still there: %v", d, err)
	}
	if UndoDir([]string{"relative"}) == nil || UndoDir(nil) == nil {
		t.Error("a bad record was taken")
	}
}

// UndoLockFile removes a lock file no one holds, leaves one held (as a
// systemd-nspawn would hold it), and takes a missing one in its stride.
func TestUndoLockFile(t *testing.T) {
	dir := t.TempDir()
	free, held := filepath.Join(dir, "free.lck"), filepath.Join(dir, "held.lck")
	os.WriteFile(free, nil, 0o600)
	f, err := takeLockFile(held, lockShared)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(f.fd)
	for _, p := range []string{free, held, filepath.Join(dir, "never.lck")} {
		if err := UndoLockFile([]string{p}); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
	if _, err := os.Stat(free); !os.IsNotExist(err) {
		t.Errorf("a free lock file stays: %v", err)
	}
	if _, err := os.Stat(held); err != nil {
		t.Errorf("a held lock file went: %v", err)
	}
}
