package tests

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// fdserveSource is a socket-activated server, as sd_listen_fds(3) would
// have it: it reports its socket-activation environment and which fds
// above stdio it has, then answers one connection on each of the
// LISTEN_FDS fds from 3 with the same report. With no fds it reports and
// exits.
const fdserveSource = `package main

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"syscall"
)

func main() {
	var open []int
	for fd := 3; fd < 64; fd++ {
		if _, _, e := syscall.Syscall(syscall.SYS_FCNTL, uintptr(fd), syscall.F_GETFD, 0); e == 0 {
			open = append(open, fd)
		}
	}
	report := fmt.Sprintf("pid=%d LISTEN_PID=%s LISTEN_FDS=%s LISTEN_FDNAMES=%s open=%v",
		os.Getpid(), os.Getenv("LISTEN_PID"), os.Getenv("LISTEN_FDS"), os.Getenv("LISTEN_FDNAMES"), open)
	fmt.Println(report)
	n, _ := strconv.Atoi(os.Getenv("LISTEN_FDS"))
	for i := 0; i < n; i++ {
		l, err := net.FileListener(os.NewFile(uintptr(3+i), "listen"))
		if err != nil {
			fmt.Println("fd", 3+i, err)
			os.Exit(1)
		}
		c, err := l.Accept()
		if err != nil {
			fmt.Println("accept", err)
			os.Exit(1)
		}
		fmt.Fprintf(c, "fd %d: %s\n", 3+i, report)
		c.Close()
	}
}
`

// buildFdserve builds fdserve into a directory of its own, to bind at /mnt.
func buildFdserve(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	buildTestProgram(t, dir, "fdserve", fdserveSource)
	return dir
}

// buildTestProgram builds the one-file Go program source, static, as
// dir/name: a small server or client a test binds into a container.
func buildTestProgram(t *testing.T, dir, name, source string) {
	t.Helper()
	src := filepath.Join(dir, "src")
	os.Mkdir(src, 0o755)
	defer os.RemoveAll(src)
	os.WriteFile(filepath.Join(src, "go.mod"), []byte("module "+name+"\n\ngo 1.22\n"), 0o644)
	os.WriteFile(filepath.Join(src, "main.go"), []byte(source), 0o644)
	build := exec.Command("go", "build", "-o", filepath.Join(dir, name), ".")
	build.Dir = src
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOTOOLCHAIN=local", "GOFLAGS=")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build %s: %v: %s", name, err, out)
	}
}

// listenUnix makes a listening unix socket in dir, as a socket unit would,
// and returns its path and its fd for the child.
func listenUnix(t *testing.T, dir, name string) (string, *os.File) {
	t.Helper()
	path := filepath.Join(dir, name)
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	l.SetUnlinkOnClose(false) // the socket stays, bound, in f
	f, err := l.File()
	l.Close()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return path, f
}

// activated starts bin with files at fd 3.. and the socket-activation
// variables, LISTEN_PID being its own PID unless listenPID says otherwise
// ("$$": the shell's, which exec keeps for bin).
func activated(files []*os.File, listenPID, names, bin string, args ...string) *exec.Cmd {
	script := fmt.Sprintf(`exec env LISTEN_PID=%s LISTEN_FDS=%d LISTEN_FDNAMES=%s "$@"`, listenPID, len(files), names)
	cmd := exec.Command("/bin/sh", append([]string{"-c", script, "sh", bin}, args...)...)
	cmd.ExtraFiles = files
	return cmd
}

// ask connects to the unix socket at path and returns the answer's line.
func ask(t *testing.T, path string) string {
	t.Helper()
	c, err := net.DialTimeout("unix", path, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Minute))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		t.Fatalf("no answer on %s: %v", path, err)
	}
	return strings.TrimSpace(line)
}

