package nspawn

import (
	"errors"
	"fmt"
	"os"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/nspawn/nspawn/mounts"
	"github.com/nspawn/nspawn/progress"
	"github.com/nspawn/nspawn/userns"
)

// identityMap maps every user and group ID onto itself but the last,
// 4294967294 ((uid_t)-2): the container's root is the host's UID 0 to the
// filesystem, but holds capabilities only within the container's own
// namespaces. systemd takes a map of all 2^32-1 IDs for the initial user
// namespace (running_in_userns()) and would then try mounts no user
// namespace may make (hugetlbfs, fusectl), failing their units; one ID
// less tells it the truth.
var identityMap = []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: 1<<32 - 2}}

// planUserNS decides the user namespace from --private-users, -U and
// --private-users-ownership, with systemd-nspawn's rules. A picked range
// is only chosen when nspawn runs (settleUserNS).
func (p *Plan) planUserNS(o *Options, _ *Facts) error {
	c, err := userns.ParseSpec(o.PrivateUsers)
	if err != nil {
		return fmt.Errorf("--private-users=%s: %v", o.PrivateUsers, err)
	}
	if c.Mode != userns.Off {
		p.Cloneflags |= unix.CLONE_NEWUSER
	}
	c.Ownership = userns.OwnershipOff
	if c.Mode == userns.Pick {
		c.Ownership = userns.OwnershipAuto
	}
	if o.PrivateUsersOwnership != "" {
		if c.Ownership, err = userns.ParseOwnership(o.PrivateUsersOwnership); err != nil {
			return fmt.Errorf("--private-users-ownership=%s: %v", o.PrivateUsersOwnership, err)
		}
	}
	if c.FromTree || c.Mode == userns.Pick {
		// The tree's own range: the shift for yes, the first
		// candidate for pick.
		if c.Shift, err = userns.TreeBase(p.Root); err != nil {
			return fmt.Errorf("--private-users=%s: %v", o.PrivateUsers, err)
		}
		if c.Shift != 0 {
			// A tree chowned before: chown keeps it, a map cannot.
			switch c.Ownership {
			case userns.OwnershipAuto:
				c.Ownership = userns.OwnershipChown
			case userns.OwnershipMap:
				return fmt.Errorf("--private-users-ownership=map: %s is owned by the range from %d, chowned before; an ID-mapped mount needs a tree owned from 0 (use chown)", p.Root, c.Shift)
			}
		}
	}
	if c.Ranged() {
		if c.Ownership == userns.OwnershipChown && o.ReadOnly {
			return fmt.Errorf("--read-only and --private-users-ownership=chown exclude each other: chown changes the tree (use map)")
		}
		if c.Ownership == userns.OwnershipChown && o.Ephemeral {
			return fmt.Errorf("--ephemeral and --private-users-ownership=chown exclude each other: -x never writes the tree (use map)")
		}
		if mode, _ := parseVolatile(o.Volatile); c.Ownership == userns.OwnershipChown && mode != "" {
			return fmt.Errorf("--volatile=%s and --private-users-ownership=chown exclude each other: --volatile never writes the tree (use map)", o.Volatile)
		}
		if c.Ownership == userns.OwnershipChown && (c.Shift%userns.RangeSize != 0 || c.Size != userns.RangeSize) {
			return fmt.Errorf("--private-users-ownership=chown: the range must be 65536 IDs from a multiple of 65536, not %d:%d", c.Shift, c.Size)
		}
	}
	p.UserNS = c
	return nil
}

// idMapping is the user namespace as settled for all of nspawn's life:
// the range picked (held until nspawn exits), the ownership auto resolved
// to, and the user namespace an ID-mapped tree is shown through (an fd,
// 0 for none).
type idMapping struct {
	userns.Config
	treeMapNS int
}

// settleUserNS settles what planUserNS left to the run, once for all of
// nspawn's life: it picks the range, decides between an ID-mapped tree
// and a chown, and chowns the tree if so. It changes the tree only for
// chown, which is asked for.
func settleUserNS(plan *Plan, out reporter) (idMapping, error) {
	m := idMapping{Config: plan.UserNS}
	c := &m.Config
	if c.Mode == userns.Pick {
		// The lease is never released: nspawn's exit gives the range
		// back, whenever and however it comes.
		shift, _, err := userns.PickRange(plan.Machine, c.Shift)
		if err != nil {
			return m, fmt.Errorf("--private-users=pick: %w", err)
		}
		c.Shift = shift
	}
	if !c.Ranged() {
		return m, nil
	}
	out.Info("Selected user namespace base %d and range %d.", c.Shift, c.Size)
	if (c.Ownership == userns.OwnershipMap || c.Ownership == userns.OwnershipAuto) && c.Shift != 0 {
		ns, err := mappedTree(plan.Root, c.Shift, c.Size)
		switch {
		case err == nil:
			m.treeMapNS = ns
			c.Ownership = userns.OwnershipMap
		case errors.Is(err, mounts.ErrNoIDMap) && c.Ownership == userns.OwnershipAuto && !plan.Mounts.ReadOnlyTree() && !plan.Ephemeral && plan.Volatile == "":
			c.Ownership = userns.OwnershipChown
		default:
			return m, fmt.Errorf("--private-users-ownership=map: %w; use chown", err)
		}
	}
	// Also with a shift of 0, as in systemd-nspawn: that chowns a
	// shifted tree back.
	if c.Ownership == userns.OwnershipChown {
		done, meter := progress.Start(os.Stderr, "Shifting the owners of "+plan.Root, plan.Quiet)
		err := userns.Chown(plan.Root, c.Shift, done)
		meter.Stop()
		if err != nil {
			return m, fmt.Errorf("--private-users-ownership=chown: %w", err)
		}
	}
	return m, nil
}

// mounts are the plan's mounts as this mapping needs them: in a shifted
// container, nspawn's tmpfs and devpts instances are owned by its root.
func (m idMapping) mounts(phases mounts.Phases) mounts.Phases {
	if m.Shifted() {
		return phases.OwnedBy(m.Shift)
	}
	return phases
}

// mappedTree returns the user namespace an ID-mapped mount of the tree
// takes, after checking the kernel and the tree's filesystem allow one.
func mappedTree(root string, shift, size uint32) (int, error) {
	ns, err := userns.MappingNamespace(shift, size)
	if err != nil {
		return -1, err
	}
	tree, err := mounts.MapTree(root, ns)
	if err != nil {
		unix.Close(ns)
		return -1, err
	}
	unix.Close(tree)
	return ns, nil
}

// idMaps are the child's UID and GID maps.
func idMaps(c userns.Config) []syscall.SysProcIDMap {
	if c.Ranged() {
		return []syscall.SysProcIDMap{{ContainerID: 0, HostID: int(c.Shift), Size: int(c.Size)}}
	}
	return identityMap
}
