package nspawn

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/nspawn/nspawn/wire"
)

// ExecSettings are what the child applies to itself before it becomes
// the payload, beyond its user: resource limits, scheduling, personality.
type ExecSettings struct {
	// Rlimits are every limit systemd-nspawn sets: its defaults, with
	// --rlimit= over them.
	Rlimits []Rlimit
	// OOMScoreAdjust is written to /proc/self/oom_score_adj when SetOOM.
	OOMScoreAdjust int
	SetOOM         bool
	// CPUs, when any, are the payload's CPU affinity.
	CPUs []int
	// Personality, when SetPersonality, is personality(2)'s domain.
	Personality    uint32
	SetPersonality bool
}

// planExec decides ExecSettings from ExecOptions, and the filter's
// extras (--suppress-sync, --restrict-address-families) into the plan's
// SyscallFilter, which nspawn compiles.
func (p *Plan) planExec(o *Options, host *Facts) error {
	e := &p.Exec
	e.Rlimits = defaultRlimits(host.Exec)
	for _, v := range o.Rlimits {
		if err := parseRlimit(v, e.Rlimits); err != nil {
			return err
		}
	}
	if o.OOMScoreAdjust != "" {
		n, err := strconv.Atoi(o.OOMScoreAdjust)
		if err != nil || n < -1000 || n > 1000 {
			return fmt.Errorf("--oom-score-adjust=%s: not an integer in -1000..1000", o.OOMScoreAdjust)
		}
		e.OOMScoreAdjust, e.SetOOM = n, true
	}
	if o.CPUAffinity != "" {
		cpus, err := parseCPUSet(o.CPUAffinity)
		if err != nil {
			return fmt.Errorf("--cpu-affinity=%s: %v", o.CPUAffinity, err)
		}
		if host.Exec.CPUs != "" {
			online, err := parseCPUSet(host.Exec.CPUs)
			if err == nil {
				if missing := cpusMissing(cpus, online); len(missing) > 0 {
					return fmt.Errorf("--cpu-affinity=%s: this host has no CPU %s (online: %s); name CPUs it has", o.CPUAffinity, strings.Join(missing, ", "), host.Exec.CPUs)
				}
			}
		}
		e.CPUs = cpus
	}
	if o.Personality != "" {
		per, ok := personalities()[o.Personality]
		if !ok {
			return fmt.Errorf("--personality=%s: unknown or unsupported on this host; use %s", o.Personality, strings.Join(personalityNames(), " or "))
		}
		e.Personality, e.SetPersonality = per, true
	}
	if o.SuppressSync != "" {
		on, err := parseBool(o.SuppressSync)
		if err != nil {
			return fmt.Errorf("--suppress-sync=%s: %v", o.SuppressSync, err)
		}
		p.SyscallFilter.SuppressSync = on
	}
	for _, v := range o.RestrictAddressFamilies {
		if err := p.SyscallFilter.AddressFamilies.Add(v); err != nil {
			return fmt.Errorf("--restrict-address-families=%s: %v", v, err)
		}
	}
	return nil
}

// personalities are --personality='s values on this host's
// architecture, as systemd's personality_from_string() takes them: the
// 32-bit one is PER_LINUX32, under which uname -m says i686.
func personalities() map[string]uint32 {
	const perLinux, perLinux32 = 0x0000, 0x0008 // linux/personality.h
	if runtime.GOARCH == "amd64" {
		return map[string]uint32{"x86": perLinux32, "x86-64": perLinux}
	}
	return map[string]uint32{}
}

func personalityNames() []string {
	if runtime.GOARCH == "amd64" {
		return []string{"x86", "x86-64"}
	}
	return nil
}

