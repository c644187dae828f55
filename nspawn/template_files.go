package nspawn

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/nspawn/nspawn/progress"
)

// --template=DIR, as systemd-nspawn 252 has it: a -D that does not exist
// is made from DIR before the container starts; a -D that exists is used
// as it is, with a line saying so. systemd-nspawn snapshots a btrfs
// subvolume and copies elsewhere; we always copy, reflinking each file
// where the filesystem can, into a temporary sibling of -D renamed over
// it only when complete, so no half tree is ever found at -D.

// TemplateCopy is --template as planned.
type TemplateCopy struct {
	// From is the template, absolute and symlink-free; "" without
	// --template.
	From string
	// To is -D, absolute, its parent symlink-free.
	To string
	// Exists: -D was there at planning, and is used as it is.
	Exists bool
}

// recorder is the undo log (package undo, wired by the integrator): a
// record is written before the thing it names is made, so a SIGKILLed
// nspawn's cleanup stage can remove it. A nil recorder records nothing.
type recorder interface {
	Record(kind string, args ...string) error
}

// undoKindTree is the undo log's kind for a template copy's temporary.
const undoKindTree = "tree"

// templateTemp matches the name of a template copy's temporary,
// ".#<base>.<16 hex digits>", which UndoTree alone removes.
var templateTemp = regexp.MustCompile(`^\.#.+\.[0-9a-f]{16}$`)

// planTemplate resolves -D, and with --template the template: it returns
// the tree planning reads. When -D is still to be made that is the
// template, which -D will be a copy of; Populate plans again on the copy.
func (p *Plan) planTemplate(o *Options, cwd string) (string, error) {
	if o.Template == "" {
		// An empty --template= is none, as in systemd-nspawn.
		return treeRoot(o.Directory, cwd)
	}
	if o.Directory == "" {
		return "", fmt.Errorf("--template=%s: needs -D, the directory to make from it", o.Template)
	}
	if o.Ephemeral {
		return "", fmt.Errorf("--ephemeral and --template=%s exclude each other: -x never writes a tree, so there is none to populate (drop one)", o.Template)
	}
	from, err := templateRoot(o.Template, cwd)
	if err != nil {
		return "", err
	}
	to := absPath(o.Directory, cwd)
	if _, err := os.Lstat(to); err == nil {
		p.Template = TemplateCopy{From: from, To: to, Exists: true}
		return treeRoot(o.Directory, cwd)
	}
	parent, err := filepath.EvalSymlinks(filepath.Dir(to))
	if err != nil {
		return "", fmt.Errorf("--directory=%s: its parent %s does not exist; make it first", o.Directory, filepath.Dir(to))
	}
	to = filepath.Join(parent, filepath.Base(to))
	if to == from || strings.HasPrefix(to, from+"/") {
		return "", fmt.Errorf("--template=%s: -D %s is inside the template, which would copy itself; put -D elsewhere", o.Template, to)
	}
	p.Template = TemplateCopy{From: from, To: to}
	return from, nil
}

// templateRoot resolves --template to an absolute, symlink-free directory.
func templateRoot(dir, cwd string) (string, error) {
	abs := absPath(dir, cwd)
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return "", fmt.Errorf("--template=%s: %s does not exist; give the directory to copy -D from", dir, abs)
	}
	if st, err := os.Stat(real); err != nil {
		return "", fmt.Errorf("--template=%s: %v", dir, err)
	} else if !st.IsDir() {
		return "", fmt.Errorf("--template=%s: %s is not a directory; give the directory to copy -D from", dir, abs)
	}
	if real == "/" {
		return "", fmt.Errorf("--template=%s: refusing to copy the host's root directory; give a tree", dir)
	}
	return real, nil
}

func absPath(path, cwd string) string {
	if !filepath.IsAbs(path) {
		path = filepath.Join(cwd, path)
	}
	return filepath.Clean(path)
}

