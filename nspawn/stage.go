package nspawn

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/nspawn/nspawn/mounts"
	"github.com/nspawn/nspawn/security"
)

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
	if err := mounts.Stage(plan.Root, plan.TreeMapNS); err != nil {
		return 0, err
	}
	// This thread's own umask since Stage: modes come from the plan.
	unix.Umask(0)
	// What changes the tree's own mount (--read-only) must happen before
	// the container's namespace is copied: a flag change does not
	// propagate. Every other mount propagates into it, so those are made
	// after the fork, while the child starts up.
	early, rest := splitFlagChanges(plan.Mounts)
	warnings, err := mounts.Apply(plan.Root, early)
	if err != nil {
		return 0, err
	}
	warn(plan, warnings)
	exe, err := mounts.SealExecutable()
	if err != nil {
		return 0, err
	}
	if err := mounts.StageDir(plan.Root); err != nil {
		return 0, err
	}
	childExe, closeExe, err := execPath(exe)
	if err != nil {
		return 0, err
	}
	defer closeExe()
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
	if plan.Cloneflags&unix.CLONE_NEWUSER != 0 {
		sys.UidMappings = idMaps(plan.UserNS)
		sys.GidMappings = sys.UidMappings
		sys.GidMappingsEnableSetgroups = true
		// Root inside, before the exec: nspawn's own IDs are not in a
		// shifted map, and an exec by an unmapped user drops every
		// capability the new namespace gave.
		sys.Credential = &syscall.Credential{Uid: 0, Gid: 0}
	}
	pid, err := syscall.ForkExec(childExe, []string{childArg0}, &syscall.ProcAttr{
		Env:   []string{"GOMAXPROCS=1"},
		Files: files,
		Sys:   sys,
	})
	if err != nil {
		return 0, fmt.Errorf("start the container: %w", err)
	}
	// Compiled here, while the child starts up, rather than in the
	// child, where the first build costs a fresh process milliseconds.
	if plan.Seccomp, err = security.SeccompProgram(plan.Capabilities, plan.SyscallFilter); err != nil {
		unix.Kill(pid, unix.SIGKILL)
		wait(pid)
		return 0, err
	}
	if warnings, err = mounts.Apply(plan.Root, rest); err != nil {
		unix.Kill(pid, unix.SIGKILL)
		wait(pid)
		return 0, err
	}
	warn(plan, warnings)
	if err := mountKernel(plan, pid, exe); err != nil {
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
	if err := mounts.Landed(pid, plan.Root, rest, plan.LateMounts); err != nil {
		unix.Kill(pid, unix.SIGKILL)
		wait(pid)
		return 0, err
	}
	return pid, nil
}

// execPath names the sealed binary at exe for the child's exec by an fd
// of it: the child execs as root of its user namespace, which in a
// shifted one is an unprivileged host UID that may not reach the path
// (nspawn in a root-only directory), while a process may always follow
// its own /proc/self/fd. The fd sits above those ForkExec rearranges and
// closes at the exec.
func execPath(exe string) (string, func(), error) {
	fd, err := unix.Open(exe, unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", nil, fmt.Errorf("open nspawn's binary: %w", err)
	}
	high, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 100)
	unix.Close(fd)
	if err != nil {
		return "", nil, fmt.Errorf("open nspawn's binary: %w", err)
	}
	return fmt.Sprintf("/proc/self/fd/%d", high), func() { unix.Close(high) }, nil
}

// splitFlagChanges splits off the leading steps that change the flags of
// mounts already there (KindReadOnly).
func splitFlagChanges(steps []mounts.Step) (early, rest []mounts.Step) {
	n := 0
	for n < len(steps) && steps[n].Kind == mounts.KindReadOnly {
		n++
	}
	return steps[:n], steps[n:]
}

// procfsArg0 marks nspawn re-executed to mount the container's /proc from
// inside its PID namespace, on kernels whose proc takes no pidns=.
const procfsArg0 = "nspawn-procfs"

// mountKernel mounts /proc and /sys for the child pid. Where the kernel
// cannot mount a proc of another PID namespace, a helper forked into the
// container's mounts it: it shares this thread's mount and user
// namespaces, so the mounts are as locked as they would be otherwise.
func mountKernel(plan *Plan, pid int, exe string) error {
	for _, k := range plan.Kernel {
		err := k.Mount(plan.Root, pid)
		if errors.Is(err, mounts.ErrNoProcPIDNS) {
			err = mountProcInside(plan.Root, pid, exe)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func mountProcInside(root string, pid int, exe string) error {
	if err := mounts.JoinNamespace(pid, "pid", unix.CLONE_NEWPID); err != nil {
		return err
	}
	helper, err := syscall.ForkExec(exe, []string{procfsArg0, root}, &syscall.ProcAttr{
		Env:   []string{"GOMAXPROCS=1"},
		Files: []uintptr{0, 1, 2},
	})
	if err != nil {
		return fmt.Errorf("start the /proc helper: %w", err)
	}
	if ws := wait(helper); !ws.Exited() || ws.ExitStatus() != 0 {
		return fmt.Errorf("mount /proc in the container failed")
	}
	return nil
}

// mountProcHelper is the helper's side: mount the proc of its own PID
// namespace, hardened, in the tree at root.
func mountProcHelper() int {
	for _, k := range mounts.Kernel() {
		if k.FSType != "proc" {
			continue
		}
		if err := k.Mount(os.Args[1], 0); err != nil {
			fmt.Fprintf(os.Stderr, "nspawn: %v\n", err)
			return 1
		}
	}
	return 0
}
