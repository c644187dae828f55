package tests

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// specialTemplate is a copy of the busybox tree with a file of every
// kind a copy must keep: a fifo, a socket, a device node, hard links,
// setuid, other owners, ACLs, file capabilities, user xattrs.
func specialTemplate(t *testing.T) string {
	t.Helper()
	tpl := copyTree(t, busyboxTree)
	p := func(name string) string { return filepath.Join(tpl, "specials", name) }
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(p("dir"), 0o750))
	must(os.WriteFile(p("big"), []byte(strings.Repeat("0123456789abcdef", 1<<16)), 0o640))
	must(os.Link(p("big"), p("dir/big-link")))
	must(os.WriteFile(p("suid"), []byte("#!/bin/sh\n"), 0o755))
	must(os.Chmod(p("suid"), 0o4755))
	must(os.WriteFile(p("user"), []byte("x"), 0o600))
	must(os.Lchown(p("user"), 1000, 1001))
	must(os.Lchown(p("dir"), 1002, 1003))
	must(os.Symlink("../bin/busybox", p("link")))
	must(os.Lchown(p("link"), 7, 8))
	must(unix.Mkfifo(p("fifo"), 0o620))
	must(unix.Mknod(p("sock"), unix.S_IFSOCK|0o644, 0))
	must(unix.Mknod(p("null"), unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))))
	must(unix.Setxattr(p("user"), "user.note", []byte("kept"), 0))
	// An ACL giving user 1000 read access (a version 2 xattr: header, then
	// USER_OBJ, USER 1000, GROUP_OBJ, MASK, OTHER).
	acl := binary.LittleEndian.AppendUint32(nil, 2)
	for _, e := range [][3]uint32{{0x01, 6, ^uint32(0)}, {0x02, 4, 1000}, {0x04, 4, ^uint32(0)}, {0x10, 4, ^uint32(0)}, {0x20, 0, ^uint32(0)}} {
		acl = binary.LittleEndian.AppendUint16(acl, uint16(e[0]))
		acl = binary.LittleEndian.AppendUint16(acl, uint16(e[1]))
		acl = binary.LittleEndian.AppendUint32(acl, e[2])
	}
	must(unix.Setxattr(p("user"), "system.posix_acl_access", acl, 0))
	// CAP_NET_RAW permitted and effective (a revision 2 capability).
	caps := binary.LittleEndian.AppendUint32(nil, 0x02000001)
	caps = binary.LittleEndian.AppendUint32(caps, 1<<13)
	caps = append(caps, make([]byte, 12)...)
	must(unix.Setxattr(p("suid"), "security.capability", caps, 0))
	return tpl
}

// copyDigest describes each of the template's paths as found under root:
// type, mode, owner, device, size, link target, xattrs, contents, the
// hard-link group, and the modification time of all but directories
// (a run makes its mount points in them). Paths a run adds do not count.
func copyDigest(t *testing.T, template, root string) string {
	t.Helper()
	var lines []string
	first := map[uint64]string{}
	err := filepath.WalkDir(template, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(template, p)
		path := filepath.Join(root, rel)
		var st unix.Stat_t
		if err := unix.Lstat(path, &st); err != nil {
			lines = append(lines, rel+" missing")
			return nil
		}
		line := fmt.Sprintf("%s %o %d:%d %d %d", rel, st.Mode, st.Uid, st.Gid, st.Rdev, st.Size)
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFDIR:
		case unix.S_IFLNK:
			target, _ := os.Readlink(path)
			line += fmt.Sprintf(" %d -> %s", st.Mtim.Nano(), target)
		case unix.S_IFREG:
			line += fmt.Sprintf(" %d %s", st.Mtim.Nano(), fileHash(t, path))
		default:
			line += fmt.Sprintf(" %d", st.Mtim.Nano())
		}
		if st.Nlink > 1 && st.Mode&unix.S_IFMT != unix.S_IFDIR {
			if _, ok := first[st.Ino]; !ok {
				first[st.Ino] = rel
			}
			line += " linked with " + first[st.Ino]
		}
		lines = append(lines, line+xattrList(path))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return strings.Join(lines, "\n")
}

func fileHash(t *testing.T, path string) string {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	io.Copy(h, f)
	return fmt.Sprintf("%x", h.Sum(nil))[:16]
}

