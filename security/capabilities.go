package security

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// DefaultCapabilities is systemd-nspawn's retained set for a container's
// root (nspawn.c, DEFAULT_CAPS): what a booted system needs, without
// loading modules, raw I/O, the clock, the syslog, BPF or MAC policy.
// Checked against systemd-nspawn 252 here: CapBnd 0xfcecafff.
const DefaultCapabilities uint64 = 1<<unix.CAP_AUDIT_CONTROL |
	1<<unix.CAP_AUDIT_WRITE |
	1<<unix.CAP_CHOWN |
	1<<unix.CAP_DAC_OVERRIDE |
	1<<unix.CAP_DAC_READ_SEARCH |
	1<<unix.CAP_FOWNER |
	1<<unix.CAP_FSETID |
	1<<unix.CAP_IPC_OWNER |
	1<<unix.CAP_KILL |
	1<<unix.CAP_LEASE |
	1<<unix.CAP_LINUX_IMMUTABLE |
	1<<unix.CAP_MKNOD |
	1<<unix.CAP_NET_BIND_SERVICE |
	1<<unix.CAP_NET_BROADCAST |
	1<<unix.CAP_NET_RAW |
	1<<unix.CAP_SETFCAP |
	1<<unix.CAP_SETGID |
	1<<unix.CAP_SETPCAP |
	1<<unix.CAP_SETUID |
	1<<unix.CAP_SYS_ADMIN |
	1<<unix.CAP_SYS_BOOT |
	1<<unix.CAP_SYS_CHROOT |
	1<<unix.CAP_SYS_NICE |
	1<<unix.CAP_SYS_PTRACE |
	1<<unix.CAP_SYS_RESOURCE |
	1<<unix.CAP_SYS_TTY_CONFIG

// Capabilities is the set a container's root keeps: the default, with
// CAP_NET_ADMIN when the network namespace is its own (systemd-nspawn adds
// it under --private-network; ours is private unless shared).
func Capabilities(privateNetwork bool) uint64 {
	if privateNetwork {
		return DefaultCapabilities | 1<<unix.CAP_NET_ADMIN
	}
	return DefaultCapabilities
}

// LimitCapabilities drops every capability outside keep from the bounding
// set, for good, and makes keep this process's permitted, effective and
// inheritable sets, as systemd-nspawn leaves them for root in the
// container. A later change to a non-root user clears permitted and
// effective; DropInheritable then clears the rest.
//
// What the caller lacks it cannot give: keep is cut to its permitted set.
// (In its own user namespace the child holds every capability: nspawn cuts
// keep to its own set when planning, as systemd-nspawn does.)
func LimitCapabilities(keep uint64) error {
	last, err := lastCapability()
	if err != nil {
		return err
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var have [2]unix.CapUserData
	if err := unix.Capget(&hdr, &have[0]); err != nil {
		return fmt.Errorf("read capabilities: %w", err)
	}
	keep &= uint64(have[0].Permitted) | uint64(have[1].Permitted)<<32
	for c := 0; c <= last; c++ {
		if keep&(1<<c) != 0 {
			continue
		}
		if err := unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(c), 0, 0, 0); err != nil {
			return fmt.Errorf("drop capability %d from the bounding set: %w", c, err)
		}
	}
	return setCapabilities(keep)
}

// KeepAcrossUserChange makes the next change from root to another user
// keep the permitted set (PR_SET_KEEPCAPS), so ambient capabilities can be
// raised for that user.
func KeepAcrossUserChange() error {
	if err := unix.Prctl(unix.PR_SET_KEEPCAPS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("keep capabilities across the user change: %w", err)
	}
	return nil
}

// SetForUser leaves a non-root user exactly set: permitted, effective,
// inheritable and ambient (capabilities(7): ambient capabilities must be
// permitted and inheritable). An empty set leaves it none at all.
func SetForUser(set uint64) error {
	if err := setCapabilities(set); err != nil {
		return err
	}
	return RaiseAmbient(set)
}

// RaiseAmbient adds set to the ambient set, which survives exec of a
// program without file capabilities, for root and other users alike.
func RaiseAmbient(set uint64) error {
	for c := 0; c < 64; c++ {
		if set&(1<<c) == 0 {
			continue
		}
		if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_RAISE, uintptr(c), 0, 0); err != nil {
			return fmt.Errorf("raise ambient capability %s: %w", CapabilityNames(1 << c)[0], err)
		}
	}
	return nil
}

// NoNewPrivileges sets no_new_privs: from the next exec on, setuid bits
// and file capabilities grant nothing (prctl(2) PR_SET_NO_NEW_PRIVS).
func NoNewPrivileges() error {
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("set no_new_privs: %w", err)
	}
	return nil
}

func setCapabilities(set uint64) error {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	for i := range data {
		v := uint32(set >> (32 * i))
		data[i] = unix.CapUserData{Effective: v, Permitted: v, Inheritable: v}
	}
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		return fmt.Errorf("set capabilities: %w", err)
	}
	return nil
}

// lastCapability is the highest capability this kernel knows.
func lastCapability() (int, error) {
	data, err := os.ReadFile("/proc/sys/kernel/cap_last_cap")
	if err != nil {
		return 0, fmt.Errorf("read cap_last_cap: %w", err)
	}
	return strconv.Atoi(strings.TrimSpace(string(data)))
}
