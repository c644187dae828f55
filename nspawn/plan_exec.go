package nspawn

import (
	"github.com/nspawn/nspawn/wire"
)

// ExecSettings are what the child applies to itself before it becomes
// the payload, beyond its user: resource limits, scheduling, personality.
type ExecSettings struct{}

// planExec decides ExecSettings from ExecOptions.
func (p *Plan) planExec(o *Options, host *Facts) error { return nil }

func (e ExecSettings) appendWire(w *wire.Writer) {}

func readExecSettings(r *wire.Reader) ExecSettings { return ExecSettings{} }

// applyExec applies e to the child itself, before the filter is
// installed and capabilities dropped: raising a hard limit or lowering
// the OOM score needs CAP_SYS_RESOURCE.
func applyExec(e ExecSettings) error { return nil }