func xattrList(path string) string {
	buf := make([]byte, 64<<10)
	n, err := unix.Llistxattr(path, buf)
	if err != nil || n == 0 {
		return ""
	}
	names := strings.Split(strings.TrimRight(string(buf[:n]), "\x00"), "\x00")
	sort.Strings(names)
	var s string
	for _, name := range names {
		v := make([]byte, 64<<10)
		m, _ := unix.Lgetxattr(path, name, v)
		s += fmt.Sprintf(" %s=%x", name, v[:m])
	}
	return s
}

// TestTemplateBesideSystemdNspawn: a -D made from a template holds what
// systemd-nspawn 252's copy of it holds, and both what the template holds,
// with the same lines said about it.
func TestTemplateBesideSystemdNspawn(t *testing.T) {
	sdn, err := exec.LookPath("systemd-nspawn")
	if err != nil {
		t.Skip("needs systemd-nspawn (make deps installs systemd-container)")
	}
	before := snapshotHost(t)
	tpl := specialTemplate(t)
	want := copyDigest(t, tpl, tpl)
	dir := t.TempDir()

	ours := filepath.Join(dir, "ours")
	r := run(t, "", "-D", ours, "--template="+tpl, "--pipe", "/bin/true")
	if r.status != 0 {
		t.Fatalf("nspawn --template: status %d: %s", r.status, r.stderr)
	}
	if line := "Populated " + ours + " from template " + tpl + ".\n"; !strings.HasPrefix(r.stderr, line) {
		t.Errorf("stderr %q does not start with %q", r.stderr, line)
	}
	theirs := filepath.Join(dir, "theirs")
	cmd := exec.Command(sdn, "--register=no", "--keep-unit", "-q", "-P", "-D", theirs, "--template="+tpl, "/bin/true")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("systemd-nspawn --template: %v: %s", err, out)
	}
	checkNoLeaks(t, before)
	if got := copyDigest(t, tpl, ours); got != want {
		t.Errorf("our copy differs from the template (as systemd-nspawn, the template):\n%s", lineDiff(got, want))
	}
	if got, sdnGot := copyDigest(t, tpl, ours), copyDigest(t, tpl, theirs); got != sdnGot {
		t.Errorf("our copy differs from systemd-nspawn's:\n%s", lineDiff(got, sdnGot))
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Errorf("beside -D: %v, want ours and theirs alone", entries)
	}

	// -D exists now: used as it is, with systemd-nspawn's line; nothing
	// of the template goes in (a --read-only run writes nothing).
	os.Remove(filepath.Join(ours, "specials", "user"))
	digest := treeDigest(t, ours)
	r = run(t, "", "-D", ours, "--template="+tpl, "--read-only", "--pipe", "/bin/true")
	sdnOut, _ := exec.Command(sdn, "--register=no", "--keep-unit", "-P", "-D", ours, "--template="+tpl, "--read-only", "/bin/true").CombinedOutput()
	line := "Directory " + ours + " already exists, not populating from template " + tpl + ".\n"
	if r.status != 0 || !strings.HasPrefix(r.stderr, line) {
		t.Errorf("nspawn on an existing -D: status %d, stderr %q, want it to start with %q", r.status, r.stderr, line)
	}
	if !strings.HasPrefix(string(sdnOut), line) {
		t.Errorf("systemd-nspawn said %q; the test expects %q", sdnOut, line)
	}
	if treeDigest(t, ours) != digest {
		t.Errorf("an existing -D changed")
	}
}

// TestTemplateErrors: each bad --template is one line, before anything
// is made beside -D.
func TestTemplateErrors(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	os.WriteFile(file, nil, 0o644)
	newDir := filepath.Join(dir, "new")
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"-D", newDir, "--template=" + filepath.Join(dir, "missing")}, []string{"--template=", "does not exist"}},
		{[]string{"-D", newDir, "--template=" + file}, []string{"--template=" + file, "is not a directory"}},
		{[]string{"-D", newDir, "--template=" + busyboxTree, "-x"}, []string{"--ephemeral and --template=", "exclude each other"}},
		{[]string{"--template=" + busyboxTree}, []string{"--template=" + busyboxTree + ": needs -D"}},
		{[]string{"-D", filepath.Join(dir, "no", "new"), "--template=" + busyboxTree}, []string{"its parent", "does not exist"}},
		{[]string{"-D", newDir, "--template=" + busyboxTree, "--user=nosuchuser"}, []string{"--user=nosuchuser"}},
	} {
		r := run(t, "", append(append([]string{"-q"}, c.args...), "/bin/true")...)
		if r.status == 0 {
			t.Errorf("%q: succeeded", c.args)
		}
		checkOneErrorLine(t, r.stderr, c.want...)
		if entries, _ := os.ReadDir(dir); len(entries) != 1 {
			t.Errorf("%q left %v in %s", c.args, entries, dir)
		}
	}
}