// TestSocketActivation: fds passed to nspawn with LISTEN_PID its own reach
// the payload at 3.., with nothing else open, and LISTEN_PID the payload's
// PID inside the container (2 under -a), beside systemd-nspawn 252; a
// connection to each socket is answered from inside.
func TestSocketActivation(t *testing.T) {
	before := snapshotHost(t)
	bin := buildFdserve(t)
	type tool struct{ name, path string }
	tools := []tool{{"nspawn", nspawnBin}}
	if p, err := exec.LookPath("systemd-nspawn"); err == nil {
		tools = append(tools, tool{"systemd-nspawn", p})
	}
	for _, tl := range tools {
		for _, tc := range []struct {
			name    string
			args    []string
			pid     string
			fds     int
			listenP string
		}{
			{"one fd", nil, "1", 1, "1"},
			{"three fds", nil, "1", 3, "1"},
			// More than any helper's own fds overwrite: the rest would leak
			// into the undo watcher but for nspawn's close-on-exec.
			{"nine fds", nil, "1", 9, "1"},
			{"as-pid2", []string{"-a"}, "2", 2, "2"},
			// fdserve as the tree's init: a booted init gets them.
			{"boot", []string{"-b", "-P"}, "1", 2, "1"},
		} {
			t.Run(tl.name+"/"+tc.name, func(t *testing.T) {
				tree := busyboxTree
				args := []string{"-q", "--bind-ro=" + bin + ":/mnt"}
				boot := len(tc.args) > 0 && tc.args[0] == "-b"
				if tl.name == "systemd-nspawn" || boot {
					tree = copyTree(t, busyboxTree)
				}
				if tl.name == "systemd-nspawn" {
					args = append(args, "--register=no", "--keep-unit")
				}
				if boot {
					initPath := filepath.Join(tree, "sbin", "init")
					os.Remove(initPath)
					if out, err := exec.Command("cp", filepath.Join(bin, "fdserve"), initPath).CombinedOutput(); err != nil {
						t.Fatalf("cp fdserve as init: %v %s", err, out)
					}
				}
				args = append(append(args, "-D", tree), tc.args...)
				if !boot {
					args = append(args, "/mnt/fdserve")
				}
				sock := t.TempDir()
				var files []*os.File
				var paths, names []string
				for i := 0; i < tc.fds; i++ {
					p, f := listenUnix(t, sock, fmt.Sprintf("s%d", i))
					paths, files, names = append(paths, p), append(files, f), append(names, fmt.Sprintf("n%d", i))
				}
				cmd := activated(files, "$$", strings.Join(names, ":"), tl.path, args...)
				var errb strings.Builder
				cmd.Stderr = &errb
				out, err := cmd.StdoutPipe()
				if err != nil {
					t.Fatal(err)
				}
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				// A failed test must not leave a server waiting for its
				// connection: its container is ended with it.
				t.Cleanup(func() {
					if cmd.ProcessState == nil {
						cmd.Process.Kill()
						cmd.Wait()
					}
				})
				first, _ := bufio.NewReader(out).ReadString('\n')
				var wantOpen []string
				for i := 0; i < tc.fds; i++ {
					wantOpen = append(wantOpen, fmt.Sprint(3+i))
				}
				t.Logf("%s reports: %s", tl.name, strings.TrimSpace(first))
				wantFDs := fmt.Sprint(tc.fds)
				if tl.name == "systemd-nspawn" && tc.pid == "2" {
					// 252 says LISTEN_PID=1 under -a too (the stub init's).
					tc.listenP = "1"
				}
				want := fmt.Sprintf("pid=%s LISTEN_PID=%s LISTEN_FDS=%s", tc.pid, tc.listenP, wantFDs)
				if !strings.HasPrefix(first, want) || !strings.Contains(first, "open=["+strings.Join(wantOpen, " ")+"]") {
					t.Fatalf("payload reports %q, want %q and open fds %v; stderr: %s", first, want, wantOpen, errb.String())
				}
				// 252 drops LISTEN_FDNAMES; nspawn passes the names on, for
				// sd_listen_fds_with_names.
				if tl.name == "nspawn" && !strings.Contains(first, "LISTEN_FDNAMES="+strings.Join(names, ":")+" ") {
					t.Errorf("payload reports %q, want LISTEN_FDNAMES=%s", first, strings.Join(names, ":"))
				}
				if tl.name == "nspawn" {
					checkHeldOnlyByPayload(t, cmd.Process.Pid, files)
				}
				for i, p := range paths {
					if got := ask(t, p); !strings.HasPrefix(got, fmt.Sprintf("fd %d: pid=%s", 3+i, tc.pid)) {
						t.Errorf("answer on %s: %q", p, got)
					}
				}
				waitWithin(t, cmd, tl.name, errb.String)
				if s := exitStatus(cmd.ProcessState); s != 0 {
					t.Errorf("%s exited %d; stderr: %s", tl.name, s, errb.String())
				}
			})
		}
	}
	checkNoLeaks(t, before)
}

// TestSocketActivationNotOurs: LISTEN_FDS meant for another process
// (LISTEN_PID not nspawn's) passes nothing on: no fd, no variable.
func TestSocketActivationNotOurs(t *testing.T) {
	before := snapshotHost(t)
	bin := buildFdserve(t)
	_, f := listenUnix(t, t.TempDir(), "s")
	cmd := activated([]*os.File{f}, "1", "web", nspawnBin, "-q", "--bind-ro="+bin+":/mnt", "-D", busyboxTree, "/mnt/fdserve")
	var errb strings.Builder
	cmd.Stderr = &errb
	var out strings.Builder
	cmd.Stdout = &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitWithin(t, cmd, "nspawn", errb.String)
	want := "pid=1 LISTEN_PID= LISTEN_FDS= LISTEN_FDNAMES= open=[]"
	if got := strings.TrimSpace(out.String()); got != want || exitStatus(cmd.ProcessState) != 0 {
		t.Errorf("payload reports %q (status %d), want %q; stderr: %s", got, exitStatus(cmd.ProcessState), want, errb.String())
	}
	checkNoLeaks(t, before)
}

