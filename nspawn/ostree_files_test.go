package nspawn

import (
	"os"
	"path/filepath"
	"testing"
)

// TestBootThroughBoundUsr: a tree with an empty /etc whose /usr is bound
// in from another boots the init that /usr brings, once
// SYSTEMD_NSPAWN_CHECK_OS_RELEASE=0 waives the os-release check; a /usr
// bound in makes a tree without one an OS tree.
func TestBootThroughBoundUsr(t *testing.T) {
	dir := t.TempDir()
	base, tree := filepath.Join(dir, "base"), filepath.Join(dir, "tree")
	os.MkdirAll(filepath.Join(base, "usr", "lib", "systemd"), 0o755)
	os.WriteFile(filepath.Join(base, "usr", "lib", "systemd", "systemd"), nil, 0o755)
	os.MkdirAll(filepath.Join(tree, "etc"), 0o755)
	o, err := ParseOptions([]string{"-D", tree, "--bind-ro=" + base + "/usr:/usr", "-b", "--", "--unit=x"})
	if err != nil {
		t.Fatal(err)
	}
	facts := testFacts(dir)
	facts.Env = append(facts.Env, "SYSTEMD_NSPAWN_CHECK_OS_RELEASE=0")
	p, err := BuildPlan(o, facts)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"/usr/lib/systemd/systemd", "--unit=x"}; len(p.Argv) != 2 || p.Argv[0] != want[0] || p.Argv[1] != want[1] {
		t.Errorf("init %q, want %q", p.Argv, want)
	}
}

// TestPivotRoot: --pivot-root makes the tree's PATH the container's root
// (its /usr what makes it an OS tree), with the tree bound to OLD first.
func TestPivotRoot(t *testing.T) {
	dir := t.TempDir()
	tree := filepath.Join(dir, "tree")
	fakeTree(filepath.Join(tree, "sysroot"))
	for _, tc := range []struct {
		spec, old string
	}{{"/sysroot", ""}, {"/sysroot:/oldroot", "/oldroot"}} {
		o, err := ParseOptions([]string{"-D", tree, "--pivot-root=" + tc.spec, "--read-only", "true"})
		if err != nil {
			t.Fatal(err)
		}
		p, err := BuildPlan(o, testFacts(dir))
		if err != nil {
			t.Fatalf("%s: %v", tc.spec, err)
		}
		if p.Root != filepath.Join(tree, "sysroot") || p.Machine != "tree" {
			t.Errorf("%s: root %s machine %s, want %s/sysroot and tree", tc.spec, p.Root, p.Machine, tree)
		}
		first := p.Mounts.Staged[0]
		if got := first.Kind == "bind" && first.Source == tree && first.Target == tc.old; got != (tc.old != "") {
			t.Errorf("%s: first staged mount %+v", tc.spec, first)
		}
		if !p.Mounts.ReadOnlyTree() {
			t.Errorf("%s: --read-only lost", tc.spec)
		}
	}
}

// TestUnescapeC: --set-credential's escapes, as systemd's cunescape().
func TestUnescapeC(t *testing.T) {
	for in, want := range map[string]string{
		`plain`:            "plain",
		`a\nb\tc\\d`:       "a\nb\tc\\d",
		`\x41\101\s\"\'`:   "AA \"'",
		`nul\000byte`:      "nul\x00byte",
		`\u00e9\U0001F600`: "é😀",
		`a:b:c`:            "a:b:c",
	} {
		if got, err := unescapeC(in); err != nil || got != want {
			t.Errorf("unescapeC(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}
