// Package security holds the container's kernel-level restrictions.
package security

import "golang.org/x/sys/unix"

// terminalInjectionCheck denies ioctl TIOCSTI and TIOCLINUX with EPERM,
// in every ABI, and allows every other request. A payload that holds a
// terminal of the host (nspawn's own stdin in pipe mode) could otherwise
// push keystrokes into it for the user's shell to run: the kernel lets
// CAP_SYS_ADMIN use TIOCSTI on any terminal, and TIOCLINUX pastes into a
// virtual console (CVE-2017-5226 class).
func terminalInjectionCheck() []unix.SockFilter {
	return []unix.SockFilter{
		/* 0 */ loadWord(offArgLow(1)),
		/* 1 */ jump(unix.BPF_JEQ, unix.TIOCSTI, 2, 0), // -> 4
		/* 2 */ jump(unix.BPF_JEQ, unix.TIOCLINUX, 1, 0), // -> 4
		/* 3 */ ret(retAllow),
		/* 4 */ ret(retEPERM),
	}
}
