package security

import (
	"fmt"
	"strconv"
	"strings"
)

// capabilityNames are the kernel's names, indexed by number
// (capabilities(7)), in the form systemd prints them.
var capabilityNames = [...]string{
	"cap_chown", "cap_dac_override", "cap_dac_read_search", "cap_fowner",
	"cap_fsetid", "cap_kill", "cap_setgid", "cap_setuid", "cap_setpcap",
	"cap_linux_immutable", "cap_net_bind_service", "cap_net_broadcast",
	"cap_net_admin", "cap_net_raw", "cap_ipc_lock", "cap_ipc_owner",
	"cap_sys_module", "cap_sys_rawio", "cap_sys_chroot", "cap_sys_ptrace",
	"cap_sys_pacct", "cap_sys_admin", "cap_sys_boot", "cap_sys_nice",
	"cap_sys_resource", "cap_sys_time", "cap_sys_tty_config", "cap_mknod",
	"cap_lease", "cap_audit_write", "cap_audit_control", "cap_setfcap",
	"cap_mac_override", "cap_mac_admin", "cap_syslog", "cap_wake_alarm",
	"cap_block_suspend", "cap_audit_read", "cap_perfmon", "cap_bpf",
	"cap_checkpoint_restore",
}

// AllCapabilities is every capability this table names.
const AllCapabilities uint64 = 1<<len(capabilityNames) - 1

// ParseCapabilities reads a comma-separated list of capability names, as
// systemd-nspawn's --capability= and --drop-capability= take them: with
// or without the CAP_ prefix, in any case, or a number; "all" is every
// one.
func ParseCapabilities(list string) (uint64, error) {
	var set uint64
	for _, name := range strings.Split(list, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		if strings.EqualFold(name, "all") {
			set |= AllCapabilities
			continue
		}
		c, err := capabilityFromName(name)
		if err != nil {
			return 0, err
		}
		set |= 1 << c
	}
	return set, nil
}

func capabilityFromName(name string) (int, error) {
	if n, err := strconv.Atoi(name); err == nil {
		if n < 0 || n >= len(capabilityNames) {
			return 0, fmt.Errorf("capability %d is out of range (0-%d)", n, len(capabilityNames)-1)
		}
		return n, nil
	}
	want := strings.ToLower(name)
	if !strings.HasPrefix(want, "cap_") {
		want = "cap_" + want
	}
	for i, n := range capabilityNames {
		if n == want {
			return i, nil
		}
	}
	return 0, fmt.Errorf("unknown capability %q (see capabilities(7); names like CAP_NET_ADMIN or all)", name)
}

// CapabilityNames lists the names in set, upper-case, in number order.
func CapabilityNames(set uint64) []string {
	var names []string
	for i, n := range capabilityNames {
		if set&(1<<i) != 0 {
			names = append(names, strings.ToUpper(n))
		}
	}
	return names
}
