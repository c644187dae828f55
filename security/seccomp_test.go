package security

import (
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// syscallNR looks a name up in one ABI's table.
func syscallNR(abi syscallABI, name string) (uint32, bool) {
	for _, n := range abi.table() {
		if n.name == name {
			return n.nr, true
		}
	}
	return 0, false
}

// call is one system call with the arguments the filter looks at.
type call struct {
	name string
	args [6]uint64
}

func sys(name string, args ...uint64) call {
	c := call{name: name}
	copy(c.args[:], args)
	return c
}

var (
	auditSocket  = sys("socket", unix.AF_NETLINK, unix.SOCK_RAW, unix.NETLINK_AUDIT)
	routeSocket  = sys("socket", unix.AF_NETLINK, unix.SOCK_RAW, unix.NETLINK_ROUTE)
	inetSocket   = sys("socket", unix.AF_INET, unix.SOCK_STREAM, 0)
	ioctlTIOCSTI = sys("ioctl", 0, unix.TIOCSTI)
	ioctlTCGETS  = sys("ioctl", 0, unix.TCGETS)
)

// expectOnAllABIs checks each call on every ABI that has it.
func expectOnAllABIs(t *testing.T, prog []unix.SockFilter, want map[call]uint32) {
	t.Helper()
	for c, w := range want {
		found := false
		for _, abi := range x86ABIs() {
			nr, ok := syscallNR(abi, c.name)
			if !ok {
				continue
			}
			found = true
			got, _ := runFilter(t, prog, seccompData{nr: nr, arch: abi.arch, args: c.args})
			if got != w {
				t.Errorf("%s %s%v: %s, want %s", abi.name, c.name, c.args[:3], action(got), action(w))
			}
		}
		if !found {
			t.Errorf("%s is in no table", c.name)
		}
	}
}

func action(a uint32) string {
	switch a {
	case retAllow:
		return "ALLOW"
	case retEPERM:
		return "EPERM"
	case retENOSYS:
		return "ENOSYS"
	case retEAFNOSUPPORT:
		return "EAFNOSUPPORT"
	case retSuccess:
		return "ERRNO(0)"
	case retEINVAL:
		return "EINVAL"
	}
	return "?"
}

func program(t *testing.T, caps uint64, values ...string) []unix.SockFilter {
	t.Helper()
	f, err := ParseSyscallFilter(values)
	if err != nil {
		t.Fatal(err)
	}
	prog, err := SeccompProgram(caps, f)
	if err != nil {
		t.Fatal(err)
	}
	checkProgram(t, prog)
	return prog
}

func TestDefaultFilter(t *testing.T) {
	prog, err := SeccompProgram(DefaultCapabilities, SyscallFilter{})
	if err != nil {
		t.Fatal(err)
	}
	checkProgram(t, prog)
	most := 0
	for _, abi := range x86ABIs() {
		for _, n := range abi.table() {
			if _, steps := runFilter(t, prog, seccompData{nr: n.nr, arch: abi.arch}); steps > most {
				most = steps
			}
		}
	}
	t.Logf("default program: %d instructions, at most %d run per call", len(prog), most)

	allow, eperm := map[call]uint32{}, map[call]uint32{}
	for _, n := range []string{"read", "write", "execve", "clone", "clone3", "mount",
		"unshare", "getpid", "exit_group", "setns", "pivot_root", "sethostname",
		"seccomp", "capset", "setresuid", "chown", "mknod",
		"ptrace", "reboot", "vhangup", "socketcall", "ipc"} {
		allow[sys(n)] = retAllow
	}
	for _, n := range []string{"kexec_load", "kexec_file_load", "init_module",
		"finit_module", "delete_module", "open_by_handle_at", "swapon", "swapoff",
		"iopl", "ioperm", "acct", "add_key", "keyctl", "request_key",
		"settimeofday", "clock_settime", "clock_settime64", "adjtimex",
		"syslog", "bpf", "perf_event_open", "lookup_dcookie", "quotactl",
		"mlock", "modify_ldt", "vm86", "pkey_alloc", "uselib", "_sysctl",
		"fanotify_init", "landlock_create_ruleset"} {
		eperm[sys(n)] = retEPERM
	}
	expectOnAllABIs(t, prog, allow)
	expectOnAllABIs(t, prog, eperm)
	expectOnAllABIs(t, prog, map[call]uint32{
		ioctlTIOCSTI:                    retEPERM,
		sys("ioctl", 0, unix.TIOCLINUX): retEPERM,
		ioctlTCGETS:                     retAllow,
		auditSocket:                     retEAFNOSUPPORT,
		routeSocket:                     retAllow,
		inetSocket:                      retAllow,
		// The kernel truncates protocol to an int: junk in the high half
		// must not open an audit socket (it does under systemd-nspawn).
		sys("socket", unix.AF_NETLINK, unix.SOCK_RAW, 1<<32|unix.NETLINK_AUDIT): retEAFNOSUPPORT,
	})
	for _, tc := range []struct {
		name     string
		arch, nr uint32
		want     uint32
	}{
		{"x86-64 past the table", unix.AUDIT_ARCH_X86_64, 1000, retENOSYS},
		{"x86-64 last below x32", unix.AUDIT_ARCH_X86_64, x32Bit - 1, retENOSYS},
		{"x86-64 x32-only number", unix.AUDIT_ARCH_X86_64, 514, retENOSYS},
		{"x32 native-only number", unix.AUDIT_ARCH_X86_64, x32Bit | 16, retENOSYS},
		{"x32 past the table", unix.AUDIT_ARCH_X86_64, x32Bit | 1000, retENOSYS},
		{"x32 top", unix.AUDIT_ARCH_X86_64, 0xffffffff, retENOSYS},
		{"i386 past the table", unix.AUDIT_ARCH_I386, 1000, retENOSYS},
		{"i386 top", unix.AUDIT_ARCH_I386, 0xffffffff, retENOSYS},
		{"other arch", unix.AUDIT_ARCH_AARCH64, 0, retAllow},
	} {
		if got, _ := runFilter(t, prog, seccompData{nr: tc.nr, arch: tc.arch}); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, action(got), action(tc.want))
		}
	}
}

