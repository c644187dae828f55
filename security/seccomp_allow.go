package security

import "golang.org/x/sys/unix"

// nspawnAllowList is systemd-nspawn's allow list (nspawn-seccomp.c,
// add_syscall_filters), as 252.39 ships it: groups and single calls a
// container always gets, and those it gets only while it keeps the
// capability they need. What it leaves out on purpose, and so denies with
// EPERM: @cpu-emulation, @keyring (the keyring is not namespaced),
// @obsolete, @pkey, @swap, bpf, fanotify_*, kexec_*, lookup_dcookie,
// nfsservctl, open_by_handle_at, perf_event_open and quotactl.
func nspawnAllowList(caps uint64) []string {
	entries := []struct {
		needs uint64 // a capability the container must keep, or 0
		name  string
	}{
		{0, "@aio"},
		{0, "@basic-io"},
		{0, "@chown"},
		{0, "@default"},
		{0, "@file-system"},
		{0, "@io-event"},
		{0, "@ipc"},
		{0, "@mount"},
		{0, "@network-io"},
		{0, "@process"},
		{0, "@resources"},
		{0, "@setuid"},
		{0, "@signal"},
		{0, "@sync"},
		{0, "@timer"},

		{1 << unix.CAP_SYS_TIME, "@clock"},
		{1 << unix.CAP_SYS_MODULE, "@module"},
		{1 << unix.CAP_SYS_RAWIO, "@raw-io"},
		{1 << unix.CAP_IPC_LOCK, "@memlock"},

		{0, "arm_fadvise64_64"},
		{0, "brk"},
		{0, "capget"},
		{0, "capset"},
		{0, "copy_file_range"},
		{0, "fadvise64"},
		{0, "fadvise64_64"},
		{0, "flock"},
		{0, "get_mempolicy"},
		{0, "getcpu"},
		{0, "getpriority"},
		{0, "getrandom"},
		{0, "ioctl"},
		{0, "ioprio_get"},
		{0, "kcmp"},
		{0, "madvise"},
		{0, "mincore"},
		{0, "mprotect"},
		{0, "mremap"},
		{0, "name_to_handle_at"},
		{0, "oldolduname"},
		{0, "olduname"},
		{0, "personality"},
		{0, "readahead"},
		{0, "readdir"},
		{0, "remap_file_pages"},
		{0, "sched_get_priority_max"},
		{0, "sched_get_priority_min"},
		{0, "sched_getaffinity"},
		{0, "sched_getattr"},
		{0, "sched_getparam"},
		{0, "sched_getscheduler"},
		{0, "sched_rr_get_interval"},
		{0, "sched_rr_get_interval_time64"},
		{0, "sched_yield"},
		// Added in the 252 stable series (252.0 lacked it), so a payload
		// can sandbox itself further.
		{0, "seccomp"},
		{0, "sendfile"},
		{0, "sendfile64"},
		{0, "setdomainname"},
		{0, "setfsgid"},
		{0, "setfsgid32"},
		{0, "setfsuid"},
		{0, "setfsuid32"},
		{0, "sethostname"},
		{0, "setpgid"},
		{0, "setsid"},
		{0, "splice"},
		{0, "sysinfo"},
		{0, "tee"},
		{0, "umask"},
		{0, "uname"},
		{0, "userfaultfd"},
		{0, "vmsplice"},

		{1 << unix.CAP_SYS_PACCT, "acct"},
		{1 << unix.CAP_SYS_PTRACE, "process_vm_readv"},
		{1 << unix.CAP_SYS_PTRACE, "process_vm_writev"},
		{1 << unix.CAP_SYS_PTRACE, "ptrace"},
		{1 << unix.CAP_SYS_BOOT, "reboot"},
		{1 << unix.CAP_SYSLOG, "syslog"},
		{1 << unix.CAP_SYS_TTY_CONFIG, "vhangup"},
	}
	var names []string
	for _, e := range entries {
		if e.needs == 0 || caps&e.needs != 0 {
			names = append(names, e.name)
		}
	}
	return names
}
