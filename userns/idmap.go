package userns

import (
	"fmt"
	"sort"
	"syscall"

	"golang.org/x/sys/unix"
)

// HolderArg0 marks nspawn re-executed only to own a user namespace until
// nspawn has taken a reference to it.
const HolderArg0 = "nspawn-userns"

// HolderMain waits to be killed.
func HolderMain() int {
	for {
		unix.Pause()
	}
}

// hostRootInMap is where an ID-mapped tree puts the host's root, as
// systemd-nspawn's REMOUNT_IDMAPPING_HOST_ROOT does: nspawn, as host root,
// can then still create mount points and files in the tree, which land on
// disk owned by 2147483646, an ID no distribution hands out.
const hostRootInMap = 2147483646

// MappingNamespace returns an fd of a user namespace for an ID-mapped
// mount of the tree: the tree's IDs 0..size-1 appear as the host's
// shift..shift+size-1, the container's range, and host root as
// 2147483646.
func MappingNamespace(shift, size uint32) (int, error) {
	return NewMappingNamespace(ContainerMaps(shift, size))
}

// ContainerMaps are the maps of an ID-mapped mount that shows files as the
// container's own: on-disk ID z as the container's z, that is the host's
// shift+z. With a shift, host root is put at 2147483646 so nspawn, as host
// root, can still write there (an identity map already holds it).
func ContainerMaps(shift, size uint32) []syscall.SysProcIDMap {
	maps := []syscall.SysProcIDMap{{ContainerID: 0, HostID: int(shift), Size: int(size)}}
	if shift != 0 {
		maps = append(maps, syscall.SysProcIDMap{ContainerID: hostRootInMap, HostID: 0, Size: 1})
	}
	return maps
}

// NewMappingNamespace returns an fd of a user namespace whose UID and GID
// maps are maps, for an ID-mapped mount (mount_setattr(2)) to take: a
// file's on-disk ID is a ContainerID, shown as its HostID. The kernel only
// makes a user namespace for a process, so a short-lived process of
// nspawn's binary owns it until the fd is taken.
func NewMappingNamespace(maps []syscall.SysProcIDMap) (int, error) {
	pid, err := syscall.ForkExec("/proc/self/exe", []string{HolderArg0}, &syscall.ProcAttr{
		Env: []string{"GOMAXPROCS=1"},
		Sys: &syscall.SysProcAttr{
			Cloneflags:  unix.CLONE_NEWUSER,
			UidMappings: maps,
			GidMappings: maps,
			Pdeathsig:   syscall.SIGKILL,
		},
	})
	if err != nil {
		return -1, fmt.Errorf("make a user namespace for an ID-mapped mount: %w", err)
	}
	// ForkExec returns once the maps are written and the holder runs.
	fd, err := unix.Open(fmt.Sprintf("/proc/%d/ns/user", pid), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	unix.Kill(pid, unix.SIGKILL)
	var ws unix.WaitStatus
	for {
		if _, werr := unix.Wait4(pid, &ws, 0, nil); werr != unix.EINTR {
			break
		}
	}
	if err != nil {
		return -1, fmt.Errorf("open an ID-mapped mount's user namespace: %w", err)
	}
	return fd, nil
}

// Bound is one ID of the container mapped onto a host ID of its own
// rather than the range's (--bind-user).
type Bound struct{ Container, Host uint32 }

// SplitMaps maps the container's 0..size-1 onto shift.. as usual, but
// each bound ID onto its host ID, the range split around it, as
// systemd-nspawn 252 writes its maps for --bind-user: the range's own
// host ID for a bound one is left unused.
func SplitMaps(shift, size uint32, bound []Bound) []syscall.SysProcIDMap {
	sorted := append([]Bound(nil), bound...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Container < sorted[j].Container })
	var maps []syscall.SysProcIDMap
	from := uint32(0)
	for _, b := range sorted {
		if b.Container >= size || b.Container < from {
			continue
		}
		if b.Container > from {
			maps = append(maps, syscall.SysProcIDMap{ContainerID: int(from), HostID: int(shift + from), Size: int(b.Container - from)})
		}
		maps = append(maps, syscall.SysProcIDMap{ContainerID: int(b.Container), HostID: int(b.Host), Size: 1})
		from = b.Container + 1
	}
	if from < size {
		maps = append(maps, syscall.SysProcIDMap{ContainerID: int(from), HostID: int(shift + from), Size: int(size - from)})
	}
	return maps
}
