package tests

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// liveRun is an nspawn still running, whose stdout the test reads line by
// line (to know when the payload is ready for a signal).
type liveRun struct {
	cmd    *exec.Cmd
	lines  chan string // stdout lines; closed at EOF
	stderr *bytes.Buffer
	done   chan struct{} // closed once cmd.Wait returned
}

// startLive starts nspawn with args and an empty stdin.
func startLive(t *testing.T, args ...string) *liveRun {
	t.Helper()
	return runLive(t, exec.Command(nspawnBin, args...))
}

// runLive starts cmd with its stdout read line by line and its stderr
// kept (safe to read while it runs).
func runLive(t *testing.T, cmd *exec.Cmd) *liveRun {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	lr := &liveRun{
		cmd:    cmd,
		lines:  make(chan string, 1024),
		stderr: &bytes.Buffer{},
		done:   make(chan struct{}),
	}
	lr.cmd.Stdout, lr.cmd.Stderr = w, &lockedWriter{w: lr.stderr}
	// A leaked container would hold the stderr pipe open and make Wait
	// block on it; the leak check reports it instead.
	lr.cmd.WaitDelay = 2 * time.Second
	if err := lr.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	go func() {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			lr.lines <- sc.Text()
		}
		close(lr.lines)
	}()
	go func() { lr.cmd.Wait(); close(lr.done) }()
	// Whatever happens, nspawn does not outlive the test, and a leaked
	// container holding the pipe does not block the reader forever.
	t.Cleanup(func() {
		lr.cmd.Process.Kill()
		<-lr.done
		r.Close()
	})
	return lr
}

// waitLine reads stdout until a line equal to want.
func (lr *liveRun) waitLine(t *testing.T, want string) {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		select {
		case l, ok := <-lr.lines:
			if !ok {
				t.Fatalf("stdout ended before %q; stderr %q", want, lr.stderr.String())
			}
			if l == want {
				return
			}
		case <-deadline:
			t.Fatalf("no %q on stdout within 30 s; stderr %q", want, lr.stderr.String())
		}
	}
}

// wait returns nspawn's exit status and the stdout lines not read yet.
func (lr *liveRun) wait(t *testing.T) (int, string) {
	t.Helper()
	select {
	case <-lr.done:
	case <-time.After(30 * time.Second):
		t.Fatalf("nspawn still running after 30 s; stderr %q", lr.stderr.String())
	}
	var rest []string
	for {
		select {
		case l, ok := <-lr.lines:
			if !ok {
				return exitStatus(lr.cmd.ProcessState), strings.Join(rest, "\n")
			}
			rest = append(rest, l)
		case <-time.After(10 * time.Second):
			// Something of the container still holds stdout open.
			return exitStatus(lr.cmd.ProcessState), strings.Join(rest, "\n")
		}
	}
}

func TestLifecycleExitStatusPassthrough(t *testing.T) {
	before := snapshotHost(t)
	for _, c := range []struct {
		args []string
		want int
	}{
		{[]string{"sh", "-c", "exit 0"}, 0},
		{[]string{"sh", "-c", "exit 7"}, 7},
		{[]string{"sh", "-c", "exit 255"}, 255},
		{[]string{"-a", "sh", "-c", "exit 7"}, 7},
		// With -a the stub init is PID 1, so the payload can kill itself:
		// death by signal N is 128+N, as in a shell.
		{[]string{"-a", "sh", "-c", "kill -KILL $$"}, 137},
		{[]string{"-a", "sh", "-c", "kill -TERM $$"}, 143},
		// As PID 1 the payload cannot die of its own signal; an inner
		// shell can, and its status passes through.
		{[]string{"sh", "-c", `sh -c "kill -SEGV \$\$"; exit $?`}, 139},
	} {
		r := run(t, "", append([]string{"-q", "-D", busyboxTree}, c.args...)...)
		if r.status != c.want {
			t.Errorf("%q: status %d, want %d (stderr %q)", c.args, r.status, c.want, r.stderr)
		}
		// The payload's shell may report the signal on stderr; nspawn
		// itself has nothing to say with -q.
		if strings.Contains(r.stderr, "nspawn") {
			t.Errorf("%q: stderr %q, want nothing from nspawn with -q", c.args, r.stderr)
		}
	}
	checkNoLeaks(t, before)
}

