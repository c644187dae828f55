package cgroup

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// ReaperArg0 marks the re-executed binary as the reaper's cleanup stage.
const ReaperArg0 = "nspawn-cgroup-reaper"

// Reaper removes a container's cgroup when nspawn dies without doing so
// itself (SIGKILL): with no systemd to collect an empty scope, nothing else
// would. It is a process that blocks reading a pipe whose only writer is
// nspawn; a byte means nspawn cleaned up and it exits, end-of-file means
// nspawn is gone and it execs nspawn's binary to remove the cgroup.
//
// The waiting is done by a 69-byte program (waitThenExec), not by a copy of
// nspawn: on this project's VMs a fork of the Go process costs 5 ms in
// copy-on-write faults and a second Go runtime 6 ms of CPU on start-up,
// where this costs about one.
type Reaper struct {
	pid int
	w   int
}

// startReaper starts the reaper of g, which Create calls once g is
// claimed and before anything is made. The reaper holds the claim (fd 5)
// until it exits, so a new nspawn of the same name waits for its cleanup.
// It is told every v1 hierarchy the scope may get a directory on, since
// those come after it.
func startReaper(g *Group, l Layout) (*Reaper, error) {
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		return nil, fmt.Errorf("cgroup reaper: %w", err)
	}
	defer unix.Close(p[0])
	null, err := unix.Open("/dev/null", unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		unix.Close(p[1])
		return nil, fmt.Errorf("cgroup reaper: %w", err)
	}
	defer unix.Close(null)
	owned := "existing"
	var v1 []string
	if g.owned {
		owned = "owned"
		for _, root := range v1Roots(l) {
			v1 = append(v1, root+g.path)
		}
	}
	args := append([]string{ReaperArg0, g.root, g.path, owned}, v1...)
	attr := &syscall.ProcAttr{
		Dir: "/",
		// fd 0 the pipe; fds 3 and 4 for the waiting program; 5 the
		// claim, which neither closes: it goes when the reaper exits.
		Files: []uintptr{uintptr(p[0]), uintptr(null), uintptr(null), uintptr(null), uintptr(null), uintptr(g.claim)},
		// Out of nspawn's session: the terminal's ^C and hangup are
		// nspawn's to handle, not the reaper's.
		Sys: &syscall.SysProcAttr{Setsid: true},
	}
	pid, err := startWaiter(args, attr)
	if err != nil {
		// Where a memfd may not be executed (vm.memfd_noexec, a MAC
		// policy), nspawn's own binary waits, at the price of a runtime.
		pid, err = syscall.ForkExec("/proc/self/exe", args, attr)
	}
	if err != nil {
		unix.Close(p[1])
		return nil, fmt.Errorf("start cgroup reaper: %w", err)
	}
	return &Reaper{pid: pid, w: p[1]}, nil
}

// startWaiter runs waitThenExec from a sealed memfd with nspawn's binary
// as fd 3, to exec on end-of-file.
func startWaiter(args []string, attr *syscall.ProcAttr) (int, error) {
	self, err := unix.Open("/proc/self/exe", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, err
	}
	defer unix.Close(self)
	prog, err := unix.MemfdCreate("nspawn-reaper", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return 0, err
	}
	defer unix.Close(prog)
	if _, err := unix.Write(prog, waitThenExec()); err != nil {
		return 0, err
	}
	unix.FcntlInt(uintptr(prog), unix.F_ADD_SEALS, unix.F_SEAL_SEAL|unix.F_SEAL_SHRINK|unix.F_SEAL_GROW|unix.F_SEAL_WRITE)
	files := append([]uintptr(nil), attr.Files...)
	files[3], files[4] = uintptr(self), uintptr(prog)
	waiter := *attr
	waiter.Files = files
	// fd 4 in the child is the program itself; fd 3 the binary it execs.
	return syscall.ForkExec("/proc/self/fd/4", append([]string{"nspawn-reaper", "/proc/self/fd/3"}, args...), &waiter)
}

// Done tells the reaper nspawn has removed the cgroup itself, and collects
// it: it exits at once.
func (r *Reaper) Done() {
	unix.Write(r.w, []byte{1})
	unix.Close(r.w)
	unix.Wait4(r.pid, nil, 0, nil)
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

// ReaperMain is the cleanup stage. Started by waitThenExec, it finds fd 0
// at end-of-file already; in the fallback it does the waiting itself.
func ReaperMain() int {
	if len(os.Args) < 4 {
		return 2
	}
	var b [1]byte
	for {
		n, err := unix.Read(0, b[:])
		if err == unix.EINTR {
			continue
		}
		if n == 1 {
			return 0
		}
		break
	}
	// The claim stays held, on fd 5, until this process exits.
	g := &Group{root: os.Args[1], path: os.Args[2], owned: os.Args[3] == "owned", v1: os.Args[4:], payload: -1, lock: -1, claim: -1}
	if !g.owned && !marked(g.lockDir()) {
		// Not nspawn's, or made the moment before nspawn was killed:
		// only an empty one goes.
		unix.Rmdir(g.lockDir())
		return 0
	}
	// The cgroup may not exist yet (nspawn killed before its mkdir); then
	// only the slices made for it are removed. A lock held after nspawn
	// is gone is a nspawn of the same name in another network namespace:
	// the cgroup is its own now.
	if fd, err := lockDirWait(g.lockDir(), reaperLockWait); err == nil {
		g.lock = fd
	} else if errors.Is(err, ErrBusy) {
		return 0
	}
	if g.Remove() != nil {
		return 1
	}
	return 0
}

// reaperLockWait is how long the reaper waits for a dead nspawn's lock:
// its child, between clone and exec, shares the fd for a moment.
const reaperLockWait = 100 * time.Millisecond
