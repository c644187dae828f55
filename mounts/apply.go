package mounts

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	securejoin "github.com/cyphar/filepath-securejoin"
	"golang.org/x/sys/unix"
)

// Stage gives the calling thread a mount namespace of its own, in which
// nspawn assembles the container's tree before the container exists.
// Nothing mounted there reaches the host (MS_SLAVE, as systemd-nspawn
// does, so host unmounts still reach us). The tree and every mount inside
// it (a tmpfs an image builder left on its /srv) become shared: the
// container's mount namespace is copied from this one, and what is mounted
// in the tree after the copy (/proc, /sys, the user's binds) propagates
// into it only through a shared parent; on a mount that is not, it would
// stay behind here. The thread must be locked and die with the container.
//
// How the tree is mounted over itself is view's.
func Stage(root string, view TreeView) error {
	if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
		return fmt.Errorf("make a mount namespace for the tree: %w", err)
	}
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_SLAVE, ""); err != nil {
		return fmt.Errorf("make / a slave mount: %w", err)
	}
	if err := stageTree(root, view); err != nil {
		return err
	}
	if err := Volatile(root, view.Volatile, view.Owner); err != nil {
		return err
	}
	if err := unix.Mount("", root, "", unix.MS_SHARED|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("share %s with the container: %w", root, err)
	}
	return nil
}

// TreeView is how the container sees the tree.
type TreeView struct {
	// MapNS, a user namespace's fd (0 for none), shows the tree
	// ID-mapped, its owners shifted through MapNS's map (see MapTree) by
	// Shift.
	MapNS int
	Shift uint32
	// Ephemeral shows a throw-away overlay of it (see Ephemeral), its
	// upper layer in Upper, a fresh directory on disk ("" a tmpfs).
	Ephemeral bool
	Upper     string
	// Volatile is --volatile's mode (see Volatile): "", "no", "yes",
	// "state" or "overlay". Owner is the host's ID of the container's
	// root, whose its tmpfs are.
	Volatile string
	Owner    uint32
}

// stageTree mounts the tree over itself in the staging namespace: as it
// is, ID-mapped, or as a throw-away overlay of either.
func stageTree(root string, view TreeView) error {
	mapNS := view.MapNS
	ephemeral := view.Ephemeral || view.Volatile == "overlay"
	if mapNS <= 0 && !ephemeral {
		if err := unix.Mount(root, root, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return fmt.Errorf("bind %s onto itself: %w", root, err)
		}
		return nil
	}
	if mapNS <= 0 {
		return Ephemeral(root, root, 0, view.Upper)
	}
	tree, err := MapTree(root, mapNS)
	if err != nil {
		return err
	}
	defer unix.Close(tree)
	if ephemeral {
		return Ephemeral(root, fmt.Sprintf("/proc/self/fd/%d", tree), view.Shift, view.Upper)
	}
	if err := unix.MoveMount(tree, "", unix.AT_FDCWD, root, unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
		return fmt.Errorf("mount the ID-mapped %s: %w", root, err)
	}
	return nil
}

// SealExecutable binds the running nspawn binary read-only over its own
// path in the staging namespace and returns that path, for the child
// to be executed from. The container's PID 1 runs this binary until it
// execs the payload (and for good as the --as-pid2 stub init); through
// /proc/1/exe, root inside would otherwise reach the host's binary for
// writing (CVE-2019-5736). The read-only flag is locked in the container.
// Where the binary has no path any more (replaced while running), the
// child is started from /proc/self/exe, unsealed.
func SealExecutable() (string, error) {
	path, err := os.Readlink("/proc/self/exe")
	if err != nil || !filepath.IsAbs(path) {
		return "/proc/self/exe", nil
	}
	// By path: /proc/self/exe leads to the host's mount, which cannot be
	// copied from this namespace. Then check it is still this binary.
	fd, err := unix.OpenTree(unix.AT_FDCWD, path, unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC)
	if err != nil {
		return "", fmt.Errorf("seal nspawn's binary %s: %w", path, err)
	}
	defer unix.Close(fd)
	var running, found unix.Stat_t
	if unix.Stat("/proc/self/exe", &running) != nil || unix.Fstat(fd, &found) != nil ||
		running.Dev != found.Dev || running.Ino != found.Ino {
		return "/proc/self/exe", nil
	}
	if err := unix.MountSetattr(fd, "", unix.AT_EMPTY_PATH, &unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY | unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NODEV}); err != nil {
		return "", fmt.Errorf("seal nspawn's binary: %w", err)
	}
	if err := unix.MoveMount(fd, "", unix.AT_FDCWD, path, unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return "/proc/self/exe", nil
		}
		return "", fmt.Errorf("seal nspawn's binary: %w", err)
	}
	return path, nil
}

