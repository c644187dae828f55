// Package pty gives a container its console: the pseudo-terminal the
// payload talks to, and the relay between it and nspawn's own terminal,
// as systemd-nspawn's --console= modes define them.
package pty

import "fmt"

// Mode is a --console= mode.
type Mode string

const (
	// Interactive relays both ways with the host terminal in raw mode.
	Interactive Mode = "interactive"
	// ReadOnly shows the container's output but passes no input.
	ReadOnly Mode = "read-only"
	// Passive gives the container a pty and relays nothing.
	Passive Mode = "passive"
	// Pipe hands nspawn's own stdin, stdout and stderr to the payload.
	Pipe Mode = "pipe"
	// Autopipe is Interactive on a terminal, Pipe otherwise.
	Autopipe Mode = "autopipe"
)

// ParseMode checks a --console= value.
func ParseMode(s string) (Mode, error) {
	switch m := Mode(s); m {
	case Interactive, ReadOnly, Passive, Pipe, Autopipe:
		return m, nil
	}
	return "", fmt.Errorf("unknown console mode %q (interactive, read-only, passive, pipe or autopipe)", s)
}

// Resolve turns the requested mode (empty: the default) into the one to
// use: interactive when stdin and stdout are both terminals, else pipe.
func Resolve(m Mode, stdinTTY, stdoutTTY bool) Mode {
	if m == "" || m == Autopipe {
		if stdinTTY && stdoutTTY {
			return Interactive
		}
		return Pipe
	}
	return m
}

// UsesPTY tells whether the container gets a pseudo-terminal as console.
func (m Mode) UsesPTY() bool { return m == Interactive || m == ReadOnly || m == Passive }
