package userns

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/nspawn/nspawn/siphash"
	"github.com/nspawn/nspawn/users"
)

// The window systemd-nspawn picks ranges from (UID_SHIFT_PICK_MIN/MAX):
// above the IDs distributions hand out, below the ones systemd reserves.
const (
	pickMin = 0x00080000
	pickMax = 0x6FFF0000
)

// pickKey is systemd-nspawn's hash key for a machine name's range, so a
// machine gets the same range under both.
var pickKey = [16]byte{0xe1, 0x56, 0xe0, 0xf0, 0x4a, 0xf0, 0x41, 0xaf, 0x96, 0x41, 0xcf, 0x41, 0x33, 0x94, 0xff, 0x72}

// Lease holds a picked range for as long as it is open.
type Lease struct{ fd int }

// Release gives the range back. nspawn's death does the same.
func (l *Lease) Release() {
	if l != nil && l.fd >= 0 {
		unix.Close(l.fd)
		l.fd = -1
	}
}

// PickRange chooses a free 64K range for machine, in systemd-nspawn's order:
// the tree's own range first (a tree chowned before needs no chown
// again), then one hashed from the machine name, then random ones, 100 in
// all. A range is free when no other nspawn holds it, systemd-nspawn's
// lock file for it is not held, no process's user namespace maps any of
// its IDs, and the host's passwd and group name none of them.
//
// The lease is an abstract socket bound in nspawn's network namespace,
// where every nspawn of the host binds: it goes with nspawn, however
// nspawn ends, and leaves no file behind.
func PickRange(machine string, treeBase uint32) (uint32, *Lease, error) {
	used, err := mappedRanges()
	if err != nil {
		return 0, nil, err
	}
	known := hostIDs()
	candidate := treeBase
	hashed := false
	for tries := 0; tries < 100; tries++ {
		if candidate >= pickMin && candidate <= pickMax && candidate%RangeSize == 0 &&
			!overlaps(used, candidate) && !known(candidate) && !lockedBySystemd(candidate) {
			lease, err := lease(candidate)
			if err == nil {
				return candidate, lease, nil
			}
			if !errors.Is(err, unix.EADDRINUSE) {
				return 0, nil, fmt.Errorf("hold the ID range %d: %w", candidate, err)
			}
		}
		var n uint32
		if !hashed {
			hashed = true
			n = uint32(siphash.Sum64([]byte(machine), pickKey))
		} else {
			n = rand.Uint32()
		}
		candidate = (n%(pickMax-pickMin) + pickMin) &^ (RangeSize - 1)
	}
	return 0, nil, fmt.Errorf("no free range of 65536 user IDs found after 100 tries; name one with --private-users=UID")
}

// lease binds the abstract socket that says base is taken.
func lease(base uint32) (*Lease, error) {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	if err := unix.Bind(fd, &unix.SockaddrUnix{Name: "@nspawn-uid-" + strconv.FormatUint(uint64(base), 10)}); err != nil {
		unix.Close(fd)
		return nil, err
	}
	return &Lease{fd: fd}, nil
}

// lockedBySystemd says whether a running systemd-nspawn holds base: it
// locks /run/systemd/nspawn-uid/BASE for as long as it runs. The file is
// only probed, never made.
func lockedBySystemd(base uint32) bool {
	fd, err := unix.Open(filepath.Join("/run/systemd/nspawn-uid", strconv.FormatUint(uint64(base), 10)), unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0)
	if err != nil {
		return false
	}
	defer unix.Close(fd)
	// systemd's lock files use open file description locks.
	lk := unix.Flock_t{Type: unix.F_WRLCK}
	if err := unix.FcntlFlock(uintptr(fd), unix.F_OFD_GETLK, &lk); err != nil {
		return false
	}
	if lk.Type != unix.F_UNLCK {
		return true
	}
	return unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB) != nil // and flock(2), in older ones
}

// idRange is host IDs first..last.
type idRange struct{ first, last uint64 }

// mappedRanges lists the host ID ranges the user namespaces of running
// processes map, so a range some other tool gave a container is not
// handed out again.
func mappedRanges() ([]idRange, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var used []idRange
	for _, e := range entries {
		if e.Name()[0] < '0' || e.Name()[0] > '9' {
			continue
		}
		ns, err := os.Readlink("/proc/" + e.Name() + "/ns/user")
		if err != nil || seen[ns] {
			continue
		}
		seen[ns] = true
		for _, file := range []string{"uid_map", "gid_map"} {
			data, err := os.ReadFile("/proc/" + e.Name() + "/" + file)
			if err != nil {
				continue
			}
			for _, line := range strings.Split(string(data), "\n") {
				f := strings.Fields(line)
				if len(f) != 3 {
					continue
				}
				host, err1 := strconv.ParseUint(f[1], 10, 32)
				size, err2 := strconv.ParseUint(f[2], 10, 33)
				// The initial namespace's map, and identity maps like
				// nspawn's own default, own no range.
				if err1 != nil || err2 != nil || f[0] == f[1] {
					continue
				}
				used = append(used, idRange{host, host + size - 1})
			}
		}
	}
	return used, nil
}

func overlaps(used []idRange, base uint32) bool {
	first, last := uint64(base), uint64(base)+RangeSize-1
	for _, r := range used {
		if r.first <= last && first <= r.last {
			return true
		}
	}
	return false
}

// hostIDs returns whether the host's /etc/passwd or /etc/group names an
// ID of a range, as systemd-nspawn checks the range's first and last IDs
// (read here from the files: nspawn has no NSS).
func hostIDs() func(base uint32) bool {
	ids := users.NamedIDs("/etc/passwd", "/etc/group")
	return func(base uint32) bool {
		for _, id := range ids {
			if id >= base && uint64(id) < uint64(base)+RangeSize {
				return true
			}
		}
		return false
	}
}
