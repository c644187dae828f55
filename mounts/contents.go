package mounts

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// BindContents shows each file, by path in the current root, with other
// contents: a copy on a detached tmpfs, bound over it. The file itself is
// never written; the tmpfs is reachable only through the binds and goes
// with the mount namespace (--bind-user's /etc/passwd and /etc/group).
func BindContents(files map[string]string, mode os.FileMode) error {
	if len(files) == 0 {
		return nil
	}
	tmp, err := detachedTmpfs(unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NODEV|unix.MOUNT_ATTR_NOEXEC, "mode=0755", "size=16m")
	if err != nil {
		return err
	}
	defer unix.Close(tmp)
	i := 0
	for target, content := range files {
		name := fmt.Sprintf("f%d", i)
		i++
		fd, err := unix.Openat(tmp, name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_CLOEXEC, uint32(mode.Perm()))
		if err != nil {
			return fmt.Errorf("make a copy of %s: %w", target, err)
		}
		f := os.NewFile(uintptr(fd), target)
		_, err = f.WriteString(content)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			err = unix.Fchmodat(tmp, name, uint32(mode.Perm()), 0)
		}
		if err != nil {
			return fmt.Errorf("make a copy of %s: %w", target, err)
		}
		file, err := unix.OpenTree(tmp, name, unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC)
		if err != nil {
			return fmt.Errorf("bind the copy of %s: %w", target, err)
		}
		err = unix.MoveMount(file, "", unix.AT_FDCWD, target, unix.MOVE_MOUNT_F_EMPTY_PATH)
		unix.Close(file)
		if err != nil {
			return fmt.Errorf("bind the copy of %s over it: %w", target, err)
		}
	}
	return nil
}
