package tests

import (
	"bytes"
	"crypto/rand"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
)

// terminal plays the user's terminal: nspawn runs with the slave of a pty
// pair as its stdin, stdout, stderr and controlling terminal; the test
// types into the master and reads the screen from it.
type terminal struct {
	t      *testing.T
	master *os.File
	slave  *os.File
	cmd    *exec.Cmd
	mu     sync.Mutex
	screen bytes.Buffer
	done   chan struct{}
}

func startTerminal(t *testing.T, rows, cols uint16, args ...string) *terminal {
	t.Helper()
	master, slave, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	if err := pty.Setsize(master, &pty.Winsize{Rows: rows, Cols: cols}); err != nil {
		t.Fatal(err)
	}
	term := &terminal{t: t, master: master, slave: slave, done: make(chan struct{})}
	term.cmd = exec.Command(nspawnBin, args...)
	term.cmd.Stdin, term.cmd.Stdout, term.cmd.Stderr = slave, slave, slave
	term.cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := term.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := master.Read(buf)
			term.mu.Lock()
			term.screen.Write(buf[:n])
			term.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	go func() { term.cmd.Wait(); close(term.done) }()
	t.Cleanup(func() {
		term.cmd.Process.Kill()
		<-term.done
		master.Close()
		slave.Close()
	})
	return term
}

func (term *terminal) typeKeys(s string) {
	if _, err := term.master.Write([]byte(s)); err != nil {
		term.t.Fatal(err)
	}
}