// TestTemplateFailedCopy: a copy that runs out of space (-D on a small
// tmpfs, mounted in a mount namespace of the test's own) says which file
// and why in one line, and leaves nothing beside -D.
func TestTemplateFailedCopy(t *testing.T) {
	dir := t.TempDir()
	script := `mount -t tmpfs -o size=1m tmpfs "$1" && "$2" -q -D "$1/new" --template="$3" /bin/true; echo "status=$?"; ls -A "$1"; echo end`
	cmd := exec.Command("unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh", dir, nspawnBin, busyboxTree)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("unshare: %v: %s", err, stderr.String())
	}
	if string(out) != "status=1\nend\n" {
		t.Errorf("after a failed copy: %q, want status 1 and nothing in the tmpfs", out)
	}
	checkOneErrorLine(t, stderr.String(), "--template="+busyboxTree+": copying ", "no space left on device")
}

// TestTemplateConcurrent: two nspawns making the same -D at once both run,
// on one tree, and no copy is left over.
func TestTemplateConcurrent(t *testing.T) {
	before := snapshotHost(t)
	dir := t.TempDir()
	target := filepath.Join(dir, "new")
	var wg sync.WaitGroup
	results := make([]result, 2)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// --read-only: both hold the tree's lock at once.
			results[i] = run(t, "", "-D", target, "--template="+busyboxTree, "--read-only", "--pipe", "/bin/true")
		}()
	}
	wg.Wait()
	checkNoLeaks(t, before)
	populated := 0
	for _, r := range results {
		if r.status != 0 {
			t.Errorf("status %d: %s", r.status, r.stderr)
		}
		populated += strings.Count(r.stderr, "Populated "+target)
		if !strings.Contains(r.stderr, "Populated "+target) && !strings.Contains(r.stderr, "Directory "+target+" already exists") {
			t.Errorf("stderr %q says neither populated nor already there", r.stderr)
		}
	}
	if populated != 1 {
		t.Errorf("%d runs populated -D, want 1", populated)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("beside -D: %v, want it alone", entries)
	}
	if copyDigest(t, busyboxTree, target) != copyDigest(t, busyboxTree, busyboxTree) {
		t.Errorf("-D is not the template's copy")
	}
}

