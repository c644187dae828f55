package security

import (
	"encoding/binary"
	"testing"

	"golang.org/x/sys/unix"
)

// run interprets the classic BPF subset the filter uses against one
// struct seccomp_data.
func run(t *testing.T, prog []unix.SockFilter, arch, nr, arg1 uint32) uint32 {
	data := make([]byte, 64)
	binary.LittleEndian.PutUint32(data[offNR:], nr)
	binary.LittleEndian.PutUint32(data[offArch:], arch)
	binary.LittleEndian.PutUint32(data[offArg1:], arg1)
	var a uint32
	for pc := 0; pc < len(prog); pc++ {
		in := prog[pc]
		switch in.Code {
		case unix.BPF_LD | unix.BPF_W | unix.BPF_ABS:
			a = binary.LittleEndian.Uint32(data[in.K:])
		case unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K:
			if a == in.K {
				pc += int(in.Jt)
			} else {
				pc += int(in.Jf)
			}
		case unix.BPF_RET | unix.BPF_K:
			return in.K
		default:
			t.Fatalf("instruction %d: unknown code %#x", pc, in.Code)
		}
	}
	t.Fatal("the filter ran off its end")
	return 0
}

func TestTerminalInjectionFilter(t *testing.T) {
	prog := terminalInjectionFilter()
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
		{"other arch", 0x1234, ioctlAMD64, unix.TIOCSTI, retAllow},
	} {
		if got := run(t, prog, tc.arch, tc.nr, tc.arg1); got != tc.want {
			t.Errorf("%s: %#x, want %#x", tc.name, got, tc.want)
		}
	}
}