func TestFilterCapabilities(t *testing.T) {
	for _, tc := range []struct {
		capability int
		calls      []string
	}{
		{unix.CAP_SYS_TIME, []string{"settimeofday", "clock_settime", "adjtimex"}},
		{unix.CAP_SYS_MODULE, []string{"init_module", "finit_module", "delete_module"}},
		{unix.CAP_SYS_RAWIO, []string{"iopl", "ioperm"}},
		{unix.CAP_IPC_LOCK, []string{"mlock", "mlockall"}},
		{unix.CAP_SYS_PACCT, []string{"acct"}},
		{unix.CAP_SYS_PTRACE, []string{"ptrace"}},
		{unix.CAP_SYS_BOOT, []string{"reboot"}},
		{unix.CAP_SYSLOG, []string{"syslog"}},
		{unix.CAP_SYS_TTY_CONFIG, []string{"vhangup"}},
	} {
		with, without := map[call]uint32{}, map[call]uint32{}
		for _, n := range tc.calls {
			with[sys(n)], without[sys(n)] = retAllow, retEPERM
		}
		expectOnAllABIs(t, program(t, DefaultCapabilities|1<<tc.capability), with)
		expectOnAllABIs(t, program(t, DefaultCapabilities&^(1<<tc.capability)), without)
	}
	// In @ipc as well, so allowed without CAP_SYS_PTRACE, as in nspawn.
	expectOnAllABIs(t, program(t, 0), map[call]uint32{sys("process_vm_readv"): retAllow})
	// CAP_SYS_BOOT brings reboot only, never kexec.
	expectOnAllABIs(t, program(t, AllCapabilities), map[call]uint32{
		sys("kexec_load"): retEPERM, sys("add_key"): retEPERM, sys("swapon"): retEPERM})
}

func TestUserFilter(t *testing.T) {
	for _, tc := range []struct {
		values []string
		want   map[call]uint32
	}{
		{[]string{"@clock"}, map[call]uint32{
			sys("settimeofday"): retAllow, sys("clock_settime"): retAllow, sys("kexec_load"): retEPERM}},
		{[]string{"@keyring kexec_load"}, map[call]uint32{
			sys("keyctl"): retAllow, sys("add_key"): retAllow, sys("kexec_load"): retAllow, sys("kexec_file_load"): retEPERM}},
		{[]string{"~@mount"}, map[call]uint32{
			sys("mount"): retEPERM, sys("umount2"): retEPERM, sys("pivot_root"): retEPERM, sys("read"): retAllow}},
		{[]string{"~mount umount2", "~chroot"}, map[call]uint32{
			sys("mount"): retEPERM, sys("chroot"): retEPERM, sys("pivot_root"): retAllow}},
		// A deny wins, whichever order the options came in.
		{[]string{"~settimeofday", "@clock"}, map[call]uint32{
			sys("settimeofday"): retEPERM, sys("clock_settime"): retAllow}},
		{[]string{"@clock", "~@clock"}, map[call]uint32{sys("settimeofday"): retEPERM}},
		// A denied group takes members that other groups bring in.
		{[]string{"~@privileged"}, map[call]uint32{
			sys("chown"): retEPERM, sys("setresuid"): retEPERM, sys("capset"): retEPERM, sys("setgid"): retAllow}},
		{[]string{"~ioctl"}, map[call]uint32{ioctlTCGETS: retEPERM, ioctlTIOCSTI: retEPERM}},
		{[]string{"~@network-io"}, map[call]uint32{
			inetSocket: retEPERM, auditSocket: retEAFNOSUPPORT, sys("connect"): retEPERM}},
		// Allowing everything keeps the argument rules.
		{[]string{"@known"}, map[call]uint32{
			sys("kexec_load"): retAllow, ioctlTIOCSTI: retEPERM, auditSocket: retEAFNOSUPPORT}},
		{[]string{"", "~"}, map[call]uint32{sys("read"): retAllow, sys("acct"): retEPERM}},
	} {
		t.Run(strings.Join(tc.values, ","), func(t *testing.T) {
			expectOnAllABIs(t, program(t, DefaultCapabilities, tc.values...), tc.want)
		})
	}
}

