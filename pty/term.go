package pty

import "golang.org/x/term"

// IsTerminal tells whether fd is a terminal.
func IsTerminal(fd int) bool { return term.IsTerminal(fd) }

// MakeRaw puts the terminal fd in raw mode, as cfmakeraw(3) does, and
// returns a function that restores the mode it had. x/term sets the mode
// with TCSETS, at once rather than after pending output drains (TCSETSW),
// so a prompt printed just before is not held back.
func MakeRaw(fd int) (restore func(), err error) {
	old, err := term.MakeRaw(fd)
	if err != nil {
		return nil, err
	}
	return func() { term.Restore(fd, old) }, nil
}
