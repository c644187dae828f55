package nspawn

import (
	"fmt"
	"runtime"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/nspawn/nspawn/mounts"
)

// identityMap maps every user and group ID onto itself but the last,
// 4294967294 ((uid_t)-2): the container's root is the host's UID 0 to the
// filesystem, but holds capabilities only within the container's own
// namespaces. systemd takes a map of all 2^32-1 IDs for the initial user
// namespace (running_in_userns()) and would then try mounts no user
// namespace may make (hugetlbfs, fusectl), failing their units; one ID
// less tells it the truth.
var identityMap = []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: 1<<32 - 2}}

// startChild assembles the container's tree and starts the child stage in
// its namespaces, from a thread of its own: that thread's private mount
// namespace is where the tree is built, and the container's is copied from
// it across the user namespace boundary, which locks every mount (see
// mounts.KernelFS). The thread lives until release is called, since the
// child's parent-death signal fires when the thread that forked it exits.
func startChild(plan *Plan, files []uintptr, cgroupFD int, intoCgroup bool) (pid int, release func(), err error) {
	type result struct {
		pid int
		err error
	}
	started := make(chan result)
	done := make(chan struct{})
	go func() {
		// Never unlocked: the thread, and its mount namespace with the
		// staging copy of the tree, end with this goroutine.
		runtime.LockOSThread()
		pid, err := assemble(plan, files, cgroupFD, intoCgroup)
		started <- result{pid, err}
		if err == nil {
			<-done
		}
	}()
	r := <-started
	return r.pid, func() { close(done) }, r.err
}

func assemble(plan *Plan, files []uintptr, cgroupFD int, intoCgroup bool) (int, error) {
	if err := mounts.Stage(plan.Root); err != nil {
		return 0, err
	}
	// This thread's own umask since Stage: modes come from the plan.
	unix.Umask(0)
	warnings, err := mounts.Apply(plan.Root, plan.Mounts)
	if err != nil {
		return 0, err
	}
	warn(plan, warnings)
	exe, err := mounts.SealExecutable()
	if err != nil {
		return 0, err
	}
	if lastPID := hostLastPID(plan); lastPID != nil {
		files = append(files, lastPID...) // lastPIDFD in the child
		defer unix.Close(int(lastPID[0]))
	}
	// syscall.ForkExec rather than os/exec: the child needs nothing
	// os/exec adds, and its pidfd probe costs an extra fork on every start.
	sys := &syscall.SysProcAttr{
		Cloneflags: plan.Cloneflags,
		Pdeathsig:  syscall.SIGKILL,
		// Its own session: the payload cannot reach nspawn's
		// controlling terminal through /dev/tty.
		Setsid:      true,
		UseCgroupFD: intoCgroup,
		CgroupFD:    cgroupFD,
	}
	if plan.UserNS {
		sys.UidMappings, sys.GidMappings = identityMap, identityMap
		sys.GidMappingsEnableSetgroups = true
	}
	pid, err := syscall.ForkExec(exe, []string{childArg0}, &syscall.ProcAttr{
		Env:   []string{"GOMAXPROCS=1"},
		Files: files,
		Sys:   sys,
	})
	if err != nil {
		return 0, fmt.Errorf("start the container: %w", err)
	}
	if err := mounts.MountKernelFS(plan.Root, pid, plan.Kernel); err != nil {
		unix.Kill(pid, unix.SIGKILL)
		wait(pid)
		return 0, err
	}
	if warnings, err = mounts.Apply(plan.Root, plan.LateMounts); err != nil {
		unix.Kill(pid, unix.SIGKILL)
		wait(pid)
		return 0, err
	}
	warn(plan, warnings)
	return pid, nil
}
