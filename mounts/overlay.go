package mounts

import (
	"fmt"
	"strings"

	"golang.org/x/sys/unix"
)

// Ephemeral mounts over the tree at root a throw-away copy of it: an
// overlay whose lower layer is the tree (lower, a path or an fd's
// /proc/self/fd path: the ID-mapped tree, its owners shifted by shift)
// and whose upper layer is a
// tmpfs that belongs to no path. Called in the staging namespace, so the
// tmpfs and the overlay live only as long as it and the container's
// namespace do: however nspawn ends, nothing of them is left, and the
// tree itself is never written. systemd-nspawn's -x copies the tree
// instead (a snapshot on btrfs).
//
// With onDisk, a fresh directory nspawn made (and recorded in its undo
// log, which removes it should nspawn be killed), the upper and work
// directories are made there instead, for writes bigger than RAM.
func Ephemeral(root, lower string, shift uint32, onDisk string) error {
	upper, err := ephemeralUpper(onDisk)
	if err != nil {
		return fmt.Errorf("-x: %w", err)
	}
	defer unix.Close(upper)
	// The merged root takes the upper directory's owner and mode: the
	// tree root's, as the container sees it.
	var st unix.Stat_t
	if err := unix.Stat(root, &st); err != nil {
		return fmt.Errorf("-x: %w", err)
	}
	for _, dir := range []string{"upper", "work"} {
		if err := unix.Mkdirat(upper, dir, st.Mode&0o7777); err != nil {
			return fmt.Errorf("-x: make the overlay's %s directory: %w", dir, err)
		}
		if err := unix.Fchownat(upper, dir, int(st.Uid+shift), int(st.Gid+shift), unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return fmt.Errorf("-x: own the overlay's %s directory: %w", dir, err)
		}
	}
	fd, err := unix.Fsopen("overlay", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return fmt.Errorf("-x: the kernel has no overlayfs: %w", err)
	}
	defer unix.Close(fd)
	layers := fmt.Sprintf("/proc/self/fd/%d/", upper)
	for _, kv := range [][2]string{
		// ':' separates lower layers; a path's own is escaped.
		{"lowerdir", strings.ReplaceAll(lower, ":", `\:`)},
		{"upperdir", layers + "upper"},
		{"workdir", layers + "work"},
	} {
		if err := unix.FsconfigSetString(fd, kv[0], kv[1]); err != nil {
			return fmt.Errorf("-x: overlay %s=%s: %w", kv[0], kv[1], err)
		}
	}
	if err := unix.FsconfigCreate(fd); err != nil {
		return fmt.Errorf("-x: make the overlay of %s: %w", root, err)
	}
	mnt, err := unix.Fsmount(fd, unix.FSMOUNT_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("-x: mount the overlay of %s: %w", root, err)
	}
	defer unix.Close(mnt)
	if err := unix.MoveMount(mnt, "", unix.AT_FDCWD, root, unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
		return fmt.Errorf("-x: put the overlay over %s: %w", root, err)
	}
	return nil
}

// ephemeralUpper is the directory -x's upper and work directories go
// in, open: the directory onDisk, or a detached tmpfs.
func ephemeralUpper(onDisk string) (int, error) {
	if onDisk == "" {
		return detachedTmpfs(0, "mode=0700")
	}
	fd, err := unix.Open(onDisk, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("open the upper directory %s: %w", onDisk, err)
	}
	return fd, nil
}

// detachedTmpfs is a tmpfs mounted nowhere, as an fd with the mount
// attributes attr, made with options ("mode=0700", "size=4k", ...): it
// belongs to no path, so nothing of it can outlive the namespaces that
// hold it, and it is reached through the fd (its /proc/self/fd path or
// the *at calls).
func detachedTmpfs(attr int, options ...string) (int, error) {
	fd, err := unix.Fsopen("tmpfs", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return -1, fmt.Errorf("open a tmpfs: %w", err)
	}
	defer unix.Close(fd)
	for _, kv := range options {
		k, v, _ := strings.Cut(kv, "=")
		if err := unix.FsconfigSetString(fd, k, v); err != nil {
			return -1, fmt.Errorf("tmpfs option %s: %w", kv, err)
		}
	}
	if err := unix.FsconfigCreate(fd); err != nil {
		return -1, fmt.Errorf("make a tmpfs: %w", err)
	}
	mnt, err := unix.Fsmount(fd, unix.FSMOUNT_CLOEXEC, attr)
	if err != nil {
		return -1, fmt.Errorf("mount a tmpfs: %w", err)
	}
	return mnt, nil
}
