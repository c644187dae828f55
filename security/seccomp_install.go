package security

import (
	"fmt"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// ApplySeccomp installs systemd-nspawn's filter for a container that
// keeps caps, with f's changes. Call it as systemd-nspawn does: last
// before the capabilities and the user change, while nspawn still holds
// CAP_SYS_ADMIN (see InstallSeccomp).
func ApplySeccomp(caps uint64, f SyscallFilter) error {
	// The tables are x86's; on another arch the filter would let every
	// call through as a foreign arch.
	if runtime.GOARCH != "amd64" {
		return fmt.Errorf("seccomp filter: no system call tables for %s", runtime.GOARCH)
	}
	prog, err := SeccompProgram(caps, f)
	if err != nil {
		return err
	}
	return InstallSeccomp(prog)
}

// InstallSeccomp loads prog for every thread of this process, to be
// inherited by everything it execs. It sets no no_new_privs, so setuid
// programs in the container keep working; the kernel then requires
// CAP_SYS_ADMIN (seccomp(2)), so call it before dropping privileges.
func InstallSeccomp(prog []unix.SockFilter) error {
	if len(prog) == 0 || len(prog) > unix.BPF_MAXINSNS {
		return fmt.Errorf("install the seccomp filter: %d instructions", len(prog))
	}
	fprog := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
	// TSYNC puts the filter on the Go runtime's other threads too, so the
	// thread that execs has it whichever one that is.
	r, _, errno := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER,
		unix.SECCOMP_FILTER_FLAG_TSYNC, uintptr(unsafe.Pointer(&fprog)))
	runtime.KeepAlive(prog)
	switch {
	case errno == unix.ENOSYS:
		// Before seccomp(2) (Linux 3.17) only the calling thread can be
		// filtered; the child runs locked to one thread.
		err := unix.Prctl(unix.PR_SET_SECCOMP, unix.SECCOMP_MODE_FILTER, uintptr(unsafe.Pointer(&fprog)), 0, 0)
		runtime.KeepAlive(prog)
		if err != nil {
			return fmt.Errorf("install the seccomp filter: %w", err)
		}
	case errno != 0:
		return fmt.Errorf("install the seccomp filter: %w", errno)
	case r != 0:
		return fmt.Errorf("install the seccomp filter: thread %d could not be synchronized", r)
	}
	return nil
}
