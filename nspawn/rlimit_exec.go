package nspawn

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// rlimitInfinity is RLIM_INFINITY.
const rlimitInfinity = math.MaxUint64

// Rlimit is one resource limit the payload gets.
type Rlimit struct {
	Resource   int
	Soft, Hard uint64
}

// rlimitUnit is how systemd's rlimit_parse() reads a limit's value.
type rlimitUnit int

const (
	unitCount   rlimitUnit = iota // a plain number
	unitBytes                     // a size, K, M, G... base 1024
	unitSeconds                   // a time span, seconds by default (CPU)
	unitMicros                    // a time span, microseconds by default (RTTIME)
	unitNice                      // 0..40, or a nice level written +N/-N
)

// rlimits are the limits systemd-nspawn sets, in setrlimit(2)'s order,
// with the defaults it gives the payload (nspawn.c, initialize_rlimits):
// what the kernel gives the host's init, so that a payload sees what it
// would on the host. NPROC and SIGPENDING, which the kernel scales with
// the RAM, are the host init's own (ExecFacts); NOFILE's hard limit is
// raised as systemd raises it for all of userspace.
var rlimits = []struct {
	name       string
	resource   int
	unit       rlimitUnit
	soft, hard uint64
}{
	{"CPU", unix.RLIMIT_CPU, unitSeconds, rlimitInfinity, rlimitInfinity},
	{"FSIZE", unix.RLIMIT_FSIZE, unitBytes, rlimitInfinity, rlimitInfinity},
	{"DATA", unix.RLIMIT_DATA, unitBytes, rlimitInfinity, rlimitInfinity},
	{"STACK", unix.RLIMIT_STACK, unitBytes, 8 << 20, rlimitInfinity},
	{"CORE", unix.RLIMIT_CORE, unitBytes, 0, rlimitInfinity},
	{"RSS", unix.RLIMIT_RSS, unitBytes, rlimitInfinity, rlimitInfinity},
	{"NPROC", unix.RLIMIT_NPROC, unitCount, 0, 0},
	{"NOFILE", unix.RLIMIT_NOFILE, unitCount, 1024, highNOFILE},
	{"MEMLOCK", unix.RLIMIT_MEMLOCK, unitBytes, 8 << 20, 8 << 20},
	{"AS", unix.RLIMIT_AS, unitBytes, rlimitInfinity, rlimitInfinity},
	{"LOCKS", unix.RLIMIT_LOCKS, unitCount, rlimitInfinity, rlimitInfinity},
	{"SIGPENDING", unix.RLIMIT_SIGPENDING, unitCount, 0, 0},
	{"MSGQUEUE", unix.RLIMIT_MSGQUEUE, unitBytes, 819200, 819200},
	{"NICE", unix.RLIMIT_NICE, unitNice, 0, 0},
	{"RTPRIO", unix.RLIMIT_RTPRIO, unitCount, 0, 0},
	{"RTTIME", unix.RLIMIT_RTTIME, unitMicros, rlimitInfinity, rlimitInfinity},
}

// highNOFILE is systemd's HIGH_RLIMIT_NOFILE, capped by fs.nr_open.
const highNOFILE = 512 * 1024

// rlimitNames are the names --rlimit= takes, for --rlimit=help.
func rlimitNames() []string {
	names := make([]string, len(rlimits))
	for i, r := range rlimits {
		names[i] = "RLIMIT_" + r.name
	}
	return names
}

// defaultRlimits is systemd-nspawn's set for the payload on this host.
func defaultRlimits(host ExecFacts) []Rlimit {
	out := make([]Rlimit, len(rlimits))
	for i, r := range rlimits {
		out[i] = Rlimit{r.resource, r.soft, r.hard}
		switch r.resource {
		case unix.RLIMIT_NPROC:
			out[i].Soft, out[i].Hard = host.InitNPROC.Cur, host.InitNPROC.Max
		case unix.RLIMIT_SIGPENDING:
			out[i].Soft, out[i].Hard = host.InitSIGPENDING.Cur, host.InitSIGPENDING.Max
		case unix.RLIMIT_NOFILE:
			if host.NrOpen != 0 && host.NrOpen < out[i].Hard {
				out[i].Hard = host.NrOpen
			}
		}
	}
	return out
}

// parseRlimit reads one --rlimit=NAME=SOFT[:HARD] into limits, as
// systemd's rlimit_from_string_harder() and rlimit_parse() read it.
func parseRlimit(value string, limits []Rlimit) error {
	name, spec, ok := strings.Cut(value, "=")
	if !ok {
		return fmt.Errorf("--rlimit=%s: not NAME=SOFT[:HARD]; e.g. --rlimit=RLIMIT_NOFILE=8192:16384", value)
	}
	// RLIMIT_NOFILE or NOFILE, in capitals, as systemd-nspawn 252 takes it.
	key := strings.TrimPrefix(name, "RLIMIT_")
	for i, r := range rlimits {
		if r.name != key {
			continue
		}
		softS, hardS, pair := strings.Cut(spec, ":")
		soft, err := parseRlimitValue(softS, r.unit)
		if err != nil {
			return fmt.Errorf("--rlimit=%s: %v", value, err)
		}
		hard := soft
		if pair {
			if hard, err = parseRlimitValue(hardS, r.unit); err != nil {
				return fmt.Errorf("--rlimit=%s: %v", value, err)
			}
		}
		if soft > hard {
			return fmt.Errorf("--rlimit=%s: the soft limit is above the hard one; give SOFT:HARD with SOFT <= HARD", value)
		}
		limits[i] = Rlimit{r.resource, soft, hard}
		return nil
	}
	return fmt.Errorf("--rlimit=%s: unknown resource limit %q (see --rlimit=help)", value, name)
}

