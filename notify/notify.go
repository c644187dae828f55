// Package notify carries sd_notify(3) readiness from the container to the
// service manager that runs nspawn: the payload (a booted systemd, or any
// Type=notify service) writes to /run/host/notify inside, as systemd's
// Container Interface names it; nspawn passes READY=1 and STATUS= on to its
// own $NOTIFY_SOCKET.
package notify

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
	"golang.org/x/sys/unix"
)

// SocketInContainer is $NOTIFY_SOCKET inside the container.
const SocketInContainer = "/run/host/notify"

// Bind creates the container's notify socket; the child calls it after
// pivot_root, so the path is in the container's own /run. A socket left
// there by an earlier run (a /run the tree keeps across runs: a bind or a
// mount of an image builder's) is replaced, as systemd-nspawn's
// setup_notify_child() unlinks the path first: nothing can be listening
// on it, since the socket belongs to a container's mount namespace.
func Bind() (*os.File, error) {
	if err := os.MkdirAll("/run/host", 0o755); err != nil {
		return nil, fmt.Errorf("create /run/host: %w", err)
	}
	if err := unix.Unlink(SocketInContainer); err != nil && err != unix.ENOENT {
		return nil, fmt.Errorf("replace the old %s: %w", SocketInContainer, err)
	}
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("notify socket: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrUnix{Name: SocketInContainer}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("bind %s: %w", SocketInContainer, err)
	}
	return os.NewFile(uintptr(fd), SocketInContainer), nil
}

// Forward reads the container's messages until sock is closed and passes
// STATUS= on, as "STATUS=Container running: TEXT" (systemd-nspawn's
// words, so `systemctl status` reads the same), and READY=1 too when
// passReady is set (--notify-ready=yes).
// The socket is read even when nspawn itself has no $NOTIFY_SOCKET: a
// payload's `systemd-notify --ready` must succeed (connection refused
// otherwise), and a queue nobody drains would block its later sends.
// READY=1 counts whichever process in the container sends it: under -a
// the payload is PID 2, and it is the service nspawn stands for.
func Forward(sock *os.File, passReady bool) {
	defer sock.Close()
	buf := make([]byte, 4096)
	for {
		n, err := sock.Read(buf)
		if err != nil {
			return
		}
		if pass := relayed(string(buf[:n]), passReady); pass != "" {
			// Without a manager above nspawn this is a no-op.
			daemon.SdNotify(false, pass)
		}
	}
}

// relayed is the part of a container's message nspawn passes on.
func relayed(msg string, passReady bool) string {
	var pass []string
	for _, line := range strings.Split(msg, "\n") {
		switch {
		case strings.HasPrefix(line, "STATUS="):
			pass = append(pass, "STATUS=Container running: "+strings.TrimPrefix(line, "STATUS="))
		case passReady && line == "READY=1":
			pass = append(pass, line)
		}
	}
	return strings.Join(pass, "\n")
}

// WatchdogInterval is how often nspawn pings its service manager's
// watchdog: half of $WATCHDOG_USEC, as sd-event's watchdog does at the
// earliest, when the watchdog is meant for this process ($WATCHDOG_PID
// unset or ours); 0 when there is none or its value is malformed.
func WatchdogInterval() time.Duration {
	usec, err := daemon.SdWatchdogEnabled(false)
	if err != nil || usec <= 0 {
		return 0
	}
	return usec / 2
}

// PingWatchdog tells the service manager nspawn's supervision is alive.
func PingWatchdog() { daemon.SdNotify(false, daemon.SdNotifyWatchdog) }

// Running tells nspawn's own service manager that the container runs and
// its PID 1's PID on the host, in systemd-nspawn's words (tools that wrap
// it read X_NSPAWN_LEADER_PID= to find the container), and that it is
// ready, when starting the payload is readiness enough
// (--notify-ready=no).
func Running(leader int, ready bool) {
	msg := fmt.Sprintf("STATUS=Container running.\nX_NSPAWN_LEADER_PID=%d", leader)
	if ready {
		msg += "\n" + daemon.SdNotifyReady
	}
	daemon.SdNotify(false, msg)
}
