package nspawn

import (
	"path/filepath"
	"testing"
)

// TestKnobs: the environment variables mock sets, as systemd-nspawn reads
// them; a value that is no boolean is a warning and the default.
func TestKnobs(t *testing.T) {
	dir := t.TempDir()
	tree := filepath.Join(dir, "tree")
	fakeTree(tree)
	for _, row := range []struct {
		env          []string
		seccomp, tmp bool
		warnings     int
	}{
		{nil, true, true, 0},
		{[]string{"SYSTEMD_SECCOMP=0"}, false, true, 0},
		{[]string{"SYSTEMD_NSPAWN_TMPFS_TMP=no"}, true, false, 0},
		{[]string{"SYSTEMD_SECCOMP=maybe", "SYSTEMD_NSPAWN_TMPFS_TMP=1"}, true, true, 1},
	} {
		o, err := ParseOptions([]string{"-D", tree, "true"})
		if err != nil {
			t.Fatal(err)
		}
		facts := testFacts(dir)
		facts.Env = row.env
		p, err := BuildPlan(o, facts)
		if err != nil {
			t.Fatalf("%v: %v", row.env, err)
		}
		tmp := false
		for _, s := range p.Mounts.Staged {
			tmp = tmp || s.Target == "/tmp"
		}
		if p.NoSeccomp == row.seccomp || tmp != row.tmp || len(p.Warnings) != row.warnings {
			t.Errorf("%v: seccomp %v, /tmp tmpfs %v, warnings %q; want %v, %v, %d", row.env, !p.NoSeccomp, tmp, p.Warnings, row.seccomp, row.tmp, row.warnings)
		}
	}
}
