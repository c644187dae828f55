package security

import (
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// compiled builds the default filter with f's extras and checks it.
func compiled(t *testing.T, f SyscallFilter) []unix.SockFilter {
	t.Helper()
	prog, err := SeccompProgram(DefaultCapabilities, f)
	if err != nil {
		t.Fatal(err)
	}
	checkProgram(t, prog)
	return prog
}

// TestSuppressSync: the @sync calls return 0 unrun, opens asking for
// O_SYNC or O_DSYNC get EINVAL, openat2 ENOSYS, on every ABI; without the
// option all of them are allowed; a deny list still wins.
func TestSuppressSync(t *testing.T) {
	suppressed := compiled(t, SyscallFilter{SuppressSync: true})
	expectOnAllABIs(t, suppressed, map[call]uint32{
		sys("sync"):                                   retSuccess,
		sys("syncfs", 3):                              retSuccess,
		sys("fsync", 3):                               retSuccess,
		sys("fdatasync", 3):                           retSuccess,
		sys("msync", 0, 4096, unix.MS_SYNC):           retSuccess,
		sys("sync_file_range", 3, 0, 0, 0):            retSuccess,
		sys("open", 0, unix.O_WRONLY|unix.O_SYNC):     retEINVAL,
		sys("open", 0, unix.O_WRONLY|unix.O_DSYNC):    retEINVAL,
		sys("open", 0, unix.O_WRONLY|unix.O_CREAT):    retAllow,
		sys("openat", 3, 0, unix.O_RDWR|unix.O_SYNC):  retEINVAL,
		sys("openat", 3, 0, unix.O_RDWR|unix.O_DSYNC): retEINVAL,
		sys("openat", 3, 0, unix.O_RDWR|unix.O_TRUNC): retAllow,
		// The flags in openat's argument 1 (the path) do not count.
		sys("openat", 3, unix.O_SYNC, unix.O_RDONLY): retAllow,
		sys("openat2", 3, 0, 0, 24):                  retENOSYS,
		sys("write", 1, 0, 1):                        retAllow,
	})
	plain := compiled(t, SyscallFilter{})
	expectOnAllABIs(t, plain, map[call]uint32{
		sys("fsync", 3): retAllow,
		sys("open", 0, unix.O_WRONLY|unix.O_SYNC):    retAllow,
		sys("openat", 3, 0, unix.O_RDWR|unix.O_SYNC): retAllow,
		sys("openat2", 3, 0, 0, 24):                  retAllow,
	})
	denied := compiled(t, SyscallFilter{SuppressSync: true, Deny: []string{"fsync"}})
	expectOnAllABIs(t, denied, map[call]uint32{sys("fsync", 3): retEPERM, sys("fdatasync", 3): retSuccess})
}

// TestAddressFamiliesParse: systemd's parse_address_families() rules.
func TestAddressFamiliesParse(t *testing.T) {
	bits := func(fs ...uint32) uint64 {
		var b uint64
		for _, f := range fs {
			b |= 1 << f
		}
		return b
	}
	for _, tc := range []struct {
		values []string
		want   AddressFamilies
	}{
		{nil, AddressFamilies{}},
		{[]string{""}, AddressFamilies{}},
		{[]string{"AF_INET AF_UNIX"}, AddressFamilies{true, true, bits(unix.AF_INET, unix.AF_UNIX)}},
		{[]string{"AF_INET", "AF_INET6"}, AddressFamilies{true, true, bits(unix.AF_INET, unix.AF_INET6)}},
		{[]string{"AF_INET AF_INET6", "~AF_INET6"}, AddressFamilies{true, true, bits(unix.AF_INET)}},
		{[]string{"~AF_VSOCK AF_NETLINK"}, AddressFamilies{true, false, bits(unix.AF_VSOCK, unix.AF_NETLINK)}},
		{[]string{"~AF_VSOCK AF_NETLINK", "AF_NETLINK"}, AddressFamilies{true, false, bits(unix.AF_VSOCK)}},
		{[]string{"none"}, AddressFamilies{true, true, 0}},
		{[]string{"none", "AF_UNIX"}, AddressFamilies{true, true, bits(unix.AF_UNIX)}},
		{[]string{"AF_INET", ""}, AddressFamilies{}},
		{[]string{"AF_LOCAL AF_ROUTE"}, AddressFamilies{true, true, bits(unix.AF_UNIX, unix.AF_NETLINK)}},
	} {
		var a AddressFamilies
		for _, v := range tc.values {
			if err := a.Add(v); err != nil {
				t.Fatalf("%q: %v", tc.values, err)
			}
		}
		if a != tc.want {
			t.Errorf("%q: %+v, want %+v", tc.values, a, tc.want)
		}
	}
	for _, bad := range []string{"AF_BOGUS", "INET", "~", "AF_INET af_inet6"} {
		var a AddressFamilies
		if err := a.Add(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if n := AddressFamilyNames(); len(n) != 47 || n[0] != "AF_LOCAL" || !strings.HasPrefix(n[len(n)-1], "AF_MCTP") {
		t.Errorf("names: %d, %v", len(n), n)
	}
}

// TestRestrictAddressFamilies: socket(2) of a family refused gets
// EAFNOSUPPORT on every ABI; the audit socket stays refused whatever
// the list says.
func TestRestrictAddressFamilies(t *testing.T) {
	family := func(values ...string) []unix.SockFilter {
		var f SyscallFilter
		for _, v := range values {
			if err := f.AddressFamilies.Add(v); err != nil {
				t.Fatal(err)
			}
		}
		return compiled(t, f)
	}
	unixSocket := sys("socket", unix.AF_UNIX, unix.SOCK_STREAM, 0)
	inet6Socket := sys("socket", unix.AF_INET6, unix.SOCK_DGRAM, 0)
	vsockSocket := sys("socket", unix.AF_VSOCK, unix.SOCK_STREAM, 0)
	// High bits in the family do not dodge the check: the kernel reads an int.
	dodge := sys("socket", 1<<32|unix.AF_VSOCK, unix.SOCK_STREAM, 0)
	expectOnAllABIs(t, family("AF_UNIX AF_INET AF_INET6"), map[call]uint32{
		unixSocket: retAllow, inetSocket: retAllow, inet6Socket: retAllow,
		vsockSocket: retEAFNOSUPPORT, routeSocket: retEAFNOSUPPORT, auditSocket: retEAFNOSUPPORT,
		dodge: retEAFNOSUPPORT,
	})
	expectOnAllABIs(t, family("~AF_VSOCK AF_PACKET"), map[call]uint32{
		unixSocket: retAllow, inetSocket: retAllow, routeSocket: retAllow,
		vsockSocket: retEAFNOSUPPORT, auditSocket: retEAFNOSUPPORT,
		sys("socket", unix.AF_PACKET, unix.SOCK_RAW, 0): retEAFNOSUPPORT,
	})
	expectOnAllABIs(t, family("none"), map[call]uint32{
		unixSocket: retEAFNOSUPPORT, inetSocket: retEAFNOSUPPORT,
		sys("socketpair", unix.AF_UNIX, unix.SOCK_STREAM, 0): retAllow,
	})
	expectOnAllABIs(t, family(""), map[call]uint32{vsockSocket: retAllow, auditSocket: retEAFNOSUPPORT})
	// Every family listed: the longest run of compares still jumps right.
	expectOnAllABIs(t, family(strings.Join(AddressFamilyNames(), " ")), map[call]uint32{
		unixSocket: retAllow, vsockSocket: retAllow, sys("socket", 45, 0, 0): retAllow, sys("socket", 46, 0, 0): retEAFNOSUPPORT,
	})
}
