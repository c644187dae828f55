package nspawn

import (
	"fmt"
	"os"
	"os/signal"

	"golang.org/x/sys/unix"

	"github.com/nspawn/nspawn/mounts"
	"github.com/nspawn/nspawn/notify"
	"github.com/nspawn/nspawn/pty"
	"github.com/nspawn/nspawn/undo"
)

// container is the run-time state of one run of the container: what
// nspawn holds while it lives and undoes when it ends. The plan says
// what the container is; this is how far its start has got.
type container struct {
	plan *Plan
	ids  idMapping
	out  reporter
	// mounts are the plan's, owned by a shifted root (idMapping.mounts).
	mounts mounts.Phases

	message             messagePipe
	status, childStatus *os.File
	cg                  *placement
	signals             chan os.Signal
	pid                 int
	// exited reports the child's end: the thread it was forked from
	// waits for it (see startChild).
	exited <-chan unix.WaitStatus
	// seccomp is the filter compiled for the child while it starts up.
	seccomp []unix.SockFilter
	relay   *pty.Relay
	// notify is the container's /run/host/notify, read by notify.Forward
	// while the container runs; closing it ends the forwarder.
	notify *os.File
	// undo is the intent log of what nspawn makes on the host, replayed
	// by its watcher should nspawn be killed (package undo).
	undo *undo.Log
	// lock is held on the tree until nspawn ends (lock_files.go).
	lock *treeLock
	// net is the container's links, to give back or delete at the end;
	// linksMade reports they are made (network_run.go).
	net       *containerNet
	linksMade chan error
	// hostVeth carries the index of the veth's host end once it is made
	// (-n, --network-bridge, --network-zone), for machined (nil when
	// nspawn registers nothing); closed without one when the links fail
	// first.
	hostVeth chan int32
	// upper is -x's upper directory on disk, "" for none.
	upper string
	// ran: the payload was started, so --stats has something to say.
	ran bool
}

// start brings the container up to where its first process has been
// told to go ahead; on an error, abort undoes what was done.
func (c *container) start() error {
	for _, phase := range []func() error{
		c.watch,            // the cgroup's claim, the undo log and its watcher
		c.lockTree,         // before anything exists: a busy tree stops here
		c.makeUpperDirs,    // -x's upper on disk; --overlay's work, recorded
		c.openChannels,     // the message pipe and the status socket
		c.placeInCgroup,    // the scope, its limits and devices
		c.announce,         // "Spawning container ..."
		c.subscribeSignals, // before the child exists, so no stop is lost
		c.linkJournal,      // --link-journal's host side
		c.startChild,       // the tree, the clone, /proc and /sys
		c.admit,            // the cgroups cloning missed
		c.sendMessage,      // the child's go-ahead
		c.register,         // systemd's scope and machined, once the child is in the tree
		c.connectNetwork,   // the links, made while the child sets up; it waits for them
	} {
		if err := phase(); err != nil {
			return err
		}
	}
	return nil
}

// watch starts the undo watcher before anything is made, handing it the
// cgroup's claim (taken first), so a nspawn of the same name waits until
// a killed one's cleanup is over.
func (c *container) watch() error {
	claim, err := claimCgroup(c.plan)
	if err != nil {
		return err
	}
	var hold []int
	if claim >= 0 {
		hold = append(hold, claim)
	}
	if c.undo, err = undo.Start(hold...); err != nil {
		if claim >= 0 {
			unix.Close(claim)
		}
		return err
	}
	return nil
}

func (c *container) lockTree() (err error) {
	c.lock, err = lockTree(c.plan.Root, c.plan.TreeLock, c.undo)
	return err
}

func (c *container) openChannels() (err error) {
	if c.message, err = newMessagePipe(); err != nil {
		return err
	}
	c.status, c.childStatus, err = statusPair()
	return err
}

func (c *container) placeInCgroup() (err error) {
	c.cg, err = placeInCgroup(c.plan, c.ids, c.out, c.undo)
	return err
}

func (c *container) announce() error {
	c.out.Info("Spawning container %s on %s.", c.plan.Machine, c.plan.Root)
	if c.plan.Console == pty.Interactive {
		c.out.Info("Press ^] three times within 1s to kill container.")
	}
	return nil
}

