package tests

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
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

// TestNotifyReadyYes: with --notify-ready=yes, READY=1 reaches nspawn's
// own service manager only once the payload has sent it; STATUS= too.
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
	if msg := receive(conn, 500*time.Millisecond); msg != "" {
		t.Fatalf("got %q before the payload said anything", msg)
	}
	stdin.Write([]byte("go\n"))
	msg := receive(conn, 20*time.Second)
	if !strings.Contains(msg, "READY=1") || !strings.Contains(msg, "STATUS=warming up") {
		t.Fatalf("service manager got %q, want READY=1 and STATUS=", msg)
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
	if msg := receive(conn, 5*time.Second); msg != "READY=1" {
		t.Errorf("service manager got %q, want READY=1", msg)
	}
	if r := run(t, "", "-q", "--notify-ready=maybe", "-D", busyboxTree, "true"); r.status != 1 {
		t.Errorf("--notify-ready=maybe: status %d", r.status)
	} else {
		checkOneErrorLine(t, r.stderr, "--notify-ready", "maybe")
	}
}
