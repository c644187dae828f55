package nspawn

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/nspawn/nspawn/notify"
)

// ChildArg0 marks the re-executed binary as the container's first
// process. It is argv[0], not an option or environment variable, so
// nothing of it reaches the payload's environment or command line.
const ChildArg0 = "nspawn-child"

// Version is set at build time (-ldflags -X).
var Version = "dev"

// InterfaceLevel is the systemd-nspawn whose options and behaviour
// nspawn implements: the number --version gives callers that compare it.
const InterfaceLevel = 252

// Main is the supervising process: parse, probe the host, plan, run. argv
// is the whole command line, the name nspawn was run under first. It
// returns the exit status nspawn should end with.
func Main(argv []string) int {
	ProtectInheritedFDs()
	opts, err := ParseOptions(argv[1:])
	var getopt *GetoptError
	if errors.As(err, &getopt) {
		// glibc's wording, after the name as invoked, as getopt_long
		// prints it; systemd-nspawn then exits 1.
		fmt.Fprintf(os.Stderr, "%s: %s\n", argv[0], getopt.msg)
		return 1
	}
	if err != nil {
		return fail(err)
	}
	opts.AsSystemdNspawn = filepath.Base(argv[0]) == "systemd-nspawn"
	switch {
	case opts.Help:
		WriteHelp(os.Stdout)
		return 0
	case opts.Version:
		writeVersion(os.Stdout)
		return 0
	case opts.HelpValues != nil:
		for _, v := range opts.HelpValues {
			fmt.Println(v)
		}
		return 0
	}
	if os.Geteuid() != 0 {
		return fail(errors.New("must be run as root: creating namespaces and mounts needs CAP_SYS_ADMIN (try sudo nspawn ...)"))
	}
	// The settings file is what the user said too: merged into the
	// options before the probe, so planning reads one Options.
	cwd, err := os.Getwd()
	if err != nil {
		return fail(fmt.Errorf("current directory: %w", err))
	}
	opts, warnings, err := LoadSettings(opts, cwd, TrustedSettingsDirs)
	for _, w := range warnings {
		fmt.Fprintf(os.Stderr, "nspawn: %s\n", w)
	}
	if err != nil {
		return fail(err)
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
	// Before run: settleUserNS chowns or ID-maps the tree -D must be.
	if plan, err = Populate(plan, opts, host, out); err != nil {
		return fail(err)
	}
	return run(plan, out)
}

// writeVersion prints the version in systemd's shape, since callers parse
// it as systemd's: the second word is the interface level, an integer
// (int(out.split()[1]), awk '{print $2+0}'), the third, in parentheses,
// a version that starts with it (mkosi compares it as a version); nspawn's
// own version follows, and is the second line.
func writeVersion(w io.Writer) {
	own := strings.Join(strings.Fields(Version), "-")
	fmt.Fprintf(w, "systemd %d (%d-nspawn-%s)\n", InterfaceLevel, InterfaceLevel, own)
	fmt.Fprintf(w, "nspawn %s, with the options and behaviour of systemd-nspawn %d\n", own, InterfaceLevel)
}

func fail(err error) int {
	newReporter(false).Error(err)
	return 1
}

// run runs the container, and again each time a booted init asks for a
// reboot; under --keep-unit (in a unit such as nspawn@.service) a reboot
// ends nspawn with status 133 instead, for systemd to restart the unit.
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
		switch {
		case !reboot:
			return unitStatus(status)
		case plan.Cgroup.KeepUnit:
			// In a unit, systemd restarts the whole unit on 133, so its
			// cgroup settings are applied afresh, as systemd-nspawn does
			// under --keep-unit; elsewhere the container restarts here.
			return forceRestart
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
	ws := c.supervise(notify.WatchdogInterval())
	if c.relay != nil {
		// The last output may still sit in the pty when PID 1 is gone.
		c.relay.Close(time.Second)
	}
	return reportExit(plan, out, ws)
}