// Populate makes -D from the template where the plan says so, and returns
// the plan for the tree that is then at -D. It runs before anything else
// touches -D (settleUserNS may chown or ID-map it, the start locks it),
// and once, not on each reboot. undo is the undo log (nil: none).
func Populate(plan *Plan, o *Options, host *Facts, out reporter, undo recorder) (*Plan, error) {
	t := plan.Template
	if t.From == "" {
		return plan, nil
	}
	if t.Exists {
		out.Info("Directory %s already exists, not populating from template %s.", t.To, t.From)
		return plan, nil
	}
	made, err := copyTemplate(t.From, t.To, plan.Quiet, undo)
	if err != nil {
		return nil, fmt.Errorf("--template=%s: %w", t.From, err)
	}
	if made {
		out.Info("Populated %s from template %s.", t.To, t.From)
	} else {
		// Another nspawn made -D meanwhile: its tree is used.
		out.Info("Directory %s already exists, not populating from template %s.", t.To, t.From)
	}
	// The plan was made on the template; the container runs on the copy.
	again := *o
	again.Template = ""
	return BuildPlan(&again, host)
}

// copyTemplate copies from into a temporary sibling of to and renames it
// over to. made is false when another to appeared meanwhile; the copy is
// then thrown away. On an error or a signal the temporary goes at once.
func copyTemplate(from, to string, quiet bool, undo recorder) (made bool, err error) {
	var random [8]byte
	if _, err := rand.Read(random[:]); err != nil {
		return false, err
	}
	tmp := filepath.Join(filepath.Dir(to), ".#"+filepath.Base(to)+"."+hex.EncodeToString(random[:]))
	if undo != nil {
		if err := undo.Record(undoKindTree, tmp); err != nil {
			return false, fmt.Errorf("record %s in the undo log: %w", tmp, err)
		}
	}
	var root unix.Stat_t
	if err := unix.Stat(from, &root); err != nil {
		return false, fmt.Errorf("%s: %w", from, err)
	}
	done, meter := progress.Start(os.Stderr, "Copying "+from+" to "+to, quiet)
	c := &treeCopier{from: from, dev: root.Dev, links: map[fileID]string{}, done: done}
	// SIGINT and friends stop the copy between two files, so the
	// temporary is removed here rather than left to the undo log.
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, unix.SIGINT, unix.SIGTERM, unix.SIGHUP)
	go func() {
		if _, ok := <-signals; ok {
			c.stopped.Store(true)
		}
	}()
	err = c.dir(from, tmp, &root)
	signal.Stop(signals)
	close(signals)
	meter.Stop()
	if err == nil && c.stopped.Load() {
		err = errors.New("interrupted")
	}
	if err == nil {
		err = unix.Renameat2(unix.AT_FDCWD, tmp, unix.AT_FDCWD, to, unix.RENAME_NOREPLACE)
		if err == unix.EEXIST {
			os.RemoveAll(tmp)
			return false, nil
		}
		if err != nil {
			err = fmt.Errorf("rename %s to %s: %w", tmp, to, err)
		}
	}
	if err != nil {
		os.RemoveAll(tmp)
		return false, err
	}
	return true, nil
}

// UndoTree is the undo log's handler for kind "tree": it removes the one
// directory args names, and what is in it, if its name is a template
// copy's temporary (anything else is left alone, whatever the record
// says). A temporary that is gone already is fine.
func UndoTree(args []string) error {
	if len(args) != 1 {
		return fmt.Errorf("undo tree: want one path, got %d", len(args))
	}
	path := args[0]
	if !filepath.IsAbs(path) || !templateTemp.MatchString(filepath.Base(path)) {
		return fmt.Errorf("undo tree: %s is not a template copy's temporary; left alone", path)
	}
	if err := os.RemoveAll(path); err != nil {
		return fmt.Errorf("undo tree: %w", err)
	}
	return nil
}

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
