package nspawn

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/nspawn/nspawn/notify"
)

// stopGrace is how long PID 1 has to exit after the forwarded stop signal
// before nspawn kills the container outright; a booted init, which stops
// every service first, gets bootStopGrace.
const (
	stopGrace     = 5 * time.Second
	bootStopGrace = 30 * time.Second
)

// reportExit says how the container ended, in systemd-nspawn's words, and
// returns nspawn's exit status. Only death by a signal is reported under
// --quiet, as there. A booted init that powers off or halts is killed by
// the kernel with SIGINT, one that reboots with SIGHUP (reboot(2) in a PID
// namespace): the first is a clean exit, the second a restart.
func reportExit(plan *Plan, out reporter, ws unix.WaitStatus) (status int, reboot bool) {
	switch {
	case plan.Boot && ws.Signaled() && ws.Signal() == unix.SIGINT:
		out.Info("Container %s has been shut down.", plan.Machine)
		return 0, false
	case plan.Boot && ws.Signaled() && ws.Signal() == unix.SIGHUP:
		out.Info("Container %s is being rebooted.", plan.Machine)
		return 0, true
	case ws.Signaled():
		out.Print("Container %s terminated by signal %s.", plan.Machine, strings.TrimPrefix(unix.SignalName(ws.Signal()), "SIG"))
	case ws.ExitStatus() == 0:
		out.Info("Container %s exited successfully.", plan.Machine)
	default:
		out.Info("Container %s failed with error code %d.", plan.Machine, ws.ExitStatus())
	}
	return shellStatus(ws), false
}

// supervise waits for the container's PID 1, forwarding stop requests.
// SIGTERM and SIGINT become --kill-signal when one was given (under
// --boot, SIGRTMIN+3 by default). A plain command as PID 1 that does not
// catch the signal would never see it (the kernel drops unhandled signals
// to a namespace's init), so it is killed at once; one that catches it
// gets stopGrace to exit before SIGKILL. A booted init always gets its
// grace period (inits may take signals in ways /proc does not show), and
// a second stop request kills at once, as in systemd-nspawn. systemd's
// request to stop the scope nspawn controls (`systemctl stop`,
// `machinectl terminate`) is taken as a SIGTERM, as systemd-nspawn takes
// it: the kill signal to PID 1.
//
// Under a service manager's watchdog (WatchdogSec=), this loop pings it
// every watchdog interval (notify.WatchdogInterval), as systemd-nspawn's
// event loop does: the pings come from the supervision itself, so a hung
// nspawn is caught, while a busy container is not nspawn's to answer
// for. The runtime's timers serve the ticker, so no thread is added.
func (c *container) supervise(watchdog time.Duration) unix.WaitStatus {
	plan, pid := c.plan, c.pid
	var grace <-chan time.Time
	var escape <-chan struct{}
	if c.relay != nil {
		escape = c.relay.Escape()
	}
	var ping <-chan time.Time
	if watchdog > 0 {
		// At once too: starting the container took part of the
		// manager's interval already.
		notify.PingWatchdog()
		ticker := time.NewTicker(watchdog)
		defer ticker.Stop()
		ping = ticker.C
	}
	stops := c.cg.stopRequests()
	for {
		var sig syscall.Signal
		select {
		case status := <-c.exited:
			return status
		case <-ping:
			notify.PingWatchdog()
			continue
		case <-escape:
			// ^]^]^]: the user wants out now, as in systemd-nspawn.
			unix.Kill(pid, unix.SIGKILL)
			escape = nil
			continue
		case <-grace:
			unix.Kill(pid, unix.SIGKILL)
			continue
		case <-stops:
			c.out.Info("Container termination requested. Attempting to halt container.")
			sig = unix.SIGTERM
		case s := <-c.signals:
			sig = s.(syscall.Signal)
		}
		if sig == unix.SIGWINCH {
			if c.relay != nil {
				c.relay.Resize()
			}
			continue
		}
		if plan.KillSignal != 0 && sig != unix.SIGHUP {
			sig = plan.KillSignal
		}
		switch {
		case grace != nil && plan.Boot:
			sig = unix.SIGKILL
		case !plan.Boot && !catches(pid, sig):
			sig = unix.SIGKILL
		}
		unix.Kill(pid, sig)
		if grace == nil {
			if plan.Boot {
				grace = time.After(bootStopGrace)
			} else {
				grace = time.After(stopGrace)
			}
		}
	}
}

// wait reaps pid.
func wait(pid int) unix.WaitStatus {
	var ws unix.WaitStatus
	for {
		_, err := unix.Wait4(pid, &ws, 0, nil)
		if err != unix.EINTR {
			return ws
		}
	}
}

// forceRestart is the exit status that tells systemd to restart the unit
// (nspawn@.service's RestartForceExitStatus=133): a booted container
// under --keep-unit rebooted.
const forceRestart = 133

// unitStatus is nspawn's exit status for a container that ended with
// status: a container's own 133 (an exit code, or death by signal 5)
// becomes 1, as in systemd-nspawn, so that only a reboot restarts the
// unit.
func unitStatus(status int) int {
	if status == forceRestart {
		return 1
	}
	return status
}

// shellStatus is a wait status as a shell's $? gives it: the exit code, or
// 128+N for death by signal N.
func shellStatus(ws unix.WaitStatus) int {
	if ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ws.ExitStatus()
}

// catches tells whether process pid, a namespace's init, would receive
// sig: the kernel drops a signal its init has left at the default action,
// but delivers one it handles (SigCgt) or blocks to read later with
// signalfd or sigwaitinfo (SigBlk), as systemd and busybox init do.
func catches(pid int, sig syscall.Signal) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return false
	}
	bit := uint64(1) << (uint(sig) - 1)
	for _, line := range strings.Split(string(data), "\n") {
		name, hex, ok := strings.Cut(line, ":")
		if !ok || (name != "SigCgt" && name != "SigBlk") {
			continue
		}
		if mask, err := strconv.ParseUint(strings.TrimSpace(hex), 16, 64); err == nil && mask&bit != 0 {
			return true
		}
	}
	return false
}
