package nspawn

import (
	"errors"
	"fmt"
	"os"
	"path"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/nspawn/nspawn/cgroup"
	"github.com/nspawn/nspawn/machine"
)

// CgroupPlan is where the container's processes go and what limits them.
type CgroupPlan struct {
	// Spec is the container's cgroup on the cgroup filesystem; with
	// systemd its path is learned once systemd has made the scope.
	// Spec.Layout.Unified is "" on a host with no cgroup v2 hierarchy,
	// where the container gets no cgroup of its own.
	Spec cgroup.Spec
	// Systemd means systemd runs the host: it makes the scope (or machined
	// does, when Register), over D-Bus.
	Systemd  bool
	Register bool
	KeepUnit bool
	Unit     string // the scope unit: machine-NAME.scope
	Slice    string // its slice unit
	Limits   cgroup.Limits
	// Properties are the --property= assignments as given, for systemd.
	Properties []string
	// Stats is --stats: "" (none), "line", "json", or a file for json.
	Stats string
}

// planCgroup decides the container's cgroup. Every --property= is checked
// here, before anything exists.
func (p *Plan) planCgroup(o *Options, layout cgroup.Layout, systemd bool) error {
	c := &p.Cgroup
	c.Slice = o.Slice
	if c.Slice == "" {
		c.Slice = machine.DefaultSlice
	} else if o.KeepUnit {
		return errors.New("--slice= and --keep-unit exclude each other: with --keep-unit the container stays in nspawn's own unit")
	}
	slice, err := machine.SlicePath(c.Slice)
	if err != nil {
		return fmt.Errorf("--slice=%s: %v", o.Slice, err)
	}
	if c.Register, err = parseBool(o.Register); err != nil {
		return fmt.Errorf("--register=%s: %v", o.Register, err)
	}
	if len(o.Properties) > 0 {
		host := limitsHost()
		for _, prop := range o.Properties {
			if err := c.Limits.Set(prop, host); err != nil {
				return fmt.Errorf("--property=%s: %v", prop, err)
			}
		}
	}
	c.Properties = o.Properties
	if c.Stats, err = statsMode(o.Stats); err != nil {
		return err
	}
	c.Systemd, c.KeepUnit = systemd, o.KeepUnit
	c.Unit = machine.ScopeName(p.Machine)
	c.Spec.Layout = layout
	switch {
	case layout.Unified == "":
		if len(o.Properties) > 0 {
			return fmt.Errorf("--property=%s: this host has no cgroup v2 hierarchy to put limits on", o.Properties[0])
		}
	case systemd:
		// The scope exists only once systemd has made it with the
		// child stage in it.
		p.LateCgroupNS = true
	case o.KeepUnit:
		if len(o.Properties) > 0 {
			return fmt.Errorf("--property=%s: with --keep-unit the limits go on nspawn's own unit, which needs systemd; without it, leave out --keep-unit and the container gets a scope with these limits", o.Properties[0])
		}
		own, err := ownCgroup()
		if err != nil {
			return fmt.Errorf("--keep-unit: %v", err)
		}
		c.Spec.Path, c.Spec.Existing = own, true
	default:
		c.Spec.Path = path.Join(slice, c.Unit)
		var warnings []string
		c.Spec.Files, warnings = c.Limits.Files(layout)
		p.Warnings = append(p.Warnings, warnings...)
		c.Spec.Accounting = c.Stats != ""
		// v1 hierarchies have no CLONE_INTO_CGROUP: the child joins them
		// once it exists.
		p.LateCgroupNS = layout.Hybrid && (len(c.Spec.Files) > 0 || c.Spec.Accounting)
	}
	return nil
}

