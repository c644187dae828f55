package undo

import (
	"encoding/binary"
	"syscall"

	"golang.org/x/sys/unix"
)

// startWaiter runs waitThenExec from a sealed memfd with nspawn's binary
// as fd 3, to exec on end-of-file, and the program itself as fd 4.
// attr's Files must leave 3 and 4 free.
func startWaiter(args []string, attr *syscall.ProcAttr) (int, error) {
	self, err := unix.Open("/proc/self/exe", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, err
	}
	defer unix.Close(self)
	prog, err := unix.MemfdCreate(WaiterArg0, unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return 0, err
	}
	defer unix.Close(prog)
	if _, err := unix.Write(prog, waitThenExec()); err != nil {
		return 0, err
	}
	unix.FcntlInt(uintptr(prog), unix.F_ADD_SEALS, unix.F_SEAL_SEAL|unix.F_SEAL_SHRINK|unix.F_SEAL_GROW|unix.F_SEAL_WRITE)
	files := append([]uintptr(nil), attr.Files...)
	files[fdSelf], files[fdProgram] = uintptr(self), uintptr(prog)
	waiter := *attr
	waiter.Files = files
	return syscall.ForkExec("/proc/self/fd/4", append([]string{WaiterArg0, "/proc/self/fd/3"}, args...), &waiter)
}

// waitThenExec is a static x86-64 ELF executable that reads one byte from
// fd 0 and exits 0 if it gets one; on end-of-file or an error it runs
// execve(argv[1], &argv[2], envp), and exits 127 if that fails:
//
//	   mov  rbx, rsp              ; rbx -> argc, argv[0], argv[1], ...
//	1: xor  eax, eax              ; read(0, rsp-8, 1)
//	   xor  edi, edi
//	   lea  rsi, [rsp-8]
//	   mov  edx, 1
//	   syscall
//	   cmp  rax, -4               ; EINTR: read again
//	   je   1b
//	   test rax, rax              ; got a byte: exit 0
//	   jg   2f
//	   mov  rdi, [rbx+16]         ; execve(argv[1], &argv[2], envp)
//	   lea  rsi, [rbx+24]
//	   mov  rdx, [rbx]
//	   lea  rdx, [rbx+rdx*8+16]
//	   mov  eax, 59
//	   syscall
//	   mov  edi, 127
//	   jmp  3f
//	2: xor  edi, edi
//	3: mov  eax, 231              ; exit_group(edi)
//	   syscall
func waitThenExec() []byte {
	code := []byte{
		0x48, 0x89, 0xe3,
		0x31, 0xc0,
		0x31, 0xff,
		0x48, 0x8d, 0x74, 0x24, 0xf8,
		0xba, 0x01, 0x00, 0x00, 0x00,
		0x0f, 0x05,
		0x48, 0x83, 0xf8, 0xfc,
		0x74, 0xea,
		0x48, 0x85, 0xc0,
		0x7f, 0x1e,
		0x48, 0x8b, 0x7b, 0x10,
		0x48, 0x8d, 0x73, 0x18,
		0x48, 0x8b, 0x13,
		0x48, 0x8d, 0x54, 0xd3, 0x10,
		0xb8, 0x3b, 0x00, 0x00, 0x00,
		0x0f, 0x05,
		0xbf, 0x7f, 0x00, 0x00, 0x00,
		0xeb, 0x02,
		0x31, 0xff,
		0xb8, 0xe7, 0x00, 0x00, 0x00,
		0x0f, 0x05,
	}
	// One ELF header and one loadable, executable segment holding the
	// whole file, mapped at the traditional 0x400000.
	const base, ehsize, phsize = 0x400000, 64, 56
	le := binary.LittleEndian
	elf := make([]byte, ehsize+phsize, ehsize+phsize+len(code))
	copy(elf, "\x7fELF\x02\x01\x01") // 64-bit, little-endian, version 1
	le.PutUint16(elf[16:], 2)        // ET_EXEC
	le.PutUint16(elf[18:], 62)       // EM_X86_64
	le.PutUint32(elf[20:], 1)        // EV_CURRENT
	le.PutUint64(elf[24:], base+ehsize+phsize)
	le.PutUint64(elf[32:], ehsize) // program headers right after
	le.PutUint16(elf[52:], ehsize)
	le.PutUint16(elf[54:], phsize)
	le.PutUint16(elf[56:], 1)
	ph := elf[ehsize:]
	le.PutUint32(ph[0:], 1) // PT_LOAD
	le.PutUint32(ph[4:], 5) // PF_R|PF_X
	le.PutUint64(ph[16:], base)
	le.PutUint64(ph[24:], base)
	size := uint64(ehsize + phsize + len(code))
	le.PutUint64(ph[32:], size)
	le.PutUint64(ph[40:], size)
	le.PutUint64(ph[48:], 0x1000)
	return append(elf, code...)
}
