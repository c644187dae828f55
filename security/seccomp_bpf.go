package security

import (
	"fmt"
	"runtime"
	"slices"

	"golang.org/x/sys/unix"
)

// Offsets into struct seccomp_data (seccomp(2)): nr, arch, then args[],
// u64 each, the low half first on x86. The arguments tested are all C int
// or unsigned int, which the kernel truncates to 32 bits, so the low half
// is the whole value: a test of both halves (as libseccomp makes) could be
// dodged with junk in the high one.
const (
	offNR   = 0
	offArch = 4
)

func offArgLow(i uint32) uint32 { return 16 + 8*i }

// The answers. An unknown number gets ENOSYS, a known but denied one
// EPERM, as systemd-nspawn answers: libc tries a newer call first and
// falls back only on ENOSYS (clone3, fchmodat2), while EPERM tells a
// program that it was refused.
const (
	retAllow        = unix.SECCOMP_RET_ALLOW
	retEPERM        = unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM)
	retENOSYS       = unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS)
	retEAFNOSUPPORT = unix.SECCOMP_RET_ERRNO | uint32(unix.EAFNOSUPPORT)
)

// verdict is what the filter does with one system call number.
type verdict uint8

const (
	unknownCall verdict = iota // in no table
	deniedCall                 // EPERM
	allowedCall                // ALLOW
	ioctlCall                  // allowed, but not to inject terminal input
	socketCall                 // allowed, but not for an audit socket
	// EPERM, but EAFNOSUPPORT for an audit socket: in systemd-nspawn the
	// audit rule is a filter of its own, loaded later, and of two filters
	// that return an errno the kernel takes the later one's (seccomp(2)).
	deniedSocket
	// --suppress-sync=yes: returns 0 without running; opens refused with
	// EINVAL when their flags (argument 1 or 2) ask for O_SYNC or O_DSYNC;
	// ENOSYS for openat2, whose flags the filter cannot see.
	syncNoopCall
	openSyncArg1
	openSyncArg2
	enosysCall
)

// SeccompProgram compiles systemd-nspawn's filter for a container that
// keeps caps (bit n is capability n), with f's changes, for the three
// ABIs of an x86-64 kernel. Another audit arch is allowed through, as
// systemd lets a foreign arch pass (SCMP_FLTATR_ACT_BADARCH); an x86-64
// kernel never reports one.
func SeccompProgram(caps uint64, f SyscallFilter) ([]unix.SockFilter, error) {
	// The tables are x86's; on another arch the filter would let every
	// call through as a foreign arch.
	if runtime.GOARCH != "amd64" {
		return nil, fmt.Errorf("seccomp filter: no system call tables for %s", runtime.GOARCH)
	}
	allowed, err := allowedSyscalls(caps, f)
	if err != nil {
		return nil, err
	}
	prog := compileSeccompWith(unknownCall, f.AddressFamilies, func(name string) verdict {
		if f.SuppressSync && allowed[name] {
			if v, ok := suppressSyncVerdict(name); ok {
				return v
			}
		}
		switch {
		case name == "ioctl" && allowed[name]:
			return ioctlCall
		case name == "socket" && allowed[name]:
			return socketCall
		case name == "socket":
			return deniedSocket
		case allowed[name]:
			return allowedCall
		}
		return deniedCall
	})
	if len(prog) > unix.BPF_MAXINSNS {
		return nil, fmt.Errorf("seccomp filter of %d instructions is over the kernel's limit of %d", len(prog), unix.BPF_MAXINSNS)
	}
	return prog, nil
}

// compileSeccomp dispatches on the audit arch, then on the x32 bit, then
// decides each ABI's number with a balanced tree of JGE over the runs of
// numbers that share a verdict: at most 15 instructions run for a call,
// where a list of compares would run hundreds. The tree reads no
// argument, so the kernel's action cache (5.11) evaluates it once per
// native and i386 number when the filter is loaded, and then skips the
// filter for every number it allows.
func compileSeccomp(unknown verdict, verdictOf func(name string) verdict) []unix.SockFilter {
	return compileSeccompWith(unknown, AddressFamilies{}, verdictOf)
}

// compileSeccompWith is compileSeccomp with socket(2) limited to families.
func compileSeccompWith(unknown verdict, families AddressFamilies, verdictOf func(name string) verdict) []unix.SockFilter {
	abis := x86ABIs()
	code := func(v verdict) []unix.SockFilter { return verdictCode(v, families) }
	decide := func(a syscallABI) []unix.SockFilter {
		return appendDecision(make([]unix.SockFilter, 0, 512), syscallRanges(a, unknown, verdictOf), code)
	}
	x86 := append([]unix.SockFilter{loadWord(offNR)},
		branch(unix.BPF_JGE, x32Bit, decide(abis[0]), decide(abis[1]))...)
	i386 := append([]unix.SockFilter{loadWord(offNR)}, decide(abis[2])...)
	other := []unix.SockFilter{ret(retAllow)}
	return append([]unix.SockFilter{loadWord(offArch)},
		branch(unix.BPF_JEQ, unix.AUDIT_ARCH_X86_64,
			branch(unix.BPF_JEQ, unix.AUDIT_ARCH_I386, other, i386),
			x86)...)
}

