package nspawn

import (
	"errors"
	"fmt"
	"os"
	"path"
	"slices"
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
	Slice    string // the slice unit of the scope
	Limits   cgroup.Limits
	// Stats is --stats: "" (none), "line", "json", or a file for json.
	Stats string
}

// planCgroup decides the container's cgroup. Every --property= is checked
// here, before anything exists.
func (p *Plan) planCgroup(o *Options, host *Facts) error {
	warnings, err := p.Cgroup.plan(o, host, p.Machine)
	if err != nil {
		return err
	}
	p.Warnings = append(p.Warnings, warnings...)
	if p.Cgroup.lateJoin() {
		p.LateCgroupNS = true
		p.Cloneflags &^= unix.CLONE_NEWCGROUP
	}
	return nil
}

// plan decides the cgroup of machine; warnings name limits this host
// cannot carry.
func (c *CgroupPlan) plan(o *Options, host *Facts, machineName string) (warnings []string, err error) {
	layout, systemd := host.Cgroups, host.Systemd
	c.Slice = machine.MangleSlice(o.Slice)
	if o.Slice == "" {
		c.Slice = machine.DefaultSlice
	} else if o.KeepUnit {
		return nil, errors.New("--slice= and --keep-unit exclude each other: with --keep-unit the container stays in nspawn's own unit")
	}
	slice, err := machine.SlicePath(c.Slice)
	if err != nil {
		return nil, fmt.Errorf("--slice=%s: %v", o.Slice, err)
	}
	if c.Register, err = parseBool(o.Register); err != nil {
		return nil, fmt.Errorf("--register=%s: %v", o.Register, err)
	}
	if len(o.Properties) > 0 {
		for _, prop := range o.Properties {
			if err := c.Limits.Set(prop, host.Limits); err != nil {
				return nil, fmt.Errorf("--property=%s: %v", prop, err)
			}
		}
	}
	if c.Stats, err = statsMode(o.Stats); err != nil {
		return nil, err
	}
	c.Systemd, c.KeepUnit = systemd, o.KeepUnit
	c.Spec.Layout = layout
	return c.planSpec(o, host, path.Join(slice, machine.ScopeName(machineName)))
}

// planSpec decides which cgroup the container gets on this host: none
// without cgroup v2, below nspawn's own with --keep-unit, systemd's scope
// with systemd, else scope, made by nspawn.
func (c *CgroupPlan) planSpec(o *Options, host *Facts, scope string) (warnings []string, err error) {
	layout := c.Spec.Layout
	switch {
	case layout.Unified == "":
		if len(o.Properties) > 0 {
			return nil, fmt.Errorf("--property=%s: this host has no cgroup v2 hierarchy to put limits on", o.Properties[0])
		}
	case o.KeepUnit:
		if len(o.Properties) > 0 {
			return nil, fmt.Errorf("--property=%s: with --keep-unit the container stays in nspawn's own unit; set limits on that unit (systemd-run -p, or its unit file), or leave out --keep-unit for a scope with these limits", o.Properties[0])
		}
		if host.OwnCgroupErr != nil {
			return nil, fmt.Errorf("--keep-unit: %v", host.OwnCgroupErr)
		}
		c.Spec.Path, c.Spec.Existing, c.Spec.Supervise = host.OwnCgroup, true, c.Systemd
	case c.Systemd:
		// The scope exists only once systemd has made it with the
		// child in it.
		// The v1 hierarchies of a hybrid host are systemd's to arrange:
		// --stats reads the unified one only.
		c.Spec.Existing = true
	default:
		c.Spec.Path = scope
		c.Spec.Files, warnings = c.Limits.Files(layout)
		c.Spec.Accounting = c.Stats != ""
	}
	return warnings, nil
}

// lateJoin tells whether the child can be cloned into all its cgroups
// (CLONE_INTO_CGROUP) or joins some once it exists: systemd's scope, which
// systemd makes with the child in it, or the v1 hierarchies a limit or
// --stats needs, which have no CLONE_INTO_CGROUP. The device list is a BPF
// program on the unified cgroup, on a hybrid host too.
func (c *CgroupPlan) lateJoin() bool {
	switch {
	case c.Spec.Layout.Unified == "", c.KeepUnit:
		return false
	case c.Systemd:
		return true
	}
	return c.Spec.JoinsV1()
}

