package nspawn

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"time"

	"golang.org/x/sys/unix"

	"github.com/nspawn/nspawn/notify"
	"github.com/nspawn/nspawn/pty"
)

// childArg0 marks the re-executed binary as the child stage. It is argv[0],
// not an option or environment variable, so nothing of it reaches the
// payload's environment or command line.
const childArg0 = "nspawn-child"

// Version is set at build time (-ldflags -X).
var Version = "dev"

// stopGrace is how long PID 1 has to exit after the forwarded stop signal
// before nspawn kills the container outright; a booted init, which stops
// every service first, gets bootStopGrace.
const (
	stopGrace     = 5 * time.Second
	bootStopGrace = 30 * time.Second
)

// Main is the supervising process: parse, plan, spawn, wait. It returns the
// exit status nspawn should end with.
func Main(args []string) int {
	opts, err := ParseOptions(args)
	if err != nil {
		return fail(err)
	}
	if opts.Help {
		WriteHelp(os.Stdout)
		return 0
	}
	if opts.Version {
		fmt.Println("nspawn", Version)
		return 0
	}
	if os.Geteuid() != 0 {
		return fail(errors.New("must be run as root: creating namespaces and mounts needs CAP_SYS_ADMIN (try sudo nspawn ...)"))
	}
	cwd, err := os.Getwd()
	if err != nil {
		return fail(fmt.Errorf("current directory: %w", err))
	}
	plan, err := BuildPlan(opts, Host{
		Env: os.Environ(), Cwd: cwd,
		StdinTTY: pty.IsTerminal(0), StdoutTTY: pty.IsTerminal(1),
	})
	if err != nil {
		return fail(err)
	}
	if !plan.Quiet {
		for _, w := range plan.Warnings {
			fmt.Fprintf(os.Stderr, "nspawn: %s\n", w)
		}
	}
	return run(plan)
}

func fail(err error) int {
	fmt.Fprintf(os.Stderr, "nspawn: %v\n", err)
	return 1
}

// run runs the container, and again each time a booted init asks for a
// reboot, as systemd-nspawn@.service restarts it on exit status 133.
func run(plan *Plan) int {
	// The supervision (wait4, the relay's signals) stays on one thread.
	// The child itself is forked from a thread of its own (startChild),
	// which lives as long as the container, since PR_SET_PDEATHSIG fires
	// when the forking thread exits.
	runtime.LockOSThread()
	if err := settleUserNS(plan); err != nil {
		return fail(err)
	}
	for {
		status, reboot := runOnce(plan)
		if !reboot {
			return status
		}
	}
}

// runOnce starts the child stage in its namespaces, hands it the plan and
// supervises it until it exits. reboot reports a booted init's reboot.
func runOnce(plan *Plan) (exitStatus int, reboot bool) {
	planR, sendPlan, err := planPipe(plan)
	if err != nil {
		return fail(fmt.Errorf("hand the plan to the container: %w", err)), false
	}
	status, childStatus, err := statusPair()
	if err != nil {
		return fail(err), false
	}
	cg, err := placeInCgroup(plan)
	if err != nil {
		planR.Close()
		sendPlan(false)
		status.Close()
		childStatus.Close()
		return fail(err), false
	}
	ran := false
	// Registered before the relay's terminal restore, so it runs after it
	// and --stats prints on a sane terminal.
	defer func() { cg.finish(plan, ran, exitStatus) }()
	cgroupFD, intoCgroup := cg.cgroupFD()
	if !plan.Quiet {
		fmt.Fprintf(os.Stderr, "Spawning container %s on %s.\n", plan.Machine, plan.Root)
		if plan.Console == pty.Interactive {
			fmt.Fprintf(os.Stderr, "Press ^] three times within 1s to kill container.\n")
		}
	}

	// Subscribe before the child exists so no stop request is lost.
	signals := make(chan os.Signal, 4)
	signal.Notify(signals, unix.SIGTERM, unix.SIGINT, unix.SIGHUP, unix.SIGWINCH)
	defer signal.Stop(signals)

	pid, release, err := startChild(plan, append(stdio(), planR.Fd(), childStatus.Fd()), cgroupFD, intoCgroup) // fds 3 and 4 in the child
	planR.Close()
	childStatus.Close()
	if err != nil {
		sendPlan(false)
		return fail(err), false
	}
	defer release()
	// The child waits for its plan until /proc and /sys are in place and
	// it is in all its cgroups.
	if err := cg.admit(plan, pid); err != nil {
		sendPlan(false)
		unix.Kill(pid, unix.SIGKILL)
		wait(pid)
		return fail(err), false
	}
	if err := sendPlan(true); err != nil {
		unix.Kill(pid, unix.SIGKILL)
		wait(pid)
		return fail(fmt.Errorf("hand the plan to the container: %w", err)), false
	}
	ran = true

	var relay *pty.Relay
	report := readStatus(status, func(tag byte, fd int) {
		switch tag {
		case msgConsole:
			// Non-blocking, so the os package drives it through the
			// netpoller: a relay goroutine parks while the pty is empty
			// instead of holding a thread in read(2).
			unix.SetNonblock(fd, true)
			master := os.NewFile(uintptr(fd), "console")
			if relay, err = pty.StartRelay(master, os.Stdin, os.Stdout, plan.Console, plan.Boot); err != nil {
				fmt.Fprintf(os.Stderr, "nspawn: console: %v\n", err)
				unix.Kill(pid, unix.SIGKILL)
			}
		case msgNotify:
			// Without a service manager to tell there is nothing to relay,
			// and the start-up path stays free of the extra file and its
			// goroutine.
			if os.Getenv("NOTIFY_SOCKET") == "" {
				unix.Close(fd)
				break
			}
			go notify.Forward(os.NewFile(uintptr(fd), notify.SocketInContainer), plan.NotifyReady)
		}
	})
	status.Close()
	if relay != nil {
		// Whatever happens from here, the host terminal leaves raw mode.
		defer relay.RestoreTerminal()
	}
	if report.failed {
		wait(pid)
		if relay != nil {
			relay.Close(0)
		}
		fmt.Fprintf(os.Stderr, "nspawn: %s\n", report.msg)
		return report.status, false
	}

	if !plan.NotifyReady {
		// --notify-ready=no: the payload running is readiness enough.
		notify.Ready()
	}
	ws := supervise(pid, plan, signals, relay)
	if relay != nil {
		// The last output may still sit in the pty when PID 1 is gone.
		relay.Close(time.Second)
	}
	return reportExit(plan, ws)
}

// planPipe returns the read end of a pipe for the encoded plan, and send,
// which encodes the plan as it is then and completes the pipe (or with
// false, closes it empty, so a waiting child gives up). The plan is the
// child's go-ahead, sent once nspawn has mounted its /proc and /sys and
// put it in its cgroups.
func planPipe(plan *Plan) (r *os.File, send func(ok bool) error, err error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, nil, err
	}
	return r, func(ok bool) error {
		defer w.Close()
		if !ok {
			return nil
		}
		data, err := plan.MarshalBinary()
		if err != nil {
			return err
		}
		if len(data) > 1<<16 { // beyond a pipe's default capacity
			if _, err := unix.FcntlInt(w.Fd(), unix.F_SETPIPE_SZ, len(data)); err != nil {
				return fmt.Errorf("plan of %d bytes: %w", len(data), err)
			}
		}
		_, err = w.Write(data)
		return err
	}, nil
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
