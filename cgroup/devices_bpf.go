package cgroup

import (
	"fmt"
	"runtime"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The device filter of cgroup v2, which has no devices controller: a
// BPF_PROG_TYPE_CGROUP_DEVICE program the kernel runs on every open and
// mknod of a device node, returning 1 to allow it and 0 to deny it. It is
// assembled and loaded here with bpf(2) itself rather than with
// github.com/cilium/ebpf: the program is a dozen kinds of instruction, and
// that library would add 1.4 MB to a 3.7 MB binary.

// insn is struct bpf_insn: an opcode, the destination register in the low
// nibble and the source in the high one, an offset and an immediate.
type insn struct {
	code uint8
	regs uint8
	off  int16
	imm  int32
}

const (
	r0, r1, r2, r3, r4, r5 = 0, 1, 2, 3, 4, 5

	ldxW    = unix.BPF_LDX | unix.BPF_MEM | unix.BPF_W   // dst = *(u32 *)(src + off)
	and32K  = unix.BPF_ALU | unix.BPF_AND | unix.BPF_K   // dst = (u32)dst & imm
	rsh32K  = unix.BPF_ALU | unix.BPF_RSH | unix.BPF_K   // dst = (u32)dst >> imm
	mov32X  = unix.BPF_ALU | unix.BPF_MOV | unix.BPF_X   // dst = (u32)src
	mov64K  = unix.BPF_ALU64 | unix.BPF_MOV | unix.BPF_K // dst = imm
	jneK    = unix.BPF_JMP | unix.BPF_JNE | unix.BPF_K   // if dst != imm: skip off
	exitIns = unix.BPF_JMP | unix.BPF_EXIT               // return r0
)

func op(code uint8, dst, src uint8, off int16, imm int32) insn {
	return insn{code: code, regs: dst | src<<4, off: off, imm: imm}
}

// deviceProgram allows what one of rules allows and denies the rest. The
// context is struct bpf_cgroup_dev_ctx: access_type (the device type in the
// low 16 bits, the access asked for in the high ones), major, minor.
func deviceProgram(rules []DeviceRule) []insn {
	prog := []insn{
		op(ldxW, r2, r1, 0, 0),
		op(and32K, r2, 0, 0, 0xffff), // r2: type
		op(ldxW, r3, r1, 0, 0),
		op(rsh32K, r3, 0, 0, 16), // r3: access
		op(ldxW, r4, r1, 4, 0),   // r4: major
		op(ldxW, r5, r1, 8, 0),   // r5: minor
	}
	for _, r := range rules {
		// Each test jumps to the next rule when it fails: past the
		// block, whose length is known once it is built.
		var block []insn
		typ := int32(unix.BPF_DEVCG_DEV_CHAR)
		if r.Type == 'b' {
			typ = unix.BPF_DEVCG_DEV_BLOCK
		}
		block = append(block, op(jneK, r2, 0, 0, typ))
		if denied := ^accessBits(r.Access) & 7; denied != 0 {
			// Every access asked for is one the rule gives.
			block = append(block, op(mov32X, r1, r3, 0, 0), op(and32K, r1, 0, 0, denied), op(jneK, r1, 0, 0, 0))
		}
		if r.Major != AnyDevice {
			block = append(block, op(jneK, r4, 0, 0, int32(r.Major)))
		}
		if r.Minor != AnyDevice {
			block = append(block, op(jneK, r5, 0, 0, int32(r.Minor)))
		}
		block = append(block, op(mov64K, r0, 0, 0, 1), op(exitIns, 0, 0, 0, 0))
		for i := range block {
			if block[i].code == jneK {
				block[i].off = int16(len(block) - i - 1)
			}
		}
		prog = append(prog, block...)
	}
	return append(prog, op(mov64K, r0, 0, 0, 0), op(exitIns, 0, 0, 0, 0))
}

// accessBits are access's BPF_DEVCG_ACC_* bits.
func accessBits(access string) int32 {
	var bits int32
	for _, c := range access {
		switch c {
		case 'r':
			bits |= unix.BPF_DEVCG_ACC_READ
		case 'w':
			bits |= unix.BPF_DEVCG_ACC_WRITE
		case 'm':
			bits |= unix.BPF_DEVCG_ACC_MKNOD
		}
	}
	return bits
}

// progLoadAttr and progAttachAttr are the leading fields of union bpf_attr
// that BPF_PROG_LOAD and BPF_PROG_ATTACH read; the kernel takes the rest
// as zero.
type progLoadAttr struct {
	progType    uint32
	insnCnt     uint32
	insns       uint64
	license     uint64
	logLevel    uint32
	logSize     uint32
	logBuf      uint64
	kernVersion uint32
	progFlags   uint32
	progName    [unix.BPF_OBJ_NAME_LEN]byte
}

type progAttachAttr struct {
	targetFd    uint32
	attachBpfFd uint32
	attachType  uint32
	attachFlags uint32
}

func bpf(cmd uintptr, attr unsafe.Pointer, size uintptr) (int, error) {
	fd, _, errno := unix.Syscall(unix.SYS_BPF, cmd, uintptr(attr), size)
	if errno != 0 {
		return -1, errno
	}
	return int(fd), nil
}

// attachDeviceFilter loads the program of rules and attaches it to the
// cgroup open at cgroupFD. The attachment, not a pin or an open fd, keeps
// the program: it goes with the cgroup. BPF_F_ALLOW_MULTI lets a systemd
// inside attach its units' own filters below, which the kernel runs as
// well as this one.
func attachDeviceFilter(cgroupFD int, rules []DeviceRule) error {
	prog := deviceProgram(rules)
	license := []byte("GPL\x00")
	defer runtime.KeepAlive(prog)
	defer runtime.KeepAlive(license)
	attr := progLoadAttr{
		progType: unix.BPF_PROG_TYPE_CGROUP_DEVICE,
		insnCnt:  uint32(len(prog)),
		insns:    uint64(uintptr(unsafe.Pointer(&prog[0]))),
		license:  uint64(uintptr(unsafe.Pointer(&license[0]))),
	}
	copy(attr.progName[:], "nspawn_devices")
	fd, err := bpf(unix.BPF_PROG_LOAD, unsafe.Pointer(&attr), unsafe.Sizeof(attr))
	if err != nil {
		return fmt.Errorf("load the device filter: %w%s", err, verifierLog(attr))
	}
	defer unix.Close(fd)
	attach := progAttachAttr{
		targetFd:    uint32(cgroupFD),
		attachBpfFd: uint32(fd),
		attachType:  unix.BPF_CGROUP_DEVICE,
		attachFlags: unix.BPF_F_ALLOW_MULTI,
	}
	if _, err := bpf(unix.BPF_PROG_ATTACH, unsafe.Pointer(&attach), unsafe.Sizeof(attach)); err != nil {
		return fmt.Errorf("attach the device filter: %w", err)
	}
	return nil
}

// verifierLog loads the program of attr again, asking the verifier why it
// refuses it: its last line, or "" when it says nothing.
func verifierLog(attr progLoadAttr) string {
	log := make([]byte, 1<<16)
	defer runtime.KeepAlive(log)
	attr.logLevel, attr.logSize = 1, uint32(len(log))
	attr.logBuf = uint64(uintptr(unsafe.Pointer(&log[0])))
	if fd, err := bpf(unix.BPF_PROG_LOAD, unsafe.Pointer(&attr), unsafe.Sizeof(attr)); err == nil {
		unix.Close(fd)
	}
	text, _, _ := strings.Cut(string(log), "\x00")
	text = strings.TrimSpace(text)
	if text == "" {
		return ""
	}
	return ": " + text[strings.LastIndexByte(text, '\n')+1:]
}
