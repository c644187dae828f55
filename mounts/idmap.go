package mounts

import (
	"errors"
	"fmt"
	"syscall"

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

// IDMap is how an ID-mapped bind shows its files' owners inside the
// container (--bind's options, as systemd-nspawn names them).
type IDMap string

const (
	// IDMapNone (noidmap) shows the files as they are: host IDs outside
	// the container's range are nobody.
	IDMapNone IDMap = ""
	// IDMapContainer (idmap) shows on-disk ID z as the container's z.
	IDMapContainer IDMap = "idmap"
	// IDMapRoot (rootidmap) shows the source's owner as the container's
	// root and every other ID as nobody.
	IDMapRoot IDMap = "rootidmap"
	// IDMapOwner (owneridmap, systemd 256) shows the source's owner as
	// the owner of the target, or as root where the target is created.
	IDMapOwner IDMap = "owneridmap"
)

// IDs is what an ID-mapped bind needs of the container's user namespace.
type IDs struct {
	// Shift and Size are the container's range: its ID z is the host's
	// Shift+z.
	Shift, Size uint32
	// UserNS makes a user namespace with maps and returns its fd (see
	// userns.NewMappingNamespace); nil where no bind is ID-mapped.
	UserNS func(maps []syscall.SysProcIDMap) (int, error)
	// ContainerMaps are the maps of IDMapContainer.
	ContainerMaps []syscall.SysProcIDMap
}

// bindMaps are the maps of an ID-mapped bind whose source's root is owned
// by srcOwner and whose target is owned by dstOwner on the host (the
// container's root where it is not there yet). Each ContainerID is an
// on-disk ID, shown as its HostID.
func bindMaps(m IDMap, ids IDs, srcOwner, dstOwner uint32) []syscall.SysProcIDMap {
	switch m {
	case IDMapContainer:
		return ids.ContainerMaps
	case IDMapRoot:
		return []syscall.SysProcIDMap{{ContainerID: int(srcOwner), HostID: int(ids.Shift), Size: 1}}
	case IDMapOwner:
		return []syscall.SysProcIDMap{{ContainerID: int(srcOwner), HostID: int(dstOwner), Size: 1}}
	}
	return nil
}

// idMapBind makes the detached mount tree fd show its owners through the
// maps m needs.
func idMapBind(fd int, s Step, ids IDs, srcOwner, dstOwner uint32) error {
	if ids.UserNS == nil {
		return fmt.Errorf("bind %s: option %s needs the container's ID map, which this step does not have", s.Source, s.IDMap)
	}
	ns, err := ids.UserNS(bindMaps(s.IDMap, ids, srcOwner, dstOwner))
	if err != nil {
		return fmt.Errorf("bind %s with %s: %w", s.Source, s.IDMap, err)
	}
	defer unix.Close(ns)
	flags := uint(unix.AT_EMPTY_PATH)
	if s.Recursive {
		flags |= unix.AT_RECURSIVE
	}
	err = unix.MountSetattr(fd, "", flags, &unix.MountAttr{Attr_set: unix.MOUNT_ATTR_IDMAP, Userns_fd: uint64(ns)})
	if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.EPERM) {
		flag := "--bind"
		if s.ReadOnly {
			flag = "--bind-ro"
		}
		return fmt.Errorf("%s=%s:%s:%s: the kernel or the filesystem of %s (or of a mount below it) cannot ID-map it; drop %s, or bind a directory on a filesystem that can (ext4, xfs, btrfs, tmpfs)", flag, s.Source, s.Target, s.IDMap, s.Source, s.IDMap)
	}
	if err != nil {
		return fmt.Errorf("ID-map bind %s: %w", s.Source, err)
	}
	return nil
}
