package security

import (
	"fmt"
	"strings"

	"golang.org/x/sys/unix"
)

// The tables are generated from the kernel's UAPI headers (Debian's
// linux-libc-dev) and systemd's group list; regenerate with go generate
// when either moves.
//go:generate go run ./internal/gensyscalls

// syscallNumber is one row of an ABI's table: the name and what
// seccomp_data.nr holds for it.
type syscallNumber struct {
	name string
	nr   uint32
}

// x32Bit is set in every x32 system call number; x32 shares
// AUDIT_ARCH_X86_64 with the native ABI, so the bit is all that tells
// them apart in a filter (syscall(2), "x32").
const x32Bit = 0x40000000

// syscallABI is one of the three ABIs an x86-64 kernel runs, with the
// range of numbers it owns under its audit arch.
type syscallABI struct {
	name   string
	arch   uint32
	lo, hi uint32
	table  func() []syscallNumber
}

func x86ABIs() []syscallABI {
	return []syscallABI{
		{"x86-64", unix.AUDIT_ARCH_X86_64, 0, x32Bit - 1, syscallsX86_64},
		{"x32", unix.AUDIT_ARCH_X86_64, x32Bit, 1<<32 - 1, syscallsX32},
		{"i386", unix.AUDIT_ARCH_I386, 0, 1<<32 - 1, syscallsI386},
	}
}

// syscallVocabulary is every name a filter may use, collected when the
// first name is checked: building the default filter needs none.
type syscallVocabulary struct {
	names map[string]bool
}

// known accepts a name that any of the three ABIs has, or that systemd
// lists in a group for another architecture (cacheflush,
// s390_runtime_instr): systemd-nspawn accepts those too and they match
// nothing here.
func (v *syscallVocabulary) known(name string) bool {
	if v.names == nil {
		v.names = map[string]bool{}
		for _, a := range x86ABIs() {
			for _, n := range a.table() {
				v.names[n.name] = true
			}
		}
		for _, g := range syscallGroupNames() {
			members, _ := syscallGroup(g)
			for _, m := range members {
				v.names[m] = true
			}
		}
	}
	return v.names[name]
}

// members returns the system calls a name or @group stands for; a name is
// not checked.
func (v *syscallVocabulary) members(word string) ([]string, error) {
	if !strings.HasPrefix(word, "@") {
		return []string{word}, nil
	}
	members, ok := syscallGroup(word)
	if !ok {
		return nil, fmt.Errorf("unknown system call group %q", word)
	}
	return members, nil
}

// resolve is members, with a name checked.
func (v *syscallVocabulary) resolve(word string) ([]string, error) {
	if !strings.HasPrefix(word, "@") && !v.known(word) {
		return nil, fmt.Errorf("unknown system call %q", word)
	}
	return v.members(word)
}

// SyscallGroupNames lists systemd's @groups a system call filter takes
// (systemd.exec(5), SystemCallFilter=), for nspawn's shell completion.
func SyscallGroupNames() []string { return syscallGroupNames() }
