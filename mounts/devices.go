package mounts

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// copyDevice recreates the host's /dev/NAME at dst with the same type,
// numbers and mode. Where mknod is not allowed (inside a user namespace) it
// binds the host node instead, as systemd-nspawn's copy_devnodes() does.
func copyDevice(name, dst string) error {
	src := "/dev/" + name
	var st unix.Stat_t
	if err := unix.Stat(src, &st); err != nil {
		return fmt.Errorf("device %s: %w", src, err)
	}
	err := unix.Mknod(dst, st.Mode, int(st.Rdev))
	if err == nil {
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
