package userns

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/nspawn/nspawn/progress"
)

const chownTestShift = 0x80000

// chownTestACL builds a POSIX ACL xattr: user::rw-, user:uid:r--, group::r--,
// group:gid:r--, mask::r--, other::r--.
func chownTestACL(uid, gid uint32) []byte {
	b := binary.LittleEndian.AppendUint32(nil, 2)
	for _, e := range []struct {
		tag, perm uint16
		id        uint32
	}{{0x01, 6, ^uint32(0)}, {0x02, 4, uid}, {0x04, 4, ^uint32(0)}, {0x08, 4, gid}, {0x10, 4, ^uint32(0)}, {0x20, 4, ^uint32(0)}} {
		b = binary.LittleEndian.AppendUint16(b, e.tag)
		b = binary.LittleEndian.AppendUint16(b, e.perm)
		b = binary.LittleEndian.AppendUint32(b, e.id)
	}
	return b
}

// chownTestCapV2 is CAP_NET_BIND_SERVICE, effective, as VFS_CAP_REVISION_2: magic,
// then permitted and inheritable, low and high words.
var chownTestCapV2 = []byte{1, 0, 0, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}

// chownTestCapV3 is chownTestCapV2 for the user namespace whose root is rootid.
func chownTestCapV3(rootid uint32) []byte {
	b := binary.LittleEndian.AppendUint32(nil, 0x03000001)
	b = append(b, chownTestCapV2[4:]...)
	return binary.LittleEndian.AppendUint32(b, rootid)
}

func lstatOwner(t *testing.T, path string) (uint32, uint32, uint32) {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		t.Fatal(err)
	}
	return st.Uid, st.Gid, st.Mode
}

func wantChowned(t *testing.T, path string, uid, gid uint32) {
	t.Helper()
	if u, g, _ := lstatOwner(t, path); u != uid || g != gid {
		t.Errorf("%s is owned by %#x:%#x, want %#x:%#x", path, u, g, uid, gid)
	}
}

func mustChown(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// testTree builds a tree of every file type, owned by root but for "user".
func chownTestTree(t *testing.T) string {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	root := t.TempDir()
	p := func(name string) string { return filepath.Join(root, name) }
	mustChown(t, os.Mkdir(p("d"), 0o755))
	mustChown(t, os.WriteFile(p("d/suid"), nil, 0o644))
	mustChown(t, unix.Chmod(p("d/suid"), 0o4755))
	mustChown(t, os.Symlink("/etc/passwd", p("link")))
	mustChown(t, unix.Mkfifo(p("fifo"), 0o644))
	mustChown(t, unix.Mknod(p("null"), unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))))
	mustChown(t, unix.Mknod(p("sock"), unix.S_IFSOCK|0o644, 0))
	mustChown(t, os.WriteFile(p("user"), nil, 0o644))
	mustChown(t, os.Lchown(p("user"), 1000, 1000))
	for _, name := range []string{"acl", "cap", "capns"} {
		mustChown(t, os.WriteFile(p(name), nil, 0o644))
	}
	return root
}

func TestChown(t *testing.T) {
	root := chownTestTree(t)
	p := func(name string) string { return filepath.Join(root, name) }
	passwdUID, passwdGID, _ := lstatOwner(t, "/etc/passwd")
	acls := unix.Setxattr(p("acl"), "system.posix_acl_access", chownTestACL(1000, 1001), 0) == nil &&
		unix.Setxattr(p("d"), "system.posix_acl_default", chownTestACL(1002, 5), 0) == nil
	if !acls {
		t.Log("no POSIX ACLs on this filesystem; not testing them")
	}
	caps := unix.Setxattr(p("cap"), "security.capability", chownTestCapV2, 0) == nil &&
		unix.Setxattr(p("capns"), "security.capability", chownTestCapV3(1000), 0) == nil
	if !caps {
		t.Log("no file capabilities on this filesystem; not testing them")
	}

	var done progress.Counter
	mustChown(t, Chown(root, chownTestShift, &done))
	// The root, d, d/suid, link, fifo, null, sock, user, acl, cap, capns.
	if done.Files() != 11 {
		t.Errorf("the progress counter counted %d files, want 11", done.Files())
	}

	for _, name := range []string{"", "d", "d/suid", "link", "fifo", "null", "sock", "acl", "cap"} {
		wantChowned(t, p(name), chownTestShift, chownTestShift)
	}
	wantChowned(t, p("user"), chownTestShift+1000, chownTestShift+1000)
	wantChowned(t, "/etc/passwd", passwdUID, passwdGID)
	if _, _, mode := lstatOwner(t, p("d/suid")); mode&0o7777 != 0o4755 {
		t.Errorf("d/suid has mode %#o after chown, want 04755", mode&0o7777)
	}
	if acls {
		wantChownXattr(t, p("acl"), "system.posix_acl_access", chownTestACL(chownTestShift+1000, chownTestShift+1001))
		wantChownXattr(t, p("d"), "system.posix_acl_default", chownTestACL(chownTestShift+1002, chownTestShift+5))
	}
	if caps {
		wantChownXattr(t, p("cap"), "security.capability", chownTestCapV2)
		wantChownXattr(t, p("capns"), "security.capability", chownTestCapV3(chownTestShift+1000))
	}

	// The root's owner marks the tree shifted: a second run looks no further.
	mustChown(t, os.Lchown(p("user"), 0, 0))
	mustChown(t, Chown(root, chownTestShift, nil))
	wantChowned(t, p("user"), 0, 0)
}

func wantChownXattr(t *testing.T, path, attr string, want []byte) {
	t.Helper()
	buf := make([]byte, 1024)
	n, err := unix.Getxattr(path, attr, buf)
	if err != nil {
		t.Errorf("%s of %s: %v", attr, path, err)
	} else if !bytes.Equal(buf[:n], want) {
		t.Errorf("%s of %s = %x, want %x", attr, path, buf[:n], want)
	}
}

// TestChownBusy redoes a chown interrupted after it marked the root busy,
// over a tree partly shifted already.
func TestChownBusy(t *testing.T) {
	root := chownTestTree(t)
	p := func(name string) string { return filepath.Join(root, name) }
	mustChown(t, os.Lchown(root, busyBase, busyBase))
	mustChown(t, os.Lchown(p("d/suid"), chownTestShift+7, chownTestShift+7))
	mustChown(t, os.Lchown(p("fifo"), 0x30000+9, 0x30000+9))

	var done progress.Counter
	mustChown(t, Chown(root, chownTestShift, &done))
	// The root, d, d/suid, link, fifo, null, sock, user, acl, cap, capns.
	if done.Files() != 11 {
		t.Errorf("the progress counter counted %d files, want 11", done.Files())
	}

	for _, name := range []string{"", "d", "link", "null", "sock", "acl"} {
		wantChowned(t, p(name), chownTestShift, chownTestShift)
	}
	wantChowned(t, p("d/suid"), chownTestShift+7, chownTestShift+7)
	wantChowned(t, p("fifo"), chownTestShift+9, chownTestShift+9)
	wantChowned(t, p("user"), chownTestShift+1000, chownTestShift+1000)
}

func TestChownBadShift(t *testing.T) {
	for _, shift := range []uint32{chownTestShift + 1, busyBase, 0xFFFF0000} {
		if err := Chown(t.TempDir(), shift, nil); err == nil {
			t.Errorf("Chown(%#x) succeeded", shift)
		}
	}
}
