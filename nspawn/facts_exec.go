package nspawn

import (
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// ExecFacts are what planning the payload's execution environment needs
// of the host.
type ExecFacts struct {
	// InitNPROC and InitSIGPENDING are the host init's limits: the kernel
	// scales them with the RAM, and systemd-nspawn hands them on.
	InitNPROC, InitSIGPENDING unix.Rlimit
	// NrOpen is fs.nr_open, the most RLIMIT_NOFILE may be.
	NrOpen uint64
	// CPUs are the CPUs online (/sys/devices/system/cpu/online), which
	// --cpu-affinity= may name; empty when unknown.
	CPUs string
}

// probeExecFacts reads ExecFacts. A limit it cannot read of PID 1 (a
// sandbox that hides it) is nspawn's own, which it inherited.
func probeExecFacts() ExecFacts {
	var f ExecFacts
	for _, l := range []struct {
		resource int
		dst      *unix.Rlimit
	}{{unix.RLIMIT_NPROC, &f.InitNPROC}, {unix.RLIMIT_SIGPENDING, &f.InitSIGPENDING}} {
		if unix.Prlimit(1, l.resource, nil, l.dst) != nil {
			unix.Getrlimit(l.resource, l.dst)
		}
	}
	if b, err := os.ReadFile("/proc/sys/fs/nr_open"); err == nil {
		f.NrOpen, _ = strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	}
	if b, err := os.ReadFile("/sys/devices/system/cpu/online"); err == nil {
		f.CPUs = strings.TrimSpace(string(b))
	}
	return f
}
