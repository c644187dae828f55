// Package machine is who the container is to the host: the unit names
// systemd would give it, and (with systemd) its scope and machined
// registration.
package machine

import (
	"fmt"
	"strings"

	"github.com/coreos/go-systemd/v22/unit"
)

// DefaultSlice is where containers go unless --slice says otherwise, as
// for systemd-nspawn.
const DefaultSlice = "machine.slice"

// ScopeName is the scope unit of machine name, as machined names it:
// machine-<escaped name>.scope.
//
// The escape is go-systemd's UnitNameEscape, systemd's unit_name_escape()
// ('/' becomes '-'; '-', '\', a leading '.' and every byte outside
// [a-zA-Z0-9:_.] become \xNN) byte for byte but for one case: it writes a
// byte below 0x10 with one hex digit ("\x9" where systemd writes "\x09").
// A machine name is a hostname (letters, digits, '-' and '.'), so that
// case never arises here.
func ScopeName(name string) string {
	return "machine-" + unit.UnitNameEscape(name) + ".scope"
}

func unitChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte(":-_.\\", c) >= 0
}

// SlicePath is the cgroup path of a slice unit: each dash-separated
// prefix is a parent slice (a-b.slice lives in a.slice), and -.slice is
// the root.
func SlicePath(slice string) (string, error) {
	name, ok := strings.CutSuffix(slice, ".slice")
	if !ok || name == "" {
		return "", fmt.Errorf("%s is not a slice unit name (it must end in .slice, e.g. machine.slice)", slice)
	}
	if name == "-" {
		return "/", nil
	}
	if strings.HasPrefix(name, "-") || strings.HasSuffix(name, "-") || strings.Contains(name, "--") {
		return "", fmt.Errorf("%s is not a valid slice name (no leading, trailing or double '-')", slice)
	}
	for i := 0; i < len(name); i++ {
		if !unitChar(name[i]) {
			return "", fmt.Errorf("%s is not a valid slice name (character %q)", slice, name[i])
		}
	}
	path := ""
	for i := range name {
		if name[i] == '-' {
			path += "/" + name[:i] + ".slice"
		}
	}
	return path + "/" + slice, nil
}

// unitSuffixes are systemd's unit types.
var unitSuffixes = []string{".service", ".socket", ".device", ".mount", ".automount", ".swap", ".target", ".path", ".timer", ".slice", ".scope"}

// MangleSlice is --slice= as systemd-nspawn takes it
// (unit_name_mangle_with_suffix): a name without a unit type gets
// ".slice", so --slice=devtools-root means devtools-root.slice.
func MangleSlice(name string) string {
	for _, suffix := range unitSuffixes {
		if strings.HasSuffix(name, suffix) {
			return name
		}
	}
	return name + ".slice"
}