// TestLifecycleStopSignals sends nspawn a signal once the payload is
// ready and checks how the container ends.
func TestLifecycleStopSignals(t *testing.T) {
	const loop = `echo ready; while :; do sleep 0.1; done`
	for _, c := range []struct {
		name    string
		args    []string
		sig     syscall.Signal
		status  int
		printed string // a line the payload must have printed after ready
	}{
		// PID 1 without a handler never sees SIGTERM (the kernel drops
		// it), so nspawn kills it outright.
		{"TERM, PID 1 without handler", []string{"/bin/sh", "-c", "echo ready; exec sleep 1000"}, syscall.SIGTERM, 137, ""},
		{"TERM, PID 1 traps it", []string{"sh", "-c", `trap "echo got-term; exit 42" TERM; ` + loop}, syscall.SIGTERM, 42, "got-term"},
		{"TERM forwarded to PID 2", []string{"-a", "sh", "-c", `trap "exit 42" TERM; ` + loop}, syscall.SIGTERM, 42, ""},
		{"INT forwarded to PID 2", []string{"-a", "sh", "-c", `trap "exit 43" INT; ` + loop}, syscall.SIGINT, 43, ""},
		{"HUP forwarded to PID 2", []string{"-a", "sh", "-c", `trap "exit 44" HUP; ` + loop}, syscall.SIGHUP, 44, ""},
		{"kill-signal replaces TERM", []string{"--kill-signal=SIGUSR1", "sh", "-c", `trap "exit 45" USR1; ` + loop}, syscall.SIGTERM, 45, ""},
		{"kill-signal replaces TERM, -a", []string{"-a", "--kill-signal=SIGUSR1", "sh", "-c", `trap "exit 45" USR1; ` + loop}, syscall.SIGTERM, 45, ""},
		// Caught but not acted on: SIGKILL after the grace period.
		{"TERM caught and ignored", []string{"sh", "-c", `trap "echo ignoring" TERM; ` + loop}, syscall.SIGTERM, 137, "ignoring"},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := snapshotHost(t)
			lr := startLive(t, append([]string{"-q", "-D", busyboxTree}, c.args...)...)
			lr.waitLine(t, "ready")
			if err := lr.cmd.Process.Signal(c.sig); err != nil {
				t.Fatal(err)
			}
			status, rest := lr.wait(t)
			if status != c.status {
				t.Errorf("status %d, want %d (stdout after ready %q, stderr %q)", status, c.status, rest, lr.stderr.String())
			}
			if c.printed != "" && !strings.Contains(rest+"\n", c.printed+"\n") {
				t.Errorf("stdout after ready %q, want a line %q", rest, c.printed)
			}
			checkNoLeaks(t, before)
		})
	}
}

// TestLifecycleKillNspawn: when nspawn dies without a chance to clean up,
// the kernel must still take the whole container with it, including when
// the payload changed credentials (which clears the parent-death signal).
func TestLifecycleKillNspawn(t *testing.T) {
	for _, extra := range [][]string{nil, {"-a"}, {"-u", "tester"}, {"-a", "-u", "tester"}} {
		name := strings.Join(extra, " ")
		if name == "" {
			name = "plain"
		}
		t.Run(name, func(t *testing.T) {
			before := snapshotHost(t)
			args := append(append([]string{"-q", "-D", busyboxTree}, extra...), "sh", "-c", "sleep 1000 & sleep 1000 & echo ready; wait")
			lr := startLive(t, args...)
			lr.waitLine(t, "ready")
			if err := lr.cmd.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			<-lr.done
			checkNoLeaks(t, before)
		})
	}
}

// TestLifecycleStubInitReapsOrphans: a double-forked child is re-parented
// to the stub init, which must reap it.
func TestLifecycleStubInitReapsOrphans(t *testing.T) {
	before := snapshotHost(t)
	out := mustRun(t, busyboxTree, "-a", "sh", "-c", "(sleep 0.2 &) ; sleep 1; ps -o pid,stat,comm")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) < 2 {
		t.Fatalf("ps printed %q", out)
	}
	for _, l := range lines[1:] {
		if f := strings.Fields(l); len(f) >= 2 && strings.Contains(f[1], "Z") {
			t.Errorf("zombie left unreaped: %q in\n%s", l, out)
		}
	}
	checkNoLeaks(t, before)
}

