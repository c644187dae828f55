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
// takes for them, named and typed by cgroup's table of properties
// (Limits.UnitProperties); systemd then writes the cgroup files itself,
// on whatever hierarchy it runs.
func LimitProperties(l cgroup.Limits) []Property {
	var props []Property
	for _, p := range l.UnitProperties() {
		props = append(props, Prop(p.Name, p.Value))
	}
	return props
}

// DeviceAllow is the property for devices: a(ss) of path and access, the
// two string fields of cgroup.Device.
func DeviceAllow(devs ...cgroup.Device) Property {
	return Prop("DeviceAllow", devs)
}