// fastTempDir is a temporary directory on /dev/shm where that is a
// tmpfs, else the test's own: many small files made and removed on this
// VM's ext4 slow its next inode allocations by seconds (ext4's
// recently_deleted scan), which a tmpfs does not know.
func fastTempDir(t *testing.T) string {
	t.Helper()
	var sfs unix.Statfs_t
	if unix.Statfs("/dev/shm", &sfs) != nil || sfs.Type != unix.TMPFS_MAGIC {
		return t.TempDir()
	}
	dir, err := os.MkdirTemp("/dev/shm", "nspawn-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// copyTreeTo copies the tree src into dir.
func copyTreeTo(t *testing.T, src, dir string) string {
	t.Helper()
	dst := filepath.Join(dir, filepath.Base(src))
	if out, err := exec.Command("cp", "-a", src, dst).CombinedOutput(); err != nil {
		t.Fatalf("copy %s: %v: %s", src, err, out)
	}
	return dst
}

// addFiles adds n thousand small files to tree, under /many.
func addFiles(t *testing.T, tree string, n int) {
	t.Helper()
	for d := 0; d < n; d++ {
		sub := filepath.Join(tree, "many", fmt.Sprint(d))
		if err := os.MkdirAll(sub, 0o755); err != nil {
			t.Fatal(err)
		}
		for f := 0; f < 1000; f++ {
			if err := os.WriteFile(filepath.Join(sub, fmt.Sprint(f)), []byte("x"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// bigTemplate is a template in dir that takes seconds to copy: the
// busybox tree with 60000 small files and a large one.
func bigTemplate(t *testing.T, dir string) string {
	t.Helper()
	tpl := copyTreeTo(t, busyboxTree, dir)
	addFiles(t, tpl, 60)
	f, err := os.Create(filepath.Join(tpl, "large"))
	if err != nil {
		t.Fatal(err)
	}
	err = unix.Fallocate(int(f.Fd()), 0, 0, 256<<20)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	return tpl
}

// TestTemplateProgress: a long copy shows its progress on a terminal,
// and nothing with stderr a pipe or with -q.
func TestTemplateProgress(t *testing.T) {
	dir := fastTempDir(t)
	tpl := bigTemplate(t, dir)
	term := startTerminal(t, 24, 200, "-D", filepath.Join(dir, "tty"), "--template="+tpl, "/bin/true")
	at := term.expect(0, "Copying "+tpl+" to "+filepath.Join(dir, "tty")+": ")
	term.expect(at, " files, ")
	term.expect(at, "Populated "+filepath.Join(dir, "tty"))
	if status := term.wait(); status != 0 {
		t.Errorf("status %d", status)
	}

	r := run(t, "", "-D", filepath.Join(dir, "pipe"), "--template="+tpl, "--pipe", "/bin/true")
	if r.status != 0 || strings.Contains(r.stderr, "files, ") || strings.Contains(r.stderr, "\r") {
		t.Errorf("with stderr a pipe: status %d, stderr %q", r.status, r.stderr)
	}
	quiet := startTerminal(t, 24, 200, "-q", "-D", filepath.Join(dir, "quiet"), "--template="+tpl, "/bin/true")
	if status := quiet.wait(); status != 0 {
		t.Errorf("-q: status %d", status)
	}
	quiet.mu.Lock()
	screen := quiet.screen.String()
	quiet.mu.Unlock()
	if strings.Contains(screen, "files, ") {
		t.Errorf("-q showed progress: %q", screen)
	}
}

// TestChownProgress: -U's chown walk of a big tree (the bookworm tree and
// 100000 more files) shows its progress on a terminal, and nothing with
// stderr a pipe.
func TestChownProgress(t *testing.T) {
	tree := copyTreeTo(t, debianTree, fastTempDir(t))
	addFiles(t, tree, 100)
	term := startTerminal(t, 24, 200, "-D", tree, "-U", "--private-users-ownership=chown", "/bin/true")
	at := term.expect(0, "Shifting the owners of "+tree+": ")
	term.expect(at, " files, ")
	if status := term.wait(); status != 0 {
		t.Errorf("status %d", status)
	}
	// Back to 0 (a shift of 0 chowns a shifted tree back), stderr a pipe.
	r := run(t, "", "-D", tree, "--private-users=0:65536", "--private-users-ownership=chown", "--pipe", "/bin/true")
	if r.status != 0 || strings.Contains(r.stderr, "files, ") {
		t.Errorf("with stderr a pipe: status %d, stderr %q", r.status, r.stderr)
	}
	var st syscall.Stat_t
	if syscall.Lstat(filepath.Join(tree, "many", "0", "0"), &st) != nil || st.Uid != 0 {
		t.Errorf("the tree was not chowned back: uid %d", st.Uid)
	}
}

// waitForCopy waits until the copy into a temporary beside -D (dir/new)
// has files in it.
func waitForCopy(t *testing.T, cmd *exec.Cmd, dir string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		matches, _ := filepath.Glob(filepath.Join(dir, ".#new.*", "many", "*"))
		if len(matches) > 0 {
			return
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatal("the copy never started")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestTemplateInterrupted: SIGINT during the copy stops it, says so in
// one line, and removes the temporary: nothing is left beside -D.
func TestTemplateInterrupted(t *testing.T) {
	tpl := bigTemplate(t, fastTempDir(t))
	dir := t.TempDir()
	cmd := exec.Command(nspawnBin, "-q", "-D", filepath.Join(dir, "new"), "--template="+tpl, "/bin/true")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitForCopy(t, cmd, dir)
	cmd.Process.Signal(syscall.SIGINT)
	waitWithin(t, cmd, "nspawn --template", stderr.String)
	if status := exitStatus(cmd.ProcessState); status != 1 {
		t.Errorf("status %d, want 1", status)
	}
	checkOneErrorLine(t, stderr.String(), "--template="+tpl+": interrupted")
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("left beside -D: %v", entries)
	}
}

// TestTemplateKilledMidCopy: SIGKILL during the copy leaves no temporary
// beside -D and no -D: the undo log's cleanup stage removes the one it
// recorded.
func TestTemplateKilledMidCopy(t *testing.T) {
	tpl := bigTemplate(t, fastTempDir(t))
	dir := t.TempDir()
	cmd := exec.Command(nspawnBin, "-q", "-D", filepath.Join(dir, "new"), "--template="+tpl, "/bin/true")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitForCopy(t, cmd, dir)
	cmd.Process.Kill()
	cmd.Wait()
	for deadline := time.Now().Add(30 * time.Second); ; {
		entries, _ := os.ReadDir(dir)
		if len(entries) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("left beside -D after SIGKILL: %v", entries)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
