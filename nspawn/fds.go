package nspawn

import (
	"fmt"
	"strconv"

	"golang.org/x/sys/unix"
)

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
	// namespace into the stub init (--as-pid2 only, where nspawn has one:
	// hostLastPID; passedLastPID tells it from a runtime fd).
	lastPIDFD = 5
)

// listenFDsBase is where the socket-activation fds nspawn was passed sit
// in the child and the stub init, past lastPIDFD: fds 3 to 5 are busy
// until the payload's exec, which finds them at 3.. (sd_listen_fds).
const listenFDsBase = lastPIDFD + 1

// sdListenFDsStart is SD_LISTEN_FDS_START: where socket activation puts
// the first passed fd, in nspawn and in the payload.
const sdListenFDsStart = 3

// childFiles lays out the child's fds: stdio, then messageFD and
// statusFD, then lastPIDFD where there is one (-1 for none), then the
// n socket-activation fds from listenFDsBase.
func childFiles(stdio []uintptr, message, status uintptr, lastPID, listen int) []uintptr {
	files := append(stdio, message, status)
	if lastPID >= 0 || listen > 0 {
		// -1 leaves lastPIDFD closed in the child (syscall.ForkExec).
		files = append(files, uintptr(lastPID))
	}
	for i := 0; i < listen; i++ {
		files = append(files, uintptr(sdListenFDsStart+i))
	}
	return files
}

// passedListenFDs is how many socket-activation fds nspawn was passed, as
// sd_listen_fds(3) reads them: LISTEN_FDS, only when LISTEN_PID names
// nspawn itself (pid), and only fds that are open (isOpen), else none; as
// systemd-nspawn does, a variable meant for another process is not ours to
// act on, and the fds it names are left alone.
func passedListenFDs(env []string, pid int, isOpen func(fd int) bool) int {
	listenPID, err := strconv.Atoi(lookupEnv(env, "LISTEN_PID"))
	if err != nil || listenPID != pid {
		return 0
	}
	n, err := strconv.Atoi(lookupEnv(env, "LISTEN_FDS"))
	if err != nil || n <= 0 || n > maxListenFDs {
		return 0
	}
	for fd := sdListenFDsStart; fd < sdListenFDsStart+n; fd++ {
		if !isOpen(fd) {
			return 0
		}
	}
	return n
}

// maxListenFDs bounds LISTEN_FDS to what a process may have open at all
// (systemd's own limit on what it passes is far lower): a wild value is
// read as none, not as a loop over millions of fds.
const maxListenFDs = 4096

// fdOpen reports whether fd is open in this process.
func fdOpen(fd int) bool {
	_, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
	return err == nil
}

// ProtectInheritedFDs marks every fd above stdio close-on-exec, first
// thing in the supervising process: what nspawn's caller left open (the
// socket-activation fds among them) must reach nothing nspawn starts (the
// undo watcher, helpers) except as childFiles hands them on. systemd-nspawn
// closes them; marking keeps the socket-activation fds usable.
func ProtectInheritedFDs() {
	unix.CloseRange(sdListenFDsStart, ^uint(0), unix.CLOSE_RANGE_CLOEXEC)
}

// placeListenFDs moves the n socket-activation fds from listenFDsBase to
// 3.., open across the exec that follows, as the payload expects them.
// That covers statusFD, still needed should the exec fail: it is kept
// aside, and restore puts it back where the status *os.File reads it.
func placeListenFDs(n int) (restore func(), err error) {
	if n == 0 {
		return func() {}, nil
	}
	saved, err := unix.FcntlInt(statusFD, unix.F_DUPFD_CLOEXEC, sdListenFDsStart+n)
	if err != nil {
		return nil, fmt.Errorf("keep the status socket aside: %w", err)
	}
	restore = func() {
		unix.Dup3(saved, statusFD, unix.O_CLOEXEC)
		unix.Close(saved)
	}
	// Upwards: a target never lies above its source, so no fd is
	// overwritten before it has been moved.
	for i := 0; i < n; i++ {
		if err := unix.Dup3(listenFDsBase+i, sdListenFDsStart+i, 0); err != nil {
			restore()
			return nil, fmt.Errorf("pass socket-activation fd %d on as %d: %w", listenFDsBase+i, sdListenFDsStart+i, err)
		}
	}
	return restore, nil
}

// payloadFiles are the fds the stub init starts the payload with: stdio
// and the n socket-activation fds, at 3.. there.
func payloadFiles(n int) []uintptr {
	files := []uintptr{0, 1, 2}
	for i := 0; i < n; i++ {
		files = append(files, uintptr(listenFDsBase+i))
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
