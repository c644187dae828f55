package nspawn

import (
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/nspawn/nspawn/security"
)

// StubArg0 marks nspawn re-executed as the --as-pid2 stub init.
const StubArg0 = "nspawn-stubinit"

// execStubInit turns the child, PID 1, into the stub init. The child's
// Go runtime threads hold PIDs 2 and up in the new namespace, so it
// execs a fresh copy of nspawn: exec ends those threads and frees their
// PIDs, and the stub sets ns_last_pid so the payload it forks is PID 2,
// as systemd-nspawn's --as-pid2 promises. The message, with the
// payload's path resolved, travels on.
func execStubInit(msg *childMessage, path string, status *os.File) error {
	stub := *msg
	stub.Argv = append([]string{path}, msg.Argv[1:]...)
	stub.LateCgroupNS = false // done already, by the child
	pipe, err := newMessagePipe()
	if err == nil {
		// The pipe holds it: the stub finds it whole when it starts.
		err = pipe.send(&stub)
	}
	if err != nil {
		return fmt.Errorf("stub init: %w", err)
	}
	inherit := [][2]int{{int(pipe.r.Fd()), messageFD}, {statusFD, statusFD}}
	if passedLastPID() {
		inherit = append(inherit, [2]int{lastPIDFD, lastPIDFD})
	}
	for i := 0; i < msg.ListenFDs; i++ {
		inherit = append(inherit, [2]int{listenFDsBase + i, listenFDsBase + i})
	}
	for _, fd := range inherit {
		if err := inheritAs(fd[0], fd[1]); err != nil {
			return err
		}
	}
	if err := armParentDeath(status); err != nil {
		return err
	}
	exe, err := sealedCopy()
	if err != nil {
		return err
	}
	err = unix.Exec(exe, []string{StubArg0}, []string{"GOMAXPROCS=1"})
	return fmt.Errorf("start the stub init: %w", err)
}

// sealedCopy copies this binary into a sealed memfd and returns its path,
// for the stub init to run from. The stub stays PID 1 beside the payload,
// so root inside could reach its executable through /proc/1/exe: on the
// host binary's read-only mount it could still run nspawn itself; a
// sealed copy is nobody's file (runc's fix for CVE-2019-5736).
func sealedCopy() (string, error) {
	src, err := os.Open("/proc/self/exe")
	if err != nil {
		return "", fmt.Errorf("copy nspawn for the stub init: %w", err)
	}
	defer src.Close()
	fd, err := unix.MemfdCreate(StubArg0, unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return "", fmt.Errorf("copy nspawn for the stub init: %w", err)
	}
	dst := os.NewFile(uintptr(fd), StubArg0)
	if _, err := io.Copy(dst, src); err != nil {
		return "", fmt.Errorf("copy nspawn for the stub init: %w", err)
	}
	seals := unix.F_SEAL_SEAL | unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_WRITE
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, seals); err != nil {
		return "", fmt.Errorf("seal the stub init's copy of nspawn: %w", err)
	}
	// Kept open (and so alive) until the exec, which closes it.
	return fmt.Sprintf("/proc/self/fd/%d", fd), nil
}

// hostLastPID opens a writable ns_last_pid for an --as-pid2 child, from
// nspawn's side: the container's own /proc/sys is read-only (and locked
// so in a user namespace), so the stub init could not open one there. A
// write sets the writer's own PID namespace, whichever proc instance the
// file was opened on, so nspawn's /proc does. Nested in a container,
// that /proc/sys is read-only too (EROFS): a fresh proc instance, never
// attached anywhere, has a writable one, and nspawn may make one wherever
// it can mount the container's /proc at all (mount_too_revealing allows
// neither outside the initial user namespace). It returns -1 when there
// is none to pass, or without --as-pid2: nothing is opened then.
func hostLastPID(asPID2 bool) int {
	if !asPID2 {
		return -1
	}
	fd, err := unix.Open("/proc/sys/kernel/ns_last_pid", unix.O_WRONLY|unix.O_CLOEXEC, 0)
	if err == nil {
		return fd
	}
	fd, err = freshProcLastPID()
	if err != nil {
		// The stub init then forks the payload where it falls (see
		// runStubInit); nothing fails over a PID number.
		return -1
	}
	return fd
}

// freshProcLastPID opens ns_last_pid on a proc instance of nspawn's own
// PID namespace that is mounted nowhere: the mount is gone once the file
// is open, which keeps it alive.
func freshProcLastPID() (int, error) {
	fsfd, err := unix.Fsopen("proc", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return -1, err
	}
	defer unix.Close(fsfd)
	if err := unix.FsconfigCreate(fsfd); err != nil {
		return -1, err
	}
	mfd, err := unix.Fsmount(fsfd, unix.FSMOUNT_CLOEXEC, unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NODEV|unix.MOUNT_ATTR_NOEXEC)
	if err != nil {
		return -1, err
	}
	defer unix.Close(mfd)
	return unix.Openat(mfd, "sys/kernel/ns_last_pid", unix.O_WRONLY|unix.O_CLOEXEC, 0)
}

