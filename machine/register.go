package machine

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/godbus/dbus/v5"
)

// Machine is what systemd and machined are told about a container.
type Machine struct {
	Name   string
	UUID   string // 32 hex digits, dashes allowed
	Leader int    // the container's PID 1, on the host
	Root   string
	// Slice is the slice unit of the scope.
	Slice string
	// Properties go on the scope: limits, devices, the kill signal.
	Properties []Property
}

// Registration is the container as systemd knows it, until Close.
type Registration struct {
	conn *dbus.Conn
	name string
	// unit is the scope nspawn made itself, to drop its reference to.
	unit string
	// machined tells whether machined knows the container.
	machined bool
	// stops carries systemd's requests to stop the scope nspawn controls.
	stops chan struct{}
}

// busTimeout bounds each conversation with systemd, as sd-bus's default
// method call timeout does.
const busTimeout = 25 * time.Second

// Register makes the container known to systemd over the system bus, as
// systemd-nspawn does: with register, machined creates its scope
// (CreateMachine) or, with keepUnit, adopts nspawn's unit
// (RegisterMachine); without machined, or without register, nspawn asks
// systemd for a transient scope itself; with keepUnit and no register,
// there is nothing to say and no bus is opened.
func Register(m Machine, register, keepUnit bool) (*Registration, error) {
	if keepUnit && !register {
		return nil, nil
	}
	conn, err := dbus.ConnectSystemBus()
	if err != nil {
		return nil, fmt.Errorf("connect to the system bus: %w", err)
	}
	r := &Registration{conn: conn, name: m.Name}
	ctx, cancel := context.WithTimeout(context.Background(), busTimeout)
	defer cancel()
	if !keepUnit {
		if err := r.listenForStop(ctx); err != nil {
			conn.Close()
			return nil, err
		}
		m.Properties = append([]Property{Prop("Controller", conn.Names()[0])}, m.Properties...)
	}
	if register {
		err = r.registerMachine(ctx, m, keepUnit)
		if err == nil || keepUnit || !noMachined(err) {
			if err != nil {
				conn.Close()
				return nil, fmt.Errorf("register machine %s with systemd-machined: %w", m.Name, err)
			}
			return r, nil
		}
		// No machined on this host: a scope of our own, as with
		// --register=no.
	}
	if err := r.startScope(ctx, m); err != nil {
		conn.Close()
		return nil, err
	}
	return r, nil
}

// listenForStop subscribes to systemd's RequestStop, before the scope
// exists: nspawn names itself the scope's Controller=, as systemd-nspawn
// does, so that `systemctl stop`, `machinectl terminate` and a shutdown of
// the host ask nspawn to stop the container rather than have systemd send
// its signal to every process in it; nspawn then stops it as on its own
// SIGTERM (the kill signal to PID 1: SIGRTMIN+3 for a booted systemd,
// which powers off cleanly).
func (r *Registration) listenForStop(ctx context.Context) error {
	err := r.conn.AddMatchSignalContext(ctx, dbus.WithMatchSender("org.freedesktop.systemd1"),
		dbus.WithMatchInterface("org.freedesktop.systemd1.Scope"), dbus.WithMatchMember("RequestStop"))
	if err != nil {
		return fmt.Errorf("subscribe to systemd's stop requests: %w", err)
	}
	signals := make(chan *dbus.Signal, 4)
	r.conn.Signal(signals)
	r.stops = make(chan struct{}, 1)
	go func() {
		// Ends when the connection closes (Close), which closes signals.
		for sig := range signals {
			if sig.Name != "org.freedesktop.systemd1.Scope.RequestStop" {
				continue
			}
			select {
			case r.stops <- struct{}{}:
			default: // one pending request is as good as two
			}
		}
	}()
	return nil
}

// StopRequests delivers a value each time systemd asks nspawn to stop the
// container (RequestStop on the scope nspawn controls); nil, never
// delivering, when nspawn controls no scope (--keep-unit, no systemd).
func (r *Registration) StopRequests() <-chan struct{} {
	if r == nil {
		return nil
	}
	return r.stops
}

// noMachined tells whether the bus has no machined to ask.
func noMachined(err error) bool {
	var e dbus.Error
	return errors.As(err, &e) && (e.Name == "org.freedesktop.DBus.Error.ServiceUnknown" || e.Name == "org.freedesktop.DBus.Error.NameHasNoOwner")
}

