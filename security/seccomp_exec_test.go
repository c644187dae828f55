package security

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The real filter is tried in a re-executed test binary, since a filter
// cannot be taken off again.
const (
	seccompChildEnv = "NSPAWN_SECCOMP_TEST_CHILD"
	i386HelperEnv   = "NSPAWN_SECCOMP_TEST_I386"
)

// i386Helper makes its calls through int $0x80, which the kernel runs in
// the i386 ABI (AUDIT_ARCH_I386) even from a 64-bit program. Its pointers
// are static data of a non-PIE binary, below 4 GiB, as that ABI needs.
const i386Helper = `
#include <stdio.h>
#include <fcntl.h>

static char path[] = "/nonexistent/nspawn-acct";
static char byte = 'x';
static char buf[64];

static long int80(long nr, long a, long b, long c, long d) {
	long ret;
	__asm__ volatile ("int $0x80" : "=a"(ret) : "a"(nr), "b"(a), "c"(b), "d"(c), "S"(d)
	                  : "memory", "r8", "r9", "r10", "r11");
	return ret;
}

int main(void) {
	int null = open("/dev/null", O_RDWR);
	printf("i386 getpid=%ld\n", int80(20, 0, 0, 0, 0));
	printf("i386 acct=%ld\n", int80(51, (long)path, 0, 0, 0));
	printf("i386 kexec_load=%ld\n", int80(283, 0, 0, 0, 0x80));
	printf("i386 clock_settime=%ld\n", int80(264, 1, (long)buf, 0, 0));
	printf("i386 keyctl=%ld\n", int80(288, 0, -3, 0, 0));
	printf("i386 ioctl_TIOCSTI=%ld\n", int80(54, null, 0x5412, (long)&byte, 0));
	printf("i386 ioctl_TCGETS=%ld\n", int80(54, null, 0x5401, (long)buf, 0));
	printf("i386 socket_audit=%ld\n", int80(359, 16, 3, 9, 0));
	printf("i386 socket_route=%ld\n", int80(359, 16, 3, 0, 0));
	printf("i386 unknown=%ld\n", int80(1000, 0, 0, 0, 0));
	return 0;
}
`

// buildI386Helper compiles the helper, or says why it cannot.
func buildI386Helper(t *testing.T) (string, string) {
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		return "", "gcc is missing"
	}
	dir := t.TempDir()
	src, bin := filepath.Join(dir, "i386.c"), filepath.Join(dir, "i386")
	if err := os.WriteFile(src, []byte(i386Helper), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(gcc, "-O1", "-static", "-no-pie", "-o", bin, src).CombinedOutput(); err != nil {
		return "", fmt.Sprintf("gcc: %v: %s", err, out)
	}
	// Unfiltered first: a kernel without ia32 emulation has no int $0x80.
	out, err := exec.Command(bin).Output()
	if err != nil || !bytes.Contains(out, []byte("i386 getpid=")) || bytes.Contains(out, []byte("i386 getpid=-")) {
		return "", fmt.Sprintf("this kernel runs no i386 code (ia32_emulation=off?): int $0x80 without a filter: %v", err)
	}
	return bin, ""
}

func TestInstalledFilter(t *testing.T) {
	helper, why := buildI386Helper(t)
	cmd := exec.Command(os.Args[0], "-test.run=^TestSeccompChild$")
	cmd.Env = append(os.Environ(), seccompChildEnv+"=1", i386HelperEnv+"="+helper)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	got := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok {
			got[k] = v
		}
	}
	want := map[string]string{
		"getpid":        "ok",
		"acct":          "EPERM",
		"kexec_load":    "EPERM",
		"clock_settime": "EPERM",
		"keyctl":        "EPERM",
		"ioctl_TIOCSTI": "EPERM",
		"ioctl_TCGETS":  "ENOTTY", // allowed, so the kernel answers
		"socket_audit":  "EAFNOSUPPORT",
		"socket_route":  "ok",
		"unknown":       "ENOSYS",
	}
	expect := func(t *testing.T, prefix string) {
		for k, v := range want {
			if got[prefix+k] != v {
				t.Errorf("%s%s: %q, want %q", prefix, k, got[prefix+k], v)
			}
		}
		if t.Failed() {
			t.Logf("child output:\n%s", out)
		}
	}
	t.Run("x86-64", func(t *testing.T) {
		if got["status Seccomp"] != "2" {
			t.Errorf("/proc/self/status Seccomp: %q, want 2", got["status Seccomp"])
		}
		expect(t, "")
	})
	// A kernel without x32 (most) answers ENOSYS after the filter allows.
	t.Run("x32", func(t *testing.T) {
		if got["x32 acct"] != "EPERM" {
			t.Errorf("x32 acct: %q, want EPERM", got["x32 acct"])
		}
		if v := got["x32 getpid"]; v != "ok" && v != "ENOSYS" {
			t.Errorf("x32 getpid: %q, want ok or ENOSYS", v)
		}
	})
	t.Run("i386", func(t *testing.T) {
		if helper == "" {
			t.Skip(why)
		}
		expect(t, "i386 ")
	})
}

