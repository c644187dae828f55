package nspawn

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/nspawn/nspawn/mounts"
)

// TestProbeMachineImage: the search path is read as image_find() reads
// it, on directories made here in place of the real ones.
func TestProbeMachineImage(t *testing.T) {
	dir := t.TempDir()
	etc, lib, vendor := filepath.Join(dir, "etc"), filepath.Join(dir, "lib"), filepath.Join(dir, "vendor")
	for _, d := range []string{etc, lib, vendor} {
		os.MkdirAll(d, 0o755)
	}
	missing := filepath.Join(dir, "missing")
	search := []string{missing, etc, lib, vendor}
	tree := filepath.Join(dir, "trees", "web")
	fakeTree(tree)

	// web: a symlink in the first directory wins over a tree further on.
	os.Symlink(tree, filepath.Join(etc, "web"))
	fakeTree(filepath.Join(lib, "web"))
	// db: a plain file named db is passed over; the tree after it counts.
	os.WriteFile(filepath.Join(etc, "db"), nil, 0o644)
	fakeTree(filepath.Join(vendor, "db"))
	// disk: NAME.raw, a regular file without write bits.
	os.WriteFile(filepath.Join(lib, "disk.raw"), nil, 0o444)
	// rawdir: a directory named NAME.raw is no raw image.
	os.MkdirAll(filepath.Join(lib, "rawdir.raw"), 0o755)
	// loop: a symlink loop stops the search with its error.
	os.Symlink("loop", filepath.Join(etc, "loop"))

	for _, row := range []struct {
		name     string
		path     string
		kind     ImageKind
		readOnly bool
		err      error
	}{
		{"web", filepath.Join(etc, "web"), ImageDirectory, false, nil},
		{"db", filepath.Join(vendor, "db"), ImageDirectory, false, nil},
		{"disk", filepath.Join(lib, "disk.raw"), ImageRaw, true, nil},
		{"rawdir", "", ImageNone, false, nil},
		{"nothing", "", ImageNone, false, nil},
		{"loop", "", ImageNone, false, os.ErrNotExist},
	} {
		img := probeMachineImage(row.name, search)
		if img.Path != row.path || img.Kind != row.kind || img.ReadOnly != row.readOnly {
			t.Errorf("%s: found %q (%q, read-only %v), want %q (%q, read-only %v)", row.name, img.Path, img.Kind, img.ReadOnly, row.path, row.kind, row.readOnly)
		}
		if (img.Err != nil) != (row.err != nil) {
			t.Errorf("%s: error %v, want one: %v", row.name, img.Err, row.err != nil)
		}
		if len(img.Searched) != len(search) {
			t.Errorf("%s: searched %q, want %q", row.name, img.Searched, search)
		}
	}
}

// TestMachineImagePlan: a found tree is -D, named by -M, and read-only
// where it lies read-only unless -x; -D and --template are as before.
func TestMachineImagePlan(t *testing.T) {
	dir := t.TempDir()
	tree := filepath.Join(dir, "machines", "web")
	fakeTree(tree)
	other := filepath.Join(dir, "other")
	fakeTree(other)
	found := func(readOnly bool) *Facts {
		f := testFacts(dir)
		f.Image = MachineImage{Searched: imageSearchPath(), Path: tree, Kind: ImageDirectory, ReadOnly: readOnly}
		return f
	}
	for _, row := range []struct {
		args     []string
		facts    *Facts
		root     string
		readOnly bool
	}{
		{[]string{"-M", "web", "true"}, found(false), tree, false},
		{[]string{"-M", "web", "true"}, found(true), tree, true},
		{[]string{"-M", "web", "-x", "true"}, found(true), tree, false},
		{[]string{"-M", "web", "--read-only", "true"}, found(false), tree, true},
		// -D wins; the image found is not looked at.
		{[]string{"-M", "web", "-D", other, "true"}, found(true), other, false},
	} {
		o, err := ParseOptions(row.args)
		if err != nil {
			t.Fatal(err)
		}
		p, err := BuildPlan(o, row.facts)
		if err != nil {
			t.Errorf("%q: %v", row.args, err)
			continue
		}
		readOnly := len(p.Mounts.Tree) > 0 && p.Mounts.Tree[0].Kind == mounts.KindReadOnly
		if p.Root != row.root || p.Machine != "web" || readOnly != row.readOnly {
			t.Errorf("%q: root %s machine %s read-only %v, want %s web %v", row.args, p.Root, p.Machine, readOnly, row.root, row.readOnly)
		}
	}

	// --template with -M and no -D makes /var/lib/machines/NAME.
	o, _ := ParseOptions([]string{"-M", "fresh", "--template=" + other, "true"})
	derived, err := withMachineImage(o, testFacts(dir))
	if err != nil || derived.Directory != "/var/lib/machines/fresh" {
		t.Errorf("--template -M fresh: -D %q (%v), want /var/lib/machines/fresh", derived.Directory, err)
	}
	if o.Directory != "" {
		t.Errorf("withMachineImage changed the caller's options: -D %q", o.Directory)
	}
	// No -M: the current directory, as before.
	if derived, _ := withMachineImage(&Options{}, testFacts(dir)); derived.Directory != "" {
		t.Errorf("no -M: -D %q, want none", derived.Directory)
	}
}
