package security

import (
	"testing"

	"golang.org/x/sys/unix"
)

// Numbers of ioctl in each ABI: native, x32 (its own compat entry, with
// the x32 bit set) and i386.
const (
	ioctlAMD64 = 16
	ioctlX32   = x32Bit | 514
	ioctlI386  = 54
)

func TestTerminalInjectionFilter(t *testing.T) {
	prog := terminalInjectionFilter()
	checkProgram(t, prog)
	t.Logf("%d instructions", len(prog))
	for _, tc := range []struct {
		name           string
		arch, nr, arg1 uint32
		want           uint32
	}{
		{"x86-64 TIOCSTI", unix.AUDIT_ARCH_X86_64, ioctlAMD64, unix.TIOCSTI, retEPERM},
		{"x86-64 TIOCLINUX", unix.AUDIT_ARCH_X86_64, ioctlAMD64, unix.TIOCLINUX, retEPERM},
		{"x32 TIOCSTI", unix.AUDIT_ARCH_X86_64, ioctlX32, unix.TIOCSTI, retEPERM},
		{"i386 TIOCSTI", unix.AUDIT_ARCH_I386, ioctlI386, unix.TIOCSTI, retEPERM},
		{"i386 TIOCLINUX", unix.AUDIT_ARCH_I386, ioctlI386, unix.TIOCLINUX, retEPERM},
		{"x86-64 TCGETS", unix.AUDIT_ARCH_X86_64, ioctlAMD64, unix.TCGETS, retAllow},
		{"i386 TIOCGWINSZ", unix.AUDIT_ARCH_I386, ioctlI386, unix.TIOCGWINSZ, retAllow},
		{"x86-64 read with TIOCSTI-like arg", unix.AUDIT_ARCH_X86_64, 0, unix.TIOCSTI, retAllow},
		{"i386 syscall 16 is not ioctl", unix.AUDIT_ARCH_I386, 16, unix.TIOCSTI, retAllow},
		{"x86-64 number in no table", unix.AUDIT_ARCH_X86_64, 1000, unix.TIOCSTI, retAllow},
		{"other arch", 0x1234, ioctlAMD64, unix.TIOCSTI, retAllow},
	} {
		d := seccompData{nr: tc.nr, arch: tc.arch}
		d.args[1] = uint64(tc.arg1)
		if got, _ := runFilter(t, prog, d); got != tc.want {
			t.Errorf("%s: %#x, want %#x", tc.name, got, tc.want)
		}
	}
}

// The kernel truncates ioctl's request to an unsigned int, so junk in the
// high half of the register must not get TIOCSTI past the filter.
func TestTerminalInjectionHighBits(t *testing.T) {
	d := seccompData{nr: ioctlAMD64, arch: unix.AUDIT_ARCH_X86_64}
	d.args[1] = 1<<32 | unix.TIOCSTI
	if got, _ := runFilter(t, terminalInjectionFilter(), d); got != retEPERM {
		t.Errorf("TIOCSTI with high bits: %#x, want EPERM", got)
	}
}

// terminalInjectionFilter allows everything but terminal injection: the
// terminal rule alone, to test it in isolation.
func terminalInjectionFilter() []unix.SockFilter {
	return compileSeccomp(allowedCall, func(name string) verdict {
		if name == "ioctl" {
			return ioctlCall
		}
		return allowedCall
	})
}
