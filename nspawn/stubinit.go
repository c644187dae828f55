package nspawn

import (
	"os"
	"os/signal"
	"syscall"

	"golang.org/x/sys/unix"
)

// stubInit is PID 1 for --as-pid2, as systemd-nspawn's stub PID 1: it starts
// the payload as PID 2 in a session of its own, forwards the signals a
// supervisor sends, reaps every orphan, and exits with the payload's status
// (128+N for death by signal N). It never returns on success.
func stubInit(plan *Plan, path string, argv []string, status *os.File) error {
	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs, unix.SIGCHLD, unix.SIGTERM, unix.SIGINT, unix.SIGHUP, unix.SIGUSR1, unix.SIGUSR2)

	dir := plan.Chdir
	if dir == "" {
		dir = "/"
	}
	u := plan.User
	groups := make([]uint32, len(u.Groups))
	copy(groups, u.Groups)
	pid, err := syscall.ForkExec(path, argv, &syscall.ProcAttr{
		Dir:   dir,
		Env:   plan.Env,
		Files: []uintptr{0, 1, 2},
		Sys: &syscall.SysProcAttr{
			Setsid: true,
			// The console becomes the payload's controlling terminal, so
			// job control and ^C work as under a real init.
			Setctty:    plan.Console.UsesPTY(),
			Ctty:       0,
			Credential: &syscall.Credential{Uid: u.UID, Gid: u.GID, Groups: groups},
		},
	})
	if err != nil {
		return execError(plan.Argv[0], err)
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
