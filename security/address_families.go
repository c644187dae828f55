package security

import (
	"fmt"
	"sort"
	"strings"

	"golang.org/x/sys/unix"
)

// AddressFamilies is --restrict-address-families= (systemd-nspawn 261's
// option, RestrictAddressFamilies= of systemd.exec(5)): which families
// socket(2) may create. Unrestricted, every family is allowed.
type AddressFamilies struct {
	Restricted bool
	// AllowList: Set lists the families allowed; otherwise those denied.
	AllowList bool
	Set       uint64 // bit n = family n
}

// addressFamilies are the names systemd's af-list knows (linux/socket.h,
// AF_UNSPEC and AF_MAX left out), with AF_LOCAL and AF_ROUTE as the
// kernel's other names for AF_UNIX and AF_NETLINK.
var addressFamilies = map[string]uint32{
	"AF_UNIX": unix.AF_UNIX, "AF_LOCAL": unix.AF_UNIX, "AF_INET": unix.AF_INET,
	"AF_AX25": unix.AF_AX25, "AF_IPX": unix.AF_IPX, "AF_APPLETALK": unix.AF_APPLETALK,
	"AF_NETROM": unix.AF_NETROM, "AF_BRIDGE": unix.AF_BRIDGE, "AF_ATMPVC": unix.AF_ATMPVC,
	"AF_X25": unix.AF_X25, "AF_INET6": unix.AF_INET6, "AF_ROSE": unix.AF_ROSE,
	"AF_DECnet": unix.AF_DECnet, "AF_NETBEUI": unix.AF_NETBEUI, "AF_SECURITY": unix.AF_SECURITY,
	"AF_KEY": unix.AF_KEY, "AF_NETLINK": unix.AF_NETLINK, "AF_ROUTE": unix.AF_NETLINK,
	"AF_PACKET": unix.AF_PACKET, "AF_ASH": unix.AF_ASH, "AF_ECONET": unix.AF_ECONET,
	"AF_ATMSVC": unix.AF_ATMSVC, "AF_RDS": unix.AF_RDS, "AF_SNA": unix.AF_SNA,
	"AF_IRDA": unix.AF_IRDA, "AF_PPPOX": unix.AF_PPPOX, "AF_WANPIPE": unix.AF_WANPIPE,
	"AF_LLC": unix.AF_LLC, "AF_IB": unix.AF_IB, "AF_MPLS": unix.AF_MPLS, "AF_CAN": unix.AF_CAN,
	"AF_TIPC": unix.AF_TIPC, "AF_BLUETOOTH": unix.AF_BLUETOOTH, "AF_IUCV": unix.AF_IUCV,
	"AF_RXRPC": unix.AF_RXRPC, "AF_ISDN": unix.AF_ISDN, "AF_PHONET": unix.AF_PHONET,
	"AF_IEEE802154": unix.AF_IEEE802154, "AF_CAIF": unix.AF_CAIF, "AF_ALG": unix.AF_ALG,
	"AF_NFC": unix.AF_NFC, "AF_VSOCK": unix.AF_VSOCK, "AF_KCM": unix.AF_KCM,
	"AF_QIPCRTR": unix.AF_QIPCRTR, "AF_SMC": unix.AF_SMC, "AF_XDP": unix.AF_XDP,
	"AF_MCTP": unix.AF_MCTP,
}

// AddressFamilyNames lists the names --restrict-address-families= takes.
func AddressFamilyNames() []string {
	names := make([]string, 0, len(addressFamilies))
	for n := range addressFamilies {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool {
		return addressFamilies[names[i]] < addressFamilies[names[j]] || addressFamilies[names[i]] == addressFamilies[names[j]] && names[i] < names[j]
	})
	return names
}

// Add reads one value as systemd's parse_address_families() does: an
// empty one lifts every restriction said before; "none" allows no family;
// otherwise names separated by whitespace, a deny list when the value
// starts with "~". The first list decides allow or deny; a later list of
// the other kind takes its names back out. Where systemd ignores a name it
// does not know, this fails with it; the caller names the option.
func (a *AddressFamilies) Add(value string) error {
	value = strings.TrimSpace(value)
	switch value {
	case "":
		*a = AddressFamilies{}
		return nil
	case "none":
		*a = AddressFamilies{Restricted: true, AllowList: true}
		return nil
	}
	deny := strings.HasPrefix(value, "~")
	words := strings.Fields(strings.TrimPrefix(value, "~"))
	if len(words) == 0 {
		return fmt.Errorf("no address family after ~; name families such as AF_INET AF_INET6 AF_UNIX")
	}
	var set uint64
	for _, w := range words {
		af, ok := addressFamilies[w]
		if !ok {
			return fmt.Errorf("unknown address family %q (AF_UNIX, AF_INET, AF_INET6, AF_NETLINK, ...; see --restrict-address-families=help)", w)
		}
		set |= 1 << af
	}
	if !a.Restricted {
		*a = AddressFamilies{Restricted: true, AllowList: !deny}
	}
	if a.AllowList == !deny {
		a.Set |= set
	} else {
		a.Set &^= set
	}
	return nil
}

// familyCheck answers socket(2) for a family a refuses with EAFNOSUPPORT,
// as systemd does, and runs then for every other; then reloads what it
// reads. Only the low half of the family is read: it is an int.
func (a AddressFamilies) familyCheck(then []unix.SockFilter) []unix.SockFilter {
	if !a.Restricted {
		return then
	}
	var fams []uint32
	for f := uint32(0); f < 64; f++ {
		if a.Set&(1<<f) != 0 {
			fams = append(fams, f)
		}
	}
	prog := []unix.SockFilter{loadWord(offArgLow(0))}
	n := len(fams)
	if a.AllowList {
		// A listed family jumps past the refusal.
		for i, f := range fams {
			prog = append(prog, jump(unix.BPF_JEQ, f, uint8(n-1-i+1), 0))
		}
		prog = append(prog, ret(retEAFNOSUPPORT))
		return append(prog, then...)
	}
	// A listed family jumps to the refusal past the JA.
	for i, f := range fams {
		prog = append(prog, jump(unix.BPF_JEQ, f, uint8(n-1-i+1), 0))
	}
	prog = append(prog, unix.SockFilter{Code: unix.BPF_JMP | unix.BPF_JA, K: 1}, ret(retEAFNOSUPPORT))
	return append(prog, then...)
}
