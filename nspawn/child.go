package nspawn

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/nspawn/nspawn/mounts"
	"github.com/nspawn/nspawn/network"
	"github.com/nspawn/nspawn/notify"
	"github.com/nspawn/nspawn/pty"
	"github.com/nspawn/nspawn/security"
)

// setupError is a setup failure with the exit status nspawn reports for it:
// 1 for nspawn's own failures, 126/127 where exec failed, as a shell does.
type setupError struct {
	status int
	err    error
}

func (e *setupError) Error() string { return e.err.Error() }

// Child runs inside the new namespaces as their PID 1: it carries out its
// message and becomes the payload (or the stub init). It returns only
// the status of a failed setup, which nspawn has been told.
func Child() int { return inContainer(setupAndExec) }

// StubInit is the --as-pid2 stub init's entry, exec'd by the child.
func StubInit() int { return inContainer(runStubInit) }

// inContainer runs setup as the container's PID 1 and reports its
// failure to nspawn.
func inContainer(setup func(status *os.File) error) int {
	// The parent-death signal and the exec that keeps it belong to one
	// thread: an exec from another thread of this Go process would make
	// that thread, which never had the signal set, the container's PID 1.
	runtime.LockOSThread()
	// A short-lived setup: collecting garbage would only cost time.
	debug.SetGCPercent(-1)
	status := os.NewFile(statusFD, "status")
	err := setup(status)
	code := 1
	var se *setupError
	if errors.As(err, &se) {
		code = se.status
	}
	sendError(status, code, err.Error())
	return code
}

func setupAndExec(status *os.File) error {
	// Only the payload's stdio may cross exec: every other fd nspawn was
	// given or opened closes then (CVE-2024-21626 class).
	if err := unix.CloseRange(messageFD, ^uint(0), unix.CLOSE_RANGE_CLOEXEC); err != nil {
		return fmt.Errorf("mark fds close-on-exec: %w", err)
	}
	msg, err := readMessage()
	if err != nil {
		return err
	}
	out := newReporter(msg.Quiet)

	// Modes come from the plan, not from whatever umask nspawn inherited.
	unix.Umask(0)
	if err := mounts.Prepare(); err != nil {
		return err
	}
	if err := mounts.PivotRoot(); err != nil {
		return err
	}
	if msg.AwaitAdmission {
		// Registered only now, standing in the tree: machined and
		// everything that asks it (systemctl -M, machinectl shell)
		// enter the leader's namespaces, where until the pivot the
		// host's files were, bus sockets and all.
		if err := reportPivoted(status); err != nil {
			return err
		}
	}
	if msg.LateCgroupNS {
		// nspawn has moved this process into its cgroups by now: the
		// namespace is rooted there. Before any cgroup is mounted.
		if err := unix.Unshare(unix.CLONE_NEWCGROUP); err != nil {
			return fmt.Errorf("cgroup namespace: %w", err)
		}
	}
	if _, err := mounts.Apply("/", msg.Mounts); err != nil {
		return err
	}
	if err := unix.Sethostname([]byte(msg.Hostname)); err != nil {
		return fmt.Errorf("set hostname %s: %w", msg.Hostname, err)
	}
	if msg.PrivateNetwork {
		if err := network.LoopbackUp(); err != nil {
			return err
		}
	}
	if msg.Console.UsesPTY() {
		if err := attachConsole(status, !msg.AsPID2); err != nil {
			return err
		}
	}
	if err := hostInterface(msg, status); err != nil {
		return err
	}
	if err := installBoundUsers(msg.BoundUsers); err != nil {
		return err
	}
	if err := writeCredentials(msg.Credentials, msg.User.UID, msg.User.GID); err != nil {
		return err
	}
	unix.Umask(0o022)

	path, err := findExecutable(msg.Argv[0], lookupEnv(msg.Env, "PATH"), msg.Chdir)
	if err != nil {
		return err
	}
	// Only now that the command is known to exist: a start that fails
	// leaves the tree's files as they were.
	warnings, err := mounts.Apply("/", msg.Files)
	if err != nil {
		return err
	}
	out.Ignored(warnings)
	if msg.AwaitNetwork {
		resolv, err := awaitNetworkReady(status)
		if err != nil {
			return err
		}
		if err := showResolvConf(resolv); err != nil {
			return err
		}
	}
	if err := applyExec(msg.Exec); err != nil {
		return err
	}
	// systemd-nspawn's system call filter (with the terminal rule): last,
	// so nothing of the setup above runs under it; before the capability
	// and credential changes, as systemd-nspawn does, which would take
	// away the right to install it without no_new_privs.
	if len(msg.Seccomp) > 0 { // none under $SYSTEMD_SECCOMP=0
		if err := security.InstallSeccomp(msg.Seccomp); err != nil {
			return err
		}
	}
	// systemd-nspawn's retained set: besides the isolation, a booted
	// systemd skips what it cannot do (modprobe@, debugfs mounts).
	if err := security.LimitCapabilities(msg.Capabilities); err != nil {
		return err
	}
	if msg.AsPID2 {
		return execStubInit(msg, path, status)
	}
	if err := becomeUser(msg, status); err != nil {
		return err
	}
	if msg.User.UID == 0 && msg.AmbientCapabilities != 0 {
		if err := security.RaiseAmbient(msg.AmbientCapabilities); err != nil {
			return err
		}
	}
	if msg.NoNewPrivileges {
		if err := security.NoNewPrivileges(); err != nil {
			return err
		}
	}
	if err := armParentDeath(status); err != nil {
		return err
	}
	restore, err := placeListenFDs(msg.ListenFDs)
	if err != nil {
		return err
	}
	if err := unix.Exec(path, msg.payloadArgv(), msg.Env); err != nil {
		restore()
		return execError(msg.Argv[0], err)
	}
	return nil
}