// TestSocketActivationExecFails: with fds moved over the status socket's
// place for the payload, an exec that fails is still reported (126, the
// reason), not lost.
func TestSocketActivationExecFails(t *testing.T) {
	before := snapshotHost(t)
	dir := t.TempDir()
	// Executable, but no binary and no #!: execve fails with ENOEXEC.
	os.WriteFile(filepath.Join(dir, "bad"), []byte("\x00\x01\x02 not a program\n"), 0o755)
	var files []*os.File
	for i := 0; i < 3; i++ {
		_, f := listenUnix(t, t.TempDir(), "s")
		files = append(files, f)
	}
	cmd := activated(files, "$$", "a:b:c", nspawnBin, "-q", "--bind-ro="+dir+":/mnt", "-D", busyboxTree, "/mnt/bad")
	var errb strings.Builder
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitWithin(t, cmd, "nspawn", errb.String)
	if s := exitStatus(cmd.ProcessState); s != 126 || !strings.Contains(errb.String(), "cannot execute") {
		t.Errorf("status %d, stderr %q; want 126 and why it cannot execute", s, errb.String())
	}
	checkNoLeaks(t, before)
}

// TestSocketUnit: against the real thing, in a booted systemd: a .socket
// unit in front of a service that runs nspawn with fdserve; a connection
// to the socket starts the service, and the server inside the container
// answers on the fd systemd passed through nspawn, as its PID 1.
func TestSocketUnit(t *testing.T) {
	before := snapshotHost(t)
	bin := buildFdserve(t)
	payloadTree := copyTree(t, busyboxTree)
	b := bootSystemd(t, systemdTree(t), "-M", "sd-sockact", "--private-users=no",
		"--bind-ro="+nspawnBin+":/usr/local/bin/nspawn", "--bind="+payloadTree+":/srv/tree",
		"--bind-ro="+bin+":/srv/fdserve")
	b.waitReady(t)
	b.waitRunning(t)
	sh := func(script string) (string, error) { return b.sh(t, script) }
	install := `printf '[Socket]\nListenStream=127.0.0.1:7777\n' > /etc/systemd/system/fdserve.socket` +
		` && printf '[Service]\nExecStart=/usr/local/bin/nspawn -q --register=no --keep-unit -D /srv/tree --bind-ro=/srv/fdserve:/mnt /mnt/fdserve\n' > /etc/systemd/system/fdserve.service` +
		` && systemctl daemon-reload && systemctl start fdserve.socket`
	if out, err := sh(install + " 2>&1"); err != nil {
		t.Fatalf("installing the units: %v\n%s", err, out)
	}
	if out, _ := sh("systemctl is-active fdserve.service"); strings.TrimSpace(out) == "active" {
		t.Fatalf("fdserve.service runs before any connection")
	}
	// bash's /dev/tcp: the tree has no nc.
	out, err := b.inside(t, "bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/7777 && timeout 60 cat <&3")
	want := "fd 3: pid=1 LISTEN_PID=1 LISTEN_FDS=1"
	if err != nil || !strings.HasPrefix(strings.TrimSpace(out), want) || !strings.Contains(out, "open=[3]") {
		status, _ := sh("systemctl status --no-pager -n 30 fdserve.service fdserve.socket")
		t.Errorf("answer %q (%v), want %q and only fd 3 open\n%s", out, err, want, status)
	}
	// fdserve answers once and exits; the service ends cleanly with it.
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		out, _ := sh("systemctl show fdserve.service -p ActiveState -p Result")
		if strings.Contains(out, "ActiveState=inactive") && strings.Contains(out, "Result=success") {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("fdserve.service did not end cleanly: %s", out)
			break
		}
	}
	b.cmd.Process.Signal(syscall.SIGTERM)
	if status := b.wait(t); status != 0 {
		t.Errorf("status %d after SIGTERM, want 0; stderr %q", status, b.stderr.String())
	}
	checkNoLeaks(t, before)
}

// checkHeldOnlyByPayload fails if any process nspawn (pid) started
// besides the container's own holds one of the socket-activation fds:
// the undo watcher and other helpers must not inherit them.
func checkHeldOnlyByPayload(t *testing.T, pid int, files []*os.File) {
	t.Helper()
	sockets := map[string]bool{}
	for _, f := range files {
		var st syscall.Stat_t
		if err := syscall.Fstat(int(f.Fd()), &st); err != nil {
			t.Fatal(err)
		}
		sockets[fmt.Sprintf("socket:[%d]", st.Ino)] = true
	}
	children, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
	var helpers []string
	for _, tid := range strings.Fields(string(children)) {
		cmdline, _ := os.ReadFile("/proc/" + tid + "/cmdline")
		if strings.HasPrefix(string(cmdline), "nspawn-") {
			helpers = append(helpers, tid)
		}
	}
	if len(helpers) == 0 {
		t.Errorf("no helper of nspawn %d found to check (its children: %q)", pid, children)
	}
	for _, h := range helpers {
		fds, _ := os.ReadDir("/proc/" + h + "/fd")
		for _, fd := range fds {
			if link, _ := os.Readlink("/proc/" + h + "/fd/" + fd.Name()); sockets[link] {
				t.Errorf("nspawn's helper %s holds socket-activation socket %s as fd %s", h, link, fd.Name())
			}
		}
	}
}
