package tests

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// treeWithMount copies the busybox tree and mounts a tmpfs on its /srv, as
// an image builder leaves one behind; the mount goes when the test ends.
func treeWithMount(t *testing.T) string {
	t.Helper()
	tree := copyTree(t, busyboxTree)
	srv := filepath.Join(tree, "srv")
	if err := os.MkdirAll(srv, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("tmpfs", srv, "tmpfs", 0, "mode=0755,size=1m"); err != nil {
		t.Fatalf("mount a tmpfs on the tree's /srv: %v", err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(srv, 0); err != nil {
			t.Errorf("unmount the tree's /srv: %v", err)
		}
	})
	return tree
}

// TestMountsBelowTreeMount runs binds and a tmpfs at and below a mount the
// tree itself holds: each must be there inside, as systemd-nspawn mounts
// them, not left behind in nspawn's staging namespace.
func TestMountsBelowTreeMount(t *testing.T) {
	host := t.TempDir()
	if err := os.WriteFile(filepath.Join(host, "marker"), []byte("from the host\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"--bind=" + host + ":/srv/x", "--bind-ro=" + host + ":/srv/ro", "--tmpfs=/srv/t"}
	const script = `cat /srv/x/marker /srv/ro/marker && touch /srv/t/ok && ls /srv/t && ! touch /srv/ro/no 2>/dev/null && echo done`
	want := "from the host\nfrom the host\nok\ndone\n"
	for _, extra := range [][]string{nil, {"-U"}} {
		t.Run(strings.Join(append([]string{"ours"}, extra...), " "), func(t *testing.T) {
			tree := treeWithMount(t)
			before := snapshotHost(t)
			out := mustRun(t, tree, append(append(extra, args...), "/bin/sh", "-c", script)...)
			if out != want {
				t.Errorf("inside: got %q, want %q", out, want)
			}
			checkNoLeaks(t, before)
		})
	}
	sdn, err := exec.LookPath("systemd-nspawn")
	if err != nil {
		t.Skip("needs systemd-nspawn to compare (make deps installs systemd-container)")
	}
	t.Run("systemd-nspawn", func(t *testing.T) {
		tree := treeWithMount(t)
		cmd := exec.Command(sdn, append(append([]string{"-q", "--pipe", "--register=no", "--keep-unit", "-D", tree}, args...), "/bin/sh", "-c", script)...)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("systemd-nspawn: %v", err)
		}
		if string(out) != want {
			t.Errorf("systemd-nspawn inside: got %q, want %q", out, want)
		}
	})
}
