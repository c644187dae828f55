package security

import (
	"encoding/binary"
	"testing"

	"golang.org/x/sys/unix"
)

// seccompData is struct seccomp_data as the filter sees one call.
type seccompData struct {
	nr, arch uint32
	args     [6]uint64
}

// checkProgram applies the kernel's rules for a seccomp filter
// (bpf_check_classic, seccomp_check_filter) to the subset we emit: known
// opcodes, aligned loads inside seccomp_data, jumps that land inside the
// program, and a return as the last instruction.
func checkProgram(t *testing.T, prog []unix.SockFilter) {
	t.Helper()
	if len(prog) == 0 || len(prog) > unix.BPF_MAXINSNS {
		t.Fatalf("%d instructions", len(prog))
	}
	for pc, in := range prog {
		switch in.Code {
		case unix.BPF_LD | unix.BPF_W | unix.BPF_ABS:
			if in.K%4 != 0 || in.K >= 64 {
				t.Fatalf("instruction %d: load at %d", pc, in.K)
			}
		case unix.BPF_JMP | unix.BPF_JA:
			if uint64(pc)+1+uint64(in.K) >= uint64(len(prog)) {
				t.Fatalf("instruction %d: JA past the end", pc)
			}
		case unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, unix.BPF_JMP | unix.BPF_JGE | unix.BPF_K, unix.BPF_JMP | unix.BPF_JSET | unix.BPF_K:
			if pc+1+int(max(in.Jt, in.Jf)) >= len(prog) {
				t.Fatalf("instruction %d: jump past the end", pc)
			}
		case unix.BPF_RET | unix.BPF_K:
		default:
			t.Fatalf("instruction %d: unknown code %#x", pc, in.Code)
		}
	}
	if prog[len(prog)-1].Code != unix.BPF_RET|unix.BPF_K {
		t.Fatal("the last instruction is not a return")
	}
}

// runFilter interprets prog for one call; it also counts the
// instructions the call took.
func runFilter(t *testing.T, prog []unix.SockFilter, d seccompData) (action uint32, steps int) {
	t.Helper()
	buf := make([]byte, 64)
	binary.LittleEndian.PutUint32(buf[0:], d.nr)
	binary.LittleEndian.PutUint32(buf[4:], d.arch)
	for i, a := range d.args {
		binary.LittleEndian.PutUint64(buf[16+8*i:], a)
	}
	var acc uint32
	for pc := 0; pc < len(prog); pc++ {
		steps++
		in := prog[pc]
		switch in.Code {
		case unix.BPF_LD | unix.BPF_W | unix.BPF_ABS:
			acc = binary.LittleEndian.Uint32(buf[in.K:])
		case unix.BPF_JMP | unix.BPF_JA:
			pc += int(in.K)
		case unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K:
			pc += int(pick(acc == in.K, in.Jt, in.Jf))
		case unix.BPF_JMP | unix.BPF_JGE | unix.BPF_K:
			pc += int(pick(acc >= in.K, in.Jt, in.Jf))
		case unix.BPF_JMP | unix.BPF_JSET | unix.BPF_K:
			pc += int(pick(acc&in.K != 0, in.Jt, in.Jf))
		case unix.BPF_RET | unix.BPF_K:
			return in.K, steps
		default:
			t.Fatalf("instruction %d: unknown code %#x", pc, in.Code)
		}
	}
	t.Fatal("the filter ran off its end")
	return 0, steps
}

func pick(cond bool, jt, jf uint8) uint8 {
	if cond {
		return jt
	}
	return jf
}