// TestLifecyclePayloadPID: the payload is PID 1, or PID 2 under the stub
// init with -a, as in systemd-nspawn.
func TestLifecyclePayloadPID(t *testing.T) {
	before := snapshotHost(t)
	if out := mustRun(t, busyboxTree, "sh", "-c", "echo $$"); out != "1\n" {
		t.Errorf("without -a: payload PID %q, want 1", out)
	}
	if out := mustRun(t, busyboxTree, "-a", "sh", "-c", "echo $$"); out != "2\n" {
		t.Errorf("with -a: payload PID %q, want 2", out)
	}
	checkNoLeaks(t, before)
}

func TestLifecycleStdio(t *testing.T) {
	before := snapshotHost(t)
	if r := run(t, "hi\n", "-q", "-D", busyboxTree, "cat"); r.status != 0 || r.stdout != "hi\n" {
		t.Errorf("echo hi | cat: status %d, stdout %q, stderr %q", r.status, r.stdout, r.stderr)
	}

	// Binary data passes through unchanged: no line discipline, no
	// encoding, nothing lost at EOF.
	data := make([]byte, 1<<20)
	if _, err := rand.Read(data); err != nil {
		t.Fatal(err)
	}
	r := run(t, string(data), "-q", "-D", busyboxTree, "cat")
	if r.status != 0 || r.stdout != string(data) {
		t.Errorf("1 MiB through cat: status %d, %d bytes out (identical: %v), stderr %q",
			r.status, len(r.stdout), r.stdout == string(data), r.stderr)
	}

	// stdout may be a regular file, not only a pipe.
	f, err := os.Create(filepath.Join(t.TempDir(), "out"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cmd := exec.Command(nspawnBin, "-q", "-D", busyboxTree, "echo", "to-file")
	var errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = f, &errb
	if err := cmd.Run(); err != nil {
		t.Errorf("stdout to a file: %v: %s", err, errb.String())
	}
	if got, _ := os.ReadFile(f.Name()); string(got) != "to-file\n" {
		t.Errorf("stdout to a file: file holds %q", got)
	}
	checkNoLeaks(t, before)
}

// TestLifecycleNoLeaksWithManyOptions: a run using most options leaves
// neither the host nor the tree changed. Binds land on directories the
// tree already has, so no mount point needs to be created.
func TestLifecycleNoLeaksWithManyOptions(t *testing.T) {
	tree := copyTree(t, busyboxTree)
	digest := treeDigest(t, tree)
	hostDir := t.TempDir()
	if err := os.WriteFile(filepath.Join(hostDir, "f"), []byte("from-host\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Chmod(hostDir, 0o755)
	before := snapshotHost(t)
	out := mustRun(t, tree,
		"--bind="+hostDir+":/mnt", "--bind-ro="+hostDir+":/srv", "--tmpfs=/var:mode=1777",
		"-u", "tester", "--read-only", "--chdir=/srv", "-M", "many", "-E", "X=y",
		"sh", "-c", `cat f /mnt/f; touch /var/ok && echo tmpfs-ok; touch /srv/no 2>/dev/null || echo ro-ok; id -u; echo $X`)
	if want := "from-host\nfrom-host\ntmpfs-ok\nro-ok\n1000\ny\n"; out != want {
		t.Errorf("stdout %q, want %q", out, want)
	}
	checkNoLeaks(t, before)
	if treeDigest(t, tree) != digest {
		t.Errorf("the tree changed")
	}
}

// TestLifecycleKillNspawnAnyMoment SIGKILLs nspawn at moments spread over
// its whole start-up, not only once the payload runs: the container must
// die with it wherever it was (the parent-death signal has to survive the
// child stage's exec whichever of its threads performs it).
func TestLifecycleKillNspawnAnyMoment(t *testing.T) {
	before := snapshotHost(t)
	for i := 0; i < 15; i++ {
		for _, extra := range [][]string{nil, {"-a"}, {"-u", "tester"}, {"-a", "-u", "tester"}} {
			args := append(append([]string{"-q", "-D", busyboxTree}, extra...), "sh", "-c", "sleep 1000 & sleep 1000")
			cmd := exec.Command(nspawnBin, args...)
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			time.Sleep(time.Duration(i%10) * 4 * time.Millisecond)
			cmd.Process.Kill()
			cmd.Wait()
		}
	}
	checkNoLeaks(t, before)
}