// Prepare makes the tree, in the container's own mount namespace, a mount
// of that namespace and the working directory: pivot_root refuses a new
// root that was locked when the namespace was copied from nspawn's, and a
// recursive copy of it is the container's own while every mount below it
// stays locked. Without a user namespace the copy still shares nspawn's
// propagation, which pivot_root refuses too: everything becomes a slave
// first.
//
// The tree is found as the working directory the child inherited
// (StageDir), not by its path: root of a shifted container is an
// unprivileged host user, who may not pass the directories above the tree
// (/var/lib/machines is 0700).
func Prepare() error {
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_SLAVE, ""); err != nil {
		return fmt.Errorf("make / a slave mount: %w", err)
	}
	tree, err := unix.OpenTree(unix.AT_FDCWD, ".", unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC|unix.AT_RECURSIVE)
	if err != nil {
		return fmt.Errorf("copy the tree: %w", err)
	}
	defer unix.Close(tree)
	if err := unix.MoveMount(tree, "", unix.AT_FDCWD, ".", unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
		return fmt.Errorf("mount the tree's copy: %w", err)
	}
	if err := unix.Fchdir(tree); err != nil {
		return fmt.Errorf("enter the tree: %w", err)
	}
	return nil
}

// StageDir makes the tree at root the calling thread's working directory,
// for the child to inherit (see Prepare). The thread must have a
// filesystem context of its own, as Stage's unshare gives it.
func StageDir(root string) error {
	if err := unix.Chdir(root); err != nil {
		return fmt.Errorf("chdir %s: %w", root, err)
	}
	return nil
}

// Apply carries out steps in order inside the tree at root. A failed
// best-effort step is skipped and returned among the warnings, unless it
// failed for a reason systemd-nspawn passes over in silence: a read-only
// tree, a denied access, or a symlink where a copy was to go.
func Apply(root string, steps []Step) (warnings []error, err error) {
	return ApplyMapped(root, steps, IDs{})
}

// ApplyMapped is Apply with the container's IDs, which ID-mapped binds
// need.
func ApplyMapped(root string, steps []Step, ids IDs) (warnings []error, err error) {
	for _, s := range steps {
		err := apply(root, s, ids)
		if err == nil {
			continue
		}
		if !s.BestEffort {
			return warnings, err
		}
		if !errors.Is(err, unix.EROFS) && !errors.Is(err, unix.EACCES) && !errors.Is(err, unix.EPERM) && !errors.Is(err, unix.ELOOP) {
			warnings = append(warnings, err)
		}
	}
	return warnings, nil
}

func apply(root string, s Step, ids IDs) error {
	switch s.Kind {
	case KindFS:
		dst, err := mountPoint(root, s.Target, true)
		if err != nil {
			return err
		}
		if err := unix.Mount(s.Source, dst, s.FSType, s.Flags, s.Data); err != nil {
			return fmt.Errorf("mount %s on %s: %w", s.FSType, s.Target, err)
		}
	case KindBind:
		return bind(root, s, ids)
	case KindReadOnly:
		return readOnly(root, s.Target, s.Recursive)
	case KindDevices:
		dir, err := InTree(root, s.Target)
		if err != nil {
			return err
		}
		return copyDevices(dir, s.Devices)
	case KindSymlink:
		return symlink(root, s)
	case KindWrite:
		return write(root, s)
	case KindRemove:
		return remove(root, s.Target)
	case KindInaccessible:
		return inaccessible(root, s.Target)
	case KindOverlay:
		return overlay(root, s)
	default:
		return fmt.Errorf("unknown mount step %q", s.Kind)
	}
	return nil
}

// InTree resolves path, absolute inside the container, to a host path below
// root, following symlinks as if root were / so a tree cannot point a mount
// at the host's own directories (CVE-2021-30465 class).
func InTree(root, path string) (string, error) {
	p, err := securejoin.SecureJoin(root, path)
	if err != nil {
		return "", fmt.Errorf("resolve %s in the tree: %w", path, err)
	}
	return p, nil
}

