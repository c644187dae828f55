package mounts

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// Landed checks that every mount among steps, made at root in the staging
// namespace after the container's was copied from it, is there in the
// container's, whose PID 1 is pid: such a mount reaches the container only
// by propagation (see Stage), and one that does not would leave the
// payload without it while nspawn reports success. It looks through
// /proc/PID/root, so the container must not have moved its root yet (its
// child waits for its message). Best-effort steps, whose failures are
// warnings already, are not checked.
func Landed(pid int, root string, steps ...[]Step) error {
	for _, list := range steps {
		for _, s := range list {
			if (s.Kind != KindFS && s.Kind != KindBind && s.Kind != KindOverlay) || s.BestEffort {
				continue
			}
			if err := landed(pid, root, s); err != nil {
				return err
			}
		}
	}
	return nil
}

var errNotMounted = errors.New("not a mount point there")

func landed(pid int, root string, s Step) error {
	p, err := InTree(root, s.Target)
	if err != nil {
		return err
	}
	var stx unix.Statx_t
	err = unix.Statx(unix.AT_FDCWD, fmt.Sprintf("/proc/%d/root%s", pid, p), unix.AT_SYMLINK_NOFOLLOW|unix.AT_NO_AUTOMOUNT, 0, &stx)
	if err == nil && stx.Attributes_mask&unix.STATX_ATTR_MOUNT_ROOT != 0 && stx.Attributes&unix.STATX_ATTR_MOUNT_ROOT == 0 {
		err = errNotMounted
	}
	if err == nil {
		return nil
	}
	what := s.FSType
	if s.Kind == KindBind {
		what = "bind " + s.Source
	} else if s.Kind == KindOverlay {
		what = "overlay"
	}
	return fmt.Errorf("%s on %s did not reach the container (%v): check how the tree's mounts there propagate (findmnt -o+PROPAGATION)", what, s.Target, err)
}
