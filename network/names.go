package network

import (
	"fmt"
	"strings"

	"github.com/nspawn/nspawn/siphash"
)

// IfNameMax is the longest interface name the kernel takes (IFNAMSIZ-1).
const IfNameMax = 15

// shortenKey is systemd's SHORTEN_IFNAME_HASH_KEY (nspawn-network.c).
var shortenKey = [16]byte{0xe1, 0x90, 0xa4, 0x04, 0xa8, 0xef, 0x4b, 0x51, 0x8c, 0xcc, 0xc3, 0x3a, 0x9f, 0x11, 0xfc, 0xa2}

const urlsafeBase64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

// Shorten fits name into IfNameMax bytes as systemd-nspawn 252 does
// (shorten_ifname under naming scheme v247 and later): the first 11 bytes,
// then 24 bits of the name's SipHash in url-safe base64, so a long machine
// name keeps its ve- name across restarts and networkd's
// 80-container-ve.network and DHCP leases keep matching. A name that fits
// is returned as it is; shortened reports whether it was changed.
func Shorten(name string) (short string, shortened bool) {
	if len(name) <= IfNameMax {
		return name, false
	}
	h := siphash.Sum64([]byte(name), shortenKey)
	return name[:IfNameMax-4] + string([]byte{
		urlsafeBase64[(h>>18)&63],
		urlsafeBase64[(h>>12)&63],
		urlsafeBase64[(h>>6)&63],
		urlsafeBase64[h&63],
	}), true
}

// ValidIfName says whether the kernel and networkd take name as an
// interface name, as systemd's ifname_valid(): 1 to 15 bytes of printable
// ASCII without ':' (legacy aliases), '/' (sysfs paths) or '%' (the
// kernel's name templates); not ".", "..", "all", "default" (the
// /proc/sys/net/*/conf/ directories) and not all digits.
func ValidIfName(name string) bool {
	if name == "" || len(name) > IfNameMax {
		return false
	}
	switch name {
	case ".", "..", "all", "default":
		return false
	}
	numeric := true
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c <= ' ' || c >= 127 || c == ':' || c == '/' || c == '%' {
			return false
		}
		numeric = numeric && c >= '0' && c <= '9'
	}
	return !numeric
}

// HostVethName is the host side of --network-veth (ve-MACHINE) or of a
// bridged veth (vb-MACHINE, --network-bridge and --network-zone),
// shortened as 252 does; long is the full name, set as an altname when it
// was shortened and empty otherwise.
func HostVethName(machine string, bridged bool) (name, long string) {
	prefix := "ve-"
	if bridged {
		prefix = "vb-"
	}
	name, shortened := Shorten(prefix + machine)
	if shortened {
		long = prefix + machine
	}
	return name, long
}

// ContainerVethName is the container side of the main veth.
const ContainerVethName = "host0"

// MacvlanName is the container's name for a macvlan on the host's iface
// (mv-IFACE, shortened).
func MacvlanName(iface string) string {
	name, _ := Shorten("mv-" + iface)
	return name
}

// IpvlanName is the container's name for an ipvlan on the host's iface
// (iv-IFACE, shortened).
func IpvlanName(iface string) string {
	name, _ := Shorten("iv-" + iface)
	return name
}

// ZoneBridgeName is the bridge of --network-zone=zone: vz-ZONE, which must
// itself be a valid interface name (252 refuses rather than shortens it).
func ZoneBridgeName(zone string) (string, error) {
	name := "vz-" + zone
	if !ValidIfName(name) {
		return "", fmt.Errorf("--network-zone=%s: %s is not a valid interface name; use at most 12 characters, none of them ':', '/', '%%' or blank", zone, name)
	}
	return name, nil
}

// Pair is a host interface and its name on the other side.
type Pair struct {
	Host, Container string
}

// ParsePair parses HOSTIF[:CONTAINERIF] as --network-veth-extra and
// --network-interface take it (the container name defaults to the host
// one); flag names the option in the error.
func ParsePair(flag, value string) (Pair, error) {
	host, container, found := strings.Cut(value, ":")
	if !found {
		container = host
	}
	for _, name := range []string{host, container} {
		if !ValidIfName(name) {
			return Pair{}, fmt.Errorf("--%s=%s: %q is not a valid interface name; give HOSTIF[:CONTAINERIF], each 1-15 characters without ':', '/', '%%' or blank", flag, value, name)
		}
	}
	return Pair{Host: host, Container: container}, nil
}

// ParseIfName checks the interface a flag such as --network-macvlan,
// --network-ipvlan or --network-bridge names.
func ParseIfName(flag, value string) (string, error) {
	if !ValidIfName(value) {
		return "", fmt.Errorf("--%s=%s: not a valid interface name; give one of 1-15 characters without ':', '/', '%%' or blank", flag, value)
	}
	return value, nil
}
