package nethost

import (
	"fmt"
	"strings"
)

// Port is one --port: traffic to HostPort on the host is sent on to
// ContainerPort at the container's address.
type Port struct {
	Protocol      string // "tcp" or "udp"
	HostPort      uint16
	ContainerPort uint16
}

// String gives the port in --port's own syntax, always with both ports.
func (p Port) String() string {
	return fmt.Sprintf("%s:%d:%d", p.Protocol, p.HostPort, p.ContainerPort)
}

const portUsage = "use [tcp:|udp:]HOSTPORT[:CONTAINERPORT], ports 1 to 65535"

// ParsePort parses --port=[PROTOCOL:]HOSTPORT[:CONTAINERPORT] as
// systemd-nspawn 252's expose_port_parse does: the protocol is "tcp:" or
// "udp:" in lower case (tcp when left out), one port stands for both, and a
// port is parsed as C's strtoul with base 0 (so 0x50 and 010 are accepted,
// as there) but without leading blanks, and 0 is refused.
func ParsePort(s string) (Port, error) {
	p := Port{Protocol: "tcp"}
	rest := s
	if r, ok := strings.CutPrefix(s, "tcp:"); ok {
		rest = r
	} else if r, ok := strings.CutPrefix(s, "udp:"); ok {
		p.Protocol, rest = "udp", r
	}
	host, container, two := strings.Cut(rest, ":")
	var err error
	if p.HostPort, err = parsePortNumber(host); err != nil {
		return Port{}, fmt.Errorf("--port=%s: host port %q %v; %s", s, host, err, portUsage)
	}
	p.ContainerPort = p.HostPort
	if two {
		if p.ContainerPort, err = parsePortNumber(container); err != nil {
			return Port{}, fmt.Errorf("--port=%s: container port %q %v; %s", s, container, err, portUsage)
		}
	}
	return p, nil
}

// AddPort parses s and appends it to ports, refusing a second rule for one
// protocol and host port as systemd-nspawn does ("Duplicate port
// specification").
func AddPort(ports []Port, s string) ([]Port, error) {
	p, err := ParsePort(s)
	if err != nil {
		return ports, err
	}
	for _, q := range ports {
		if q.Protocol == p.Protocol && q.HostPort == p.HostPort {
			return ports, fmt.Errorf("--port=%s: host port %s:%d is already forwarded by --port=%s; give each host port once",
				s, p.Protocol, p.HostPort, q)
		}
	}
	return append(ports, p), nil
}

// parsePortNumber is systemd's parse_ip_port: strtoul with base 0 (0x for
// hex, a leading 0 for octal, an optional +), nothing before or after the
// digits, a result from 1 to 65535.
func parsePortNumber(s string) (uint16, error) {
	if strings.HasPrefix(s, "-") {
		return 0, fmt.Errorf("is negative")
	}
	digits := strings.TrimPrefix(s, "+")
	base := uint64(10)
	switch {
	case len(digits) > 2 && (digits[:2] == "0x" || digits[:2] == "0X"):
		base, digits = 16, digits[2:]
	case len(digits) > 1 && digits[0] == '0':
		base, digits = 8, digits[1:]
	}
	if digits == "" {
		return 0, fmt.Errorf("is not a number")
	}
	var n uint64
	for _, c := range digits {
		d := uint64(36)
		switch {
		case c >= '0' && c <= '9':
			d = uint64(c - '0')
		case c >= 'a' && c <= 'f':
			d = uint64(c-'a') + 10
		case c >= 'A' && c <= 'F':
			d = uint64(c-'A') + 10
		}
		if d >= base {
			return 0, fmt.Errorf("is not a number")
		}
		if n = n*base + d; n > 65535 {
			return 0, fmt.Errorf("is out of range")
		}
	}
	if n == 0 {
		return 0, fmt.Errorf("is 0")
	}
	return uint16(n), nil
}