func TestParseSyscallFilter(t *testing.T) {
	f, err := ParseSyscallFilter([]string{"@clock  keyctl\tadd_key", "~@mount", "cacheflush", "~ sync"})
	if err != nil {
		t.Fatal(err)
	}
	want := SyscallFilter{Allow: []string{"@clock", "keyctl", "add_key", "cacheflush"}, Deny: []string{"@mount", "sync"}}
	if strings.Join(f.Allow, " ") != strings.Join(want.Allow, " ") || strings.Join(f.Deny, " ") != strings.Join(want.Deny, " ") {
		t.Errorf("got %+v, want %+v", f, want)
	}
	for _, tc := range []struct{ value, err string }{
		{"read fooo", `--system-call-filter=read fooo: unknown system call "fooo"`},
		{"~@foo", `--system-call-filter=~@foo: unknown system call group "@foo"`},
		{"read ~write", `--system-call-filter=read ~write: unknown system call "~write"`},
		{"READ", `--system-call-filter=READ: unknown system call "READ"`},
	} {
		if _, err := ParseSyscallFilter([]string{"read", tc.value}); err == nil || err.Error() != tc.err {
			t.Errorf("%q: error %v, want %s", tc.value, err, tc.err)
		}
	}
	var g SyscallFilter
	if err := g.Add("read fooo"); err == nil || err.Error() != `unknown system call "fooo"` {
		t.Errorf("Add: error %v", err)
	}
	if len(g.Allow) != 0 {
		t.Errorf("a failed Add kept %v", g.Allow)
	}
	if _, err := SeccompProgram(0, SyscallFilter{Deny: []string{"@nope"}}); err == nil {
		t.Error("SeccompProgram took an unknown group")
	}
}

// The generated tables against numbers every x86 libc knows, and the
// groups against systemd's nesting.
func TestSyscallTables(t *testing.T) {
	abis := x86ABIs()
	for _, a := range abis {
		nums := a.table()
		for i := range nums {
			if n := nums[i]; n.nr < a.lo || n.nr > a.hi || i > 0 && n.nr <= nums[i-1].nr {
				t.Errorf("%s: %s (%#x) out of order or range", a.name, n.name, n.nr)
			}
		}
	}
	for _, tc := range []struct {
		abi  int
		name string
		nr   uint32
	}{
		{0, "read", 0}, {0, "ioctl", ioctlAMD64}, {0, "getpid", 39}, {0, "kexec_load", 246},
		{1, "read", x32Bit}, {1, "ioctl", ioctlX32}, {1, "kexec_load", x32Bit | 528},
		{2, "exit", 1}, {2, "ioctl", ioctlI386}, {2, "acct", 51}, {2, "getpid", 20}, {2, "socketcall", 102},
	} {
		if nr, ok := syscallNR(abis[tc.abi], tc.name); !ok || nr != tc.nr {
			t.Errorf("%s %s = %d, %v; want %d", abis[tc.abi].name, tc.name, nr, ok, tc.nr)
		}
	}
	for _, absent := range []struct {
		abi  int
		name string
	}{{0, "socketcall"}, {1, "_sysctl"}, {2, "kexec_file_load"}, {0, "vm86"}} {
		if _, ok := syscallNR(abis[absent.abi], absent.name); ok {
			t.Errorf("%s has %s", abis[absent.abi].name, absent.name)
		}
	}
	for _, name := range syscallGroupNames() {
		members, _ := syscallGroup(name)
		for _, m := range members {
			if strings.HasPrefix(m, "@") {
				t.Errorf("%s holds the group %s unexpanded", name, m)
			}
		}
	}
	privileged, _ := syscallGroup("@privileged")
	priv := strings.Join(privileged, " ")
	for _, m := range []string{"chown", "settimeofday", "init_module", "iopl", "kexec_load", "swapon", "acct"} {
		if !strings.Contains(" "+priv+" ", " "+m+" ") {
			t.Errorf("@privileged lacks %s", m)
		}
	}
}

// What building the default program costs a container start.
func BenchmarkSeccompProgram(b *testing.B) {
	for b.Loop() {
		if _, err := SeccompProgram(DefaultCapabilities, SyscallFilter{}); err != nil {
			b.Fatal(err)
		}
	}
}
