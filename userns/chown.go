package userns

import (
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/nspawn/nspawn/progress"
)

// busyBase owns a tree's root directory while Chown works on it. No range
// is ever picked from it, so an interrupted chown never looks finished and
// is redone on the next start.
const busyBase = 0xFFFE0000

// Chown shifts the owners of every file in the tree at root into the 64K
// ID range starting at shift: an owner ID x becomes shift | (x & 0xFFFF).
// The range is always 65536 IDs, so shift must be a multiple of 65536, as
// for systemd-nspawn's --private-users-ownership=chown. POSIX ACLs and
// namespaced file capabilities are shifted the same way. A root directory
// already owned by the range marks a tree shifted before, and Chown then
// returns at once; other mounts inside the tree are left as they are.
// Each file done is counted in done (nil: not counted), for the progress
// line of a big tree.
func Chown(root string, shift uint32, done *progress.Counter) error {
	if shift%RangeSize != 0 || shift >= busyBase {
		return fmt.Errorf("chown %s: the range must start at a multiple of 65536 below %d, not at %d", root, uint32(busyBase), shift)
	}
	fd, err := unix.Open(root, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("chown %s: %w", root, err)
	}
	dir := os.NewFile(uintptr(fd), root)
	defer dir.Close()
	var st unix.Statx_t
	if err := chownStat(fd, &st); err != nil {
		return fmt.Errorf("chown %s: %w", root, err)
	}
	if (st.Uid^shift)>>16 == 0 && (st.Gid^shift)>>16 == 0 {
		return nil
	}
	var sfs unix.Statfs_t
	if err := unix.Fstatfs(fd, &sfs); err != nil {
		return fmt.Errorf("chown %s: %w", root, err)
	}
	if sfs.Flags&unix.ST_RDONLY != 0 {
		return fmt.Errorf("%s is on a read-only filesystem; chown cannot shift its owners, use --private-users-ownership=map or off", root)
	}
	st.Uid, st.Gid = busyBase|st.Uid&0xFFFF, busyBase|st.Gid&0xFFFF
	if err := unix.Fchown(fd, int(st.Uid), int(st.Gid)); err != nil {
		return fmt.Errorf("chown %s: %w", root, err)
	}
	c := &chowner{shift: shift, root: st, done: done}
	if err := c.walk(dir); err != nil {
		return err
	}
	return c.patch(fd, root, &st)
}

// chowner walks one tree; buf holds an xattr (at most 64K, XATTR_SIZE_MAX).
type chowner struct {
	shift uint32
	root  unix.Statx_t
	done  *progress.Counter
	buf   [1 << 16]byte
}

// chownStat stats the file fd refers to, with the mount ID that tells
// another mount apart even when it is a bind mount of the same filesystem.
func chownStat(fd int, st *unix.Statx_t) error {
	return unix.Statx(fd, "", unix.AT_EMPTY_PATH|unix.AT_SYMLINK_NOFOLLOW, unix.STATX_BASIC_STATS|unix.STATX_MNT_ID, st)
}

