package machine

import (
	"github.com/godbus/dbus/v5"

	sd "github.com/coreos/go-systemd/v22/dbus"

	"github.com/nspawn/nspawn/cgroup"
)

// Property is one unit property, as StartTransientUnit and machined's
// CreateMachine take them: (sv).
type Property = sd.Property

// Prop is the property name with value.
func Prop(name string, value any) Property {
	return Property{Name: name, Value: dbus.MakeVariant(value)}
}

// LimitProperties are --property= limits as the unit properties systemd
// takes for them (org.freedesktop.systemd1(5)); systemd then writes the
// cgroup files itself, on whatever hierarchy it runs.
func LimitProperties(l cgroup.Limits) []Property {
	var props []Property
	for _, p := range []struct {
		name  string
		value *uint64
	}{
		{"MemoryMax", l.MemoryMax}, {"MemoryHigh", l.MemoryHigh}, {"MemorySwapMax", l.MemorySwapMax},
		{"CPUQuotaPerSecUSec", l.CPUQuota}, {"CPUWeight", l.CPUWeight},
		{"TasksMax", l.TasksMax}, {"IOWeight", l.IOWeight},
	} {
		if p.value != nil {
			props = append(props, Prop(p.name, *p.value))
		}
	}
	if l.AllowedCPUs != "" {
		props = append(props, Prop("AllowedCPUs", cpuMask(l.AllowedCPUs)))
	}
	if len(l.DeviceAllow) > 0 {
		props = append(props, DeviceAllow(l.DeviceAllow...))
	}
	return props
}

// DeviceAllow is the property for devices: a(ss) of path and access.
func DeviceAllow(devs ...cgroup.Device) Property {
	type entry struct{ Path, Access string }
	var list []entry
	for _, d := range devs {
		list = append(list, entry{d.Path, d.Access})
	}
	return Prop("DeviceAllow", list)
}

// cpuMask is a CPU list as systemd's ay: bit N%8 of byte N/8.
func cpuMask(list string) []byte {
	var mask []byte
	for cpu := range cgroup.CPUs(list) {
		for len(mask) <= cpu/8 {
			mask = append(mask, 0)
		}
		mask[cpu/8] |= 1 << (cpu % 8)
	}
	return mask
}
