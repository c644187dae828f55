package nspawn

import (
	"encoding/binary"
	"errors"

	"github.com/nspawn/nspawn/mounts"
	"github.com/nspawn/nspawn/pty"
	"github.com/nspawn/nspawn/security"
	"github.com/nspawn/nspawn/users"
	"golang.org/x/sys/unix"
)

// The plan crosses to the child as a flat binary record, not JSON: decoding
// JSON costs the child about a millisecond of cold reflection code on every
// start, a twentieth of the whole run. The field order below is the format;
// wire_test.go fails when a Plan field is added but not carried.

type wireWriter struct{ b []byte }

func (w *wireWriter) num(n uint64) { w.b = binary.AppendUvarint(w.b, n) }
func (w *wireWriter) str(s string) { w.num(uint64(len(s))); w.b = append(w.b, s...) }
func (w *wireWriter) flag(v bool) {
	if v {
		w.num(1)
	} else {
		w.num(0)
	}
}
func (w *wireWriter) strs(ss []string) {
	w.num(uint64(len(ss)))
	for _, s := range ss {
		w.str(s)
	}
}

type wireReader struct {
	b   []byte
	err error
}

var errWire = errors.New("truncated or corrupt plan")

func (r *wireReader) num() uint64 {
	n, size := binary.Uvarint(r.b)
	if size <= 0 {
		r.err, r.b = errWire, nil
		return 0
	}
	r.b = r.b[size:]
	return n
}
func (r *wireReader) str() string {
	n := r.num()
	if n > uint64(len(r.b)) {
		r.err, r.b = errWire, nil
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}
func (r *wireReader) flag() bool { return r.num() != 0 }
func (r *wireReader) strs() []string {
	n := r.num()
	if n > uint64(len(r.b)) { // every string takes at least a byte
		r.err, r.b = errWire, nil
		return nil
	}
	var ss []string
	for range n {
		ss = append(ss, r.str())
	}
	return ss
}

func (w *wireWriter) steps(steps []mounts.Step) {
	w.num(uint64(len(steps)))
	for _, m := range steps {
		w.str(string(m.Kind))
		w.str(m.Source)
		w.str(m.Target)
		w.str(m.FSType)
		w.str(m.Data)
		w.num(uint64(m.Flags))
		w.flag(m.ReadOnly)
		w.flag(m.Recursive)
		w.flag(m.SourceInTree)
		w.strs(m.Devices)
		w.str(m.Content)
		w.num(uint64(m.ModTime))
		w.flag(m.Replace)
		w.flag(m.BestEffort)
	}
}

func (r *wireReader) steps() []mounts.Step {
	n := r.num()
	if n > uint64(len(r.b)) { // every step takes at least a byte
		r.err, r.b = errWire, nil
		return nil
	}
	var steps []mounts.Step
	for range n {
		steps = append(steps, mounts.Step{
			Kind:         mounts.Kind(r.str()),
			Source:       r.str(),
			Target:       r.str(),
			FSType:       r.str(),
			Data:         r.str(),
			Flags:        uintptr(r.num()),
			ReadOnly:     r.flag(),
			Recursive:    r.flag(),
			SourceInTree: r.flag(),
			Devices:      r.strs(),
			Content:      r.str(),
			ModTime:      int64(r.num()),
			Replace:      r.flag(),
			BestEffort:   r.flag(),
		})
	}
	return steps
}

// MarshalBinary encodes the plan for the child.
func (p *Plan) MarshalBinary() ([]byte, error) {
	w := &wireWriter{}
	w.str(p.Root)
	w.str(p.Machine)
	w.str(p.Hostname)
	w.str(p.UUID)
	w.num(uint64(p.Cloneflags))
	w.flag(p.LateCgroupNS)
	w.flag(p.PrivateNetwork)
	w.steps(p.ChildMounts)
	w.num(p.Capabilities)
	w.num(p.AmbientCapabilities)
	w.flag(p.NoNewPrivileges)
	w.str(string(security.EncodeProgram(p.Seccomp)))
	w.steps(p.TreeFiles)
	w.strs(p.Warnings)
	w.str(p.User.Name)
	w.num(uint64(p.User.UID))
	w.num(uint64(p.User.GID))
	w.num(uint64(len(p.User.Groups)))
	for _, g := range p.User.Groups {
		w.num(uint64(g))
	}
	w.str(p.User.Home)
	w.str(p.User.Shell)
	w.strs(p.Env)
	w.str(p.Chdir)
	w.strs(p.Argv)
	w.str(p.Argv0)
	w.str(string(p.Console))
	w.flag(p.AsPID2)
	w.flag(p.Boot)
	w.flag(p.NotifyReady)
	w.str(p.HostOSRelease)
	w.num(uint64(p.KillSignal))
	w.flag(p.Quiet)
	return w.b, nil
}

// UnmarshalBinary decodes what MarshalBinary wrote.
func (p *Plan) UnmarshalBinary(b []byte) error {
	r := &wireReader{b: b}
	var err error
	p.Root = r.str()
	p.Machine = r.str()
	p.Hostname = r.str()
	p.UUID = r.str()
	p.Cloneflags = uintptr(r.num())
	p.LateCgroupNS = r.flag()
	p.PrivateNetwork = r.flag()
	p.ChildMounts = r.steps()
	p.Capabilities = r.num()
	p.AmbientCapabilities = r.num()
	p.NoNewPrivileges = r.flag()
	if p.Seccomp, err = security.DecodeProgram([]byte(r.str())); err != nil {
		return err
	}
	p.TreeFiles = r.steps()
	p.Warnings = r.strs()
	u := users.User{Name: r.str(), UID: uint32(r.num()), GID: uint32(r.num())}
	if n := r.num(); n > uint64(len(r.b)) {
		return errWire
	} else if n > 0 {
		u.Groups = make([]uint32, n)
		for i := range u.Groups {
			u.Groups[i] = uint32(r.num())
		}
	}
	u.Home = r.str()
	u.Shell = r.str()
	p.User = u
	p.Env = r.strs()
	p.Chdir = r.str()
	p.Argv = r.strs()
	p.Argv0 = r.str()
	p.Console = pty.Mode(r.str())
	p.AsPID2 = r.flag()
	p.Boot = r.flag()
	p.NotifyReady = r.flag()
	p.HostOSRelease = r.str()
	p.KillSignal = unix.Signal(r.num())
	p.Quiet = r.flag()
	if r.err == nil && len(r.b) != 0 {
		r.err = errWire
	}
	return r.err
}