// passedLastPID reports whether lastPIDFD holds the ns_last_pid nspawn
// passed: a proc file open for writing. Whether fd 5 is merely open says
// nothing: when nspawn passed none, the Go runtime of the child or the
// stub init takes the free number for its own files (netpoll's eventfd,
// the cgroup CPU limit it rereads), and writing "1" there failed the
// start with EINVAL or EBADF; nested in a container, that was every -a.
func passedLastPID() bool {
	var fs unix.Statfs_t
	if err := unix.Fstatfs(lastPIDFD, &fs); err != nil || fs.Type != unix.PROC_SUPER_MAGIC {
		return false
	}
	flags, err := unix.FcntlInt(lastPIDFD, unix.F_GETFL, 0)
	return err == nil && flags&unix.O_ACCMODE == unix.O_WRONLY
}

// inheritAs makes fd available as target across exec.
func inheritAs(fd, target int) error {
	if fd != target {
		if err := unix.Dup3(fd, target, 0); err != nil {
			return fmt.Errorf("pass fd %d on as %d: %w", fd, target, err)
		}
		return nil
	}
	_, err := unix.FcntlInt(uintptr(fd), unix.F_SETFD, 0)
	return err
}

// runStubInit is the stub init's entry: it starts the payload as PID 2 and
// stays PID 1 until the payload exits.
func runStubInit(status *os.File) error {
	unix.CloseRange(messageFD, ^uint(0), unix.CLOSE_RANGE_CLOEXEC)
	msg, err := readMessage()
	if err != nil {
		return err
	}
	// Everything that could start a runtime thread happens first: a thread
	// created between the ns_last_pid write and the fork would take PID 2.
	sigs := stubSignals()
	// The next PID the kernel hands out in this namespace is 2. Where that
	// cannot be (no ns_last_pid reached us, or the write is refused: it
	// needs CAP_SYS_ADMIN or CAP_CHECKPOINT_RESTORE over the namespace's
	// user namespace, which --drop-capability may have taken), the payload
	// takes the next free PID, above the stub's threads: it still runs,
	// as under systemd-nspawn a PID number is no reason to fail.
	if passedLastPID() {
		unix.Write(lastPIDFD, []byte("1"))
		unix.Close(lastPIDFD)
	}
	return stubInit(msg, status, sigs)
}

// payloadPrivileges sets, on the stub's locked thread that forks the
// payload, what the child sets before a payload it execs itself: the
// ambient capabilities of a root payload and no_new_privs. Both are a
// thread's and pass to the forked payload; the stub never execs again,
// so they change nothing for it.
func payloadPrivileges(msg *childMessage) error {
	if msg.User.UID == 0 && msg.AmbientCapabilities != 0 {
		if err := security.RaiseAmbient(msg.AmbientCapabilities); err != nil {
			return err
		}
	}
	if msg.NoNewPrivileges {
		return security.NoNewPrivileges()
	}
	return nil
}

// stubSignals subscribes to what the stub init forwards and reaps.
func stubSignals() chan os.Signal {
	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs, unix.SIGCHLD, unix.SIGTERM, unix.SIGINT, unix.SIGHUP, unix.SIGUSR1, unix.SIGUSR2)
	return sigs
}

// stubInit is PID 1 for --as-pid2, as systemd-nspawn's stub PID 1: it starts
// the payload in a session of its own, forwards the signals a supervisor
// sends, reaps every orphan, and exits with the payload's status (128+N for
// death by signal N). It never returns on success.
// msg.Argv[0] is the payload's path, resolved by the child.
func stubInit(msg *childMessage, status *os.File, sigs <-chan os.Signal) error {
	if err := payloadPrivileges(msg); err != nil {
		return err
	}
	u := msg.User
	pid, err := syscall.ForkExec(msg.Argv[0], msg.payloadArgv(), &syscall.ProcAttr{
		Dir:   msg.Chdir,
		Env:   msg.Env,
		Files: payloadFiles(msg.ListenFDs),
		Sys: &syscall.SysProcAttr{
			Setsid: true,
			// The console becomes the payload's controlling terminal, so
			// job control and ^C work as under a real init.
			Setctty:    msg.Console.UsesPTY(),
			Ctty:       0,
			Credential: &syscall.Credential{Uid: u.UID, Gid: u.GID, Groups: u.Groups},
		},
	})
	if err != nil {
		return execError(msg.Argv[0], err)
	}
	status.Close() // the payload runs: nspawn stops waiting for a report

	for sig := range sigs {
		if sig != unix.SIGCHLD {
			unix.Kill(pid, sig.(syscall.Signal))
			continue
		}
		for {
			var ws unix.WaitStatus
			reaped, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
			if err != nil || reaped <= 0 {
				break
			}
			if reaped == pid {
				os.Exit(shellStatus(ws))
			}
		}
	}
	return nil
}
