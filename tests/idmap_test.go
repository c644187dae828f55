package tests

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// ID-mapped binds (issue 16): --bind=SRC:DST:idmap|rootidmap|owneridmap
// show a host directory owned by an unprivileged UID as the mapping says,
// and a file made inside lands on disk with the owner the mapping gives.

// idmapOwner is the unprivileged host UID and GID that owns the bound
// directory.
const idmapOwner = 1234

// idmapSource makes a directory owned by idmapOwner holding one file.
func idmapSource(t *testing.T) string {
	t.Helper()
	src := filepath.Join(t.TempDir(), "src")
	writeFile(t, filepath.Join(src, "f"), "data\n", 0o644)
	for _, p := range []string{src, filepath.Join(src, "f")} {
		if err := os.Chown(p, idmapOwner, idmapOwner); err != nil {
			t.Fatal(err)
		}
	}
	return src
}

// TestIDMappedBinds: each option, without and with -U, as ls -n shows the
// bind inside and as the host sees a file created there; beside
// systemd-nspawn 252 where it takes the same line.
func TestIDMappedBinds(t *testing.T) {
	before := snapshotHost(t)
	sdn, _ := exec.LookPath("systemd-nspawn")
	for _, tc := range []struct {
		name, opt string
		userns    bool
		// inside is "UID:GID" of the bind's root and file inside; created
		// the host owner of a file root makes inside ("" for refused).
		inside, created string
		// sdnDiffers: systemd-nspawn 252 fails this line (its idmap
		// without a user namespace writes an overlapping map, EINVAL).
		sdnDiffers bool
	}{
		{name: "noidmap", opt: "noidmap", inside: "1234:1234", created: "0:0"},
		{name: "idmap", opt: "idmap", inside: "1234:1234", created: "0:0", sdnDiffers: true},
		{name: "rootidmap", opt: "rootidmap", inside: "0:0", created: "1234:1234"},
		{name: "owneridmap", opt: "owneridmap", inside: "0:0", created: "1234:1234", sdnDiffers: true},
		{name: "U-noidmap", opt: "noidmap", userns: true, inside: "65534:65534", created: ""},
		{name: "U-idmap", opt: "idmap", userns: true, inside: "1234:1234", created: "0:0"},
		{name: "U-rootidmap", opt: "rootidmap", userns: true, inside: "0:0", created: "1234:1234"},
		{name: "U-owneridmap", opt: "owneridmap", userns: true, inside: "0:0", created: "1234:1234", sdnDiffers: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			script := `stat -c %u:%g /mnt/bound /mnt/bound/f; touch /mnt/bound/new 2>/dev/null || echo refused`
			want := tc.inside + "\n" + tc.inside + "\n"
			if tc.created == "" {
				want += "refused\n"
			}
			impls := []string{nspawnBin}
			if sdn != "" && !tc.sdnDiffers {
				impls = append(impls, sdn)
			}
			for _, impl := range impls {
				src := idmapSource(t)
				args := []string{"-q", "--console=pipe", "-D", copyTree(t, busyboxTree), "-M", "idmap-" + tc.name,
					"--bind=" + src + ":/mnt/bound:" + tc.opt}
				if tc.userns {
					args = append(args, "-U")
				}
				if impl != nspawnBin {
					args = append(args, "--register=no", "--keep-unit")
				}
				args = append(args, "sh", "-c", script)
				cmd := exec.Command(impl, args...)
				var stderr strings.Builder
				cmd.Stderr = &stderr
				out, err := cmd.Output()
				if err != nil || string(out) != want {
					t.Errorf("%s %q: %v\n%s%s\nwant %q", filepath.Base(impl), args, err, out, stderr.String(), want)
					continue
				}
				if tc.created != "" {
					if got := owner(t, filepath.Join(src, "new")); got != tc.created {
						t.Errorf("%s: a file made inside is %s on disk, want %s", filepath.Base(impl), got, tc.created)
					}
				}
				if got := owner(t, filepath.Join(src, "f")); got != "1234:1234" {
					t.Errorf("%s: the bound file's owner changed to %s on disk", filepath.Base(impl), got)
				}
			}
		})
	}
	if left := leftLease(t); len(left) > 0 {
		t.Errorf("left behind: %q", left)
	}
	checkNoLeaks(t, before)
}

// TestIDMappedBindRefused: a filesystem that cannot ID-map (sysfs) gives
// one line naming the option and the fix, and the tree gets no mount
// point.
func TestIDMappedBindRefused(t *testing.T) {
	tree := copyTree(t, busyboxTree)
	digest := treeDigest(t, tree)
	r := run(t, "", "-q", "-D", tree, "--bind-ro=/sys/kernel:/mnt/k:rootidmap", "true")
	if r.status == 0 || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 ||
		!strings.Contains(r.stderr, "nspawn: --bind-ro=/sys/kernel:/mnt/k:rootidmap: the kernel or the filesystem of /sys/kernel") ||
		!strings.Contains(r.stderr, "drop rootidmap") {
		t.Errorf("status %d, stderr %q; want one line naming the bind and the fix", r.status, r.stderr)
	}
	if treeDigest(t, tree) != digest {
		t.Error("a refused ID-mapped bind changed the tree")
	}
}
