package nspawn

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// The child reports to the parent over a SOCK_SEQPACKET socket pair, one
// message per event. It stays open, close-on-exec, until the payload runs,
// so end-of-file tells the parent that setup succeeded.
const (
	msgConsole = 'C' // the console's pty master, passed as SCM_RIGHTS
	msgNotify  = 'N' // the container's notify socket, passed as SCM_RIGHTS
	msgError   = 'E' // a setup failure: status byte, then the message
	// msgNetwork goes the other way, nspawn to child: the links are
	// there, then the resolv.conf to show ("" for the tree's).
	msgNetwork = 'L'
	// msgPivoted: the child stands in the tree, its root; msgAdmitted,
	// nspawn to child: it is in its cgroups and registered.
	msgPivoted  = 'P'
	msgAdmitted = 'A'
)

// statusPair makes the parent's and the child's ends.
func statusPair() (parent, child *os.File, err error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("status socket: %w", err)
	}
	return os.NewFile(uintptr(fds[0]), "status"), os.NewFile(uintptr(fds[1]), "status"), nil
}

// sendFile hands f to the parent, tagged with what it is.
func sendFile(sock *os.File, tag byte, f *os.File) error {
	rights := unix.UnixRights(int(f.Fd()))
	if err := unix.Sendmsg(int(sock.Fd()), []byte{tag}, rights, nil, 0); err != nil {
		return fmt.Errorf("hand %s to nspawn: %w", f.Name(), err)
	}
	return nil
}

// sendError reports a setup failure; the child exits right after.
func sendError(sock *os.File, status int, msg string) {
	unix.Sendmsg(int(sock.Fd()), append([]byte{msgError, byte(status)}, msg...), nil, nil, 0)
}

// setupReport is what the parent learned from the child before the payload
// started: a failure, if any, with its exit status and message.
type setupReport struct {
	failed bool
	status int
	msg    string
}

// readStatus reads the child's messages until the payload runs (end of
// file) or setup fails, calling onFD for each fd passed (tagged msgConsole
// or msgNotify); the callee owns it.
func readStatus(sock *os.File, onFD func(tag byte, fd int)) setupReport {
	buf := make([]byte, 4096)
	oob := make([]byte, unix.CmsgSpace(4))
	for {
		n, oobn, _, _, err := unix.Recvmsg(int(sock.Fd()), buf, oob, unix.MSG_CMSG_CLOEXEC)
		if err == unix.EINTR {
			continue
		}
		if err != nil || n == 0 {
			return setupReport{}
		}
		switch buf[0] {
		case msgConsole, msgNotify:
			if fd := receivedFD(oob[:oobn]); fd >= 0 {
				onFD(buf[0], fd)
			}
		case msgError:
			if n < 2 {
				return setupReport{failed: true, status: 1, msg: "the container's setup failed"}
			}
			return setupReport{failed: true, status: int(buf[1]), msg: string(buf[2:n])}
		}
	}
}

// receivedFD is the fd passed with a message, or -1.
func receivedFD(oob []byte) int {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil || len(msgs) == 0 {
		return -1
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) == 0 {
		return -1
	}
	return fds[0]
}

// parentAlive tells whether nspawn still holds its end of the status
// socket: once it is gone, ours polls POLLHUP.
func parentAlive(sock *os.File) bool {
	fds := []unix.PollFd{{Fd: int32(sock.Fd()), Events: unix.POLLIN}}
	n, err := unix.Poll(fds, 0)
	return err == nil && (n == 0 || fds[0].Revents&(unix.POLLHUP|unix.POLLERR) == 0)
}

// reportPivoted tells nspawn the child stands in the tree, and waits for
// its admission (sendAdmitted); an empty read is nspawn gone.
func reportPivoted(sock *os.File) error {
	if err := unix.Sendmsg(int(sock.Fd()), []byte{msgPivoted}, nil, nil, 0); err != nil {
		return fmt.Errorf("tell nspawn the container stands in its tree: %w", err)
	}
	_, err := awaitWord(sock, msgAdmitted, 1, "the container's registration")
	return err
}

// awaitWord waits, in the child, for nspawn's message tagged tag (at
// most size bytes) and returns what follows the tag; an empty read, or
// another tag, is nspawn gone.
func awaitWord(sock *os.File, tag byte, size int, what string) ([]byte, error) {
	buf := make([]byte, size)
	for {
		n, _, _, _, err := unix.Recvmsg(int(sock.Fd()), buf, nil, 0)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("wait for %s: %w", what, err)
		}
		if n == 0 || buf[0] != tag {
			return nil, fmt.Errorf("wait for %s: nspawn went away", what)
		}
		return buf[1:n], nil
	}
}

// awaitPivoted waits, in nspawn, for the child's reportPivoted and
// consumes it; false when the child reported anything else (a setup
// failure, or its end), which is left to readStatus.
func awaitPivoted(sock *os.File) bool {
	buf := make([]byte, 1)
	for {
		n, _, _, _, err := unix.Recvmsg(int(sock.Fd()), buf, nil, unix.MSG_PEEK)
		if err == unix.EINTR {
			continue
		}
		if err != nil || n == 0 || buf[0] != msgPivoted {
			return false
		}
		unix.Recvmsg(int(sock.Fd()), buf, nil, 0)
		return true
	}
}

// sendAdmitted tells the child it is in its cgroups and registered.
func sendAdmitted(sock *os.File) error {
	if err := unix.Sendmsg(int(sock.Fd()), []byte{msgAdmitted}, nil, nil, 0); err != nil {
		return fmt.Errorf("tell the container it is registered: %w", err)
	}
	return nil
}

// sendNetworkReady tells the child its links are made, with the
// resolv.conf it is to show.
func sendNetworkReady(sock *os.File, resolvConf string) error {
	if err := unix.Sendmsg(int(sock.Fd()), append([]byte{msgNetwork}, resolvConf...), nil, nil, 0); err != nil {
		return fmt.Errorf("tell the container its network is there: %w", err)
	}
	return nil
}

// awaitNetworkReady waits, in the child, for sendNetworkReady; an
// empty read is nspawn gone.
func awaitNetworkReady(sock *os.File) (resolvConf string, err error) {
	word, err := awaitWord(sock, msgNetwork, 64<<10, "the network")
	return string(word), err
}
