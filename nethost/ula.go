package nethost

import (
	"crypto/sha256"
	"net/netip"
	"os"
	"strings"
)

// The IPv6 pool is a unique local /48 (RFC 4193: fd00::/8 and a 40-bit
// global ID) whose global ID is a hash of the host's machine ID, keyed so
// that it says nothing about the ID itself: one host always gives its
// containers the same /48, two hosts almost never the same, and the
// container's /64 in it is picked as the IPv4 subnet is (a start from the
// machine name, every /64 overlapping an address or route of the host
// skipped). Its 16-bit subnet ID is the subnet index.
const ulaKey = "nspawn container ULA pool\n"

// ulaPool gives the /48 for machineID (32 hex digits, as /etc/machine-id).
func ulaPool(machineID string) netip.Prefix {
	sum := sha256.Sum256([]byte(ulaKey + strings.TrimSpace(machineID)))
	var b [16]byte
	b[0] = 0xfd
	copy(b[1:6], sum[:5])
	return netip.PrefixFrom(netip.AddrFrom16(b), 48)
}

// hostMachineID is the machine ID of the host as nspawn sees it
// (/etc/machine-id of its mount namespace, the host's); a host without one
// (an initramfs, a bare container) falls back to the boot ID, so its pool
// changes per boot but is still its own.
func hostMachineID() string {
	for _, path := range []string{"/etc/machine-id", "/proc/sys/kernel/random/boot_id"} {
		if b, err := os.ReadFile(path); err == nil && len(strings.TrimSpace(string(b))) > 0 {
			return strings.ReplaceAll(strings.TrimSpace(string(b)), "-", "")
		}
	}
	return ""
}
