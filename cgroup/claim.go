package cgroup

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"golang.org/x/sys/unix"
)

// A container's cgroup is claimed, before it is made, by binding an
// abstract unix socket named after it. The bind is exclusive while any
// process holds the socket, and the name goes with the last holder, on
// SIGKILL too, leaving no file. The claim is taken before the undo
// watcher starts, and the watcher inherits the socket: the name stays
// taken until nspawn and its undo stage are both gone, so a new nspawn of
// the same name never looks for leftovers while the old undo stage may
// still act, and the watcher, started before the mkdir, leaves no moment
// in which a killed nspawn's scope has no one to remove it. Abstract names
// are per network namespace: the flock on the cgroup directory stays as
// the second layer.

// claimPrefix starts every claim's name, as ss -xl shows it.
const claimPrefix = "@nspawn-cgroup:"

// claimName is the abstract socket name of the cgroup at dir: dir itself
// where it fits in sun_path, else its hash.
func claimName(dir string) string {
	if name := claimPrefix + dir; len(name) < len(unix.RawSockaddrUnix{}.Path) {
		return name
	}
	sum := sha256.Sum256([]byte(dir))
	return claimPrefix + hex.EncodeToString(sum[:])
}

// claim binds the name of the cgroup at dir, waiting up to wait for a
// killed nspawn's undo stage to finish with it: after that the name belongs
// to a running container, ErrBusy. The fd is close-on-exec; the
// undo watcher gets it in its file list.
func claim(dir string, wait time.Duration) (int, error) {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("claim cgroup %s: %w", dir, err)
	}
	addr := &unix.SockaddrUnix{Name: claimName(dir)}
	for deadline := time.Now().Add(wait); ; {
		err = unix.Bind(fd, addr)
		if err == nil {
			return fd, nil
		}
		if !errors.Is(err, unix.EADDRINUSE) {
			unix.Close(fd)
			return -1, fmt.Errorf("claim cgroup %s: %w", dir, err)
		}
		if time.Now().After(deadline) {
			unix.Close(fd)
			return -1, fmt.Errorf("%s: %w", dir, ErrBusy)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
