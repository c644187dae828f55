package cgroup

import (
	"bufio"
	"bytes"
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// DeviceRule is one kind of device node the container may use: its type,
// numbers and access, as a line of cgroup v1's devices.allow.
type DeviceRule struct {
	Type         byte  // 'c' (character) or 'b' (block)
	Major, Minor int64 // AnyDevice for any
	Access       string
}

// AnyDevice is a wildcard major or minor number.
const AnyDevice = -1

// String is the rule as devices.allow takes it: "c 1:3 rwm", "c 136:* rw".
func (r DeviceRule) String() string {
	num := func(n int64) string {
		if n == AnyDevice {
			return "*"
		}
		return strconv.FormatInt(n, 10)
	}
	return fmt.Sprintf("%c %s:%s %s", r.Type, num(r.Major), num(r.Minor), r.Access)
}

// ClosedDevices are what systemd's DevicePolicy=closed allows besides a
// unit's DeviceAllow= list (bpf_devices_allow_list_static() in
// src/core/bpf-devices.c, systemd v252): the standard pseudo devices, the
// inaccessible nodes systemd makes for InaccessiblePaths=, and the ptys,
// which may be used but not made.
func ClosedDevices() []Device {
	return []Device{
		{"/dev/null", "rwm"}, {"/dev/zero", "rwm"}, {"/dev/full", "rwm"},
		{"/dev/random", "rwm"}, {"/dev/urandom", "rwm"},
		{"/dev/tty", "rwm"}, {"/dev/ptmx", "rwm"},
		{"/run/systemd/inaccessible/chr", "rwm"}, {"/run/systemd/inaccessible/blk", "rwm"},
		{"char-pts", "rw"},
	}
}

// RestrictDevices lets the container use only spec.Devices, with a BPF
// program on the payload cgroup, which CLONE_INTO_CGROUP starts the child
// in. The kernel runs it on a hybrid host too (devcgroup_check_permission
// asks the unified hierarchy's program before the v1 devices controller),
// so the v1 devices hierarchy is never joined: a write to its cgroup.procs
// waits for an RCU grace period on every start. As systemd does where the
// kernel cannot filter devices, a failure is a warning, not an unstarted
// container.
func (g *Group) RestrictDevices(spec Spec) (warnings []string, err error) {
	if spec.Devices == nil || spec.Existing {
		return nil, nil
	}
	if err := attachDeviceFilter(g.payload, spec.Devices); err != nil {
		return []string{fmt.Sprintf("the container may use every device: %v", err)}, nil
	}
	return nil, nil
}

// DeviceRules resolves DeviceAllow= entries to rules as systemd does: a
// node by its type and numbers (one that does not exist is skipped),
// char-NAME and block-NAME by the majors /proc/devices lists under a NAME
// matching that pattern ("*" is every major). Warnings name entries that
// are not devices or cannot be read. The result is never nil: no rule
// still means no device.
func DeviceRules(devs []Device) (rules []DeviceRule, warnings []string) {
	rules = []DeviceRule{}
	var procDevices []byte
	for _, d := range devs {
		var found []DeviceRule
		var err error
		switch {
		case strings.HasPrefix(d.Path, "/"):
			found, err = nodeRule(d.Path)
		default:
			if procDevices == nil {
				procDevices, err = readFile("/proc/devices")
			}
			if err == nil {
				found, err = majorRules(d.Path, procDevices)
			}
		}
		if err != nil {
			warnings = append(warnings, fmt.Sprintf("DeviceAllow=%s: %v; the container does not get it", d.Path, err))
			continue
		}
		access := accessOf(d.Access)
		for _, r := range found {
			r.Access = access
			if access != "" && !slices.Contains(rules, r) {
				rules = append(rules, r)
			}
		}
	}
	return rules, warnings
}

// accessOf is access in the kernel's order, r, w, m; anything else dropped.
func accessOf(access string) string {
	var b strings.Builder
	for _, c := range "rwm" {
		if strings.ContainsRune(access, c) {
			b.WriteRune(c)
		}
	}
	return b.String()
}

// nodeRule is the rule of a device node. As systemd's
// device_path_parse_major_minor(), /dev/char/M:N, /dev/block/M:N and
// systemd's inaccessible nodes (0:0) are read from the name alone.
func nodeRule(p string) ([]DeviceRule, error) {
	switch p {
	case "/run/systemd/inaccessible/chr":
		return []DeviceRule{{Type: 'c'}}, nil
	case "/run/systemd/inaccessible/blk":
		return []DeviceRule{{Type: 'b'}}, nil
	}
	for dir, typ := range map[string]byte{"/dev/char/": 'c', "/dev/block/": 'b'} {
		if num, ok := strings.CutPrefix(p, dir); ok {
			maj, min, ok := strings.Cut(num, ":")
			a, err1 := strconv.ParseUint(maj, 10, 32)
			b, err2 := strconv.ParseUint(min, 10, 32)
			if !ok || err1 != nil || err2 != nil {
				return nil, fmt.Errorf("%s is not %sMAJOR:MINOR", p, dir)
			}
			return []DeviceRule{{Type: typ, Major: int64(a), Minor: int64(b)}}, nil
		}
	}
	var st unix.Stat_t
	if err := unix.Stat(p, &st); err == unix.ENOENT {
		return nil, nil // as systemd: a device the host lacks is skipped
	} else if err != nil {
		return nil, err
	}
	r := DeviceRule{Major: int64(unix.Major(st.Rdev)), Minor: int64(unix.Minor(st.Rdev))}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFCHR:
		r.Type = 'c'
	case unix.S_IFBLK:
		r.Type = 'b'
	default:
		return nil, fmt.Errorf("%s is not a device node", p)
	}
	return []DeviceRule{r}, nil
}

// majorRules resolves char-NAME or block-NAME against procDevices, the
// text of /proc/devices; NAME is a shell pattern, a number or "*".
func majorRules(group string, procDevices []byte) ([]DeviceRule, error) {
	kind, name, _ := strings.Cut(group, "-")
	typ, section := byte('c'), "Character devices:"
	if kind == "block" {
		typ, section = 'b', "Block devices:"
	}
	if name == "*" {
		return []DeviceRule{{Type: typ, Major: AnyDevice, Minor: AnyDevice}}, nil
	}
	if n, err := strconv.ParseUint(name, 10, 32); err == nil && n < 1<<12 {
		return []DeviceRule{{Type: typ, Major: int64(n), Minor: AnyDevice}}, nil
	}
	if _, err := path.Match(name, ""); err != nil {
		return nil, fmt.Errorf("bad pattern %q", name)
	}
	var rules []DeviceRule
	in := false
	for sc := bufio.NewScanner(bytes.NewReader(procDevices)); sc.Scan(); {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasSuffix(line, ":") {
			in = line == section
			continue
		}
		num, dev, ok := strings.Cut(line, " ")
		major, err := strconv.ParseInt(num, 10, 64)
		if !in || !ok || err != nil || major <= 0 {
			continue
		}
		if m, _ := path.Match(name, strings.TrimSpace(dev)); m {
			rules = append(rules, DeviceRule{Type: typ, Major: major, Minor: AnyDevice})
		}
	}
	return rules, nil // none: skipped, as systemd does
}