// parseCPUSet reads a CPU list as systemd's parse_cpu_set() does: CPU
// numbers and ranges A-B, separated by commas or whitespace.
func parseCPUSet(s string) ([]int, error) {
	seen := map[int]bool{}
	var cpus []int
	for _, w := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' }) {
		loS, hiS, isRange := strings.Cut(w, "-")
		lo, err := strconv.Atoi(loS)
		hi := lo
		if err == nil && isRange {
			hi, err = strconv.Atoi(hiS)
		}
		// unix.CPUSet's size, which sched_setaffinity(2) gets.
		if err != nil || lo < 0 || hi < lo || hi >= 1024 {
			return nil, fmt.Errorf("%q is not a CPU number (0..1023) or range A-B", w)
		}
		for c := lo; c <= hi; c++ {
			if !seen[c] {
				seen[c] = true
				cpus = append(cpus, c)
			}
		}
	}
	if len(cpus) == 0 {
		return nil, fmt.Errorf("no CPU named; give numbers or ranges like 0-1,3")
	}
	return cpus, nil
}

// cpusMissing are the CPUs of want not in have.
func cpusMissing(want, have []int) []string {
	in := map[int]bool{}
	for _, c := range have {
		in[c] = true
	}
	var out []string
	for _, c := range want {
		if !in[c] {
			out = append(out, strconv.Itoa(c))
		}
	}
	return out
}

func (e ExecSettings) appendWire(w *wire.Writer) {
	w.Num(uint64(len(e.Rlimits)))
	for _, l := range e.Rlimits {
		w.Num(uint64(l.Resource))
		w.Num(l.Soft)
		w.Num(l.Hard)
	}
	w.Flag(e.SetOOM)
	w.Num(uint64(int64(e.OOMScoreAdjust)))
	w.Num(uint64(len(e.CPUs)))
	for _, c := range e.CPUs {
		w.Num(uint64(c))
	}
	w.Flag(e.SetPersonality)
	w.Num(uint64(e.Personality))
}

func readExecSettings(r *wire.Reader) ExecSettings {
	var e ExecSettings
	for n := r.Count(); n > 0; n-- {
		e.Rlimits = append(e.Rlimits, Rlimit{Resource: int(r.Num()), Soft: r.Num(), Hard: r.Num()})
	}
	e.SetOOM = r.Flag()
	e.OOMScoreAdjust = int(int64(r.Num()))
	for n := r.Count(); n > 0; n-- {
		e.CPUs = append(e.CPUs, int(r.Num()))
	}
	e.SetPersonality = r.Flag()
	e.Personality = uint32(r.Num())
	return e
}

// applyExec applies e to the child itself, before the filter is
// installed and capabilities dropped: raising a hard limit or lowering
// the OOM score needs CAP_SYS_RESOURCE. The affinity and the personality
// are the calling thread's: the one locked thread that execs the payload.
func applyExec(e ExecSettings) error {
	for _, l := range e.Rlimits {
		if err := setRlimitClosest(l); err != nil {
			return fmt.Errorf("set resource limit %d to %d:%d: %w", l.Resource, l.Soft, l.Hard, err)
		}
	}
	if e.SetOOM {
		// /proc is the container's own by now; self is this process.
		if err := os.WriteFile("/proc/self/oom_score_adj", []byte(strconv.Itoa(e.OOMScoreAdjust)), 0); err != nil {
			return fmt.Errorf("--oom-score-adjust=%d: %w (a negative value needs CAP_SYS_RESOURCE on the host)", e.OOMScoreAdjust, err)
		}
	}
	if len(e.CPUs) > 0 {
		var set unix.CPUSet
		for _, c := range e.CPUs {
			set.Set(c)
		}
		if err := unix.SchedSetaffinity(0, &set); err != nil {
			return fmt.Errorf("--cpu-affinity: %w", err)
		}
	}
	if e.SetPersonality {
		if _, _, errno := unix.RawSyscall(unix.SYS_PERSONALITY, uintptr(e.Personality), 0, 0); errno != 0 {
			return fmt.Errorf("--personality: %w", errno)
		}
	}
	return nil
}