// expect waits until the screen, from offset on, shows want; it returns the
// offset just past it. The deadline only keeps a broken run from hanging.
func (term *terminal) expect(from int, want string) int {
	term.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		term.mu.Lock()
		s := term.screen.String()
		term.mu.Unlock()
		if from > len(s) {
			from = len(s)
		}
		if i := strings.Index(s[from:], want); i >= 0 {
			return from + i + len(want)
		}
		if time.Now().After(deadline) {
			term.t.Fatalf("screen never showed %q; it shows:\n%q", want, s[from:])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// startForegroundJob has the shell on the screen run a long sleep as its
// foreground job and returns once that job runs: the job itself prints the
// marker (fg-42, which the echoed command line does not show), and by then
// the shell has made it the terminal's foreground process group, so ^C or
// ^Z reaches it and not the shell.
func (term *terminal) startForegroundJob(from int) int {
	term.t.Helper()
	term.typeKeys("sh -c 'echo fg-$((6*7)); exec sleep 1000'\r")
	return term.expect(from, "fg-42")
}

// wait waits for nspawn to exit and returns its status.
func (term *terminal) wait() int {
	term.t.Helper()
	select {
	case <-term.done:
	case <-time.After(20 * time.Second):
		term.t.Fatal("nspawn did not exit")
	}
	return exitStatus(term.cmd.ProcessState)
}

func termios(t *testing.T, f *os.File) unix.Termios {
	t.Helper()
	tio, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	return *tio
}

func TestConsoleInteractiveShell(t *testing.T) {
	before := snapshotHost(t)
	term := startTerminal(t, 24, 80, "-D", busyboxTree, "/bin/sh")
	modeBefore := termios(t, term.slave)
	at := term.expect(0, "Press ^] three times within 1s to kill container.")
	at = term.expect(at, "# ")

	// The payload's console is a pty of the container's own devpts, not
	// the host's terminal: tty names it, and the shell's stdin, stdout and
	// stderr all live on that devpts, so no fd it holds can push input
	// (TIOCSTI) into the host's terminal.
	term.typeKeys("tty; stat -L -c %d /proc/$$/fd/0 /proc/$$/fd/1 /proc/$$/fd/2 /dev/pts/ptmx | uniq | wc -l; readlink /dev/console\r")
	at = term.expect(at, "/dev/pts/0\r\n1\r\npts/0\r\n")

	term.typeKeys("stty size\r")
	at = term.expect(at, "24 80\r\n")
	pty.Setsize(term.slave, &pty.Winsize{Rows: 40, Cols: 132})
	syscall.Kill(term.cmd.Process.Pid, syscall.SIGWINCH)
	term.typeKeys("stty size\r")
	at = term.expect(at, "40 132\r\n")

	// ^C reaches the container's foreground job, not nspawn.
	at = term.startForegroundJob(at)
	term.typeKeys("\x03")
	at = term.expect(at, "^C")
	term.typeKeys("echo after-sleep $?\r")
	at = term.expect(at, "after-sleep 130")

	term.typeKeys("exit 7\r")
	if status := term.wait(); status != 7 {
		t.Errorf("exit status %d, want 7", status)
	}
	if after := termios(t, term.slave); after != modeBefore {
		t.Errorf("host terminal mode not restored:\nbefore %+v\nafter  %+v", modeBefore, after)
	}
	checkNoLeaks(t, before)
}

func TestConsoleJobControl(t *testing.T) {
	term := startTerminal(t, 24, 80, "-q", "-D", debianTree, "/bin/bash", "--norc", "-i")
	at := term.expect(0, "# ")
	at = term.startForegroundJob(at)
	term.typeKeys("\x1a") // ^Z
	at = term.expect(at, "Stopped")
	// SIGKILL, and wait until bash has reaped it: a stopped job holds a
	// SIGTERM until it is continued, and bash refuses to exit while it
	// counts a stopped job.
	term.typeKeys("jobs; kill -KILL %1; while jobs %1 >/dev/null 2>&1; do sleep 0.1; done; echo done-$?\r")
	term.expect(at, "done-0")
	term.typeKeys("exit\r")
	if status := term.wait(); status != 0 {
		t.Errorf("exit status %d", status)
	}
}

// TestConsoleEscapeKills: ^]^]^] ends the container and nspawn says so.
func TestConsoleEscapeKills(t *testing.T) {
	before := snapshotHost(t)
	term := startTerminal(t, 24, 80, "-D", busyboxTree, "/bin/sh")
	modeBefore := termios(t, term.slave)
	at := term.expect(0, "# ")
	at = term.startForegroundJob(at)
	term.typeKeys("\x1d\x1d\x1d")
	if status := term.wait(); status != 137 {
		t.Errorf("exit status %d, want 137", status)
	}
	term.expect(at, "terminated by signal KILL")
	if after := termios(t, term.slave); after != modeBefore {
		t.Error("host terminal mode not restored after ^]^]^]")
	}
	checkNoLeaks(t, before)
}

// TestConsoleHangup: closing the host terminal (SIGHUP to nspawn) ends the
// container and restores nothing it should not.
func TestConsoleHangup(t *testing.T) {
	before := snapshotHost(t)
	term := startTerminal(t, 24, 80, "-q", "-D", busyboxTree, "/bin/sh")
	term.expect(0, "# ")
	syscall.Kill(term.cmd.Process.Pid, syscall.SIGHUP)
	if status := term.wait(); status == 0 {
		t.Errorf("exit status 0 after SIGHUP")
	}
	checkNoLeaks(t, before)
}

func TestConsoleReadOnlyPassesNoInput(t *testing.T) {
	term := startTerminal(t, 24, 80, "-q", "--console=read-only", "-D", busyboxTree, "/bin/sh", "-c", "echo out-ok; read -t 1 x && echo got-input; echo end")
	term.typeKeys("typed\r")
	at := term.expect(0, "out-ok")
	term.expect(at, "end")
	term.wait()
	term.mu.Lock()
	defer term.mu.Unlock()
	if strings.Contains(term.screen.String(), "got-input") {
		t.Error("read-only console passed input to the container")
	}
}

// TestConsolePipeIsByteExact: in pipe mode bytes a terminal would mangle
// (^C, ^], CR, NUL) pass through untouched.
func TestConsolePipeIsByteExact(t *testing.T) {
	data := make([]byte, 256<<10)
	rand.Read(data)
	data = append(data, []byte("\x03\x1d\x1d\x1d\r\n\x00")...)
	for _, args := range [][]string{{"-P"}, {"--console=pipe"}, {}} {
		cmd := exec.Command(nspawnBin, append(append([]string{"-q"}, args...), "-D", busyboxTree, "cat")...)
		cmd.Stdin = bytes.NewReader(data)
		out, err := cmd.Output()
		if err != nil || !bytes.Equal(out, data) {
			t.Errorf("%q: %d bytes in, %d out, err %v", args, len(data), len(out), err)
		}
	}
}

func TestConsoleOptionErrors(t *testing.T) {
	for _, args := range [][]string{{"--console=bogus"}, {"--console=interactive", "-P"}} {
		r := run(t, "", append(args, "-D", busyboxTree, "true")...)
		if r.status != 1 || !strings.HasPrefix(r.stderr, "nspawn: ") || strings.Count(r.stderr, "\n") != 1 {
			t.Errorf("%q: status %d stderr %q", args, r.status, r.stderr)
		}
	}
}

// TestConsoleTmux drives an interactive shell in the container from tmux,
// a real terminal emulator.
func TestConsoleTmux(t *testing.T) {
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Skip("needs tmux (make deps installs it)")
	}
	sock := t.TempDir() + "/tmux"
	tmux := func(args ...string) string {
		out, err := exec.Command("tmux", append([]string{"-S", sock}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("tmux %q: %v: %s", args, err, out)
		}
		return string(out)
	}
	tmux("new-session", "-d", "-s", "nspawn", "-x", "100", "-y", "30", nspawnBin+" -q -D "+busyboxTree+" /bin/sh; echo nspawn-exit=$?; sleep 60")
	defer exec.Command("tmux", "-S", sock, "kill-server").Run()
	waitPane := func(want string) {
		t.Helper()
		for deadline := time.Now().Add(20 * time.Second); ; {
			if screen := tmux("capture-pane", "-p", "-t", "nspawn"); strings.Contains(screen, want) {
				return
			} else if time.Now().After(deadline) {
				t.Fatalf("tmux pane never showed %q:\n%s", want, screen)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	waitPane("/ #") // capture-pane trims the prompt's trailing space
	tmux("send-keys", "-t", "nspawn", "echo answer-$((6*7)); stty size; tty", "Enter")
	waitPane("answer-42")
	waitPane("30 100")
	waitPane("/dev/pts/0")
	tmux("send-keys", "-t", "nspawn", "exit 3", "Enter")
	waitPane("nspawn-exit=3")
}

// TestConsoleNoInjectionIntoHostTerminal: a root payload pushing input
// with TIOCSTI through every fd it holds, and through /dev/tty, reaches at
// most its own console, never the host's terminal. In read-only mode the
// payload holds only its own pty; in pipe mode it holds the host terminal
// itself, and a seccomp filter denies the ioctl. nspawn reads neither, so
// anything injected into the host terminal would still sit in its input
// queue while the container runs; the payload keeps it running until the
// test has looked, waiting on a FIFO bound in from the host.
func TestConsoleNoInjectionIntoHostTerminal(t *testing.T) {
	inject := `for my $f ("/dev/tty", "/proc/self/fd/0", "/proc/self/fd/1", "/proc/self/fd/2") {
		open(my $h, "+<", $f) or next;
		# TIOCSTI, one byte at a time; a whole line, so the terminal's
		# canonical-mode input queue counts it.
		for my $b ("X", "\n") { my $c = $b; ioctl($h, 0x5412, $c) }
	}
	$| = 1;
	print "injected\n";
	# nspawn's exit would hang up the terminal and flush its queue.
	open(my $go, "<", "/sync/go") or die "open /sync/go: $!";
	<$go>;`
	for _, mode := range []string{"--console=read-only", "--console=pipe"} {
		t.Run(mode, func(t *testing.T) {
			sync := t.TempDir()
			if err := unix.Mkfifo(sync+"/go", 0o600); err != nil {
				t.Fatal(err)
			}
			term := startTerminal(t, 24, 80, "-q", mode, "--bind="+sync+":/sync", "-D", debianTree, "perl", "-e", inject)
			term.expect(0, "injected")
			conn, err := term.slave.SyscallConn()
			if err != nil {
				t.Fatal(err)
			}
			queued := 0
			conn.Control(func(fd uintptr) { queued, err = unix.IoctlGetInt(int(fd), unix.TIOCINQ) })
			if err != nil || queued != 0 {
				t.Fatalf("the container injected %d bytes into the host's terminal (%v)", queued, err)
			}
			if err := os.WriteFile(sync+"/go", []byte("go\n"), 0); err != nil {
				t.Fatal(err)
			}
			if status := term.wait(); status != 0 {
				t.Fatalf("exit status %d", status)
			}
		})
	}
}

// TestConsolePipeWithTerminal: -P on a terminal hands the payload that
// terminal, as systemd-nspawn does; input typed there reaches it.
func TestConsolePipeWithTerminal(t *testing.T) {
	term := startTerminal(t, 24, 80, "-q", "-P", "-D", busyboxTree, "/bin/sh", "-c",
		"[ -t 0 ] && echo stdin-is-a-tty; read line; echo got-$line")
	at := term.expect(0, "stdin-is-a-tty")
	term.typeKeys("hello\r")
	term.expect(at, "got-hello")
	if status := term.wait(); status != 0 {
		t.Fatalf("exit status %d", status)
	}
}
