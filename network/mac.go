package network

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net"
	"strings"

	"github.com/nspawn/nspawn/siphash"
)

// MACKey picks which of systemd-nspawn's hash keys (nspawn-network.c)
// derives a MAC, so each side of each link gets its own stable address.
type MACKey [16]byte

// The keys of systemd-nspawn 252: HOST_HASH_KEY, CONTAINER_HASH_KEY,
// VETH_EXTRA_HOST_HASH_KEY, VETH_EXTRA_CONTAINER_HASH_KEY and
// MACVLAN_HASH_KEY.
var (
	HostMACKey           = MACKey{0x1a, 0x37, 0x6f, 0xc7, 0x46, 0xec, 0x45, 0x0b, 0xad, 0xa3, 0xd5, 0x31, 0x06, 0x60, 0x5d, 0xb1}
	ContainerMACKey      = MACKey{0xc3, 0xc4, 0xf9, 0x19, 0xb5, 0x57, 0xb2, 0x1c, 0xe6, 0xcf, 0x14, 0x27, 0x03, 0x9c, 0xee, 0xa2}
	ExtraHostMACKey      = MACKey{0x48, 0xc7, 0xf6, 0xb7, 0xea, 0x9d, 0x4c, 0x9e, 0xb7, 0x28, 0xd4, 0xde, 0x91, 0xd5, 0xbf, 0x66}
	ExtraContainerMACKey = MACKey{0xaf, 0x50, 0x17, 0x61, 0xce, 0xf9, 0x4d, 0x35, 0x84, 0x0d, 0x2b, 0x20, 0x54, 0xbe, 0xce, 0x59}
	MacvlanMACKey        = MACKey{0x00, 0x13, 0x6d, 0xbc, 0x66, 0x83, 0x44, 0x81, 0xbb, 0x0c, 0xf9, 0x51, 0x1f, 0x24, 0xa6, 0x6f}
)

// MAC derives a link's address as systemd-nspawn 252's generate_mac(): the
// SipHash-2-4 under key of the host's machine ID (the 16 bytes of
// /etc/machine-id), the machine name and, for idx > 0, idx as 8
// little-endian bytes; its first six bytes, marked locally administered
// and unicast. The same container on the same host keeps its MACs, so DHCP
// leases and neighbour caches survive restarts, and agree with 252's.
// idx counts --network-veth-extra and --network-macvlan links from 0.
func MAC(machineID [16]byte, machine string, key MACKey, idx uint64) net.HardwareAddr {
	data := make([]byte, 0, 16+len(machine)+8)
	data = append(data, machineID[:]...)
	data = append(data, machine...)
	if idx > 0 {
		data = binary.LittleEndian.AppendUint64(data, idx)
	}
	var sum [8]byte
	binary.LittleEndian.PutUint64(sum[:], siphash.Sum64(data, key))
	mac := net.HardwareAddr(sum[:6])
	mac[0] = mac[0]&^0x01 | 0x02
	return mac
}

// ParseMachineID reads the 32 hex digits of /etc/machine-id.
func ParseMachineID(s string) ([16]byte, error) {
	var id [16]byte
	s = strings.TrimSpace(s)
	if len(s) != 32 {
		return id, fmt.Errorf("machine ID %q: want 32 hex digits", s)
	}
	if _, err := hex.Decode(id[:], []byte(s)); err != nil {
		return id, fmt.Errorf("machine ID %q: %w", s, err)
	}
	return id, nil
}
