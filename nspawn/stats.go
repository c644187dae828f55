package nspawn

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/nspawn/nspawn/cgroup"
)

// usageReport is --stats=json: what the container used, and how it ended.
type usageReport struct {
	Machine    string `json:"machine"`
	ExitStatus int    `json:"exit_status"`
	cgroup.Stats
}

// reportUsage prints --stats, and a line when the OOM killer struck
// inside the container, which would otherwise go unexplained.
func reportUsage(plan *Plan, out reporter, s cgroup.Stats, status int) {
	if s.OOMKills != nil && *s.OOMKills > 0 {
		out.Print("nspawn: machine %s hit its memory limit: the kernel's OOM killer ended %d process(es) in it", plan.Machine, *s.OOMKills)
	}
	switch mode := plan.Cgroup.Stats; mode {
	case "":
	case "line":
		out.Print("nspawn: machine %s used %s", plan.Machine, usageLine(s))
	default:
		data, _ := json.Marshal(usageReport{Machine: plan.Machine, ExitStatus: status, Stats: s})
		data = append(data, '\n')
		if mode == "json" {
			out.w.Write(data)
		} else if err := os.WriteFile(mode, data, 0o644); err != nil {
			out.Error(fmt.Errorf("--stats=%s: %v", mode, err))
		}
	}
}

// usageLine is --stats' one line: only what this host accounts.
func usageLine(s cgroup.Stats) string {
	var parts []string
	if s.CPUUserUsec != nil && s.CPUSystemUsec != nil {
		parts = append(parts, fmt.Sprintf("cpu %.3fs user %.3fs system", float64(*s.CPUUserUsec)/1e6, float64(*s.CPUSystemUsec)/1e6))
	}
	if s.MemoryPeak != nil {
		parts = append(parts, "memory peak "+bytesIEC(*s.MemoryPeak))
	}
	if s.TasksPeak != nil {
		parts = append(parts, fmt.Sprintf("tasks peak %d", *s.TasksPeak))
	}
	if s.IOReadBytes != nil && s.IOWriteBytes != nil {
		parts = append(parts, fmt.Sprintf("io %s read %s written", bytesIEC(*s.IOReadBytes), bytesIEC(*s.IOWriteBytes)))
	}
	if len(parts) == 0 {
		return "nothing this host accounts"
	}
	return strings.Join(parts, ", ")
}

// bytesIEC formats as systemd's format_bytes: 1024-based, one decimal.
func bytesIEC(n uint64) string {
	const units = "KMGTPE"
	if n < 1024 {
		return fmt.Sprintf("%dB", n)
	}
	v, i := float64(n)/1024, 0
	for v >= 1024 && i < len(units)-1 {
		v /= 1024
		i++
	}
	return fmt.Sprintf("%.1f%c", v, units[i])
}