// TestSeccompChild is the child of TestInstalledFilter: it installs the
// default filter and reports what each call returned.
func TestSeccompChild(t *testing.T) {
	if os.Getenv(seccompChildEnv) == "" {
		t.Skip("the child of TestInstalledFilter")
	}
	runtime.LockOSThread()
	// Without CAP_SYS_ADMIN the kernel takes a filter only under
	// no_new_privs.
	if unix.Geteuid() != 0 {
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			t.Fatal(err)
		}
	}
	prog, err := SeccompProgram(DefaultCapabilities, SyscallFilter{})
	if err == nil {
		err = InstallSeccomp(prog)
	}
	if err != nil {
		t.Fatal(err)
	}
	status, _ := os.ReadFile("/proc/self/status")
	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "Seccomp:"); ok {
			fmt.Printf("status Seccomp=%s\n", strings.TrimSpace(v))
		}
	}
	null, err := unix.Open("/dev/null", unix.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	path, _ := unix.BytePtrFromString("/nonexistent/nspawn-acct")
	var ts unix.Timespec
	var b byte
	var termios unix.Termios
	report := func(name string, r uintptr, errno unix.Errno) {
		if errno != 0 {
			fmt.Printf("%s=%s\n", name, unix.ErrnoName(errno))
			return
		}
		fmt.Printf("%s=ok\n", name)
		if strings.HasPrefix(name, "socket") {
			unix.Close(int(r))
		}
	}
	p := func(v unsafe.Pointer) uintptr { return uintptr(v) }
	r, _, e := unix.RawSyscall(unix.SYS_GETPID, 0, 0, 0)
	report("getpid", r, e)
	r, _, e = unix.RawSyscall(unix.SYS_ACCT, p(unsafe.Pointer(path)), 0, 0)
	report("acct", r, e)
	// Invalid flags: EINVAL, not an unload, should the filter fail.
	r, _, e = unix.RawSyscall6(unix.SYS_KEXEC_LOAD, 0, 0, 0, 0x80, 0, 0)
	report("kexec_load", r, e)
	// CLOCK_MONOTONIC cannot be set: EINVAL unfiltered.
	r, _, e = unix.RawSyscall(unix.SYS_CLOCK_SETTIME, unix.CLOCK_MONOTONIC, p(unsafe.Pointer(&ts)), 0)
	report("clock_settime", r, e)
	r, _, e = unix.RawSyscall(unix.SYS_KEYCTL, unix.KEYCTL_GET_KEYRING_ID, uintptr(0xfffffffd), 0)
	report("keyctl", r, e)
	r, _, e = unix.RawSyscall(unix.SYS_IOCTL, uintptr(null), unix.TIOCSTI, p(unsafe.Pointer(&b)))
	report("ioctl_TIOCSTI", r, e)
	r, _, e = unix.RawSyscall(unix.SYS_IOCTL, uintptr(null), unix.TCGETS, p(unsafe.Pointer(&termios)))
	report("ioctl_TCGETS", r, e)
	r, _, e = unix.RawSyscall(unix.SYS_SOCKET, unix.AF_NETLINK, unix.SOCK_RAW, unix.NETLINK_AUDIT)
	report("socket_audit", r, e)
	r, _, e = unix.RawSyscall(unix.SYS_SOCKET, unix.AF_NETLINK, unix.SOCK_RAW, unix.NETLINK_ROUTE)
	report("socket_route", r, e)
	r, _, e = unix.RawSyscall(1000, 0, 0, 0)
	report("unknown", r, e)
	// The filter sees an x32 number whether or not this kernel runs x32.
	r, _, e = unix.RawSyscall(x32Bit|unix.SYS_ACCT, p(unsafe.Pointer(path)), 0, 0)
	report("x32 acct", r, e)
	r, _, e = unix.RawSyscall(x32Bit|unix.SYS_GETPID, 0, 0, 0)
	report("x32 getpid", r, e)
	runtime.KeepAlive(path)

	if helper := os.Getenv(i386HelperEnv); helper != "" {
		// Run under the filter, inherited across fork and exec.
		out, err := exec.Command(helper).Output()
		if err != nil {
			t.Fatalf("%s: %v", helper, err)
		}
		sc := bufio.NewScanner(bytes.NewReader(out))
		for sc.Scan() {
			name, v, _ := strings.Cut(sc.Text(), "=")
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				t.Fatalf("%s: %q", helper, sc.Text())
			}
			if n < 0 {
				report(name, 0, unix.Errno(-n))
			} else {
				fmt.Printf("%s=ok\n", name)
			}
		}
	}
}
