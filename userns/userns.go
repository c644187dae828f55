// Package userns decides the container's user namespace: which host IDs
// its IDs map onto (systemd-nspawn's --private-users), a free range when
// asked to pick one, and how the tree's files come to be owned by that
// range (--private-users-ownership: chown them, or an ID-mapped mount).
package userns

import (
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Mode is how the container's IDs map onto the host's.
type Mode int

const (
	// Identity maps every ID onto itself (but one, see nspawn's
	// identityMap): isolation of capabilities, no change of owners.
	// nspawn's default.
	Identity Mode = iota
	// Off gives the container no user namespace of its own.
	Off
	// Fixed maps 0..Size-1 onto Shift..Shift+Size-1; with FromTree, the
	// shift is read off the tree's root directory (--private-users=yes).
	Fixed
	// Pick chooses a free 64K range (-U, --private-users=pick).
	Pick
)

// Ownership is how the tree's files come to be owned by the range
// (--private-users-ownership).
type Ownership string

const (
	OwnershipOff   Ownership = "off"   // files keep their owners
	OwnershipChown Ownership = "chown" // the tree is chowned into the range
	OwnershipMap   Ownership = "map"   // an ID-mapped mount shows it shifted
	OwnershipAuto  Ownership = "auto"  // map where the kernel can, else chown
)

// RangeSize is the size of a range systemd-nspawn picks or reads off a
// tree: 64K IDs, the 16 bits a classic UID held.
const RangeSize = 0x10000

// Config is the user namespace asked for.
type Config struct {
	Mode      Mode
	FromTree  bool // Fixed: the shift is the tree's (--private-users=yes)
	Shift     uint32
	Size      uint32
	Ownership Ownership
}

// Ranged says whether the container's IDs are a range of their own
// (Fixed or Pick), which ownership applies to.
func (c Config) Ranged() bool { return c.Mode == Fixed || c.Mode == Pick }

// Shifted says whether container IDs differ from the host's.
func (c Config) Shifted() bool { return c.Ranged() && c.Shift != 0 }

// ParseSpec parses --private-users's value with systemd-nspawn's meaning:
// a boolean, "pick", "identity", or UID[:COUNT]. All-digit values are never
// booleans: "0" is the range 0:65536. nspawn's default, an identity map, is
// "" here.
func ParseSpec(s string) (Config, error) {
	switch strings.ToLower(s) {
	case "":
		return Config{Mode: Identity}, nil
	case "identity":
		return Config{Mode: Identity}, nil
	case "pick":
		return Config{Mode: Pick, Size: RangeSize}, nil
	}
	if strings.Trim(s, "0123456789:") != "" {
		switch strings.ToLower(s) {
		case "yes", "y", "true", "t", "on":
			return Config{Mode: Fixed, FromTree: true, Size: RangeSize}, nil
		case "no", "n", "false", "f", "off":
			return Config{Mode: Off}, nil
		}
		return Config{}, fmt.Errorf("use yes, no, pick, identity or UID[:COUNT]")
	}
	shift, count, hasCount := strings.Cut(s, ":")
	c := Config{Mode: Fixed, Size: RangeSize}
	n, err := strconv.ParseUint(shift, 10, 32)
	if err != nil || n == 1<<32-1 {
		return Config{}, fmt.Errorf("%q is not a valid UID", shift)
	}
	c.Shift = uint32(n)
	if hasCount {
		n, err := strconv.ParseUint(count, 10, 32)
		if err != nil {
			return Config{}, fmt.Errorf("%q is not a valid UID count", count)
		}
		c.Size = uint32(n)
	}
	if !validRange(c.Shift, c.Size) {
		return Config{}, fmt.Errorf("the UID range cannot be empty or go beyond 4294967294")
	}
	return c, nil
}

// validRange says whether shift..shift+size-1 is a range of valid IDs:
// 4294967295 ((uid_t)-1) is never one.
func validRange(shift, size uint32) bool {
	return size > 0 && uint64(shift)+uint64(size) <= 1<<32-1
}

// ParseOwnership parses --private-users-ownership's value. A boolean is
// taken as systemd-nspawn takes it (its table's boolean fallback): false
// is off, true auto.
func ParseOwnership(s string) (Ownership, error) {
	switch o := Ownership(strings.ToLower(s)); o {
	case OwnershipOff, OwnershipChown, OwnershipMap, OwnershipAuto:
		return o, nil
	case "no", "false", "0", "n", "f":
		return OwnershipOff, nil
	case "yes", "true", "1", "y", "t", "on":
		return OwnershipAuto, nil
	}
	return "", fmt.Errorf("use off, chown, map or auto")
}

// TreeBase is the base of the 64K range that owns the tree at root, as
// systemd-nspawn reads it off the root directory: zero for a tree never
// shifted, the range it was chowned into otherwise.
func TreeBase(root string) (uint32, error) {
	var st unix.Stat_t
	if err := unix.Stat(root, &st); err != nil {
		return 0, err
	}
	uid, gid := st.Uid&^(RangeSize-1), st.Gid&^(RangeSize-1)
	if uid != gid {
		return 0, fmt.Errorf("%s is owned by %d:%d, whose UID and GID ranges differ; chown it to one range", root, st.Uid, st.Gid)
	}
	return uid, nil
}