// armParentDeath sets the parent-death signal on this thread, the one about
// to exec, right before it does: Go set it at clone time on the process's
// first thread, and changing credentials clears it (commit_creds). A
// nspawn that died meanwhile is caught by the liveness check after it.
func armParentDeath(status *os.File) error {
	if err := unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(unix.SIGKILL), 0, 0, 0); err != nil {
		return fmt.Errorf("set parent-death signal: %w", err)
	}
	if !parentAlive(status) {
		os.Exit(1)
	}
	return nil
}

// becomeUser switches to the plan's user and working directory.
func becomeUser(msg *childMessage, status *os.File) error {
	u := msg.User
	if u.UID != 0 || u.GID != 0 || len(u.Groups) > 0 {
		groups := make([]int, len(u.Groups))
		for i, g := range u.Groups {
			groups[i] = int(g)
		}
		if u.UID != 0 && msg.AmbientCapabilities != 0 {
			if err := security.KeepAcrossUserChange(); err != nil {
				return err
			}
		}
		if err := unix.Setgroups(groups); err != nil {
			return fmt.Errorf("set supplementary groups of %s: %w", u.Name, err)
		}
		if err := unix.Setresgid(int(u.GID), int(u.GID), int(u.GID)); err != nil {
			return fmt.Errorf("set group %d: %w", u.GID, err)
		}
		if err := unix.Setresuid(int(u.UID), int(u.UID), int(u.UID)); err != nil {
			return fmt.Errorf("set user %s: %w", u.Name, err)
		}
		if u.UID != 0 {
			// A non-root user keeps no capability but the ambient ones
			// asked for.
			if err := security.SetForUser(msg.AmbientCapabilities); err != nil {
				return err
			}
		}
	}
	if err := unix.Chdir(msg.Chdir); err != nil {
		return fmt.Errorf("--chdir=%s: cannot enter it inside the container: %w", msg.Chdir, err)
	}
	return nil
}

// attachConsole gives the container a pty of its own devpts as console:
// the master goes to nspawn for the relay, the slave becomes stdio (and
// the controlling terminal, unless a stub init hands it to the payload).
func attachConsole(status *os.File, ctty bool) error {
	master, slave, err := pty.OpenConsole()
	if err != nil {
		return err
	}
	defer slave.Close()
	err = sendFile(status, msgConsole, master)
	master.Close()
	if err != nil {
		return err
	}
	return pty.AttachStdio(slave, ctty)
}

// hostInterface fills /run/host as systemd's Container Interface describes
// it: who runs the container, the host's os-release, and the notify socket,
// whose other end goes to nspawn.
func hostInterface(msg *childMessage, status *os.File) error {
	sock, err := notify.Bind()
	if err != nil {
		return err
	}
	err = sendFile(status, msgNotify, sock)
	sock.Close()
	if err != nil {
		return err
	}
	for name, content := range map[string]string{
		"container-manager": containerManager + "\n",
		"container-uuid":    msg.UUID + "\n",
		"os-release":        msg.HostOSRelease,
	} {
		if err := os.WriteFile("/run/host/"+name, []byte(content), 0o444); err != nil {
			return fmt.Errorf("write /run/host/%s: %w", name, err)
		}
	}
	return nil
}

// findExecutable looks name up as execvp(3) would, in the container's PATH,
// so "command not found" can be told apart from the command failing.
func findExecutable(name, path, dir string) (string, error) {
	if strings.Contains(name, "/") {
		p := name
		if !filepath.IsAbs(p) && dir != "" {
			p = filepath.Join(dir, p)
		}
		if err := unix.Access(p, unix.X_OK); err != nil {
			return "", execError(name, err)
		}
		return name, nil
	}
	// Like execvp, a match without execute permission is remembered: if
	// nothing executable follows, that is "permission denied" (126), not
	// "not found".
	denied := ""
	for _, d := range filepath.SplitList(path) {
		p := filepath.Join(d, name)
		var st unix.Stat_t
		if unix.Stat(p, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFREG {
			continue
		}
		if st.Mode&0o111 != 0 {
			return p, nil
		}
		if denied == "" {
			denied = p
		}
	}
	if denied != "" {
		return "", execError(denied, unix.EACCES)
	}
	return "", &setupError{127, fmt.Errorf("%s: command not found in the container (PATH=%s)", name, path)}
}

// execError turns exec's errno into the message and status a shell gives.
func execError(name string, err error) error {
	switch {
	case errors.Is(err, unix.ENOENT):
		if unix.Access(name, unix.F_OK) == nil {
			return &setupError{127, fmt.Errorf("%s: cannot execute: its interpreter or dynamic loader is missing in the container", name)}
		}
		return &setupError{127, fmt.Errorf("%s: command not found in the container", name)}
	case errors.Is(err, unix.EACCES), errors.Is(err, unix.ENOEXEC), errors.Is(err, unix.EISDIR):
		return &setupError{126, fmt.Errorf("%s: cannot execute: %v", name, err)}
	}
	return &setupError{126, fmt.Errorf("execute %s: %w", name, err)}
}
