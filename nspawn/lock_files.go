package nspawn

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

// The tree's locks are systemd's own (image_path_lock() of 252), so
// nspawn and systemd-nspawn, machinectl and importctl respect each other:
// an open file description lock (F_OFD_SETLK) on two files, a write lock
// for a container that writes the tree and a read lock for a --read-only
// one.
//
//   - the global one, /run/systemd/nspawn/locks/inode-DEV:INO, names the
//     tree by its device and inode, so it holds whatever path the tree is
//     reached by, a mount point included;
//   - the local one, .#NAME.lck beside the tree, holds across hosts
//     sharing the tree's filesystem (NFS).
//
// The locks belong to the open files and go with them when nspawn ends,
// SIGKILL included. The files are removed by the last holder that can
// take them for writing when it ends (systemd's release_lock_file()); a
// killed systemd-nspawn leaves its empty files behind, a killed nspawn's
// undo stage removes them the same way (UndoLockFile).
const treeLockDir = "/run/systemd/nspawn/locks"

// knobLock=0 takes no lock on the tree ($SYSTEMD_NSPAWN_LOCK).
const knobLock = "SYSTEMD_NSPAWN_LOCK"

// treeLockMode is how the container locks its tree.
type treeLockMode int

const (
	// lockNone: -x (systemd-nspawn 252 locks only its own copy of the
	// tree, never the tree), the host's / read-only, or
	// $SYSTEMD_NSPAWN_LOCK=0.
	lockNone treeLockMode = iota
	// lockShared: --read-only; any number at once.
	lockShared
	// lockExclusive: a container that writes the tree; one at a time,
	// and none of the others beside it.
	lockExclusive
)

// planTreeLock decides the tree's lock.
func (p *Plan) planTreeLock(o *Options, env []string) error {
	p.TreeLock = lockNone
	if o.Ephemeral || !p.envBool(env, knobLock, true) {
		return nil
	}
	// --volatile never writes the tree either: it reads it as
	// --read-only does.
	if on, err := parseBool(o.Volatile); o.ReadOnly || o.Volatile != "" && (err != nil || on) {
		if p.Root != "/" {
			p.TreeLock = lockShared
		}
		return nil
	}
	if p.Root == "/" {
		return errors.New("--directory=/: the host's own root cannot be locked for writing by a container; use --read-only or -x")
	}
	p.TreeLock = lockExclusive
	return nil
}

// treeLock is a held lock on the tree: its lock files, open.
type treeLock struct {
	files []lockFile
}

type lockFile struct {
	path string
	fd   int
	mode treeLockMode
}

// errTreeBusy is another container's lock in the way.
var errTreeBusy = errors.New("busy")

// recorder takes the undo log's record of a thing before it is made
// (undo.Log, nil-safe).
type recorder interface {
	Record(kind string, args ...string) error
}

// noRecord records nothing, where there is no undo log.
type noRecord struct{}

func (*noRecord) Record(string, ...string) error { return nil }

// undoLockKind is the undo log's record of a lock file: [path].
const undoLockKind = "lock"

// lockTree takes the tree's locks, or says in one line who has it. Each
// lock file is recorded in rec before it is opened, made perhaps.
func lockTree(root string, mode treeLockMode, rec recorder) (*treeLock, error) {
	l := &treeLock{}
	if mode == lockNone {
		return l, nil
	}
	if rec == nil {
		rec = (*noRecord)(nil)
	}
	var st unix.Stat_t
	if err := unix.Stat(root, &st); err != nil {
		return nil, fmt.Errorf("lock the tree %s: %w", root, err)
	}
	busy := func() error {
		l.release()
		how := "another container writes it"
		if mode == lockExclusive {
			how = "another container runs on it"
		}
		return fmt.Errorf("directory tree %s is currently busy: %s; stop that one first, or run this one with --read-only or -x", root, how)
	}
	local := filepath.Join(filepath.Dir(root), ".#"+filepath.Base(root)+".lck")
	if err := rec.Record(undoLockKind, local); err != nil {
		return nil, fmt.Errorf("lock the tree %s: %w", root, err)
	}
	f, err := takeLockFile(local, mode)
	switch {
	case errors.Is(err, errTreeBusy):
		return nil, busy()
	case errors.Is(err, unix.EROFS) && mode == lockShared:
		// A read-only tree's directory may hold no lock file; the
		// global lock still stands, as in systemd.
	case err != nil:
		return nil, fmt.Errorf("lock the tree %s: %s: %w", root, local, err)
	default:
		l.files = append(l.files, f)
	}
	if err := os.MkdirAll(treeLockDir, 0o700); err != nil {
		l.release()
		return nil, fmt.Errorf("lock the tree %s: %w", root, err)
	}
	// The device number as one integer, as systemd prints its dev_t.
	global := fmt.Sprintf("%s/inode-%d:%d", treeLockDir, uint64(st.Dev), st.Ino)
	if err := rec.Record(undoLockKind, global); err != nil {
		l.release()
		return nil, fmt.Errorf("lock the tree %s: %w", root, err)
	}
	f, err = takeLockFile(global, mode)
	if errors.Is(err, errTreeBusy) {
		return nil, busy()
	}
	if err != nil {
		l.release()
		return nil, fmt.Errorf("lock the tree %s: %s: %w", root, global, err)
	}
	l.files = append(l.files, f)
	return l, nil
}