func (c *container) subscribeSignals() error {
	c.signals = make(chan os.Signal, 4)
	signal.Notify(c.signals, unix.SIGTERM, unix.SIGINT, unix.SIGHUP, unix.SIGWINCH)
	return nil
}

// admit puts the child, which waits for its message, into the cgroups it
// could not be cloned into.
func (c *container) admit() error {
	if c.plan.Cgroup.admitsAfterPivot() {
		return nil // register does
	}
	return c.cg.admit(c.plan, c.ids, c.out, c.pid, c.awaitHostVeth)
}

// register admits the child where systemd does it, over D-Bus, once the
// child reports it stands in the tree: machined, and whoever asks it
// about the leader, must find the container's files there, not the
// host's. The child waits for the word. A child that failed before is
// left to awaitPayload, which reads its report.
func (c *container) register() error {
	if !c.plan.Cgroup.admitsAfterPivot() || !awaitPivoted(c.status) {
		return nil
	}
	if err := c.cg.admit(c.plan, c.ids, c.out, c.pid, c.awaitHostVeth); err != nil {
		return err
	}
	return sendAdmitted(c.status)
}

func (c *container) sendMessage() error {
	return c.message.send(c.plan.message(c.seccomp))
}

// abort undoes a start that failed: the child, if there is one, is
// killed before it ever ran the payload. The cgroup goes in cleanUp.
func (c *container) abort() {
	c.awaitLinks()
	if c.message.w != nil {
		c.message.close()
	}
	if c.pid > 0 {
		unix.Kill(c.pid, unix.SIGKILL)
		c.wait()
	}
}

// wait waits for the child's end.
func (c *container) wait() unix.WaitStatus {
	if c.exited != nil {
		return <-c.exited
	}
	return wait(c.pid)
}

// cleanUp runs when the run ends however it ends: it gives the terminal
// back, reports what the container used (when the payload ran), removes
// its cgroup, and releases the tree; then the undo watcher is told all
// is undone.
func (c *container) cleanUp(status int) {
	if c.relay != nil {
		// Whatever happened, the host terminal leaves raw mode.
		c.relay.RestoreTerminal()
	}
	for _, f := range []*os.File{c.status, c.childStatus, c.notify} {
		if f != nil {
			f.Close()
		}
	}
	if c.signals != nil {
		signal.Stop(c.signals)
	}
	c.net.disconnect(c.out)
	c.cg.finish(c.plan, c.out, c.ran, status)
	c.removeUpper()
	// Last: the tree is free once nothing of the container is left.
	c.lock.release()
	// All undone: the watcher goes, and with it the cgroup's claim.
	c.undo.Done()
}

// awaitPayload reads the child's reports until the payload runs or its
// setup fails, starting the console relay and the notify forwarder as
// their fds arrive.
func (c *container) awaitPayload() setupReport {
	report := readStatus(c.status, func(tag byte, fd int) {
		switch tag {
		case msgConsole:
			c.startRelay(fd)
		case msgNotify:
			// Kept and read even without a service manager above
			// nspawn, so the payload's sd_notify() succeeds. Non-
			// blocking, so the forwarder parks in the netpoller
			// instead of holding a thread in recv(2).
			unix.SetNonblock(fd, true)
			c.notify = os.NewFile(uintptr(fd), notify.SocketInContainer)
			go notify.Forward(c.notify, c.plan.NotifyReady)
		}
	})
	c.status.Close()
	c.status = nil
	return report
}

// startRelay relays the console's pty master, fd, to nspawn's terminal.
func (c *container) startRelay(fd int) {
	// Non-blocking, so the os package drives it through the netpoller: a
	// relay goroutine parks while the pty is empty instead of holding a
	// thread in read(2).
	unix.SetNonblock(fd, true)
	master := os.NewFile(uintptr(fd), "console")
	var err error
	if c.relay, err = pty.StartRelay(master, os.Stdin, os.Stdout, c.plan.Console, c.plan.Boot); err != nil {
		c.out.Error(fmt.Errorf("console: %w", err))
		unix.Kill(c.pid, unix.SIGKILL)
	}
}

// ready tells nspawn's own service manager the container is up, and its
// leader: under --notify-ready=no the payload running is readiness
// enough; under yes the forwarder passes the payload's own READY=1 on.
func (c *container) ready() {
	notify.Running(c.pid, !c.plan.NotifyReady)
}