// mountPoint resolves target in the tree and creates it when missing: a
// directory when dir is set, an empty file otherwise. systemd-nspawn creates
// missing mount points the same way; they stay behind in the tree.
func mountPoint(root, target string, dir bool) (string, error) {
	p, err := InTree(root, target)
	if err != nil {
		return "", err
	}
	if _, err := os.Lstat(p); err == nil {
		return p, nil
	}
	if dir {
		err = os.MkdirAll(p, 0o755)
	} else if err = os.MkdirAll(filepath.Dir(p), 0o755); err == nil {
		var f *os.File
		if f, err = os.OpenFile(p, os.O_CREATE|os.O_RDONLY|unix.O_NOFOLLOW, 0o644); err == nil {
			f.Close()
		}
	}
	if errors.Is(err, unix.EROFS) {
		return "", fmt.Errorf("mount point %s is missing and the tree is read-only: create it in the tree first", target)
	}
	if err != nil {
		return "", fmt.Errorf("create mount point %s: %w", target, err)
	}
	return p, nil
}

// bind attaches a copy of the source's mount tree at the target. The source
// is opened once (open_tree), made read-only before it becomes visible, and
// moved into place, so no window exists in which it is writable. An
// ID-mapped bind is mapped before its mount point is made, so a kernel or
// filesystem that cannot map it leaves the tree as it was.
func bind(root string, s Step, ids IDs) error {
	src := s.Source
	if s.SourceInTree {
		var err error
		if src, err = InTree(root, s.Source); err != nil {
			return err
		}
	}
	flags := uint(unix.OPEN_TREE_CLONE | unix.OPEN_TREE_CLOEXEC)
	if s.Recursive {
		flags |= unix.AT_RECURSIVE
	}
	fd, err := unix.OpenTree(unix.AT_FDCWD, src, flags)
	if err != nil {
		return fmt.Errorf("open bind source %s: %w", s.Source, err)
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fmt.Errorf("stat bind source %s: %w", s.Source, err)
	}
	if s.IDMap != IDMapNone {
		// Where the target is made, it is the container's root's.
		dstOwner := ids.Shift
		if p, err := InTree(root, s.Target); err == nil {
			var dst unix.Stat_t
			if unix.Lstat(p, &dst) == nil {
				dstOwner = dst.Uid
			}
		}
		if err := idMapBind(fd, s, ids, st.Uid, dstOwner); err != nil {
			return err
		}
	}
	dst, err := mountPoint(root, s.Target, st.Mode&unix.S_IFMT == unix.S_IFDIR)
	if err != nil {
		return err
	}
	var attr unix.MountAttr
	if s.ReadOnly {
		attr.Attr_set |= unix.MOUNT_ATTR_RDONLY
	}
	if s.Flags&unix.MS_NOSUID != 0 {
		attr.Attr_set |= unix.MOUNT_ATTR_NOSUID
	}
	if s.Flags&unix.MS_NODEV != 0 {
		attr.Attr_set |= unix.MOUNT_ATTR_NODEV
	}
	if attr.Attr_set != 0 {
		if err := unix.MountSetattr(fd, "", unix.AT_EMPTY_PATH|unix.AT_RECURSIVE, &attr); err != nil {
			return fmt.Errorf("set options of bind %s: %w", s.Source, err)
		}
	}
	if err := unix.MoveMount(fd, "", unix.AT_FDCWD, dst, unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
		return fmt.Errorf("bind %s on %s: %w", s.Source, s.Target, err)
	}
	return nil
}

// readOnly makes target read-only in place, with every mount below it when
// recursive. A path that is not a mount point yet (/proc/sys) is first bound
// onto itself; the root is one already. mount_setattr changes only the
// read-only bit, keeping nosuid/nodev/noexec.
func readOnly(root, target string, recursive bool) error {
	p, err := InTree(root, target)
	if err != nil {
		return err
	}
	if target != "/" {
		if err := unix.Mount(p, p, "", unix.MS_BIND, ""); err != nil {
			if errors.Is(err, unix.ENOENT) {
				return nil // not every kernel has every /proc file
			}
			return fmt.Errorf("bind %s onto itself: %w", target, err)
		}
	}
	attr := unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY}
	flags := uint(0)
	if recursive {
		flags = unix.AT_RECURSIVE
	}
	if err := unix.MountSetattr(unix.AT_FDCWD, p, flags, &attr); err != nil {
		return fmt.Errorf("make %s read-only: %w", target, err)
	}
	return nil
}
