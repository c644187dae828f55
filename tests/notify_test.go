package tests

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// notifyListener is a service manager's $NOTIFY_SOCKET for nspawn.
func notifyListener(t testing.TB) (*net.UnixConn, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn, path
}

// receive returns the next message within wait, or "" if none came.
func receive(conn *net.UnixConn, wait time.Duration) string {
	buf := make([]byte, 4096)
	conn.SetReadDeadline(time.Now().Add(wait))
	n, err := conn.Read(buf)
	if err != nil {
		return ""
	}
	return string(buf[:n])
}

// sendReady is a payload that waits for a line on stdin, then tells its
// $NOTIFY_SOCKET (inside: /run/host/notify) it is ready, as a Type=notify
// service or a booted systemd does.
const sendReady = `use Socket;
<STDIN>;
socket(my $s, AF_UNIX, SOCK_DGRAM, 0) or die "socket: $!";
send($s, "STATUS=warming up\nREADY=1", 0, pack_sockaddr_un($ENV{NOTIFY_SOCKET})) or die "send: $!";
print "sent\n";
sleep 1;`

// leaderPID checks nspawn's first message to its service manager, as
// systemd-nspawn words it (with READY=1 at its end when ready), and
// returns the leader it names.
func leaderPID(t *testing.T, msg string, ready bool) int {
	t.Helper()
	want := "STATUS=Container running.\nX_NSPAWN_LEADER_PID="
	rest, ok := strings.CutPrefix(msg, want)
	if ready {
		rest, ok = strings.CutSuffix(rest, "\nREADY=1")
	}
	pid, err := strconv.Atoi(rest)
	if !ok || err != nil {
		t.Fatalf("service manager got %q, want %q + PID (ready %v)", msg, want, ready)
	}
	return pid
}

// checkLeader checks that pid, named by X_NSPAWN_LEADER_PID=, is a
// running container's PID 1: PID 1 of a PID namespace of its own.
func checkLeader(t *testing.T, pid int) {
	t.Helper()
	// NSpid lists the PID in each namespace from the test's down: pid
	// here, 1 in the one below.
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil || !strings.Contains(string(status), "\nNSpid:\t"+strconv.Itoa(pid)+"\t1\n") {
		t.Errorf("X_NSPAWN_LEADER_PID=%d is not a container's PID 1 (%v):\n%s", pid, err, status)
	}
}

// TestNotifyReadyYes: with --notify-ready=yes, READY=1 reaches nspawn's
// own service manager only once the payload has sent it; its STATUS=
// too, in systemd-nspawn's words.
func TestNotifyReadyYes(t *testing.T) {
	before := snapshotHost(t)
	conn, path := notifyListener(t)
	cmd := exec.Command(nspawnBin, "-q", "--notify-ready=yes", "-D", debianTree, "perl", "-e", sendReady)
	cmd.Env = append(os.Environ(), "NOTIFY_SOCKET="+path)
	stdin, _ := cmd.StdinPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	checkLeader(t, leaderPID(t, receive(conn, 20*time.Second), false))
	if msg := receive(conn, 500*time.Millisecond); msg != "" {
		t.Fatalf("got %q before the payload said anything", msg)
	}
	stdin.Write([]byte("go\n"))
	if msg := receive(conn, 20*time.Second); msg != "STATUS=Container running: warming up\nREADY=1" {
		t.Fatalf("service manager got %q, want the payload's STATUS= and READY=1", msg)
	}
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	checkNoLeaks(t, before)
}

// TestNotifyReadyNo: by default nspawn reports READY=1 as soon as the
// payload starts, whether or not it ever says so itself.
func TestNotifyReadyNo(t *testing.T) {
	conn, path := notifyListener(t)
	cmd := exec.Command(nspawnBin, "-q", "-D", busyboxTree, "sh", "-c", "echo $NOTIFY_SOCKET; test -S /run/host/notify && cat /run/host/container-manager; sleep 1")
	cmd.Env = append(os.Environ(), "NOTIFY_SOCKET="+path)
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != "/run/host/notify\nnspawn\n" {
		t.Errorf("inside: %q", out)
	}
	leaderPID(t, receive(conn, 5*time.Second), true)
	if r := run(t, "", "-q", "--notify-ready=maybe", "-D", busyboxTree, "true"); r.status != 1 {
		t.Errorf("--notify-ready=maybe: status %d", r.status)
	} else {
		checkOneErrorLine(t, r.stderr, "--notify-ready", "maybe")
	}
}
