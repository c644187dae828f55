package pty

import (
	"io"
	"os"
	"os/signal"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// TerminalGuard keeps the host's terminal out of the container in pipe
// mode. Any of nspawn's stdin, stdout and stderr that is a terminal reaches
// the payload as a pipe that nspawn relays, because a root payload holding
// a terminal fd can push input into it with TIOCSTI and have the user's
// shell run it (CVE-2017-5226, bubblewrap's class of bug). Files that are
// not terminals pass through unchanged, so pipes and redirections stay
// byte-exact and cost nothing.
type TerminalGuard struct {
	fds       []uintptr  // what the child gets as fds 0-2
	childEnds []*os.File // closed in the parent once the child has them
	outputs   sync.WaitGroup
}

// GuardTerminals wraps std, nspawn's fds 0-2 (a closed one already
// replaced by /dev/null, which is no terminal).
func GuardTerminals(std []uintptr) (*TerminalGuard, error) {
	g := &TerminalGuard{fds: append([]uintptr(nil), std...)}
	for i, fd := range std {
		if !IsTerminal(int(fd)) {
			continue
		}
		r, w, err := os.Pipe()
		if err != nil {
			g.CloseChildEnds()
			return nil, err
		}
		host := []*os.File{os.Stdin, os.Stdout, os.Stderr}[i]
		if i == 0 {
			// Reading the terminal from the background would stop nspawn
			// with SIGTTIN even if the payload never reads; ignored, the
			// read fails and the payload sees end-of-file instead.
			signal.Ignore(unix.SIGTTIN)
			g.fds[i], g.childEnds = r.Fd(), append(g.childEnds, r)
			go func() {
				io.Copy(w, host)
				w.Close()
			}()
			continue
		}
		g.fds[i], g.childEnds = w.Fd(), append(g.childEnds, w)
		g.outputs.Add(1)
		go func() {
			defer g.outputs.Done()
			io.Copy(host, r)
			r.Close()
		}()
	}
	return g, nil
}

// Files is what to hand the child as fds 0-2.
func (g *TerminalGuard) Files() []uintptr { return g.fds }

// CloseChildEnds drops the parent's copies of the child's pipe ends, so
// the output relays see end-of-file once the container is gone.
func (g *TerminalGuard) CloseChildEnds() {
	for _, f := range g.childEnds {
		f.Close()
	}
	g.childEnds = nil
}

// Drain waits up to timeout for the container's last output to be relayed.
func (g *TerminalGuard) Drain(timeout time.Duration) {
	done := make(chan struct{})
	go func() { g.outputs.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(timeout):
	}
}
