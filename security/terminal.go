// Package security holds the container's kernel-level restrictions.
package security

import (
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Syscall numbers of ioctl in each ABI an x86-64 kernel runs: native,
// x32 (its own compat entry, with the x32 bit set) and i386.
const (
	x32Bit     = 0x40000000
	ioctlAMD64 = 16
	ioctlX32   = x32Bit | 514
	ioctlI386  = 54
)

// Jump offsets count from the next instruction; the comments give the
// absolute target.

// Offsets into struct seccomp_data: nr, arch, then args[] (u64 each; the
// low half of args[1], the ioctl request, comes first on little-endian).
const (
	offNR    = 0
	offArch  = 4
	offArg1  = 16 + 8
	retAllow = unix.SECCOMP_RET_ALLOW
	retEPERM = unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM)
)

func stmt(code uint16, k uint32) unix.SockFilter { return unix.SockFilter{Code: code, K: k} }
func jeq(k uint32, jt, jf uint8) unix.SockFilter {
	return unix.SockFilter{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, Jt: jt, Jf: jf, K: k}
}

// terminalInjectionFilter denies TIOCSTI and TIOCLINUX in every ABI with
// EPERM. A payload that holds a terminal of the host (nspawn's own stdin
// in pipe mode) could otherwise push keystrokes into it for the user's
// shell to run: the kernel lets CAP_SYS_ADMIN use TIOCSTI on any terminal,
// and TIOCLINUX pastes into a virtual console (CVE-2017-5226 class).
func terminalInjectionFilter() []unix.SockFilter {
	ld := func(off uint32) unix.SockFilter { return stmt(unix.BPF_LD|unix.BPF_W|unix.BPF_ABS, off) }
	ret := func(v uint32) unix.SockFilter { return stmt(unix.BPF_RET|unix.BPF_K, v) }
	return []unix.SockFilter{
		/* 0 */ ld(offArch),
		/* 1 */ jeq(unix.AUDIT_ARCH_X86_64, 0, 4), // else -> 6
		/* 2 */ ld(offNR),
		/* 3 */ jeq(ioctlAMD64, 5, 0), // -> 9
		/* 4 */ jeq(ioctlX32, 4, 0), // -> 9
		/* 5 */ ret(retAllow),
		/* 6 */ jeq(unix.AUDIT_ARCH_I386, 0, 5), // else -> 12
		/* 7 */ ld(offNR),
		/* 8 */ jeq(ioctlI386, 0, 3), // else -> 12
		/* 9 */ ld(offArg1),
		/* 10 */ jeq(unix.TIOCSTI, 2, 0), // -> 13
		/* 11 */ jeq(unix.TIOCLINUX, 1, 0), // -> 13
		/* 12 */ ret(retAllow),
		/* 13 */ ret(retEPERM),
	}
}

// DenyTerminalInjection installs the filter on the calling thread, to be
// inherited by everything it execs. It needs CAP_SYS_ADMIN (no
// no_new_privs, so setuid programs in the container keep working): call it
// before dropping privileges.
func DenyTerminalInjection() error {
	f := terminalInjectionFilter()
	prog := unix.SockFprog{Len: uint16(len(f)), Filter: &f[0]}
	if err := unix.Prctl(unix.PR_SET_SECCOMP, unix.SECCOMP_MODE_FILTER, uintptr(unsafe.Pointer(&prog)), 0, 0); err != nil {
		return fmt.Errorf("install the seccomp filter: %w", err)
	}
	return nil
}
