package mounts

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// PivotRoot makes the working directory, the tree (Prepare), the new /
// and detaches the old root entirely. The pivot_root(".", ".") form
// stacks the old root on the new one, so nothing has to be created in the
// tree for it.
//
// Where / is the initramfs (rootfs: early boot, appliances), the kernel
// cannot pivot it away (EINVAL); the tree is moved over it instead (see
// moveRoot), as systemd's mount_switch_root() falls back to.
func PivotRoot() error {
	err := unix.PivotRoot(".", ".")
	if errors.Is(err, unix.EINVAL) {
		return moveRoot()
	}
	if err != nil {
		return fmt.Errorf("pivot_root into the tree: %w", err)
	}
	if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
		return fmt.Errorf("detach the old root: %w", err)
	}
	return unix.Chdir("/")
}

// moveRoot mounts the tree on the old root's own root and chroots into
// it. The old root stays in the container's mount namespace, beneath the
// tree, but out of reach: ".." from the tree's root looks for the mount
// point above it, and the only one is the namespace's root, which the
// kernel treats as the top (choose_mountpoint in fs/namei.c), so a chroot
// escape ends at the tree as it does after pivot_root. No path from the
// tree names the old root, and no fd of it is left open.
func moveRoot() error {
	if err := unix.Mount(".", "/", "", unix.MS_MOVE, ""); err != nil {
		return fmt.Errorf("move the tree over the initramfs: %w", err)
	}
	// Until the chroot, "/" is still the old root: the kernel does not
	// cross a mount stacked on the root directory itself.
	if err := unix.Chroot("."); err != nil {
		return fmt.Errorf("chroot into the tree: %w", err)
	}
	return unix.Chdir("/")
}
