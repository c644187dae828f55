package nspawn

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/nspawn/nspawn/progress"
)

// The copy --template makes (template_files.go): every file of the
// template as it is, its owner, mode, times and xattrs, hard links linked.

// fileID names an inode, to keep hard links linked.
type fileID struct{ dev, ino uint64 }

// treeCopier copies one tree. Files on another filesystem than the
// template's root are mount points: their directory is made, empty, as
// systemd's copy does with COPY_SAME_MOUNT.
type treeCopier struct {
	from  string
	dev   uint64
	links map[fileID]string // the first copy of each inode with links
	// noReflink: FICLONE failed as on a filesystem that cannot.
	noReflink bool
	done      *progress.Counter
	stopped   atomic.Bool
	buf       [1 << 16]byte // one xattr value (XATTR_SIZE_MAX)
	names     [1 << 16]byte // one xattr name list
}

// fail says which file failed, as a path in the template, and why.
func (c *treeCopier) fail(src string, what string, err error) error {
	rel, _ := filepath.Rel(c.from, src)
	if errors.Is(err, unix.ENOSPC) || errors.Is(err, unix.EDQUOT) {
		return fmt.Errorf("copying %s: %s: %w; free some space beside -D or put -D elsewhere", rel, what, err)
	}
	return fmt.Errorf("copying %s: %s: %w", rel, what, err)
}

// dir copies the directory src, stat'ed as st, to dst, contents first:
// its owner, mode, xattrs and times are set last, so a read-only
// directory still gets its files and its times stay the template's.
func (c *treeCopier) dir(src, dst string, st *unix.Stat_t) error {
	if err := unix.Mkdir(dst, 0o700); err != nil {
		return c.fail(src, "mkdir", err)
	}
	c.done.Add(1, 0)
	if st.Dev == c.dev {
		if err := c.entries(src, dst); err != nil {
			return err
		}
	}
	return c.attributes(src, dst, st)
}

