package security

import (
	"encoding/binary"
	"fmt"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

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

// EncodeProgram lays prog out as struct sock_filter is in memory, for the
// plan to carry from nspawn to the child.
func EncodeProgram(prog []unix.SockFilter) []byte {
	b := make([]byte, 0, 8*len(prog))
	for _, f := range prog {
		b = binary.LittleEndian.AppendUint16(b, f.Code)
		b = append(b, f.Jt, f.Jf)
		b = binary.LittleEndian.AppendUint32(b, f.K)
	}
	return b
}

// DecodeProgram reads what EncodeProgram wrote.
func DecodeProgram(b []byte) ([]unix.SockFilter, error) {
	if len(b)%8 != 0 {
		return nil, fmt.Errorf("seccomp program of %d bytes is not whole instructions", len(b))
	}
	prog := make([]unix.SockFilter, len(b)/8)
	for i := range prog {
		r := b[8*i:]
		prog[i] = unix.SockFilter{Code: binary.LittleEndian.Uint16(r), Jt: r[2], Jf: r[3], K: binary.LittleEndian.Uint32(r[4:])}
	}
	return prog, nil
}
