package notify

import (
	"os"
	"strconv"
	"testing"
	"time"
)

func TestRelayed(t *testing.T) {
	for _, tc := range []struct {
		msg       string
		passReady bool
		want      string
	}{
		{"READY=1", false, ""},
		{"READY=1", true, "READY=1"},
		{"STATUS=up\nREADY=1", false, "STATUS=Container running: up"},
		{"STATUS=up\nREADY=1\nMAINPID=7", true, "STATUS=Container running: up\nREADY=1"},
		{"WATCHDOG=1", true, ""},
		{"READY=10", true, ""},
	} {
		if got := relayed(tc.msg, tc.passReady); got != tc.want {
			t.Errorf("relayed(%q, %v) = %q, want %q", tc.msg, tc.passReady, got, tc.want)
		}
	}
}

func TestWatchdogInterval(t *testing.T) {
	own := strconv.Itoa(os.Getpid())
	for _, tc := range []struct {
		usec, pid string
		want      time.Duration
	}{
		{"", "", 0},
		{"2000000", "", time.Second},
		{"2000000", own, time.Second},
		{"2000000", "1", 0}, // another process's watchdog
		{"x", "", 0},
		{"0", "", 0},
		{"-5", "", 0},
	} {
		t.Setenv("WATCHDOG_USEC", tc.usec)
		t.Setenv("WATCHDOG_PID", tc.pid)
		if got := WatchdogInterval(); got != tc.want {
			t.Errorf("WATCHDOG_USEC=%q WATCHDOG_PID=%q: %v, want %v", tc.usec, tc.pid, got, tc.want)
		}
	}
}