// numberRange is a run of numbers from lo up to the next range's lo.
type numberRange struct {
	lo uint32
	v  verdict
}

// syscallRanges covers the ABI's numbers with ranges, adjacent ones of
// the same verdict merged; numbers in no table get unknown.
func syscallRanges(a syscallABI, unknown verdict, verdictOf func(string) verdict) []numberRange {
	var out []numberRange
	add := func(lo uint32, v verdict) {
		if len(out) == 0 || out[len(out)-1].v != v {
			out = append(out, numberRange{lo, v})
		}
	}
	next := a.lo
	for _, n := range a.table() { // sorted by number
		if n.nr > next {
			add(next, unknown)
		}
		add(n.nr, verdictOf(n.name))
		next = n.nr + 1
	}
	if next <= a.hi {
		add(next, unknown)
	}
	return out
}

// appendDecision appends code that splits the ranges in halves at a
// range's start until one is left: the loaded number lies within it. It
// writes into one slice, as the program is built on every container
// start.
func appendDecision(prog []unix.SockFilter, rs []numberRange, code func(verdict) []unix.SockFilter) []unix.SockFilter {
	if len(rs) == 1 {
		return append(prog, code(rs[0].v)...)
	}
	mid := len(rs) / 2
	at := len(prog)
	prog = appendDecision(append(prog, unix.SockFilter{}), rs[:mid], code)
	prog = setBranch(prog, at, unix.BPF_JGE, rs[mid].lo)
	return appendDecision(prog, rs[mid:], code)
}

// verdictCode is the code of one range, entered with its number loaded;
// an allowed socket(2) is limited to families.
func verdictCode(v verdict, families AddressFamilies) []unix.SockFilter {
	switch v {
	case allowedCall:
		return []unix.SockFilter{ret(retAllow)}
	case deniedCall:
		return []unix.SockFilter{ret(retEPERM)}
	case ioctlCall:
		return terminalInjectionCheck()
	case socketCall:
		return families.familyCheck(auditSocketCheck(retAllow))
	case deniedSocket:
		return auditSocketCheck(retEPERM)
	case syncNoopCall:
		return []unix.SockFilter{ret(retSuccess)}
	case openSyncArg1:
		return syncFlagCheck(1)
	case openSyncArg2:
		return syncFlagCheck(2)
	case enosysCall:
		return []unix.SockFilter{ret(retENOSYS)}
	}
	return []unix.SockFilter{ret(retENOSYS)}
}

// auditSocketCheck refuses socket(AF_NETLINK, *, NETLINK_AUDIT) with
// EAFNOSUPPORT and answers otherwise for any other socket. As
// systemd-nspawn does: audit does not work in a container, and audit
// userspace takes EAFNOSUPPORT as "audit is off in this kernel".
func auditSocketCheck(otherwise uint32) []unix.SockFilter {
	return []unix.SockFilter{
		/* 0 */ loadWord(offArgLow(0)),
		/* 1 */ jump(unix.BPF_JEQ, unix.AF_NETLINK, 0, 2), // else -> 4
		/* 2 */ loadWord(offArgLow(2)),
		/* 3 */ jump(unix.BPF_JEQ, unix.NETLINK_AUDIT, 1, 0), // -> 5
		/* 4 */ ret(otherwise),
		/* 5 */ ret(retEAFNOSUPPORT),
	}
}

// branch is "if A op k then yes else no".
func branch(op uint16, k uint32, no, yes []unix.SockFilter) []unix.SockFilter {
	prog := append([]unix.SockFilter{{}}, no...)
	return append(setBranch(prog, 0, op, k), yes...)
}

// setBranch fills the placeholder at prog[at] with "if A op k", whose
// false case is the code after it, up to the end of prog, and whose true
// case comes next. A conditional jump reaches at most 255 instructions, so
// past a longer false case the test jumps to an inserted JA, whose offset
// is 32 bits; the jumps of the code it moves are relative and stay right.
func setBranch(prog []unix.SockFilter, at int, op uint16, k uint32) []unix.SockFilter {
	no := len(prog) - at - 1
	if no <= 255 {
		prog[at] = jump(op, k, uint8(no), 0)
		return prog
	}
	prog = slices.Insert(prog, at+1, unix.SockFilter{Code: unix.BPF_JMP | unix.BPF_JA, K: uint32(no)})
	prog[at] = jump(op, k, 0, 1)
	return prog
}

func loadWord(off uint32) unix.SockFilter {
	return unix.SockFilter{Code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, K: off}
}

func ret(v uint32) unix.SockFilter { return unix.SockFilter{Code: unix.BPF_RET | unix.BPF_K, K: v} }

// Jump offsets count from the next instruction.
func jump(op uint16, k uint32, jt, jf uint8) unix.SockFilter {
	return unix.SockFilter{Code: unix.BPF_JMP | op | unix.BPF_K, Jt: jt, Jf: jf, K: k}
}
