package nspawn

import (
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"

	"github.com/nspawn/nspawn/mounts"
	"github.com/nspawn/nspawn/pty"
	"github.com/nspawn/nspawn/security"
	"github.com/nspawn/nspawn/users"
	"github.com/nspawn/nspawn/wire"
)

// childMessage is exactly what the container's first process reads: the
// plan's decisions it carries out, and what nspawn settled at run time
// (the compiled filter). It crosses a pipe as a wire record; the field
// order in MarshalBinary is the format, and message_test.go fails when a
// field is added but not carried.
type childMessage struct {
	Hostname string
	UUID     string
	// LateCgroupNS: enter the cgroup namespace once nspawn has put the
	// child in its cgroups (Plan.LateCgroupNS).
	LateCgroupNS bool
	// AwaitAdmission: nspawn registers the container with systemd only
	// once the child stands in the tree (reportPivoted), and tells it
	// when that is done (sendAdmitted); the child waits there.
	AwaitAdmission bool
	PrivateNetwork bool
	// Mounts are mounts.Phases.Child; Files mounts.Phases.Files.
	Mounts              []mounts.Step
	Files               []mounts.Step
	Capabilities        uint64
	AmbientCapabilities uint64
	NoNewPrivileges     bool
	Seccomp             []unix.SockFilter
	Credentials         []Credential
	BoundUsers          boundUsers
	// AwaitNetwork: nspawn makes the container's links while the child
	// sets up, and tells it when they are there (sendNetworkReady),
	// with the resolv.conf to show; the payload starts after that.
	AwaitNetwork bool
	Payload
	Exec          ExecSettings
	Console       pty.Mode
	AsPID2        bool
	HostOSRelease string
	Quiet         bool
}

// message is what the child of plan is told, with the filter nspawn
// compiled for it.
func (p *Plan) message(seccomp []unix.SockFilter) *childMessage {
	return &childMessage{
		Hostname: p.Hostname, UUID: p.UUID,
		LateCgroupNS: p.LateCgroupNS, AwaitAdmission: p.Cgroup.admitsAfterPivot(), PrivateNetwork: p.Network.Private,
		Mounts: p.Mounts.Child, Files: p.Mounts.Files,
		Capabilities: p.Capabilities, AmbientCapabilities: p.AmbientCapabilities,
		NoNewPrivileges: p.NoNewPrivileges, Seccomp: seccomp,
		Credentials: p.Credentials, BoundUsers: p.BoundUsers, AwaitNetwork: len(p.Network.Links) > 0,
		Payload: p.Payload, Exec: p.Exec,
		Console: p.Console, AsPID2: p.AsPID2, HostOSRelease: p.HostOSRelease, Quiet: p.Quiet,
	}
}

// MarshalBinary encodes the message.
func (m *childMessage) MarshalBinary() ([]byte, error) {
	w := &wire.Writer{}
	w.Str(m.Hostname)
	w.Str(m.UUID)
	w.Flag(m.LateCgroupNS)
	w.Flag(m.AwaitAdmission)
	w.Flag(m.PrivateNetwork)
	mounts.AppendSteps(w, m.Mounts)
	mounts.AppendSteps(w, m.Files)
	w.Num(m.Capabilities)
	w.Num(m.AmbientCapabilities)
	w.Flag(m.NoNewPrivileges)
	w.Str(string(security.EncodeProgram(m.Seccomp)))
	appendCredentials(w, m.Credentials)
	m.BoundUsers.appendWire(w)
	w.Flag(m.AwaitNetwork)
	m.Payload.appendWire(w)
	m.Exec.appendWire(w)
	w.Str(string(m.Console))
	w.Flag(m.AsPID2)
	w.Str(m.HostOSRelease)
	w.Flag(m.Quiet)
	return w.Bytes(), nil
}

// UnmarshalBinary decodes what MarshalBinary wrote.
func (m *childMessage) UnmarshalBinary(b []byte) error {
	r := wire.NewReader(b)
	m.Hostname = r.Str()
	m.UUID = r.Str()
	m.LateCgroupNS = r.Flag()
	m.AwaitAdmission = r.Flag()
	m.PrivateNetwork = r.Flag()
	m.Mounts = mounts.ReadSteps(r)
	m.Files = mounts.ReadSteps(r)
	m.Capabilities = r.Num()
	m.AmbientCapabilities = r.Num()
	m.NoNewPrivileges = r.Flag()
	var err error
	if m.Seccomp, err = security.DecodeProgram([]byte(r.Str())); err != nil {
		return err
	}
	m.Credentials = readCredentials(r)
	m.BoundUsers = readBoundUsers(r)
	m.AwaitNetwork = r.Flag()
	m.Payload = readPayload(r)
	m.Exec = readExecSettings(r)
	m.Console = pty.Mode(r.Str())
	m.AsPID2 = r.Flag()
	m.HostOSRelease = r.Str()
	m.Quiet = r.Flag()
	return r.Err()
}

func (p Payload) appendWire(w *wire.Writer) {
	p.User.AppendWire(w)
	w.Strs(p.Env)
	w.Str(p.Chdir)
	w.Strs(p.Argv)
	w.Str(p.Argv0)
	w.Num(uint64(p.ListenFDs))
}

func readPayload(r *wire.Reader) Payload {
	return Payload{User: users.ReadUser(r), Env: r.Strs(), Chdir: r.Str(), Argv: r.Strs(), Argv0: r.Str(), ListenFDs: int(r.Num())}
}

// payloadArgv is the command line the payload is started with: Argv, with
// Argv0 as the name it sees when one is set (a login shell's "-sh").
func (p Payload) payloadArgv() []string {
	argv := append([]string(nil), p.Argv...)
	if p.Argv0 != "" {
		argv[0] = p.Argv0
	}
	return argv
}

// messagePipe is the pipe on which the child waits for its message. The
// message is its go-ahead: nspawn sends it once /proc, /sys and the
// cgroups are in place; a pipe closed empty tells the child to give up.
type messagePipe struct{ r, w *os.File }

func newMessagePipe() (messagePipe, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return messagePipe{}, fmt.Errorf("hand the container its message: %w", err)
	}
	return messagePipe{r, w}, nil
}

// send writes m whole and closes the pipe.
func (p messagePipe) send(m *childMessage) error {
	defer p.w.Close()
	data, err := m.MarshalBinary()
	if err != nil {
		return err
	}
	if len(data) > 1<<16 { // beyond a pipe's default capacity
		if _, err := unix.FcntlInt(p.w.Fd(), unix.F_SETPIPE_SZ, len(data)); err != nil {
			return fmt.Errorf("hand the container a message of %d bytes: %w", len(data), err)
		}
	}
	if _, err = p.w.Write(data); err != nil {
		return fmt.Errorf("hand the container its message: %w", err)
	}
	return nil
}

// close closes what is still open of the pipe: a child still waiting
// reads an empty message and gives up.
func (p messagePipe) close() {
	p.r.Close()
	p.w.Close()
}

// readMessage reads the message the parent (or the child, for the stub
// init) left on messageFD.
func readMessage() (*childMessage, error) {
	f := os.NewFile(messageFD, "message")
	data, err := io.ReadAll(f)
	f.Close()
	m := &childMessage{}
	if err == nil {
		err = m.UnmarshalBinary(data)
	}
	if err != nil {
		return nil, fmt.Errorf("read nspawn's message: %w", err)
	}
	return m, nil
}
