// Package undo makes sure nothing nspawn makes on the host outlives it,
// SIGKILL included. Before nspawn makes a thing (a lock file, a cgroup,
// a directory) it appends a record of it to an intent log held by a
// watcher process it started first; when nspawn ends without saying it
// undid everything itself, the watcher's cleanup stage replays the log in
// reverse order, one handler per kind.
//
// The watcher waits with a 69-byte program (waitThenExec), not with a
// copy of nspawn: on this project's VMs a fork of the Go process costs 5
// ms in copy-on-write faults and a second Go runtime 6 ms of CPU on
// start-up, where this costs about one. It blocks reading a pipe whose
// only writer is nspawn: a byte means nspawn cleaned up and it exits;
// end-of-file means nspawn is gone, and it execs nspawn's binary as the
// cleanup stage (Main). The log is a memfd the watcher got at its start,
// since no fd can be handed to it later.
package undo

import (
	"fmt"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// Arg0 marks the re-executed binary as the cleanup stage; WaiterArg0 is
// the waiting program's name, as ps shows both.
const (
	Arg0       = "nspawn-undo"
	WaiterArg0 = "nspawn-undo-wait"
)

// The watcher's fds: 0 the pipe from nspawn, 1 and 2 /dev/null, 3 and 4
// the waiting program's (nspawn's binary and the program itself), 5 the
// log, and from 6 on the fds it holds until its cleanup is over.
const (
	fdSelf    = 3
	fdProgram = 4
	fdLog     = 5
	fdHeld    = 6
)

// Log is the intent log of one container and the watcher that replays
// it. A nil *Log records nothing, for callers that run without one.
type Log struct {
	mu   sync.Mutex
	pid  int
	pipe int   // the write end: a byte says done, its close without one says killed
	log  int   // the memfd the watcher reads after nspawn's death
	held []int // closed once the watcher has exited
}

// Start starts the watcher. It holds the fds of hold open until its
// cleanup is over (a claim whose name a new nspawn of the same name
// waits for); on success the Log owns them, and Done closes them after
// the watcher is gone.
func Start(hold ...int) (*Log, error) {
	log, err := unix.MemfdCreate("nspawn-undo-log", unix.MFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("undo log: %w", err)
	}
	// Appends from every goroutine land whole, each at the end.
	if _, err := unix.FcntlInt(uintptr(log), unix.F_SETFL, unix.O_APPEND); err != nil {
		unix.Close(log)
		return nil, fmt.Errorf("undo log: %w", err)
	}
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		unix.Close(log)
		return nil, fmt.Errorf("undo watcher: %w", err)
	}
	defer unix.Close(p[0])
	null, err := unix.Open("/dev/null", unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		unix.Close(log)
		unix.Close(p[1])
		return nil, fmt.Errorf("undo watcher: %w", err)
	}
	defer unix.Close(null)
	files := []uintptr{uintptr(p[0]), uintptr(null), uintptr(null), uintptr(null), uintptr(null), uintptr(log)}
	for _, fd := range hold {
		files = append(files, uintptr(fd))
	}
	attr := &syscall.ProcAttr{
		Dir:   "/",
		Files: files,
		// Out of nspawn's session: the terminal's ^C and hangup are
		// nspawn's to handle, not the watcher's.
		Sys: &syscall.SysProcAttr{Setsid: true},
	}
	pid, err := startWaiter([]string{Arg0}, attr)
	if err != nil {
		// Where a memfd may not be executed (vm.memfd_noexec, a MAC
		// policy), nspawn's own binary waits, at the price of a runtime.
		pid, err = syscall.ForkExec("/proc/self/exe", []string{Arg0}, attr)
	}
	if err != nil {
		unix.Close(log)
		unix.Close(p[1])
		return nil, fmt.Errorf("start the undo watcher: %w", err)
	}
	return &Log{pid: pid, pipe: p[1], log: log, held: hold}, nil
}

// Record appends the intent to make a thing of kind, with what its
// handler needs to undo it, in one write. Call it before the thing is
// made: a kill between the two leaves a record of a thing that does not
// exist, which handlers take in their stride; the other order would
// leave a thing no one knows of.
func (l *Log) Record(kind string, args ...string) error {
	if l == nil {
		return nil
	}
	b, err := Record{Kind: kind, Args: args}.encode()
	if err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.log < 0 {
		return fmt.Errorf("undo record %s: the log is closed", kind)
	}
	n, err := unix.Write(l.log, b)
	if err == nil && n != len(b) {
		err = unix.EIO
	}
	if err != nil {
		return fmt.Errorf("undo record %s: %w", kind, err)
	}
	return nil
}

// Done says nspawn undid everything itself: the watcher exits without
// replaying the log, is collected, and the fds it held are closed (a
// nspawn of the same name may start from here).
func (l *Log) Done() {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.pipe < 0 {
		return
	}
	unix.Write(l.pipe, []byte{1})
	unix.Close(l.pipe)
	unix.Close(l.log)
	l.pipe, l.log = -1, -1
	for {
		if _, err := unix.Wait4(l.pid, nil, 0, nil); err != unix.EINTR {
			break
		}
	}
	for _, fd := range l.held {
		unix.Close(fd)
	}
	l.held = nil
}
