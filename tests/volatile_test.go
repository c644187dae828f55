package tests

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// mergedUsrTree is a copy of the busybox tree with /bin and /sbin merged
// into /usr, as --volatile=yes needs.
func mergedUsrTree(t *testing.T) string {
	t.Helper()
	tree := copyTree(t, busyboxTree)
	script := `set -e; cd "$1"
for d in bin sbin; do [ ! -L usr/$d ] || rm usr/$d; mkdir -p usr/$d; cp -an $d/. usr/$d/; rm -rf $d; ln -s usr/$d $d; done`
	if out, err := exec.Command("sh", "-c", script, "sh", tree).CombinedOutput(); err != nil {
		t.Fatalf("merge /usr: %v: %s", err, out)
	}
	return tree
}

// volatileProbe writes where each mode lets it and says what happened.
const volatileProbe = `
for p in /var/v /etc/v /usr/v /v; do
  if (echo x > $p) 2>/dev/null && [ "$(cat $p)" = x ]; then echo "$p written"; else echo "$p refused"; fi
done
[ -L /bin ] && echo "bin $(readlink /bin)"
[ -x /bin/sh ] && echo "sh found"`

// TestVolatileModes: each --volatile mode allows and refuses the writes
// systemd-nspawn 252's does (TestVolatileSameAsSystemdNspawn), what the payload wrote is there while it runs and gone after, and the
// tree is byte-identical.
func TestVolatileModes(t *testing.T) {
	tree := mergedUsrTree(t)
	before := snapshotHost(t)
	digest := treeDigest(t, tree)
	want := map[string]string{
		"yes":     "/var/v written\n/etc/v written\n/usr/v refused\n/v written\nbin usr/bin\nsh found\n",
		"state":   "/var/v written\n/etc/v refused\n/usr/v refused\n/v refused\nbin usr/bin\nsh found\n",
		"overlay": "/var/v written\n/etc/v written\n/usr/v written\n/v written\nbin usr/bin\nsh found\n",
	}
	for _, mode := range []string{"yes", "state", "overlay"} {
		out := mustRun(t, tree, "--volatile="+mode, "/bin/sh", "-c", volatileProbe)
		if out != want[mode] {
			t.Errorf("--volatile=%s: got\n%swant\n%s", mode, out, want[mode])
		}
		if got := mustRun(t, tree, "--volatile="+mode, "/bin/sh", "-c", "ls /var/v /etc/v /v 2>/dev/null; true"); got != "" {
			t.Errorf("--volatile=%s: the last run's files are still there: %q", mode, got)
		}
	}
	// The option alone is yes; -U shows the tmpfs as the container's root's.
	if out := mustRun(t, tree, "--volatile", "-U", "/bin/sh", "-c", "stat -c '%u %a' / /var; echo x > /var/v && echo ok"); out != "0 755\n0 755\nok\n" {
		t.Errorf("--volatile -U: got %q", out)
	}
	if out := mustRun(t, tree, "--volatile=state", "-U", "/bin/sh", "-c", "stat -c '%u' /var; echo x > /var/v && echo ok"); out != "0\nok\n" {
		t.Errorf("--volatile=state -U: got %q", out)
	}
	// With -x, on the throw-away overlay.
	if out := mustRun(t, tree, "-x", "--volatile=state", "/bin/sh", "-c", volatileProbe); out != want["state"] {
		t.Errorf("-x --volatile=state: got %q", out)
	}
	if got := treeDigest(t, tree); got != digest {
		t.Errorf("--volatile changed the tree")
	}
	checkNoLeaks(t, before)
}

// TestVolatileRefused: a tree --volatile=yes cannot run is refused before
// anything exists, with systemd-nspawn's reason, and so is --read-only
// with it.
func TestVolatileRefused(t *testing.T) {
	tree := copyTree(t, busyboxTree)
	digest := treeDigest(t, tree)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--volatile=yes"}, "nspawn: --volatile=yes: the tree's /bin is a directory"},
		{[]string{"--volatile=state", "--read-only"}, "nspawn: --volatile=state: cannot be combined with --read-only"},
		{[]string{"--volatile=bogus"}, "nspawn: --volatile=bogus: unknown mode"},
	} {
		r := run(t, "", append(append([]string{"-q", "-D", tree}, c.args...), "/bin/true")...)
		if r.status == 0 || !strings.HasPrefix(r.stderr, c.want) || strings.Count(r.stderr, "\n") != 1 {
			t.Errorf("%q: status %d, stderr %q, want one line starting %q", c.args, r.status, r.stderr, c.want)
		}
	}
	if got := treeDigest(t, tree); got != digest {
		t.Errorf("a refused --volatile changed the tree")
	}
}

