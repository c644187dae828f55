package nspawn

import "golang.org/x/sys/unix"

// The fds the container's first process is started with, besides its
// stdio (0-2), named here in one place: the parent lays them out in this
// order (childFiles), the child and the stub init it may become read them
// by these names.
const (
	// messageFD is the read end of the message pipe (messagePipe).
	messageFD = 3
	// statusFD is the child's end of the status socket (statusPair),
	// open until the payload runs.
	statusFD = 4
	// lastPIDFD carries a writable ns_last_pid of the container's PID
	// namespace into the stub init (--as-pid2 only; openLastPID).
	lastPIDFD = 5
)

// childFiles lays out the child's fds: stdio, then messageFD and
// statusFD, then lastPIDFD where there is one (-1 for none).
func childFiles(stdio []uintptr, message, status uintptr, lastPID int) []uintptr {
	files := append(stdio, message, status)
	if lastPID >= 0 {
		files = append(files, uintptr(lastPID))
	}
	return files
}

// stdio is nspawn's stdin, stdout and stderr for the child; one that is
// closed is replaced by /dev/null, so the payload never finds fd 0-2 free
// for the first file it opens.
func stdio() []uintptr {
	fds := []uintptr{0, 1, 2}
	for i := range fds {
		if _, err := unix.FcntlInt(uintptr(i), unix.F_GETFD, 0); err != nil {
			// A raw fd, not an *os.File whose finalizer could close it.
			if null, err := unix.Open("/dev/null", unix.O_RDWR|unix.O_CLOEXEC, 0); err == nil {
				fds[i] = uintptr(null)
			}
		}
	}
	return fds
}