func (r *Registration) registerMachine(ctx context.Context, m Machine, keepUnit bool) error {
	id, err := hex.DecodeString(strings.ReplaceAll(m.UUID, "-", ""))
	if err != nil || len(id) != 16 {
		id = nil // machined takes an empty ID as "none"
	}
	machined := r.conn.Object("org.freedesktop.machine1", "/org/freedesktop/machine1")
	args := []any{m.Name, id, "nspawn", "container", uint32(m.Leader), m.Root, []int32{}}
	method := "org.freedesktop.machine1.Manager.RegisterMachineWithNetwork"
	if !keepUnit {
		// machined names the scope machine-NAME.scope, puts it in
		// machine.slice with Delegate=yes, and answers once systemd's job
		// is done.
		method = "org.freedesktop.machine1.Manager.CreateMachineWithNetwork"
		props := m.Properties
		if m.Slice != DefaultSlice { // machined's own default
			props = append([]Property{Prop("Slice", m.Slice)}, props...)
		}
		args = append(args, props)
	}
	if err := machined.CallWithContext(ctx, method, 0, args...).Err; err != nil {
		return err
	}
	r.machined = true
	return nil
}

// startScope asks systemd for the scope NAME.scope, with the leader in it
// and its cgroup tree delegated, and waits for the job, as systemd-nspawn's
// allocate_scope() does.
func (r *Registration) startScope(ctx context.Context, m Machine) error {
	unit := m.Name + ".scope"
	props := append([]Property{
		Prop("PIDs", []uint32{uint32(m.Leader)}),
		Prop("Description", "Container "+m.Name),
		Prop("Delegate", true),
		Prop("CollectMode", "inactive-or-failed"),
		Prop("AddRef", true),
		Prop("Slice", m.Slice),
	}, m.Properties...)
	// Subscribed before the job exists, so its end cannot be missed.
	jobs := make(chan *dbus.Signal, 16)
	r.conn.Signal(jobs)
	defer r.conn.RemoveSignal(jobs)
	if err := r.conn.AddMatchSignalContext(ctx, dbus.WithMatchInterface("org.freedesktop.systemd1.Manager"), dbus.WithMatchMember("JobRemoved")); err != nil {
		return fmt.Errorf("allocate scope %s: %w", unit, err)
	}
	systemd := r.conn.Object("org.freedesktop.systemd1", "/org/freedesktop/systemd1")
	var job dbus.ObjectPath
	err := systemd.CallWithContext(ctx, "org.freedesktop.systemd1.Manager.StartTransientUnit", 0,
		unit, "fail", props, []struct {
			Name  string
			Props []Property
		}{}).Store(&job)
	if err != nil {
		return fmt.Errorf("allocate scope %s: %w", unit, err)
	}
	for {
		select {
		case sig := <-jobs:
			var id uint32
			var path dbus.ObjectPath
			var name, result string
			if dbus.Store(sig.Body, &id, &path, &name, &result) != nil || path != job {
				continue
			}
			if result != "done" && result != "skipped" {
				return fmt.Errorf("allocate scope %s: systemd's job ended %q (journalctl -u %s tells why)", unit, result, unit)
			}
			r.unit = unit
			return nil
		case <-ctx.Done():
			return fmt.Errorf("allocate scope %s: no answer from systemd: %w", unit, ctx.Err())
		}
	}
}

// Close tells systemd the container is gone: machined forgets it, and a
// scope nspawn made loses nspawn's reference, so systemd collects it once
// its last process is gone. Errors are of no use to anyone by now.
func (r *Registration) Close() {
	if r == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), busTimeout)
	defer cancel()
	if r.machined {
		r.conn.Object("org.freedesktop.machine1", "/org/freedesktop/machine1").
			CallWithContext(ctx, "org.freedesktop.machine1.Manager.UnregisterMachine", 0, r.name)
	}
	if r.unit != "" {
		r.conn.Object("org.freedesktop.systemd1", "/org/freedesktop/systemd1").
			CallWithContext(ctx, "org.freedesktop.systemd1.Manager.UnrefUnit", 0, r.unit)
	}
	r.conn.Close()
}
