package nspawn

import (
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// parseSignal accepts a signal as systemd does: SIGTERM, TERM, 15,
// SIGRTMIN+3 or RTMIN+3.
func parseSignal(s string) (unix.Signal, error) {
	name := strings.TrimPrefix(strings.ToUpper(s), "SIG")
	if n, err := strconv.Atoi(name); err == nil {
		if n > 0 && n <= sigRTMax {
			return unix.Signal(n), nil
		}
		return 0, fmt.Errorf("signal number out of range 1-%d", sigRTMax)
	}
	if rest, ok := strings.CutPrefix(name, "RTMIN"); ok {
		off := 0
		if rest != "" {
			var err error
			if off, err = strconv.Atoi(strings.TrimPrefix(rest, "+")); err != nil || rest[0] != '+' {
				return 0, fmt.Errorf("not a signal name (try SIGTERM or SIGRTMIN+3)")
			}
		}
		if sigRTMin+off > sigRTMax {
			return 0, fmt.Errorf("SIGRTMIN+%d is beyond SIGRTMAX", off)
		}
		return unix.Signal(sigRTMin + off), nil
	}
	if sig := unix.SignalNum("SIG" + name); sig != 0 {
		return sig, nil
	}
	return 0, fmt.Errorf("not a signal name (try SIGTERM or SIGRTMIN+3)")
}

// The real-time signal range user space sees with glibc, whose SIGRTMIN is
// 34 (two are kept for threads); systemd's SIGRTMIN+3 is 37.
const (
	sigRTMin = 34
	sigRTMax = 64
)