// statsMode checks --stats.
func statsMode(s string) (string, error) {
	switch {
	case s == "", s == "line", s == "json":
		return s, nil
	case strings.Contains(s, "/"):
		if st, err := os.Stat(path.Dir(s)); err != nil || !st.IsDir() {
			return "", fmt.Errorf("--stats=%s: directory %s does not exist", s, path.Dir(s))
		}
		return s, nil
	}
	return "", fmt.Errorf("--stats=%s: use line, json, or a file to write json to (a path with a slash: ./stats.json)", s)
}

// systemdBooted is sd_booted(): systemd runs the host.
func systemdBooted() bool { return exists("/run/systemd/system") }

// ownCgroup is nspawn's own cgroup on the unified hierarchy.
func ownCgroup() (string, error) {
	data, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(string(data), "\n") {
		if p, ok := strings.CutPrefix(line, "0::"); ok {
			return p, nil
		}
	}
	return "", errors.New("nspawn is in no cgroup v2 cgroup")
}

// limitsHost is what relative limits are relative to: RAM, the kernel's
// task limit, the online CPUs.
func limitsHost() cgroup.Host {
	var h cgroup.Host
	var si unix.Sysinfo_t
	if unix.Sysinfo(&si) == nil {
		h.MemTotal = uint64(si.Totalram) * uint64(si.Unit)
	}
	for _, f := range []string{"/proc/sys/kernel/pid_max", "/proc/sys/kernel/threads-max"} {
		if b, err := os.ReadFile(f); err == nil {
			if n, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64); err == nil && (h.TasksMax == 0 || n < h.TasksMax) {
				h.TasksMax = n
			}
		}
	}
	if b, err := os.ReadFile("/sys/devices/system/cpu/online"); err == nil {
		h.CPUs = strings.TrimSpace(string(b))
	}
	return h
}

// placement is the container's cgroup, and the reaper that removes it
// should nspawn be killed before it can.
type placement struct {
	group  *cgroup.Group
	reaper *cgroup.Reaper
}

// placeInCgroup creates the container's cgroup on the cgroup filesystem.
// nil, nil when the host has no cgroup v2 hierarchy to place it in, or
// when systemd makes it (then admit does, once the child exists).
func placeInCgroup(plan *Plan) (*placement, error) {
	c := plan.Cgroup
	if c.Spec.Layout.Unified == "" || c.Systemd {
		return nil, nil
	}
	group, warnings, err := cgroup.Create(c.Spec)
	if errors.Is(err, cgroup.ErrBusy) {
		if c.Spec.Existing {
			return nil, fmt.Errorf("--keep-unit: another container already runs in nspawn's cgroup %s; run one per unit", c.Spec.Path)
		}
		return nil, fmt.Errorf("machine %s is already running (cgroup %s is in use); stop it first or pick another name with --machine=", plan.Machine, c.Spec.Layout.Unified+c.Spec.Path)
	}
	if err != nil {
		return nil, err
	}
	if !plan.Quiet {
		for _, w := range warnings {
			fmt.Fprintf(os.Stderr, "nspawn: %s\n", w)
		}
	}
	reaper, err := cgroup.StartReaper(group)
	if err != nil {
		group.Remove()
		return nil, err
	}
	return &placement{group: group, reaper: reaper}, nil
}

// admit puts the child stage, which waits for its plan, into the cgroups
// it could not be cloned into.
func (p *placement) admit(pid int) error {
	if p == nil {
		return nil
	}
	return p.group.Join(pid)
}

// finish reports what the container used, when it ran, then kills what is
// left in its cgroup and removes it.
func (p *placement) finish(plan *Plan, ran bool, status int) {
	if p == nil {
		return
	}
	if ran {
		reportUsage(plan, p.group.Stats(), status)
	}
	p.group.Remove()
	p.reaper.Done()
}

// cgroupFD is the fd for CLONE_INTO_CGROUP, so the child stage starts in
// its cgroup and its cgroup namespace is rooted there.
func (p *placement) cgroupFD() (int, bool) {
	if p == nil {
		return 0, false
	}
	return p.group.PayloadFD(), true
}
