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
	if err := mkdirsV1(root, g.path, false); err != nil {
		return err
	}
	if !slices.Contains(g.v1, dir) {
		g.v1 = append(g.v1, dir)
	}
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