// parseRlimitValue reads one limit in unit; "infinity" lifts it.
func parseRlimitValue(s string, unit rlimitUnit) (uint64, error) {
	if s == "infinity" {
		return rlimitInfinity, nil
	}
	if s == "" {
		return 0, fmt.Errorf("empty limit; give a number or infinity")
	}
	switch unit {
	case unitBytes:
		return parseSizeIEC(s)
	case unitSeconds:
		us, err := parseTimeSpan(s, 1e6)
		// Rounded up, as systemd's rlimit_parse_sec() does: 1ms is 1s.
		return (us + 999999) / 1e6, err
	case unitMicros:
		return parseTimeSpan(s, 1)
	case unitNice:
		return parseNiceLimit(s)
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a number or infinity", s)
	}
	return n, nil
}

// parseSizeIEC reads a size as systemd's parse_size(..., 1024) does:
// a number, with a fraction if a suffix follows, and B, K, M, G, T, P or E.
func parseSizeIEC(s string) (uint64, error) {
	num := strings.TrimRight(s, "BKMGTPE")
	suffix := s[len(num):]
	mult := map[string]float64{"": 1, "B": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40, "P": 1 << 50, "E": 1 << 60}
	m, ok := mult[suffix]
	f, err := strconv.ParseFloat(num, 64)
	if !ok || err != nil || f < 0 || strings.ContainsAny(num, "eExX+-") || (suffix == "" && strings.Contains(num, ".")) {
		return 0, fmt.Errorf("%q is not a size (bytes, or with K, M, G, T, P or E) or infinity", s)
	}
	if f*m >= math.MaxUint64 {
		return 0, fmt.Errorf("%q is too large", s)
	}
	return uint64(f * m), nil
}

// timeUnits are systemd's time span suffixes (parse_time()), in µs.
var timeUnits = map[string]float64{
	"us": 1, "usec": 1, "µs": 1, "ms": 1e3, "msec": 1e3,
	"s": 1e6, "sec": 1e6, "second": 1e6, "seconds": 1e6,
	"m": 60e6, "min": 60e6, "minute": 60e6, "minutes": 60e6,
	"h": 3600e6, "hr": 3600e6, "hour": 3600e6, "hours": 3600e6,
	"d": 86400e6, "day": 86400e6, "days": 86400e6,
	"w": 604800e6, "week": 604800e6, "weeks": 604800e6,
	"M": 2629800e6, "month": 2629800e6, "months": 2629800e6,
	"y": 31557600e6, "year": 31557600e6, "years": 31557600e6,
}

// parseTimeSpan reads "1min 30s" and the like into µs; a bare number is
// in units of def µs.
func parseTimeSpan(s string, def float64) (uint64, error) {
	bad := fmt.Errorf("%q is not a time span (5s, 1min 30s, 500ms) or infinity", s)
	rest := strings.TrimSpace(s)
	var total float64
	for rest != "" {
		i := strings.IndexFunc(rest, func(r rune) bool { return !(r >= '0' && r <= '9' || r == '.') })
		if i == 0 {
			return 0, bad
		}
		if i < 0 {
			i = len(rest)
		}
		n, err := strconv.ParseFloat(rest[:i], 64)
		if err != nil {
			return 0, bad
		}
		rest = strings.TrimLeft(rest[i:], " ")
		j := strings.IndexFunc(rest, func(r rune) bool { return r >= '0' && r <= '9' || r == ' ' || r == '.' })
		if j < 0 {
			j = len(rest)
		}
		mult := def
		if j > 0 {
			m, ok := timeUnits[rest[:j]]
			if !ok {
				return 0, bad
			}
			mult = m
		}
		total += n * mult
		rest = strings.TrimLeft(rest[j:], " ")
	}
	if total >= math.MaxUint64 {
		return 0, bad
	}
	return uint64(total), nil
}

// parseNiceLimit reads RLIMIT_NICE as systemd's rlimit_parse_nice()
// does: +N or -N is a nice level (-20..19) and means 20-N; a bare number
// is the limit itself (0..40).
func parseNiceLimit(s string) (uint64, error) {
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a nice level (-20..19, with its sign) or a limit (0..40)", s)
	}
	if s[0] == '+' || s[0] == '-' {
		if n < -20 || n > 19 {
			return 0, fmt.Errorf("nice level %s is outside -20..19", s)
		}
		return uint64(20 - n), nil
	}
	if n > 40 {
		return 0, fmt.Errorf("limit %s is above 40 (nice level -20)", s)
	}
	return uint64(n), nil
}

// setRlimitClosest sets l, or where the kernel refuses (raising a hard
// limit needs CAP_SYS_RESOURCE in the host's user namespace) the closest
// it allows: both values cut to the hard limit in force, as systemd's
// setrlimit_closest() does.
func setRlimitClosest(l Rlimit) error {
	want := unix.Rlimit{Cur: l.Soft, Max: l.Hard}
	err := unix.Setrlimit(l.Resource, &want)
	if err != unix.EPERM {
		return err
	}
	var have unix.Rlimit
	if err := unix.Getrlimit(l.Resource, &have); err != nil {
		return err
	}
	if have.Max == rlimitInfinity {
		return unix.EPERM
	}
	fixed := unix.Rlimit{Cur: min(want.Cur, have.Max), Max: min(want.Max, have.Max)}
	if fixed == have {
		return nil
	}
	return unix.Setrlimit(l.Resource, &fixed)
}
