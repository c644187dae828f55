package mounts

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// ErrNoIDMap says the kernel or the tree's filesystem cannot make an
// ID-mapped mount (Linux 5.12, and per filesystem since).
var ErrNoIDMap = errors.New("ID-mapped mounts are not available for this tree (kernel or filesystem)")

// MapTree returns a detached copy of the tree at root, with every mount
// below it, that shows its files' owners through the ID map of the user
// namespace mapNS (mount_setattr(2), MOUNT_ATTR_IDMAP): systemd-nspawn's
// --private-users-ownership=map, which leaves the files on disk as they
// are.
func MapTree(root string, mapNS int) (int, error) {
	tree, err := unix.OpenTree(unix.AT_FDCWD, root, unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC|unix.AT_RECURSIVE)
	if err != nil {
		return -1, fmt.Errorf("copy %s: %w", root, err)
	}
	err = unix.MountSetattr(tree, "", unix.AT_EMPTY_PATH|unix.AT_RECURSIVE, &unix.MountAttr{
		Attr_set:  unix.MOUNT_ATTR_IDMAP,
		Userns_fd: uint64(mapNS),
	})
	if err != nil {
		unix.Close(tree)
		// The kernel tells no reason apart: an old kernel, or a
		// filesystem without idmap support anywhere in the tree.
		if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.EPERM) {
			return -1, fmt.Errorf("%s: %w", root, ErrNoIDMap)
		}
		return -1, fmt.Errorf("ID-map %s: %w", root, err)
	}
	return tree, nil
}
