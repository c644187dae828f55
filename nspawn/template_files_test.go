package nspawn

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestPlanTemplate: a -D to make is planned on the template; a -D that
// exists is planned on itself; no -D is refused.
func TestPlanTemplate(t *testing.T) {
	dir := t.TempDir()
	tpl := filepath.Join(dir, "tpl")
	fakeTree(tpl)
	existing := filepath.Join(dir, "existing")
	fakeTree(existing)
	for _, row := range []struct {
		args     []string
		root     string
		template TemplateCopy
	}{
		{[]string{"-D", "new", "--template=tpl", "true"}, tpl, TemplateCopy{From: tpl, To: filepath.Join(dir, "new")}},
		{[]string{"-D", existing, "--template=" + tpl, "true"}, existing, TemplateCopy{From: tpl, To: existing, Exists: true}},
		{[]string{"-D", existing, "--template=", "true"}, existing, TemplateCopy{}},
	} {
		o, err := ParseOptions(row.args)
		if err != nil {
			t.Fatal(err)
		}
		p, err := BuildPlan(o, testFacts(dir))
		if err != nil {
			t.Errorf("%v: %v", row.args, err)
			continue
		}
		if p.Root != row.root || p.Template != row.template {
			t.Errorf("%v: planned on %s with %+v, want %s with %+v", row.args, p.Root, p.Template, row.root, row.template)
		}
	}
	o, err := ParseOptions([]string{"--template=" + tpl, "true"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := BuildPlan(o, testFacts(dir)); err == nil || !strings.Contains(err.Error(), "--template="+tpl+": needs -D") {
		t.Errorf("--template without -D: got %v", err)
	}
}

// TestUndoTree: the handler removes a template temporary, whole, is
// content when it is gone, and leaves any other directory alone.
func TestUndoTree(t *testing.T) {
	dir := t.TempDir()
	tmp := filepath.Join(dir, ".#tree.0123456789abcdef")
	os.MkdirAll(filepath.Join(tmp, "a", "b"), 0o755)
	os.WriteFile(filepath.Join(tmp, "a", "b", "f"), []byte("x"), 0o644)
	if err := UndoTree([]string{tmp}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(tmp); !os.IsNotExist(err) {
		t.Errorf("%s is still there: %v", tmp, err)
	}
	if err := UndoTree([]string{tmp}); err != nil {
		t.Errorf("a second undo: %v", err)
	}
	other := filepath.Join(dir, "tree")
	os.Mkdir(other, 0o755)
	for _, args := range [][]string{{other}, {".#tree.0123456789abcdef"}, {filepath.Join(dir, ".#tree.lck")}, {}, {tmp, tmp}} {
		if err := UndoTree(args); err == nil {
			t.Errorf("UndoTree(%q) succeeded", args)
		}
	}
	if _, err := os.Stat(other); err != nil {
		t.Errorf("%s went: %v", other, err)
	}
}

// TestCopyTemplate: every kind of file arrives as it was, hard links
// linked; a -D made meanwhile wins and the copy leaves no temporary.
func TestCopyTemplate(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: device nodes and owners")
	}
	dir := t.TempDir()
	tpl := filepath.Join(dir, "tpl")
	p := func(name string) string { return filepath.Join(tpl, name) }
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(p("d/e"), 0o750))
	must(os.WriteFile(p("d/f"), bytes.Repeat([]byte("data"), 100000), 0o644))
	must(os.Link(p("d/f"), p("hard")))
	must(os.WriteFile(p("suid"), []byte("#!/bin/sh\n"), 0o755))
	must(os.Chmod(p("suid"), 0o4755))
	must(os.Lchown(p("d/e"), 1000, 1001))
	must(os.Symlink("d/f", p("link")))
	must(os.Lchown(p("link"), 7, 8))
	must(unix.Mkfifo(p("fifo"), 0o600))
	must(unix.Mknod(p("null"), unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))))
	must(unix.Mknod(p("sock"), unix.S_IFSOCK|0o644, 0))
	must(os.WriteFile(p("empty"), nil, 0o600))
	xattrs := unix.Setxattr(p("d/f"), "user.test", []byte("v"), 0) == nil
	must(os.Chmod(p("d"), 0o555)) // a read-only directory still gets its files
	to := filepath.Join(dir, "new")
	made, err := copyTemplate(tpl, to, true, nil)
	if err != nil || !made {
		t.Fatalf("copyTemplate: made %v, %v", made, err)
	}
	if a, b := describeTree(t, tpl), describeTree(t, to); a != b {
		t.Errorf("the copy differs:\n%s\nwant:\n%s", b, a)
	}
	var f, h unix.Stat_t
	unix.Lstat(filepath.Join(to, "d/f"), &f)
	unix.Lstat(filepath.Join(to, "hard"), &h)
	if f.Ino != h.Ino {
		t.Errorf("hard links were not kept")
	}
	if xattrs {
		buf := make([]byte, 16)
		if n, err := unix.Getxattr(filepath.Join(to, "d/f"), "user.test", buf); err != nil || string(buf[:n]) != "v" {
			t.Errorf("user.test: %q, %v", buf[:n], err)
		}
	}

	// Another nspawn's -D arrived first: it is kept, the copy goes.
	made, err = copyTemplate(tpl, to, true, nil)
	if err != nil || made {
		t.Errorf("copyTemplate onto an existing -D: made %v, %v", made, err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Errorf("left in %s: %v, want tpl and new", dir, entries)
	}
	os.Chmod(p("d"), 0o755)
	os.Chmod(filepath.Join(to, "d"), 0o755)
}

// describeTree is every file's path, type, mode, owner, device, size,
// modification time and link target, one line each.
func describeTree(t *testing.T, root string) string {
	var b strings.Builder
	filepath.Walk(root, func(path string, _ os.FileInfo, err error) error {
		if err != nil {
			t.Fatal(err)
		}
		var st unix.Stat_t
		unix.Lstat(path, &st)
		rel, _ := filepath.Rel(root, path)
		target, _ := os.Readlink(path)
		fmt.Fprintf(&b, "%s %o %d:%d %d %d %d %q\n", rel, st.Mode, st.Uid, st.Gid, st.Rdev, st.Size, st.Mtim.Nano(), target)
		return nil
	})
	return b.String()
}

// TestCopyReadWrite: the fallback where copy_file_range cannot copies
// the rest of the file from where the source's offset stands.
func TestCopyReadWrite(t *testing.T) {
	dir := t.TempDir()
	data := bytes.Repeat([]byte("0123456789"), 20000)
	os.WriteFile(filepath.Join(dir, "in"), data, 0o644)
	in, err := unix.Open(filepath.Join(dir, "in"), unix.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(in)
	out, err := unix.Open(filepath.Join(dir, "out"), unix.O_WRONLY|unix.O_CREAT, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	unix.Seek(in, 10, 0)
	unix.Seek(out, 10, 0)
	c := &treeCopier{}
	err = c.readWrite(in, out)
	unix.Close(out)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(filepath.Join(dir, "out"))
	if !bytes.Equal(got[10:], data[10:]) || len(got) != len(data) {
		t.Errorf("copied %d bytes, not the source's", len(got))
	}
}
