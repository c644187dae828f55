package tests

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// upperDirs lists -x's directories on disk in dir (.#machine.*).
func upperDirs(dir string) []string {
	list, _ := filepath.Glob(filepath.Join(dir, ".#machine.*"))
	return list
}

// duBytes is what the files below dir take on disk.
func duBytes(t *testing.T, dir string) int64 {
	out, err := exec.Command("du", "-sb", dir).Output()
	if err != nil {
		t.Fatalf("du %s: %v", dir, err)
	}
	var n int64
	fmt.Sscan(string(out), &n)
	return n
}

// A SIGKILL of nspawn at a random moment of the start or the run of an
// -x container, its upper in RAM or on disk, leaves nothing: no mount,
// upper or work directory, cgroup or process, and the tree as it was.
// Some disk rounds are killed once the container has written 300 MB,
// which the undo stage removes.
func TestEphemeralKillLeavesNothing(t *testing.T) {
	before := snapshotHost(t)
	tree := copyTree(t, busyboxTree)
	parent := filepath.Dir(tree)
	digest := treeDigest(t, tree)
	fill := "dd if=/dev/zero of=/fill bs=1M count=300 2>/dev/null; echo filled; sleep 60"
	for i := 0; i < 36; i++ {
		upper := []string{"tmpfs", "disk"}[i%2]
		cmd := exec.Command(nspawnBin, "-q", "-x", "-D", tree, "sh", "-c", fill)
		cmd.Env = append(os.Environ(), "NSPAWN_EPHEMERAL_UPPER="+upper)
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		earlier := upperDirs(parent) // a killed round's, going
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		if upper == "disk" && i%6 == 1 {
			// Filled first: the marker says 300 MB are in the upper.
			line, _ := bufio.NewReader(stdout).ReadString('\n')
			if strings.TrimSpace(line) != "filled" {
				t.Errorf("round %d: no marker (%q)", i, line)
			}
			var dirs []string
			for _, d := range upperDirs(parent) {
				if !slices.Contains(earlier, d) {
					dirs = append(dirs, d)
				}
			}
			if len(dirs) != 1 || duBytes(t, dirs[0]) < 300<<20 {
				t.Errorf("round %d: upper on disk %q does not hold the 300 MB written", i, dirs)
			}
		} else {
			time.Sleep(rand.N(400 * time.Millisecond))
		}
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
	}
	checkNoLeaks(t, before)
	if left := upperDirs(parent); len(left) > 0 {
		t.Errorf("upper directories left: %q", left)
	}
	if left, _ := filepath.Glob(filepath.Join(parent, ".#*")); len(left) > 0 {
		t.Errorf("left beside the tree: %q", left)
	}
	if treeDigest(t, tree) != digest {
		t.Error("the tree changed")
	}
}

// The upper on disk in a DIR: made there while the container runs,
// owned as the tmpfs upper would be (the tree root's owner, shifted
// under -U), and gone after a clean exit.
func TestEphemeralUpperInDir(t *testing.T) {
	before := snapshotHost(t)
	dir := t.TempDir()
	for _, args := range [][]string{nil, {"-U"}} {
		cmd := exec.Command(nspawnBin, append(append([]string{"-q", "-x", "-D", busyboxTree}, args...),
			"sh", "-c", "echo hi >/written && echo ready && read x")...)
		cmd.Env = append(os.Environ(), "NSPAWN_EPHEMERAL_UPPER="+dir)
		stdin, _ := cmd.StdinPipe()
		stdout, _ := cmd.StdoutPipe()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		line, _ := bufio.NewReader(stdout).ReadString('\n')
		if strings.TrimSpace(line) != "ready" {
			t.Fatalf("%q: no marker (%q)", args, line)
		}
		dirs := upperDirs(dir)
		if len(dirs) != 1 {
			t.Fatalf("%q: upper directories in %s: %q", args, dir, dirs)
		}
		var root, written syscall.Stat_t
		syscall.Stat(filepath.Join(dirs[0], "upper"), &root)
		if err := syscall.Stat(filepath.Join(dirs[0], "upper", "written"), &written); err != nil {
			t.Errorf("%q: the file written inside is not in the upper on disk: %v", args, err)
		}
		if written.Uid != root.Uid || (args == nil) != (root.Uid == 0) {
			t.Errorf("%q: upper owned by %d, the file written by root inside by %d", args, root.Uid, written.Uid)
		}
		stdin.Close()
		cmd.Wait()
		if left := upperDirs(dir); len(left) > 0 {
			t.Errorf("%q: upper left after a clean exit: %q", args, left)
		}
	}
	checkNoLeaks(t, before)
}

// An upper on disk that cannot be: one line before anything starts, and
// nothing made there.
func TestEphemeralUpperRefused(t *testing.T) {
	before := snapshotHost(t)
	full, ro := t.TempDir(), t.TempDir()
	for _, dir := range []string{full, ro} {
		if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=1m"); err != nil {
			t.Fatal(err)
		}
		defer syscall.Unmount(dir, syscall.MNT_DETACH)
	}
	exec.Command("dd", "if=/dev/zero", "of="+full+"/zero", "bs=64k").Run()
	if err := syscall.Mount("", ro, "", syscall.MS_REMOUNT|syscall.MS_RDONLY, ""); err != nil {
		t.Fatal(err)
	}
	for _, row := range []struct{ value, want string }{
		{"bogus", "nspawn: $NSPAWN_EPHEMERAL_UPPER=bogus: use tmpfs (in RAM, the default), disk (beside the tree) or an absolute directory"},
		{"/nonexistent", "nspawn: $NSPAWN_EPHEMERAL_UPPER=/nonexistent: directory /nonexistent does not exist; create it, or use tmpfs or disk"},
		{ro, "nspawn: $NSPAWN_EPHEMERAL_UPPER=" + ro + ": " + ro + " is on a read-only filesystem; use a writable one, or tmpfs"},
		{full, "nspawn: $NSPAWN_EPHEMERAL_UPPER=" + full + ": the filesystem of " + full + " has no free space; free some, or use another directory"},
		{"/proc", "nspawn: $NSPAWN_EPHEMERAL_UPPER=/proc: /proc is on a kernel filesystem, which overlayfs cannot write to; use a directory on ext4, xfs, btrfs or tmpfs"},
	} {
		cmd := exec.Command(nspawnBin, "-q", "-x", "-D", busyboxTree, "true")
		cmd.Env = append(os.Environ(), "NSPAWN_EPHEMERAL_UPPER="+row.value)
		out, err := cmd.CombinedOutput()
		if err == nil || strings.TrimSpace(string(out)) != row.want {
			t.Errorf("%s: %v, %q; want one line %q", row.value, err, out, row.want)
		}
	}
	if left := upperDirs(full); len(left) > 0 {
		t.Errorf("made in %s: %q", full, left)
	}
	for _, dir := range []string{full, ro} {
		syscall.Unmount(dir, syscall.MNT_DETACH)
	}
	checkNoLeaks(t, before)
}
