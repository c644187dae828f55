package nethost

import (
	"net/netip"
	"strings"
)

// resolvConf makes the container's resolv.conf from the host's. Servers
// the container reaches through the masquerade stay (IPv6 ones only where
// it has IPv6); link-local ones go (not on its link); a loopback server (a stub such as
// systemd-resolved's 127.0.0.53) becomes hostAddr, and stub is returned so
// that the table sends port 53 there on to it.
func resolvConf(host string, hostAddr netip.Addr, ipv6 bool) (text string, stub netip.Addr) {
	var b strings.Builder
	b.WriteString("# Made by nspawn from the host's resolv.conf\n")
	for _, line := range strings.Split(host, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || f[0][0] == '#' || f[0][0] == ';' {
			continue
		}
		if f[0] != "nameserver" {
			b.WriteString(strings.Join(f, " ") + "\n")
			continue
		}
		if len(f) < 2 {
			continue
		}
		a, err := netip.ParseAddr(f[1])
		switch {
		case err != nil || a.Is6() && (!ipv6 || a.IsLoopback()) || a.IsLinkLocalUnicast() || a.IsUnspecified():
			continue // ::1 cannot be forwarded to (see addTable)
		case a.IsLoopback():
			if stub.IsValid() {
				continue
			}
			stub, a = a, hostAddr
		}
		b.WriteString("nameserver " + a.String() + "\n")
	}
	return b.String(), stub
}