// walk shifts everything below dir, depth first with one fd per level.
func (c *chowner) walk(dir *os.File) error {
	for {
		names, err := dir.Readdirnames(512)
		for _, name := range names {
			if err := c.entry(int(dir.Fd()), filepath.Join(dir.Name(), name), name); err != nil {
				return err
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("chown %s: %w", dir.Name(), err)
		}
	}
}

// entry shifts name in dirfd, and what is below it if a directory. It is
// opened O_PATH|O_NOFOLLOW and worked on through that fd only, so a name
// swapped for a symlink meanwhile leads nowhere outside the tree.
func (c *chowner) entry(dirfd int, path, name string) error {
	fd, err := unix.Openat(dirfd, name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("chown %s: %w", path, err)
	}
	var st unix.Statx_t
	if err := chownStat(fd, &st); err != nil {
		unix.Close(fd)
		return fmt.Errorf("chown %s: %w", path, err)
	}
	if st.Dev_major != c.root.Dev_major || st.Dev_minor != c.root.Dev_minor ||
		st.Mask&c.root.Mask&unix.STATX_MNT_ID != 0 && st.Mnt_id != c.root.Mnt_id {
		unix.Close(fd)
		return nil // a mount point: whatever is mounted keeps its owners
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		defer unix.Close(fd)
		return c.patch(fd, path, &st)
	}
	// Reopen the very directory fd pins, readable this time.
	dfd, err := unix.Openat(fd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	unix.Close(fd)
	if err != nil {
		return fmt.Errorf("chown %s: %w", path, err)
	}
	dir := os.NewFile(uintptr(dfd), path)
	defer dir.Close()
	if err := c.walk(dir); err != nil {
		return err
	}
	return c.patch(dfd, path, &st)
}

// patch shifts the owner and ACLs of the file fd refers to (O_PATH or not),
// stat'ed as st. Anything already shifted is not written again.
func (c *chowner) patch(fd int, path string, st *unix.Statx_t) error {
	c.done.Add(1, int64(st.Size))
	uid, gid := c.shift|st.Uid&0xFFFF, c.shift|st.Gid&0xFFFF
	typ := uint32(st.Mode) & unix.S_IFMT
	// fd may be O_PATH, which most calls refuse; its /proc link reaches the
	// very inode. Symlinks are never worked on through it.
	proc := "/proc/self/fd/" + strconv.Itoa(fd)
	if uid != st.Uid || gid != st.Gid {
		// chown drops file capabilities and setuid/setgid bits, which the
		// container must keep: they are put back after.
		var caps []byte
		if typ == unix.S_IFREG {
			n, err := unix.Getxattr(proc, "security.capability", c.buf[:])
			if err == nil {
				caps = c.shiftCaps(append([]byte(nil), c.buf[:n]...))
			} else if err != unix.ENODATA && err != unix.EOPNOTSUPP {
				return fmt.Errorf("chown %s: read file capabilities: %w", path, err)
			}
		}
		if err := unix.Fchownat(fd, "", int(uid), int(gid), unix.AT_EMPTY_PATH|unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return fmt.Errorf("chown %s: %w", path, err)
		}
		if typ != unix.S_IFLNK && st.Mode&(unix.S_ISUID|unix.S_ISGID) != 0 {
			if err := unix.Chmod(proc, uint32(st.Mode)&07777); err != nil {
				return fmt.Errorf("chown %s: restore mode: %w", path, err)
			}
		}
		if caps != nil {
			if err := unix.Setxattr(proc, "security.capability", caps, 0); err != nil {
				return fmt.Errorf("chown %s: restore file capabilities: %w", path, err)
			}
		}
	}
	if typ == unix.S_IFLNK {
		return nil // symlinks have no ACLs
	}
	if err := c.patchACL(proc, path, "system.posix_acl_access"); err != nil || typ != unix.S_IFDIR {
		return err
	}
	return c.patchACL(proc, path, "system.posix_acl_default")
}

// patchACL shifts the named users and groups of a POSIX ACL xattr: a
// version 2 header (le32), then entries {le16 tag, le16 perm, le32 id}.
func (c *chowner) patchACL(proc, path, attr string) error {
	n, err := unix.Getxattr(proc, attr, c.buf[:])
	if err == unix.ENODATA || err == unix.EOPNOTSUPP {
		return nil
	}
	if err != nil {
		return fmt.Errorf("chown %s: read %s: %w", path, attr, err)
	}
	acl := c.buf[:n]
	if n < 4 || binary.LittleEndian.Uint32(acl) != 2 || (n-4)%8 != 0 {
		return fmt.Errorf("chown %s: %s is not a version 2 ACL", path, attr)
	}
	changed := false
	for e := acl[4:]; len(e) > 0; e = e[8:] {
		if tag := binary.LittleEndian.Uint16(e); tag == 0x02 || tag == 0x08 { // ACL_USER, ACL_GROUP
			id := binary.LittleEndian.Uint32(e[4:])
			if nid := c.shift | id&0xFFFF; nid != id {
				binary.LittleEndian.PutUint32(e[4:], nid)
				changed = true
			}
		}
	}
	if !changed {
		return nil
	}
	if err := unix.Setxattr(proc, attr, acl, 0); err != nil {
		return fmt.Errorf("chown %s: write %s: %w", path, attr, err)
	}
	return nil
}

// shiftCaps shifts the root ID of a namespaced (revision 3) file
// capability, which names the user namespace root the capabilities are
// for; revision 2 ones hold for every namespace and are kept as they are.
func (c *chowner) shiftCaps(caps []byte) []byte {
	if len(caps) == 24 && binary.LittleEndian.Uint32(caps)&0xFF000000 == 0x03000000 {
		binary.LittleEndian.PutUint32(caps[20:], c.shift|binary.LittleEndian.Uint32(caps[20:])&0xFFFF)
	}
	return caps
}
