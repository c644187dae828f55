package mounts

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// inaccessible binds an empty node with mode 0 and the type of what is at
// target over it, read-only, as systemd-nspawn's --inaccessible= does with
// its /run/systemd/inaccessible nodes. Ours are made on a tmpfs that
// belongs to no path (fsopen/fsmount), so nothing is needed on the host
// and nothing is left on it: the mount goes when the last mount of it
// does, in the container.
func inaccessible(root, target string) error {
	p, err := InTree(root, target)
	if err != nil {
		return err
	}
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		return fmt.Errorf("make %s inaccessible: %w", target, err)
	}
	tmp, err := detachedTmpfs(unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NOEXEC, "size=4k", "mode=0755")
	if err != nil {
		return fmt.Errorf("make %s inaccessible: %w", target, err)
	}
	defer unix.Close(tmp)
	mode := st.Mode & unix.S_IFMT
	if mode == unix.S_IFDIR {
		err = unix.Mkdirat(tmp, "node", 0)
	} else {
		// Devices are 0:0, as systemd's: of the right type, but no
		// device at all.
		err = unix.Mknodat(tmp, "node", mode, 0)
	}
	if err != nil {
		return fmt.Errorf("make %s inaccessible: make an empty node: %w", target, err)
	}
	fd, err := unix.OpenTree(tmp, "node", unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC)
	if err != nil {
		return fmt.Errorf("make %s inaccessible: %w", target, err)
	}
	defer unix.Close(fd)
	attr := unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY}
	if err := unix.MountSetattr(fd, "", unix.AT_EMPTY_PATH, &attr); err != nil {
		return fmt.Errorf("make %s inaccessible: %w", target, err)
	}
	if err := unix.MoveMount(fd, "", unix.AT_FDCWD, p, unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
		return fmt.Errorf("make %s inaccessible: %w", target, err)
	}
	return nil
}