// takeLockFile opens path, creating it, and locks it without waiting.
// A file its last holder removed between our open and our lock is opened
// again: a lock on it would guard nothing.
func takeLockFile(path string, mode treeLockMode) (lockFile, error) {
	for {
		fd, err := unix.Open(path, unix.O_CREAT|unix.O_RDWR|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_NOCTTY, 0o600)
		if err != nil {
			return lockFile{}, err
		}
		if err := ofdLock(fd, mode); err != nil {
			unix.Close(fd)
			if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EACCES) {
				return lockFile{}, errTreeBusy
			}
			return lockFile{}, err
		}
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil {
			unix.Close(fd)
			return lockFile{}, err
		}
		if st.Nlink > 0 {
			return lockFile{path: path, fd: fd, mode: mode}, nil
		}
		unix.Close(fd)
	}
}

// ofdLock locks the whole of fd's file, for reading when shared.
func ofdLock(fd int, mode treeLockMode) error {
	lk := unix.Flock_t{Type: unix.F_WRLCK, Whence: 0}
	if mode == lockShared {
		lk.Type = unix.F_RDLCK
	}
	return unix.FcntlFlock(uintptr(fd), unix.F_OFD_SETLK, &lk)
}

// release gives the locks up. The files go when no one else holds them:
// a shared holder that can take the lock for writing is the last.
func (l *treeLock) release() {
	if l == nil {
		return
	}
	for _, f := range l.files {
		if f.mode == lockShared && ofdLock(f.fd, lockExclusive) == nil {
			f.mode = lockExclusive
		}
		if f.mode == lockExclusive {
			os.Remove(f.path)
		}
		unix.Close(f.fd)
	}
	l.files = nil
}

// UndoLockFile removes a killed nspawn's lock file (args: its path) as
// release does on a clean exit: only when it can be taken for writing at
// once. Another nspawn or a systemd-nspawn may hold it by then, and its
// file stays; a file never made is nothing to do.
func UndoLockFile(args []string) error {
	if len(args) != 1 {
		return errors.New("lock record: want one path")
	}
	// The killed nspawn's child holds its fds from clone to exec: a
	// moment's grace before the lock counts as someone else's.
	for deadline := time.Now().Add(undoLockWait); ; {
		err := removeLockFile(args[0])
		if !errors.Is(err, errTreeBusy) {
			return err
		}
		if time.Now().After(deadline) {
			return nil
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// undoLockWait is how long UndoLockFile waits for a lock to come free.
const undoLockWait = 100 * time.Millisecond

// removeLockFile removes the lock file at path if no one holds it,
// errTreeBusy if someone does.
func removeLockFile(path string) error {
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_NOCTTY, 0)
	if errors.Is(err, unix.ENOENT) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("open %s: %w", path, err)
	}
	defer unix.Close(fd)
	if err := ofdLock(fd, lockExclusive); err != nil {
		if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EACCES) {
			return errTreeBusy
		}
		return fmt.Errorf("lock %s: %w", path, err)
	}
	// Only the file locked goes: the path may name a new one by now,
	// made and locked by another nspawn after a removal.
	var held, named unix.Stat_t
	if unix.Fstat(fd, &held) != nil || unix.Lstat(path, &named) != nil || held.Dev != named.Dev || held.Ino != named.Ino {
		return nil
	}
	if err := unix.Unlink(path); err != nil && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("remove %s: %w", path, err)
	}
	return nil
}
