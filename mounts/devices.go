package mounts

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// copyDevices recreates the host's /dev/NAME of each name in dir, the
// container's /dev. The nodes and directories made (/dev/net) belong to
// whoever owns dir, root of the container (the tmpfs's uid=): a shifted
// root could not open a node of host root's with mode 0600 (/dev/net/tun),
// and systemd-nspawn's copy_devnodes() chowns them the same way.
func copyDevices(dir string, names []string) error {
	var owner unix.Stat_t
	if err := unix.Stat(dir, &owner); err != nil {
		return fmt.Errorf("device directory %s: %w", dir, err)
	}
	for _, name := range names {
		if err := copyDevice(name, dir, owner); err != nil {
			return err
		}
	}
	return nil
}

// copyDevice recreates the host's /dev/NAME below dir with the same type,
// numbers and mode, its directory (/dev/net) too. Where mknod is not
// allowed (inside a user namespace) it binds the host node instead, as
// systemd-nspawn's copy_devnodes() does; one the host lacks (a kernel
// without tun or fuse) is skipped, as there.
func copyDevice(name, dir string, owner unix.Stat_t) error {
	src := "/dev/" + name
	dst := filepath.Join(dir, name)
	var st unix.Stat_t
	if err := unix.Stat(src, &st); errors.Is(err, unix.ENOENT) {
		return nil
	} else if err != nil {
		return fmt.Errorf("device %s: %w", src, err)
	}
	if parent := filepath.Dir(dst); parent != dir {
		if err := os.Mkdir(parent, 0o755); err != nil && !errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("device %s: %w", src, err)
		}
		if err := unix.Lchown(parent, int(owner.Uid), int(owner.Gid)); err != nil {
			return fmt.Errorf("device %s: %w", src, err)
		}
	}
	err := unix.Mknod(dst, st.Mode, int(st.Rdev))
	if err == nil {
		if err := unix.Lchown(dst, int(owner.Uid), int(owner.Gid)); err != nil {
			return fmt.Errorf("device %s: %w", dst, err)
		}
		return unix.Chmod(dst, st.Mode&0o7777) // mknod is subject to the umask
	}
	if !errors.Is(err, unix.EPERM) {
		return fmt.Errorf("mknod %s: %w", dst, err)
	}
	f, err := os.OpenFile(dst, os.O_CREATE|os.O_RDONLY|unix.O_NOFOLLOW, 0o644)
	if err != nil {
		return fmt.Errorf("create %s: %w", dst, err)
	}
	f.Close()
	if err := unix.Mount(src, dst, "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("bind %s: %w", src, err)
	}
	return nil
}
