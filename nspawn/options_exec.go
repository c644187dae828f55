package nspawn

import "github.com/spf13/pflag"

// ExecOptions are the options of the payload's execution environment
// beyond who runs it: resource limits, scheduling, personality, the
// filter's extras (systemd.nspawn(5)'s [Exec] section).
type ExecOptions struct{}

// declareExecOptions declares ExecOptions' flags, with their argument
// names for --help.
func declareExecOptions(fs *pflag.FlagSet, o *ExecOptions) {}
