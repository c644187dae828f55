package pty

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// OpenConsole allocates a pseudo-terminal in the container's own devpts
// instance (/dev/pts, after pivot_root), so inside it is /dev/pts/N and
// tty(1) names it, and makes /dev/console a link to it, as systemd-nspawn
// 252 does. It returns the master, which nspawn relays, and the slave,
// which becomes the payload's stdio.
func OpenConsole() (master, slave *os.File, err error) {
	mfd, err := unix.Open("/dev/pts/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("open the container's /dev/pts/ptmx: %w", err)
	}
	master = os.NewFile(uintptr(mfd), "ptmx")
	if err := unix.IoctlSetPointerInt(mfd, unix.TIOCSPTLCK, 0); err != nil {
		master.Close()
		return nil, nil, fmt.Errorf("unlock the console pty: %w", err)
	}
	n, err := unix.IoctlGetInt(mfd, unix.TIOCGPTN)
	if err != nil {
		master.Close()
		return nil, nil, fmt.Errorf("console pty number: %w", err)
	}
	name := fmt.Sprintf("/dev/pts/%d", n)
	sfd, err := unix.Open(name, unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		master.Close()
		return nil, nil, fmt.Errorf("open %s: %w", name, err)
	}
	if err := unix.Symlink(fmt.Sprintf("pts/%d", n), "/dev/console"); err != nil {
		master.Close()
		unix.Close(sfd)
		return nil, nil, fmt.Errorf("link /dev/console: %w", err)
	}
	return master, os.NewFile(uintptr(sfd), name), nil
}

// AttachStdio makes slave the caller's stdin, stdout and stderr, and its
// controlling terminal when ctty is set (the caller must lead a session).
func AttachStdio(slave *os.File, ctty bool) error {
	fd := int(slave.Fd())
	for i := 0; i <= 2; i++ {
		if err := unix.Dup3(fd, i, 0); err != nil {
			return fmt.Errorf("console as fd %d: %w", i, err)
		}
	}
	if ctty {
		if err := unix.IoctlSetInt(0, unix.TIOCSCTTY, 0); err != nil {
			return fmt.Errorf("console as controlling terminal: %w", err)
		}
	}
	return nil
}