func (c *treeCopier) entries(src, dst string) error {
	d, err := os.Open(src)
	if err != nil {
		return c.fail(src, "open", err)
	}
	defer d.Close()
	for {
		names, err := d.Readdirnames(512)
		for _, name := range names {
			if c.stopped.Load() {
				return errors.New("interrupted")
			}
			if err := c.entry(filepath.Join(src, name), filepath.Join(dst, name)); err != nil {
				return err
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return c.fail(src, "read directory", err)
		}
	}
}

// entry copies one file of any type.
func (c *treeCopier) entry(src, dst string) error {
	var st unix.Stat_t
	if err := unix.Lstat(src, &st); err != nil {
		return c.fail(src, "stat", err)
	}
	typ := st.Mode & unix.S_IFMT
	if typ == unix.S_IFDIR {
		return c.dir(src, dst, &st)
	}
	if st.Nlink > 1 {
		id := fileID{st.Dev, st.Ino}
		if first, ok := c.links[id]; ok {
			if err := unix.Link(first, dst); err != nil {
				return c.fail(src, "link", err)
			}
			c.done.Add(1, 0)
			return nil
		}
		c.links[id] = dst
	}
	var err error
	switch typ {
	case unix.S_IFREG:
		err = c.regular(src, dst, &st)
	case unix.S_IFLNK:
		var target string
		if target, err = os.Readlink(src); err == nil {
			err = unix.Symlink(target, dst)
		}
	default: // devices, fifos, sockets
		err = unix.Mknod(dst, st.Mode, int(st.Rdev))
	}
	if err != nil {
		return c.fail(src, "copy", err)
	}
	c.done.Add(1, st.Size)
	return c.attributes(src, dst, &st)
}

// regular copies a regular file's contents. A reflink (FICLONE) shares
// the blocks on a filesystem that can (btrfs, xfs), which is instant and
// takes no space, as systemd-nspawn's COPY_REFLINK; elsewhere (ext4,
// tmpfs) copy_file_range copies in the kernel, without the data passing
// through nspawn, and read and write do where the kernel cannot (across
// some filesystems). Raw fds, not os.File: the runtime's poller setup
// cost more than the copy of a small file.
func (c *treeCopier) regular(src, dst string, st *unix.Stat_t) error {
	in, err := unix.Open(src, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(in)
	out, err := unix.Open(dst, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return err
	}
	defer unix.Close(out)
	if st.Size == 0 {
		return nil
	}
	if !c.noReflink {
		err := unix.IoctlFileClone(out, in)
		if err == nil {
			return nil
		}
		// One filesystem that cannot reflink will not start to: the
		// template is one filesystem, and so is -D's parent.
		c.noReflink = err == unix.EOPNOTSUPP || err == unix.EINVAL || err == unix.EXDEV || err == unix.ENOTTY
	}
	for left := st.Size; left > 0; {
		n, err := unix.CopyFileRange(in, nil, out, nil, int(min(left, 1<<30)), 0)
		if err == unix.EXDEV || err == unix.EINVAL || err == unix.ENOSYS || err == unix.EOPNOTSUPP {
			// Both offsets are where copy_file_range left them.
			return c.readWrite(in, out)
		}
		if err != nil {
			return err
		}
		if n == 0 {
			break // the file shrank meanwhile
		}
		left -= int64(n)
	}
	return nil
}

// readWrite copies the rest of in to out through nspawn's memory.
func (c *treeCopier) readWrite(in, out int) error {
	for {
		n, err := unix.Read(in, c.buf[:])
		if err == unix.EINTR {
			continue
		}
		if n <= 0 || err != nil {
			return err
		}
		for b := c.buf[:n]; len(b) > 0; {
			w, err := unix.Write(out, b)
			if err == unix.EINTR {
				continue
			}
			if err != nil {
				return err
			}
			b = b[w:]
		}
	}
}

// attributes gives dst src's owner, mode, xattrs and times, in that
// order: chown clears setuid bits and file capabilities, which the
// mode and the xattrs put back.
func (c *treeCopier) attributes(src, dst string, st *unix.Stat_t) error {
	link := st.Mode&unix.S_IFMT == unix.S_IFLNK
	if err := unix.Lchown(dst, int(st.Uid), int(st.Gid)); err != nil {
		return c.fail(src, "chown", err)
	}
	if !link {
		if err := unix.Chmod(dst, st.Mode&0o7777); err != nil {
			return c.fail(src, "chmod", err)
		}
	}
	if err := c.xattrs(src, dst, link); err != nil {
		return err
	}
	times := []unix.Timespec{st.Atim, st.Mtim}
	if err := unix.UtimesNanoAt(unix.AT_FDCWD, dst, times, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return c.fail(src, "set times", err)
	}
	return nil
}

// xattrs copies every extended attribute (ACLs, file capabilities,
// SELinux labels, user attributes). A filesystem that cannot hold one at
// all (EOPNOTSUPP), or a symlink that may not have one (user.*), goes
// without, as systemd's copy does.
func (c *treeCopier) xattrs(src, dst string, link bool) error {
	n, err := unix.Llistxattr(src, c.names[:])
	if err == unix.EOPNOTSUPP || n == 0 {
		return nil
	}
	if err != nil {
		return c.fail(src, "list xattrs", err)
	}
	for _, name := range strings.Split(strings.TrimRight(string(c.names[:n]), "\x00"), "\x00") {
		v, err := unix.Lgetxattr(src, name, c.buf[:])
		if err != nil {
			return c.fail(src, "read xattr "+name, err)
		}
		err = unix.Lsetxattr(dst, name, c.buf[:v], 0)
		if err == unix.EOPNOTSUPP || link && err == unix.EPERM {
			continue
		}
		if err != nil {
			return c.fail(src, "write xattr "+name, err)
		}
	}
	return nil
}