// TestOverlay: --overlay and --overlay-ro as systemd-nspawn mounts them:
// the last lower on top, writes going to the upper directory (kept) or
// a throw-away one (gone), the read-only one refusing them; bad ones
// refused in one line with nothing changed.
func TestOverlay(t *testing.T) {
	tree := copyTree(t, busyboxTree)
	dir := t.TempDir()
	lo1, lo2, up := filepath.Join(dir, "lo1"), filepath.Join(dir, "lo2"), filepath.Join(dir, "up:per")
	for _, d := range []string{lo1, lo2, up, filepath.Join(tree, "srv", "o")} {
		os.MkdirAll(d, 0o755)
	}
	os.WriteFile(filepath.Join(lo1, "a"), []byte("a1\n"), 0o644)
	os.WriteFile(filepath.Join(lo1, "b"), []byte("b1\n"), 0o644)
	os.WriteFile(filepath.Join(lo2, "b"), []byte("b2\n"), 0o644)
	os.MkdirAll(filepath.Join(tree, "srv", "in"), 0o755)
	os.WriteFile(filepath.Join(tree, "srv", "in", "c"), []byte("c\n"), 0o644)
	before := snapshotHost(t)
	digest := treeDigest(t, tree)
	escUp := strings.ReplaceAll(up, ":", `\:`)
	out := mustRun(t, tree,
		"--overlay="+lo1+":"+lo2+":"+escUp+":/mnt",
		"--overlay="+lo1+":+/srv/in::/srv/o",
		"--overlay-ro="+lo1+":"+lo2+":/tmp",
		"/bin/sh", "-c", `cat /mnt/a /mnt/b /srv/o/c; echo n > /mnt/n; echo t > /srv/o/t && cat /srv/o/t; cat /tmp/b; echo x > /tmp/x 2>/dev/null || echo ro refused`)
	if out != "a1\nb2\nc\nt\nb2\nro refused\n" {
		t.Errorf("overlays: got %q", out)
	}
	if b, err := os.ReadFile(filepath.Join(up, "n")); err != nil || string(b) != "n\n" {
		t.Errorf("the upper directory did not keep the write: %q %v", b, err)
	}
	// In a user namespace the throw-away upper is the container root's.
	if out := mustRun(t, tree, "-U", "--overlay="+lo1+"::/mnt", "/bin/sh", "-c", "echo n > /mnt/n && stat -c %u /mnt"); out != "0\n" {
		t.Errorf("-U --overlay: got %q", out)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 3 {
		t.Errorf("left beside the layers: %v", entries)
	}
	if got := treeDigest(t, tree); got != digest {
		t.Errorf("--overlay changed the tree")
	}
	for _, c := range []struct{ spec, want string }{
		{"/nonexistent:" + escUp + ":/mnt", "lower directory /nonexistent does not exist"},
		{lo1 + ":/nonexistent:/mnt", "upper directory /nonexistent does not exist"},
		{lo1 + ":" + lo1 + "/sub:/mnt", "upper directory " + lo1 + "/sub does not exist"},
		{dir + ":" + lo1 + ":/mnt", "is inside lower directory"},
		{lo1 + ":/proc/sys:/mnt", "overlayfs cannot write to"},
		{"relative:" + escUp, "not an absolute path"},
		{lo1, "needs at least LOWER:UPPER"},
	} {
		r := run(t, "", "-q", "-D", tree, "--overlay="+c.spec, "/bin/true")
		if r.status == 0 || !strings.HasPrefix(r.stderr, "nspawn: --overlay=") || !strings.Contains(r.stderr, c.want) || strings.Count(r.stderr, "\n") != 1 {
			t.Errorf("--overlay=%s: status %d, stderr %q, want one line with %q", c.spec, r.status, r.stderr, c.want)
		}
	}
	if got := treeDigest(t, tree); got != digest {
		t.Errorf("a refused --overlay changed the tree")
	}
	checkNoLeaks(t, before)
}

// TestVolatileKilled: nspawn SIGKILLed while a --volatile=overlay
// container with a throw-away --overlay runs leaves nothing: no mount,
// process or cgroup, and the tree as it was.
func TestVolatileKilled(t *testing.T) {
	tree := copyTree(t, busyboxTree)
	lower := t.TempDir()
	before := snapshotHost(t)
	digest := treeDigest(t, tree)
	cmd := exec.Command(nspawnBin, "-q", "-D", tree, "--volatile=overlay", "--overlay="+lower+"::/srv",
		"/bin/sh", "-c", "echo x > /v; echo y > /srv/y; echo ready; exec sleep 1000")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 6)
	if n, err := stdout.Read(buf); err != nil || string(buf[:n]) != "ready\n" {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("no ready marker: %q %v", buf[:n], err)
	}
	cmd.Process.Kill()
	cmd.Wait()
	checkNoLeaks(t, before)
	if got := treeDigest(t, tree); got != digest {
		t.Errorf("a killed --volatile=overlay changed the tree")
	}
	if entries, _ := os.ReadDir(lower); len(entries) != 0 {
		t.Errorf("the lower directory changed: %v", entries)
	}
}

