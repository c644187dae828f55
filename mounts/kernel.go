package mounts

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// KernelFS is an API filesystem that shows kernel state (proc, sysfs),
// with the parts a container must not change made read-only and the parts
// it must not read hidden.
//
// nspawn builds it outside the container and moves it into the tree
// whole. The container's mount namespace belongs to a user namespace
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
	// themselves read-only; Masked are hidden under an empty file or
	// directory. Paths this kernel lacks are skipped.
	ReadOnly []string
	Masked   []string
}

// ErrNoProcPIDNS says this kernel's proc takes no pidns= (before Linux
// 6.15): a proc of the container's PID namespace can then only be mounted
// by a process inside that namespace, with pid 0 here.
var ErrNoProcPIDNS = errors.New("this kernel's proc takes no pidns= option")

// Mount mounts k into the tree at root for the container whose PID 1 is
// pid: proc shows its PID namespace (the caller's own with pid 0), sysfs
// its network namespace. It is called on nspawn's own locked thread (or a
// helper sharing its namespaces), whose mount namespace the container's
// was copied from, and moves that thread into the container's network
// namespace, as sysfs takes the mounter's.
//
// k is built where the host's own /proc or /sys is in this private mount
// namespace (covered while it is built, uncovered when it moves on), then
// moved into the tree: a move into the tree's shared mount propagates the
// whole tree into the container's namespace at once.
func (k KernelFS) Mount(root string, pid int) error {
	err := k.mount(root, pid)
	if errors.Is(err, unix.EPERM) && inUserNamespace() {
		// mount_too_revealing(): the masks over the outer container's
		// /proc and /sys, which its user namespace may not undo.
		return fmt.Errorf("%w: nspawn runs in a container with a user namespace of its own, where the kernel mounts no fresh %s; start that container with --private-users=no", err, k.FSType)
	}
	return err
}

func (k KernelFS) mount(root string, pid int) error {
	if k.FSType == "sysfs" && pid != 0 {
		// sysfs takes its network namespace when it is opened.
		if err := JoinNamespace(pid, "net", unix.CLONE_NEWNET); err != nil {
			return err
		}
	}
	fs, err := unix.Fsopen(k.FSType, unix.FSOPEN_CLOEXEC)
	if err != nil {
		return fmt.Errorf("mount %s on %s: %w", k.FSType, k.Target, err)
	}
	defer unix.Close(fs)
	switch {
	case k.FSType == "proc" && pid != 0:
		// Linux 6.15's pidns= option: a proc of the container's PID
		// namespace, mounted from outside it.
		err := unix.FsconfigSetString(fs, "pidns", fmt.Sprintf("/proc/%d/ns/pid", pid))
		if errors.Is(err, unix.EINVAL) {
			return ErrNoProcPIDNS
		}
		if err != nil {
			return fmt.Errorf("mount proc of the container's PID namespace: %w", err)
		}
	}
	if err := unix.FsconfigCreate(fs); err != nil {
		return fmt.Errorf("mount %s on %s: %w", k.FSType, k.Target, err)
	}
	mnt, err := unix.Fsmount(fs, unix.FSMOUNT_CLOEXEC, int(k.Attr))
	if err != nil {
		return fmt.Errorf("mount %s on %s: %w", k.FSType, k.Target, err)
	}
	stage := k.Target
	err = unix.MoveMount(mnt, "", unix.AT_FDCWD, stage, unix.MOVE_MOUNT_F_EMPTY_PATH)
	unix.Close(mnt)
	if err != nil {
		return fmt.Errorf("mount %s on %s: %w", k.FSType, k.Target, err)
	}
	for _, p := range k.ReadOnly {
		if err := readOnly("/", filepath.Join(stage, p), false); err != nil {
			return err
		}
	}
	for _, p := range k.Masked {
		if err := mask(filepath.Join(stage, p)); err != nil {
			return fmt.Errorf("mask %s/%s: %w", k.Target, p, err)
		}
	}
	dst, err := mountPoint(root, k.Target, true)
	if err != nil {
		return err
	}
	if err := unix.Mount(stage, dst, "", unix.MS_MOVE, ""); err != nil {
		return fmt.Errorf("mount %s on %s: %w", k.FSType, k.Target, err)
	}
	return nil
}

// inUserNamespace tells whether nspawn itself runs in a user namespace
// other than the host's, whose uid_map maps every ID onto itself.
func inUserNamespace() bool {
	data, err := os.ReadFile("/proc/self/uid_map")
	return err == nil && strings.Join(strings.Fields(string(data)), " ") != "0 0 4294967295"
}

// mask hides path: a directory under an empty read-only tmpfs, a file
// under /dev/null (runc's masked paths), read-only. A missing path is
// skipped.
func mask(path string) error {
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return nil
		}
		return err
	}
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		return unix.Mount("tmpfs", path, "tmpfs", unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "mode=000,size=4k")
	}
	if err := unix.Mount("/dev/null", path, "", unix.MS_BIND, ""); err != nil {
		return err
	}
	return unix.MountSetattr(unix.AT_FDCWD, path, 0, &unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY})
}

// JoinNamespace moves the calling thread into the namespace kind (a
// /proc/PID/ns name) of pid; for a PID namespace, the thread's future
// children only.
func JoinNamespace(pid int, kind string, nstype int) error {
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
