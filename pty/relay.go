package pty

import (
	"os"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// escapeByte is ^]: pressed three times within escapeWindow it kills the
// container, as in systemd-nspawn.
const (
	escapeByte   = 0x1d
	escapeWindow = time.Second
	escapeCount  = 3
)

// relayBuffer is large enough that one read drains what the pty holds.
const relayBuffer = 64 << 10

// Relay connects the container's console (the pty master) with nspawn's
// own stdin and stdout for one console mode.
type Relay struct {
	master  *os.File
	in, out *os.File
	mode    Mode
	restore func()
	escape  chan struct{}
	outDone chan struct{}
	// lastByte is the last byte relayed to the host, owned by copyOut
	// until outDone is closed.
	lastByte byte
	// survivesHangup keeps relaying after the console was hung up (see
	// copyOut) until finishing is set.
	survivesHangup bool
	finishing      atomic.Bool
}

// StartRelay begins relaying for mode. In interactive mode the host
// terminal is put in raw mode until Close; its window size is copied to
// the console now and on every Resize. With survivesHangup (a booted
// init), the relay outlasts the console being hung up and reopened.
func StartRelay(master, in, out *os.File, mode Mode, survivesHangup bool) (*Relay, error) {
	r := &Relay{master: master, in: in, out: out, mode: mode, escape: make(chan struct{}), outDone: make(chan struct{}),
		survivesHangup: survivesHangup}
	r.Resize()
	if mode == Passive {
		close(r.outDone)
		return r, nil
	}
	if mode == Interactive && IsTerminal(int(in.Fd())) {
		restore, err := MakeRaw(int(in.Fd()))
		if err != nil {
			return nil, err
		}
		r.restore = restore
	}
	go r.copyOut()
	if mode == Interactive {
		go r.copyIn()
	}
	return r, nil
}

// Escape is closed when ^] has been pressed three times within a second.
func (r *Relay) Escape() <-chan struct{} { return r.escape }

// Resize copies the host terminal's window size to the console. It goes
// through SyscallConn: File.Fd would switch the master back to blocking.
func (r *Relay) Resize() {
	for _, f := range []*os.File{r.in, r.out} {
		ws, err := unix.IoctlGetWinsize(int(f.Fd()), unix.TIOCGWINSZ)
		if err != nil {
			continue
		}
		if conn, err := r.master.SyscallConn(); err == nil {
			conn.Control(func(fd uintptr) { unix.IoctlSetWinsize(int(fd), unix.TIOCSWINSZ, ws) })
		}
		return
	}
}

// copyOut relays the container's output until the console has no writer
// left (EIO on the master once every slave fd is closed). A booted init
// hangs up its console (systemd's vhangup before a getty takes it) and
// the master reads EIO until someone opens it again: with survivesHangup
// the relay waits for that, as systemd-nspawn does under --boot
// (PTY_FORWARD_IGNORE_VHANGUP), until Close says the container is gone.
func (r *Relay) copyOut() {
	defer r.restoreOnPanic()
	defer close(r.outDone)
	conn, err := r.master.SyscallConn()
	if err != nil {
		return
	}
	buf := make([]byte, relayBuffer)
	for {
		var n int
		var rerr error
		err := conn.Read(func(fd uintptr) bool {
			n, rerr = unix.Read(int(fd), buf)
			switch {
			case rerr == unix.EAGAIN:
				return false // park in the netpoller until there is output
			case rerr == unix.EIO && r.survivesHangup && !r.finishing.Load():
				// Edge-triggered: the next writer's output wakes us.
				return false
			}
			return true
		})
		if n > 0 {
			r.lastByte = buf[n-1]
			if _, werr := r.out.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil || rerr != nil || n <= 0 {
			return
		}
	}
}

// copyIn relays the host's input, watching for the ^]^]^] escape.
func (r *Relay) copyIn() {
	defer r.restoreOnPanic()
	buf := make([]byte, relayBuffer)
	var presses []time.Time
	for {
		n, err := r.in.Read(buf)
		for _, b := range buf[:n] {
			if b != escapeByte {
				continue
			}
			now := time.Now()
			presses = append(presses, now)
			for len(presses) > 0 && now.Sub(presses[0]) > escapeWindow {
				presses = presses[1:]
			}
			if len(presses) >= escapeCount {
				close(r.escape) // copyIn alone closes it, once, then stops
				return
			}
		}
		if n > 0 {
			if _, werr := r.master.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return // EOF on stdin: the container keeps running, as in nspawn
		}
	}
}

// Close waits up to drain for the container's last output to be relayed,
// ends a half-written line so nspawn's next message starts on its own, as
// systemd-nspawn does, then restores the host terminal. It is safe to call
// more than once.
func (r *Relay) Close(drain time.Duration) {
	if r.survivesHangup && !r.finishing.Swap(true) {
		// Wake a copyOut waiting out a hangup: it drains what is left
		// and stops at the first EIO.
		r.master.SetReadDeadline(time.Now())
	}
	select {
	case <-r.outDone:
		if r.mode != Passive && r.lastByte != 0 && r.lastByte != '\n' {
			r.out.Write([]byte("\r\n"))
			r.lastByte = '\n'
		}
	case <-time.After(drain):
	}
	r.RestoreTerminal()
}

// restoreOnPanic leaves the host terminal usable if a relay goroutine
// panics: the crash would skip the deferred restore in the main goroutine.
func (r *Relay) restoreOnPanic() {
	if p := recover(); p != nil {
		r.RestoreTerminal()
		panic(p)
	}
}

// RestoreTerminal puts the host terminal back as it was; a panic or a fatal
// signal path calls it directly.
func (r *Relay) RestoreTerminal() {
	if r.restore != nil {
		r.restore()
	}
}
