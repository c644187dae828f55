package nspawn

import (
	"os"
	"path/filepath"
	"testing"
)

// TestMachineNameFollowsGivenPath: a tree reached through a symlink is
// named after the link, as systemd-nspawn names it.
func TestMachineNameFollowsGivenPath(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "bookworm-2026")
	fakeTree(real)
	os.Symlink(real, filepath.Join(dir, "current"))
	for dirArg, want := range map[string]string{filepath.Join(dir, "current"): "current", "current": "current", real: "bookworm-2026"} {
		o, err := ParseOptions([]string{"-D", dirArg, "true"})
		if err != nil {
			t.Fatal(err)
		}
		p, err := BuildPlan(o, &Facts{Cwd: dir})
		if err != nil {
			t.Fatalf("-D %s: %v", dirArg, err)
		}
		if p.Machine != want || p.Root != real {
			t.Errorf("-D %s: machine %q root %q, want %q and %q", dirArg, p.Machine, p.Root, want, real)
		}
	}
}

// fakeTree makes the least a plan accepts as a tree at root: /usr and
// /bin/sh.
func fakeTree(root string) {
	os.MkdirAll(filepath.Join(root, "usr"), 0o755)
	os.MkdirAll(filepath.Join(root, "bin"), 0o755)
	os.WriteFile(filepath.Join(root, "bin", "sh"), []byte{}, 0o755)
}
