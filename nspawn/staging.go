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
	"github.com/nspawn/nspawn/userns"
)

// startChild builds the container's tree and starts the child in its
// namespaces, from a thread of its own: that thread's private mount
// namespace (the staging namespace) is where the tree is built, and the
// container's is copied from it across the user namespace boundary, which
// locks every mount (see mounts.KernelFS). The child's parent-death
// signal fires when the thread that forked it exits, so that thread
// stays, and is the one that waits for the child: it reports the child's
// end on c.exited, and ends with it.
func (c *container) startChild() error {
	started := make(chan error)
	exited := make(chan unix.WaitStatus, 1)
	go func() {
		// Never unlocked: the thread, and its mount namespace with the
		// staging copy of the tree, end with this goroutine.
		runtime.LockOSThread()
		err := c.stageTree()
		started <- err
		if err == nil {
			ws := wait(c.pid)
			c.removeOverlayWork()
			exited <- ws
		} else {
			c.removeOverlayWork()
		}
	}()
	if err := <-started; err != nil {
		return err
	}
	c.exited = exited
	return nil
}

// stageTree runs on the staging thread: the mount phases around the
// clone (mounts.Phases says when each runs and why).
func (c *container) stageTree() error {
	root := c.plan.Root
	view := mounts.TreeView{MapNS: c.ids.treeMapNS, Ephemeral: c.plan.Ephemeral, Upper: c.upper, Volatile: c.plan.Volatile}
	if c.ids.treeMapNS > 0 {
		view.Shift = c.ids.Shift
	}
	if c.ids.Shifted() {
		view.Owner = c.ids.Shift
	}
	if err := mounts.Stage(root, view); err != nil {
		return err
	}
	// This thread's own umask since Stage: modes come from the plan.
	unix.Umask(0)
	if err := c.mount(c.mounts.Tree); err != nil {
		return err
	}
	exe, err := mounts.SealExecutable()
	if err != nil {
		return err
	}
	if err := mounts.StageDir(root); err != nil {
		return err
	}
	if err := joinNetNS(c.plan.Network.JoinPath); err != nil {
		return err
	}
	if err := c.clone(exe); err != nil {
		return err
	}
	c.startLinks()
	// Compiled here, while the child starts up, rather than in the
	// child, where the first build costs a fresh process milliseconds.
	if !c.plan.NoSeccomp {
		if c.seccomp, err = security.SeccompProgram(c.plan.Capabilities, c.plan.SyscallFilter); err != nil {
			return err
		}
	}
	if err := c.mount(c.mounts.Staged); err != nil {
		return err
	}
	if err := mountKernel(c.mounts.Kernel, root, c.pid, exe); err != nil {
		return err
	}
	if err := c.mount(c.mounts.Late); err != nil {
		return err
	}
	// Every requested mount must be there: one that did not propagate
	// into the container's copy is an error, not a silent gap.
	return mounts.Landed(c.pid, root, c.mounts.Staged, c.mounts.Late)
}

// removeOverlayWork removes the work directories overlayfs used beside
// the --overlay upper directories, once the container is gone, as
// systemd-nspawn does; the upper directories keep what was written.
func (c *container) removeOverlayWork() {
	for _, dir := range c.plan.OverlayWork {
		os.RemoveAll(dir)
	}
}

// mount makes steps in the tree, in the staging namespace.
func (c *container) mount(steps []mounts.Step) error {
	warnings, err := mounts.ApplyMapped(c.plan.Root, steps, c.ids.bindIDs())
	c.out.Ignored(warnings)
	return err
}

// clone starts the child, from the sealed binary at exe, in the plan's
// namespaces and (where it can) its cgroup, with the fds of childFiles.
func (c *container) clone(exe string) error {
	childExe, closeExe, err := execPath(exe)
	if err != nil {
		return err
	}
	defer closeExe()
	lastPID := hostLastPID(c.plan.AsPID2)
	if lastPID >= 0 {
		defer unix.Close(lastPID)
	}
	// The child's ends are the child's alone once it exists.
	defer func() {
		c.message.r.Close()
		c.childStatus.Close()
		c.childStatus = nil
	}()
	files := childFiles(stdio(), c.message.r.Fd(), c.childStatus.Fd(), lastPID, c.plan.ListenFDs)
	// syscall.ForkExec rather than os/exec: the child needs nothing
	// os/exec adds, and its pidfd probe costs an extra fork on every start.
	pid, err := syscall.ForkExec(childExe, []string{ChildArg0}, &syscall.ProcAttr{
		Env:   []string{"GOMAXPROCS=1"},
		Files: files,
		Sys:   c.cloneAttr(),
	})
	if err != nil {
		return fmt.Errorf("start the container: %w", err)
	}
	c.pid = pid
	return nil
}

// cloneAttr is how the child is cloned: into the plan's namespaces, its
// cgroup where it can, and its user namespace's map.
func (c *container) cloneAttr() *syscall.SysProcAttr {
	cgroupFD, intoCgroup := c.cg.cgroupFD()
	sys := &syscall.SysProcAttr{
		Cloneflags: c.plan.Cloneflags,
		Pdeathsig:  syscall.SIGKILL,
		// Its own session: the payload cannot reach nspawn's
		// controlling terminal through /dev/tty.
		Setsid:      true,
		UseCgroupFD: intoCgroup,
		CgroupFD:    cgroupFD,
	}
	if c.plan.Cloneflags&unix.CLONE_NEWUSER != 0 {
		sys.UidMappings, sys.GidMappings = c.plan.BoundUsers.idMaps(c.ids.Config)
		sys.GidMappingsEnableSetgroups = true
		// Root inside, before the exec: nspawn's own IDs are not in a
		// shifted map, and an exec by an unmapped user drops every
		// capability the new namespace gave.
		sys.Credential = &syscall.Credential{Uid: 0, Gid: 0}
	}
	return sys
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

// ProcfsArg0 marks nspawn re-executed to mount the container's /proc from
// inside its PID namespace, on kernels whose proc takes no pidns=.
const ProcfsArg0 = "nspawn-procfs"

// mountKernel mounts /proc and /sys for the child pid in the tree at root. Where the kernel
// cannot mount a proc of another PID namespace, a helper forked into the
// container's mounts it: it shares this thread's mount and user
// namespaces, so the mounts are as locked as they would be otherwise.
func mountKernel(kernel []mounts.KernelFS, root string, pid int, exe string) error {
	for _, k := range kernel {
		err := k.Mount(root, pid)
		if errors.Is(err, mounts.ErrNoProcPIDNS) {
			err = mountProcInside(root, pid, exe)
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
	helper, err := syscall.ForkExec(exe, []string{ProcfsArg0, root}, &syscall.ProcAttr{
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

// MountProc is the helper's side: mount the proc of its own PID
// namespace, hardened, in the tree at os.Args[1].
func MountProc() int {
	if len(os.Args) < 2 {
		return 2
	}
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

// bindIDs is what ID-mapped binds need of the container's map: without a
// range of its own, the container's IDs are the host's.
func (m idMapping) bindIDs() mounts.IDs {
	ids := mounts.IDs{Shift: 0, Size: uint32(identityMap[0].Size), UserNS: userns.NewMappingNamespace}
	if m.Ranged() {
		ids.Shift, ids.Size = m.Shift, m.Size
	}
	ids.ContainerMaps = userns.ContainerMaps(ids.Shift, ids.Size)
	return ids
}
