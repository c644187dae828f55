package security

import (
	"slices"

	"golang.org/x/sys/unix"
)

// syncSuppressed tells the calls --suppress-sync=yes turns into no-ops:
// systemd's @sync group, as seccomp_suppress_sync() takes it.
func syncSuppressed(name string) bool {
	members, _ := syscallGroup("@sync")
	return slices.Contains(members, name)
}

// retSuccess makes a call return 0 without running: what systemd's
// SCMP_ACT_ERRNO(0) does for the @sync calls under --suppress-sync.
const retSuccess = unix.SECCOMP_RET_ERRNO | 0

// retEINVAL refuses an open with O_SYNC or O_DSYNC under --suppress-sync,
// as systemd's block_open_flag() does: the caller is hoped to retry
// without the flag.
const retEINVAL = unix.SECCOMP_RET_ERRNO | uint32(unix.EINVAL)

// suppressSyncVerdict is what --suppress-sync=yes makes of an allowed
// call, if anything. open(2)'s flags are its second argument, openat's
// third; openat2 carries them in a struct the filter cannot read, so it
// gets ENOSYS, as systemd answers it, and libc falls back to openat.
func suppressSyncVerdict(name string) (verdict, bool) {
	switch {
	case syncSuppressed(name):
		return syncNoopCall, true
	case name == "open":
		return openSyncArg1, true
	case name == "openat":
		return openSyncArg2, true
	case name == "openat2":
		return enosysCall, true
	}
	return 0, false
}

// syncFlagCheck refuses an open whose flags (argument arg) hold O_DSYNC,
// a bit O_SYNC includes, with EINVAL, and allows every other.
func syncFlagCheck(arg uint32) []unix.SockFilter {
	return []unix.SockFilter{
		/* 0 */ loadWord(offArgLow(arg)),
		/* 1 */ {Code: unix.BPF_JMP | unix.BPF_JSET | unix.BPF_K, Jt: 1, Jf: 0, K: unix.O_DSYNC}, // -> 3
		/* 2 */ ret(retAllow),
		/* 3 */ ret(retEINVAL),
	}
}
