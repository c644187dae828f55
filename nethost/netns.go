package nethost

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"time"

	"golang.org/x/sys/unix"
)

// inNetNS runs fn on a locked thread switched into the network namespace
// nsfd (-1: the calling thread's own). /proc/sys/net and abstract unix
// socket names both belong to the namespace of the thread that opens or
// binds them, which is why sysctls and claims go through here.
func inNetNS(nsfd int, fn func() error) error {
	if nsfd < 0 {
		return fn()
	}
	runtime.LockOSThread()
	self, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		runtime.UnlockOSThread()
		return err
	}
	defer self.Close()
	if err := unix.Setns(nsfd, unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("enter network namespace: %w", err)
	}
	fnErr := fn()
	if err := unix.Setns(int(self.Fd()), unix.CLONE_NEWNET); err != nil {
		// The thread stays locked and is thrown away with the goroutine.
		return fmt.Errorf("return to own network namespace: %w", err)
	}
	runtime.UnlockOSThread()
	return fnErr
}

// A claim is a bound abstract unix socket: a name per network namespace
// that only one process holds at a time and that the kernel frees when the
// process dies, SIGKILL included, so no claim outlives its nspawn.
type claim struct{ fd int }

// takeClaim binds "@nspawn/NAME" in the namespace nsfd; ok is false when
// another process holds it.
func takeClaim(nsfd int, name string) (c *claim, ok bool, err error) {
	err = inNetNS(nsfd, func() error {
		fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("claim %s: %w", name, err)
		}
		if err := unix.Bind(fd, &unix.SockaddrUnix{Name: "@nspawn/" + name}); err != nil {
			unix.Close(fd)
			if errors.Is(err, unix.EADDRINUSE) {
				return nil
			}
			return fmt.Errorf("claim %s: %w", name, err)
		}
		c, ok = &claim{fd}, true
		return nil
	})
	return c, ok, err
}

// waitClaim takes a claim that others hold only briefly (a lock around a
// few netlink calls), retrying for up to ten seconds.
func waitClaim(nsfd int, name string) (*claim, error) {
	for delay := 100 * time.Microsecond; ; delay *= 2 {
		c, ok, err := takeClaim(nsfd, name)
		if err != nil || ok {
			return c, err
		}
		if delay > 5*time.Second {
			return nil, fmt.Errorf("claim %s: still held by another nspawn after 10s", name)
		}
		time.Sleep(delay)
	}
}

func (c *claim) release() {
	if c != nil && c.fd >= 0 {
		unix.Close(c.fd)
		c.fd = -1
	}
}

// openNetNS opens the namespace at path; "" gives -1, the caller's own.
func openNetNS(path string) (int, error) {
	if path == "" {
		return -1, nil
	}
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("open network namespace %s: %w", path, err)
	}
	return fd, nil
}

// writeSysctl writes value to /proc/sys/KEY in the namespace nsfd.
func writeSysctl(nsfd int, key, value string) error {
	return inNetNS(nsfd, func() error {
		return os.WriteFile("/proc/sys/"+key, []byte(value), 0)
	})
}

func readSysctl(nsfd int, key string) (string, error) {
	var b []byte
	err := inNetNS(nsfd, func() (err error) {
		b, err = os.ReadFile("/proc/sys/" + key)
		return err
	})
	return string(trimNewline(b)), err
}

func trimNewline(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == ' ') {
		b = b[:len(b)-1]
	}
	return b
}
