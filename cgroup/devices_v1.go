package cgroup

import (
	"fmt"
	"slices"
)

// denyDevicesV1 makes the scope in the v1 devices hierarchy, denies every
// device there and allows rules. A new cgroup starts with its parent's
// list, all devices below the root, so the deny comes first.
func (g *Group) denyDevicesV1(root string, rules []DeviceRule) error {
	dir := root + g.path
	if err := writeFile(dir+"/devices.deny", "a"); err != nil {
		return fmt.Errorf("deny all devices in %s: %w", dir, err)
	}
	for _, r := range rules {
		if err := writeFile(dir+"/devices.allow", r.String()); err != nil {
			return fmt.Errorf("allow %q in %s: %w", r, dir, err)
		}
	}
	return nil
}

// makeDevicesV1 makes the container's directory in the v1 devices
// hierarchy and lists it among the group's v1 directories, before the
// reaper is told them.
func (g *Group) makeDevicesV1(spec Spec) error {
	root, ok := spec.Layout.V1["devices"]
	if spec.Devices == nil || spec.Existing || !ok {
		return nil
	}
	if err := mkdirsV1(root, g.path, false); err != nil {
		return err
	}
	if dir := root + g.path; !slices.Contains(g.v1, dir) {
		g.v1 = append(g.v1, dir)
	}
	return nil
}
