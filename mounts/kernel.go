package mounts

import (
	"errors"
	"fmt"
	"strings"

	"golang.org/x/sys/unix"
)

// KernelFS is an API filesystem that shows kernel state (proc, sysfs),
// with the parts a container must not change made read-only and the parts
// it must not read hidden.
//
// nspawn builds it detached, outside the container, and moves it into the
// tree whole. The container's mount namespace belongs to a user namespace
// below nspawn's, so the kernel locks everything nspawn mounted there
// (mount_namespaces(7), "restrictions on mount namespaces"): root inside
// cannot remount /proc/sys read-write, unmount a mask, or mount a fresh
// proc or sysfs elsewhere, since no fully visible one is left. Mounting a
// whole tree at once matters: of a tree that propagates in, only its top
// mount can be unmounted, and the overmounts sit below it.
type KernelFS struct {
	FSType string // "proc" or "sysfs"
	Target string // where it goes in the container
	Attr   uint64 // MOUNT_ATTR_* of the whole mount
	// ReadOnly are paths relative to the filesystem's root bound onto
	// themselves read-only; Masked are replaced by an empty, unreadable
	// file or directory. Paths this kernel lacks are skipped.
	ReadOnly []string
	Masked   []string
}

// MountKernelFS mounts fss into the tree at root for the container whose
// PID 1 is pid: proc shows its PID namespace, sysfs its network namespace.
// It is called on nspawn's own locked thread, whose mount namespace the
// container's was copied from, and moves that thread into the container's
// network namespace, as sysfs takes the mounter's.
func MountKernelFS(root string, pid int, fss []KernelFS) error {
	var mask *masks
	defer func() { mask.close() }()
	for _, k := range fss {
		if len(k.Masked) > 0 && mask == nil {
			var err error
			if mask, err = newMasks(); err != nil {
				return err
			}
		}
		if err := k.mount(root, pid, mask); err != nil {
			return err
		}
	}
	return nil
}

func (k KernelFS) mount(root string, pid int, mask *masks) error {
	fs, err := unix.Fsopen(k.FSType, unix.FSOPEN_CLOEXEC)
	if err != nil {
		return fmt.Errorf("mount %s on %s: %w", k.FSType, k.Target, err)
	}
	defer unix.Close(fs)
	switch k.FSType {
	case "proc":
		// Linux 6.15's pidns= option: a proc of the container's PID
		// namespace, mounted from outside it.
		if err := unix.FsconfigSetString(fs, "pidns", fmt.Sprintf("/proc/%d/ns/pid", pid)); err != nil {
			return fmt.Errorf("mount proc of the container's PID namespace (needs Linux 6.15 or later): %w", err)
		}
	case "sysfs":
		if err := joinNamespace(pid, "net", unix.CLONE_NEWNET); err != nil {
			return err
		}
	}
	if err := unix.FsconfigCreate(fs); err != nil {
		return fmt.Errorf("mount %s on %s: %w", k.FSType, k.Target, err)
	}
	mnt, err := unix.Fsmount(fs, unix.FSMOUNT_CLOEXEC, int(k.Attr))
	if err != nil {
		return fmt.Errorf("mount %s on %s: %w", k.FSType, k.Target, err)
	}
	defer unix.Close(mnt)
	for _, p := range k.ReadOnly {
		if err := overmount(mnt, p, -1, unix.MOUNT_ATTR_RDONLY); err != nil && !errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("make %s/%s read-only: %w", k.Target, p, err)
		}
	}
	for _, p := range k.Masked {
		src, err := mask.For(mnt, p)
		if err == nil {
			err = overmount(mnt, p, src, unix.MOUNT_ATTR_RDONLY)
		}
		if err != nil && !errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("mask %s/%s: %w", k.Target, p, err)
		}
	}
	dst, err := mountPoint(root, k.Target, true)
	if err != nil {
		return err
	}
	if err := unix.MoveMount(mnt, "", unix.AT_FDCWD, dst, unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
		return fmt.Errorf("mount %s on %s: %w", k.FSType, k.Target, err)
	}
	return nil
}

// overmount mounts a copy of src (-1: path itself) on path inside the
// detached mount mnt, with attr set. A missing path is ENOENT.
func overmount(mnt int, path string, src int, attr uint64) error {
	path = strings.TrimPrefix(path, "/")
	var err error
	if src < 0 {
		src, err = unix.OpenTree(mnt, path, unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC)
	} else {
		src, err = unix.OpenTree(src, "", unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC|unix.AT_EMPTY_PATH)
	}
	if err != nil {
		return err
	}
	defer unix.Close(src)
	if err := unix.MountSetattr(src, "", unix.AT_EMPTY_PATH, &unix.MountAttr{Attr_set: attr}); err != nil {
		return err
	}
	return unix.MoveMount(src, "", mnt, path, unix.MOVE_MOUNT_F_EMPTY_PATH)
}

// masks holds what hides a path: an empty file and an empty directory,
// both mode 0000, on a small detached tmpfs (systemd's "inaccessible"
// nodes).
type masks struct{ dir, file int }

func newMasks() (*masks, error) {
	fs, err := unix.Fsopen("tmpfs", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("make the masks: %w", err)
	}
	defer unix.Close(fs)
	if err := unix.FsconfigSetString(fs, "size", "4k"); err != nil {
		return nil, fmt.Errorf("make the masks: %w", err)
	}
	if err := unix.FsconfigCreate(fs); err != nil {
		return nil, fmt.Errorf("make the masks: %w", err)
	}
	mnt, err := unix.Fsmount(fs, unix.FSMOUNT_CLOEXEC, unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NODEV|unix.MOUNT_ATTR_NOEXEC)
	if err != nil {
		return nil, fmt.Errorf("make the masks: %w", err)
	}
	defer unix.Close(mnt)
	if err := unix.Mkdirat(mnt, "dir", 0); err != nil {
		return nil, fmt.Errorf("make the masks: %w", err)
	}
	f, err := unix.Openat(mnt, "file", unix.O_CREAT|unix.O_EXCL|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("make the masks: %w", err)
	}
	unix.Close(f)
	m := &masks{dir: -1, file: -1}
	for name, fd := range map[string]*int{"dir": &m.dir, "file": &m.file} {
		if *fd, err = unix.OpenTree(mnt, name, unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC); err != nil {
			m.close()
			return nil, fmt.Errorf("make the masks: %w", err)
		}
	}
	return m, nil
}

// For returns the mask that fits what path is inside mnt.
func (m *masks) For(mnt int, path string) (int, error) {
	var st unix.Stat_t
	if err := unix.Fstatat(mnt, strings.TrimPrefix(path, "/"), &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return -1, err
	}
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		return m.dir, nil
	}
	return m.file, nil
}

func (m *masks) close() {
	if m == nil {
		return
	}
	for _, fd := range []int{m.dir, m.file} {
		if fd >= 0 {
			unix.Close(fd)
		}
	}
}

// joinNamespace moves the calling thread into the namespace kind (a
// /proc/PID/ns name) of pid.
func joinNamespace(pid int, kind string, nstype int) error {
	fd, err := unix.Open(fmt.Sprintf("/proc/%d/ns/%s", pid, kind), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open the container's %s namespace: %w", kind, err)
	}
	defer unix.Close(fd)
	if err := unix.Setns(fd, nstype); err != nil {
		return fmt.Errorf("enter the container's %s namespace: %w", kind, err)
	}
	return nil
}