// TestVolatileSameAsSystemdNspawn: each --volatile mode allows and
// refuses the same writes in ours and in systemd-nspawn 252, each on a
// copy of the tree. Its own test, last: systemd-nspawn takes its cgroup
// away after it exits, which the other tests' leak checks would see.
func TestVolatileSameAsSystemdNspawn(t *testing.T) {
	sdn, err := exec.LookPath("systemd-nspawn")
	if err != nil {
		t.Skip("needs systemd-nspawn (make deps installs systemd-container)")
	}
	tree := mergedUsrTree(t)
	for _, mode := range []string{"yes", "state", "overlay"} {
		ours := mustRun(t, tree, "-M", "ours-"+mode, "--volatile="+mode, "/bin/sh", "-c", volatileProbe)
		theirs, err := exec.Command(sdn, "--register=no", "--keep-unit", "-q", "-M", "theirs-"+mode, "-D", copyTree(t, tree), "--volatile="+mode, "/bin/sh", "-c", volatileProbe).Output()
		if err != nil {
			t.Errorf("systemd-nspawn --volatile=%s: %v", mode, err)
		} else if got := strings.ReplaceAll(string(theirs), "\r\n", "\n"); got != ours {
			t.Errorf("--volatile=%s: ours\n%ssystemd-nspawn's\n%s", mode, ours, got)
		}
	}
	// --overlay and --overlay-ro: the same layers seen, the same writes
	// allowed, each with an upper directory of its own.
	dir := t.TempDir()
	lo1, lo2 := filepath.Join(dir, "lo1"), filepath.Join(dir, "lo2")
	for _, d := range []string{lo1, lo2, filepath.Join(dir, "ours"), filepath.Join(dir, "theirs")} {
		os.MkdirAll(d, 0o755)
	}
	os.WriteFile(filepath.Join(lo1, "a"), []byte("a1\n"), 0o644)
	os.WriteFile(filepath.Join(lo1, "b"), []byte("b1\n"), 0o644)
	os.WriteFile(filepath.Join(lo2, "b"), []byte("b2\n"), 0o644)
	probe := `cat /mnt/a /mnt/b /srv/b; (echo n > /mnt/n) 2>/dev/null && echo mnt written; (echo n > /srv/n) 2>/dev/null || echo srv refused; (echo n > /opt/n) 2>/dev/null && echo opt written`
	overlays := func(upper string) []string {
		return []string{"--overlay=" + lo1 + ":" + lo2 + ":" + upper + ":/mnt", "--overlay-ro=" + lo1 + ":" + lo2 + ":/srv", "--overlay=" + lo2 + "::/opt"}
	}
	ours := mustRun(t, tree, append(append([]string{"-M", "ours-overlay"}, overlays(filepath.Join(dir, "ours"))...), "/bin/sh", "-c", probe)...)
	theirs, err := exec.Command(sdn, append(append([]string{"--register=no", "--keep-unit", "-q", "-M", "theirs-overlay", "-D", copyTree(t, tree)}, overlays(filepath.Join(dir, "theirs"))...), "/bin/sh", "-c", probe)...).Output()
	if err != nil {
		t.Errorf("systemd-nspawn --overlay: %v", err)
	} else if got := strings.ReplaceAll(string(theirs), "\r\n", "\n"); got != ours || ours != "a1\nb2\nb2\nmnt written\nsrv refused\nopt written\n" {
		t.Errorf("--overlay: ours\n%ssystemd-nspawn's\n%s", ours, got)
	}
}
