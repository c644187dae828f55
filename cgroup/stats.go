package cgroup

import (
	"strconv"
	"strings"
)

// Stats is what the container used, read from its cgroup after it ended;
// a nil field is one this host does not account.
type Stats struct {
	CPUUserUsec   *uint64 `json:"cpu_user_usec,omitempty"`
	CPUSystemUsec *uint64 `json:"cpu_system_usec,omitempty"`
	MemoryPeak    *uint64 `json:"memory_peak_bytes,omitempty"`
	TasksPeak     *uint64 `json:"tasks_peak,omitempty"`
	IOReadBytes   *uint64 `json:"io_read_bytes,omitempty"`
	IOWriteBytes  *uint64 `json:"io_write_bytes,omitempty"`
	// OOMKills counts processes the kernel's OOM killer ended for
	// reaching the container's memory limit.
	OOMKills *uint64 `json:"oom_kills,omitempty"`
}

// Stats reads the container's accounting: from its own cgroup on the
// unified hierarchy (the scope, or the payload cgroup in an existing
// scope) and from the v1 hierarchies it joined.
func (g *Group) Stats() Stats {
	var s Stats
	dir := g.Dir()
	if !g.owned {
		dir += "/" + PayloadDir
	}
	cpu := keyed(dir + "/cpu.stat")
	s.CPUUserUsec, s.CPUSystemUsec = cpu["user_usec"], cpu["system_usec"]
	s.MemoryPeak = number(dir + "/memory.peak")
	s.TasksPeak = number(dir + "/pids.peak")
	s.IOReadBytes, s.IOWriteBytes = ioStat(dir + "/io.stat")
	s.OOMKills = keyed(dir + "/memory.events")["oom_kill"]
	for _, d := range g.v1 {
		if v := number(d + "/memory.max_usage_in_bytes"); v != nil {
			s.MemoryPeak = v
			s.OOMKills = keyed(d + "/memory.oom_control")["oom_kill"]
		}
		if v := number(d + "/pids.peak"); v != nil {
			s.TasksPeak = v
		}
		if r, w := blkioStat(d + "/blkio.throttle.io_service_bytes_recursive"); r != nil {
			s.IOReadBytes, s.IOWriteBytes = r, w
		}
	}
	return s
}

// number reads a file holding one number.
func number(file string) *uint64 {
	data, err := readFile(file)
	if err != nil {
		return nil
	}
	v, err := strconv.ParseUint(strings.TrimSpace(string(data)), 10, 64)
	if err != nil {
		return nil
	}
	return &v
}

// keyed reads a flat "key value" file (cpu.stat, memory.events).
func keyed(file string) map[string]*uint64 {
	data, _ := readFile(file)
	m := map[string]*uint64{}
	for _, line := range strings.Split(string(data), "\n") {
		if k, v, ok := strings.Cut(line, " "); ok {
			if n, err := strconv.ParseUint(v, 10, 64); err == nil {
				m[k] = &n
			}
		}
	}
	return m
}

// ioStat sums rbytes and wbytes over the devices of an io.stat.
func ioStat(file string) (read, written *uint64) {
	data, err := readFile(file)
	if err != nil {
		return nil, nil
	}
	var r, w uint64
	for _, f := range strings.Fields(string(data)) {
		k, v, _ := strings.Cut(f, "=")
		n, _ := strconv.ParseUint(v, 10, 64)
		switch k {
		case "rbytes":
			r += n
		case "wbytes":
			w += n
		}
	}
	return &r, &w
}

// blkioStat sums v1's per-device "MAJ:MIN Read|Write N" lines.
func blkioStat(file string) (read, written *uint64) {
	data, err := readFile(file)
	if err != nil {
		return nil, nil
	}
	var r, w uint64
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) != 3 {
			continue
		}
		n, _ := strconv.ParseUint(f[2], 10, 64)
		switch f[1] {
		case "Read":
			r += n
		case "Write":
			w += n
		}
	}
	return &r, &w
}