// admitsAfterPivot tells whether the container is admitted by a
// conversation with systemd (its scope, machined's registration), which
// waits until the child stands in the tree (childMessage.AwaitAdmission);
// joining cgroups nspawn made itself happens before the child starts.
func (c *CgroupPlan) admitsAfterPivot() bool {
	return c.Spec.Layout.Unified != "" && c.Systemd && (c.Register || !c.KeepUnit)
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

// placement is the container's cgroup (recorded in the undo log, so it
// goes should nspawn be killed before it can remove it) and its
// registration with systemd.
type placement struct {
	group *cgroup.Group
	reg   *machine.Registration
	undo  cgroup.Recorder
}

// claimCgroup claims the container's cgroup (cgroup.Claim), before the
// undo watcher starts, which holds the claim until its cleanup is over:
// -1 when the host has no cgroup v2 hierarchy. Where systemd makes the
// scope, the name claimed is the scope's it will make.
func claimCgroup(plan *Plan) (int, error) {
	spec := plan.Cgroup.Spec
	if spec.Layout.Unified == "" {
		return -1, nil
	}
	fd, err := cgroup.Claim(spec)
	return fd, cgroupError(plan, spec, err)
}

// cgroupError says in one line why the cgroup of spec cannot be had.
func cgroupError(plan *Plan, spec cgroup.Spec, err error) error {
	if errors.Is(err, cgroup.ErrBusy) {
		if plan.Cgroup.KeepUnit {
			return fmt.Errorf("--keep-unit: another container already runs in nspawn's cgroup %s; run one per unit", spec.Path)
		}
		return fmt.Errorf("machine %s is already running (cgroup %s is in use); stop it first or pick another name with --machine=", plan.Machine, spec.Layout.Unified+spec.Path)
	}
	if errors.Is(err, cgroup.ErrForeign) {
		return fmt.Errorf("--keep-unit: cgroup %s is not nspawn's (systemd-nspawn --keep-unit puts its container there); run nspawn in a unit of its own (systemd-run --scope) or stop that container first", path.Join(spec.Layout.Unified, spec.Path, cgroup.PayloadDir))
	}
	return err
}

// placeInCgroup creates the container's cgroup before the child exists,
// where it can: on the cgroup filesystem, or below nspawn's own unit
// (--keep-unit). nil, nil when the host has no cgroup v2 hierarchy; an
// empty placement when systemd makes the scope, which admit then asks for.
func placeInCgroup(plan *Plan, ids idMapping, out reporter, undo cgroup.Recorder) (*placement, error) {
	c := plan.Cgroup
	if c.Spec.Layout.Unified == "" {
		return nil, nil
	}
	if c.Systemd && !c.KeepUnit {
		return &placement{undo: undo}, nil
	}
	spec := c.Spec
	if !spec.Existing {
		// What systemd makes of the scope's DevicePolicy=closed and
		// DeviceAllow= (scopeProperties) on the systemd path.
		var warnings []string
		spec.Devices, warnings = cgroup.DeviceRules(slices.Concat(cgroup.ClosedDevices(), deviceAllow(plan), c.Limits.DeviceAllow))
		out.Warn(warnings...)
	}
	p := &placement{undo: undo}
	if err := p.create(plan, ids, out, spec); err != nil {
		return nil, err
	}
	return p, nil
}

// create makes the cgroup of spec, recorded in the undo log first.
func (p *placement) create(plan *Plan, ids idMapping, out reporter, spec cgroup.Spec) error {
	if ids.Shifted() {
		spec.Owner = ids.Shift
	}
	group, warnings, err := cgroup.Create(spec, p.undo)
	if err != nil {
		return cgroupError(plan, spec, err)
	}
	out.Warn(warnings...)
	p.group = group
	if err := group.MirrorLimits(spec.Files); err != nil {
		group.Remove()
		return err
	}
	warnings, err = group.RestrictDevices(spec)
	if err != nil {
		group.Remove()
		return err
	}
	out.Warn(warnings...)
	return nil
}

// admit registers the child, which waits for its message, with
// systemd, and puts it into the cgroups it could not be cloned into: the
// payload cgroup of the scope systemd made, or the v1 hierarchies.
func (p *placement) admit(plan *Plan, ids idMapping, out reporter, pid int, interfaces func() []int32) error {
	if p == nil {
		return nil
	}
	c := plan.Cgroup
	if !c.Systemd {
		return p.group.Join(pid)
	}
	var err error
	p.reg, err = machine.Register(machine.Machine{
		Name: plan.Machine, UUID: plan.UUID, Leader: pid, Root: plan.Root, Interfaces: interfaces(),
		Slice: c.Slice, Properties: scopeProperties(plan),
	}, c.Register, c.KeepUnit)
	if err != nil || c.KeepUnit {
		return err
	}
	spec := c.Spec
	if spec.Path, err = unifiedCgroup(strconv.Itoa(pid)); err != nil {
		return fmt.Errorf("the container's cgroup: %w", err)
	}
	if err := p.create(plan, ids, out, spec); err != nil {
		return err
	}
	if err := p.group.JoinPayload(pid); err != nil {
		return err
	}
	// systemd wrote the limits on its scope; the payload shows them.
	files, _ := c.Limits.Files(spec.Layout)
	return p.group.MirrorLimits(files)
}

// stopRequests are systemd's requests to stop the scope nspawn made and
// controls; nil (never delivering) without one.
func (p *placement) stopRequests() <-chan struct{} {
	if p == nil {
		return nil
	}
	return p.reg.StopRequests()
}

// scopeProperties are what systemd-nspawn puts on its scope besides the
// limits: only the devices /dev holds (DevicePolicy=closed and
// deviceAllow), and the kill signal for a stop of the unit.
func scopeProperties(plan *Plan) []machine.Property {
	props := []machine.Property{machine.Prop("DevicePolicy", "closed"), machine.DeviceAllow(deviceAllow(plan)...)}
	if plan.KillSignal != 0 {
		props = append(props, machine.Prop("KillSignal", int32(plan.KillSignal)), machine.Prop("KillMode", "mixed"))
	}
	return append(props, machine.LimitProperties(plan.Cgroup.Limits)...)
}

// deviceAllow is the DeviceAllow= list of systemd-nspawn's scope, on top
// of what DevicePolicy=closed allows: /dev/net/tun, /dev/fuse (where the
// host has it, as newer systemd-nspawn allows it), the ptys, and device
// nodes bound in. Both paths take it from here: systemd's scope as a
// property, nspawn's own cgroup as rules (placeInCgroup).
func deviceAllow(plan *Plan) []cgroup.Device {
	devices := []cgroup.Device{{Path: "/dev/net/tun", Access: "rwm"}, {Path: "char-pts", Access: "rw"}}
	if exists("/dev/fuse") {
		devices = append(devices, cgroup.Device{Path: "/dev/fuse", Access: "rwm"})
	}
	for _, m := range plan.Mounts.Binds() {
		if st, err := os.Stat(m.Source); err == nil && st.Mode()&os.ModeDevice != 0 {
			access := "rw"
			if m.ReadOnly {
				access = "r"
			}
			devices = append(devices, cgroup.Device{Path: m.Source, Access: access})
		}
	}
	return devices
}

// unifiedCgroup is the cgroup on the unified hierarchy of a process,
// named as in /proc ("self" or a PID).
func unifiedCgroup(proc string) (string, error) {
	file := "/proc/" + proc + "/cgroup"
	data, err := os.ReadFile(file)
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(string(data), "\n") {
		if p, ok := strings.CutPrefix(line, "0::"); ok {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s names no cgroup v2 cgroup", file)
}

// finish reports what the container used, when it ran, then kills what is
// left in its cgroup, removes it, and tells systemd the container is gone.
func (p *placement) finish(plan *Plan, out reporter, ran bool, status int) {
	if p == nil {
		return
	}
	if p.group != nil {
		if ran {
			reportUsage(plan, out, p.group.Stats(), status)
		}
		p.group.Remove()
	}
	p.reg.Close()
}

// cgroupFD is the fd for CLONE_INTO_CGROUP, so the child starts in
// its cgroup and its cgroup namespace is rooted there.
func (p *placement) cgroupFD() (int, bool) {
	if p == nil || p.group == nil {
		return 0, false
	}
	return p.group.PayloadFD(), true
}
