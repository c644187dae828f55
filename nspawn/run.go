package nspawn

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"time"
)

// ChildArg0 marks the re-executed binary as the container's first
// process. It is argv[0], not an option or environment variable, so
// nothing of it reaches the payload's environment or command line.
const ChildArg0 = "nspawn-child"

// Version is set at build time (-ldflags -X).
var Version = "dev"

// Main is the supervising process: parse, probe the host, plan, run. It
// returns the exit status nspawn should end with.
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
	host, err := ProbeHost(opts)
	if err != nil {
		return fail(fmt.Errorf("current directory: %w", err))
	}
	plan, err := BuildPlan(opts, host)
	if err != nil {
		return fail(err)
	}
	out := newReporter(plan.Quiet)
	out.Warn(plan.Warnings...)
	return run(plan, out)
}

func fail(err error) int {
	newReporter(false).Error(err)
	return 1
}

// run runs the container, and again each time a booted init asks for a
// reboot, as systemd-nspawn@.service restarts it on exit status 133.
func run(plan *Plan, out reporter) int {
	// The supervision stays on one thread. The child itself is forked
	// from a thread of its own (startChild), which lives as long as the
	// container, since PR_SET_PDEATHSIG fires when the forking thread
	// exits, and waits for it.
	runtime.LockOSThread()
	ids, err := settleUserNS(plan, out)
	if err != nil {
		return fail(err)
	}
	for {
		status, reboot := runOnce(plan, ids, out)
		if !reboot {
			return status
		}
	}
}

// runOnce starts the container and supervises it until its PID 1 exits.
// reboot reports a booted init's reboot.
func runOnce(plan *Plan, ids idMapping, out reporter) (status int, reboot bool) {
	c := &container{plan: plan, ids: ids, out: out, mounts: ids.mounts(plan.Mounts), pid: -1}
	// Registered first, so it runs last: after the relay has restored
	// the terminal, so --stats prints on a sane one.
	defer func() { c.cleanUp(status) }()
	if err := c.start(); err != nil {
		c.abort()
		return fail(err), false
	}
	if report := c.awaitPayload(); report.failed {
		c.wait()
		if c.relay != nil {
			c.relay.Close(0)
		}
		out.Error(errors.New(report.msg))
		return report.status, false
	}
	c.ran = true
	c.ready()
	ws := supervise(c.pid, c.exited, plan, c.signals, c.relay)
	if c.relay != nil {
		// The last output may still sit in the pty when PID 1 is gone.
		c.relay.Close(time.Second)
	}
	return reportExit(plan, out, ws)
}
