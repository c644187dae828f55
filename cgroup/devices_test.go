package cgroup

import (
	"fmt"
	"os"
	"os/exec"
	"reflect"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestDeviceRuleString(t *testing.T) {
	for _, tc := range []struct {
		rule DeviceRule
		want string
	}{
		{DeviceRule{'c', 1, 3, "rwm"}, "c 1:3 rwm"},
		{DeviceRule{'c', 136, AnyDevice, "rw"}, "c 136:* rw"},
		{DeviceRule{'b', AnyDevice, AnyDevice, "m"}, "b *:* m"},
		{DeviceRule{'b', 0, 0, "rwm"}, "b 0:0 rwm"},
	} {
		if got := tc.rule.String(); got != tc.want {
			t.Errorf("%#v: %q, want %q", tc.rule, got, tc.want)
		}
	}
}

// A /proc/devices as this project's VMs have it.
const procDevices = `Character devices:
  1 mem
  4 /dev/vc/0
  4 tty
  4 ttyS
  5 /dev/tty
 10 misc
136 pts

Block devices:
  7 loop
254 virtblk
259 blkext
`

func TestMajorRules(t *testing.T) {
	for _, tc := range []struct {
		group string
		want  []DeviceRule
		err   string
	}{
		{group: "char-pts", want: []DeviceRule{{'c', 136, AnyDevice, ""}}},
		{group: "block-loop", want: []DeviceRule{{'b', 7, AnyDevice, ""}}},
		{group: "char-loop"}, // a block device's name, not a char one
		{group: "char-tty*", want: []DeviceRule{{'c', 4, AnyDevice, ""}, {'c', 4, AnyDevice, ""}}},
		{group: "char-*", want: []DeviceRule{{'c', AnyDevice, AnyDevice, ""}}},
		{group: "block-259", want: []DeviceRule{{'b', 259, AnyDevice, ""}}},
		{group: "char-nvidia"},
		{group: "char-[", err: "bad pattern"},
	} {
		got, err := majorRules(tc.group, []byte(procDevices))
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: error %v, want %q", tc.group, err, tc.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: %v, %v; want %v", tc.group, got, err, tc.want)
		}
	}
}

func TestDeviceRules(t *testing.T) {
	rules, warnings := DeviceRules([]Device{
		{"/dev/null", "mwr"},
		{"/dev/null", "rwm"}, // the same rule once
		{"/dev/char/10:200", "rw"},
		{"/dev/block/7:0", "r"},
		{"/run/systemd/inaccessible/blk", "rwm"},
		{"/dev/no-such-device", "rwm"}, // skipped, as systemd does
		{"char-*", "m"},
		{"/dev/char/x", "r"},
		{"/etc/passwd", "r"},
	})
	want := []DeviceRule{
		{'c', 1, 3, "rwm"}, {'c', 10, 200, "rw"}, {'b', 7, 0, "r"}, {'b', 0, 0, "rwm"},
		{'c', AnyDevice, AnyDevice, "m"},
	}
	if !reflect.DeepEqual(rules, want) {
		t.Errorf("rules %v, want %v", rules, want)
	}
	if len(warnings) != 2 || !strings.Contains(warnings[0], "/dev/char/x") || !strings.Contains(warnings[1], "not a device node") {
		t.Errorf("warnings %q, want one for /dev/char/x and one for /etc/passwd", warnings)
	}
	if rules, _ := DeviceRules(nil); rules == nil {
		t.Error("no entries gave nil rules, which would allow every device")
	}
}

// interpret runs prog, as far as deviceProgram uses eBPF, on a device
// access: the kernel's answer, 1 allow or 0 deny.
func interpret(t *testing.T, prog []insn, typ, access, major, minor uint32) uint64 {
	var reg [11]uint64
	ctx := []uint32{access<<16 | typ, major, minor}
	for pc := 0; pc < len(prog); pc++ {
		in := prog[pc]
		dst, src := in.regs&0xf, in.regs>>4
		switch in.code {
		case ldxW:
			reg[dst] = uint64(ctx[in.off/4])
		case and32K:
			reg[dst] = uint64(uint32(reg[dst]) & uint32(in.imm))
		case rsh32K:
			reg[dst] = uint64(uint32(reg[dst]) >> in.imm)
		case mov32X:
			reg[dst] = uint64(uint32(reg[src]))
		case mov64K:
			reg[dst] = uint64(int64(in.imm))
		case jneK:
			if reg[dst] != uint64(int64(in.imm)) {
				pc += int(in.off)
			}
		case exitIns:
			return reg[r0]
		default:
			t.Fatalf("instruction %d: opcode %#x", pc, in.code)
		}
	}
	t.Fatal("ran off the end")
	return 0
}

func TestDeviceProgram(t *testing.T) {
	prog := deviceProgram([]DeviceRule{
		{'c', 1, 3, "rwm"}, {'c', 136, AnyDevice, "rw"}, {'b', 7, 0, "r"}, {'c', AnyDevice, AnyDevice, "m"},
	})
	const c, b = unix.BPF_DEVCG_DEV_CHAR, unix.BPF_DEVCG_DEV_BLOCK
	const r, w, m = unix.BPF_DEVCG_ACC_READ, unix.BPF_DEVCG_ACC_WRITE, unix.BPF_DEVCG_ACC_MKNOD
	for _, tc := range []struct {
		typ, access, major, minor uint32
		want                      uint64
	}{
		{c, r | w, 1, 3, 1},
		{c, m, 1, 3, 1},
		{b, r, 1, 3, 0}, // the type counts
		{c, r, 1, 5, 0},
		{c, r | w, 136, 7, 1},
		{c, m, 136, 7, 1}, // by the any-char mknod rule
		{c, r, 137, 0, 0},
		{b, r, 7, 0, 1},
		{b, r | w, 7, 0, 0}, // w not given
		{b, w, 7, 0, 0},
		{b, m, 7, 0, 0},
		{b, r, 7, 1, 0},
		{b, r, 8, 0, 0},
	} {
		if got := interpret(t, prog, tc.typ, tc.access, tc.major, tc.minor); got != tc.want {
			t.Errorf("type %d access %d %d:%d: %d, want %d", tc.typ, tc.access, tc.major, tc.minor, got, tc.want)
		}
	}
	if got := interpret(t, deviceProgram(nil), c, r, 1, 3); got != 0 {
		t.Errorf("no rules allowed /dev/null")
	}
}

// The kernel takes the program, and a process in the cgroup it is
// attached to may open /dev/null but not /dev/zero; the program goes with
// the cgroup.
func TestDeviceFilterInKernel(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root")
	}
	unified := Detect().Unified
	if unified == "" {
		t.Skip("needs a cgroup v2 hierarchy")
	}
	dir := fmt.Sprintf("%s/nspawn-devices-test-%d", unified, os.Getpid())
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := removeTree(dir); err != nil {
			t.Error(err)
		}
	}()
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if err := attachDeviceFilter(fd, []DeviceRule{{'c', 1, 3, "rw"}}); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("/bin/sh", "-c", "echo $$ >"+dir+"/cgroup.procs && echo x >/dev/null && echo null ok; head -c1 /dev/zero").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "null ok") || !strings.Contains(string(out), "Operation not permitted") {
		t.Errorf("in the cgroup: %v, %q; want /dev/null written and /dev/zero refused", err, out)
	}
}
