package nspawn

import (
	"fmt"
	"io"
	"os"
)

// reporter prints nspawn's informational lines and warnings, to stderr as
// systemd-nspawn does, with --quiet decided once: under it only errors and
// the payload's own output remain.
type reporter struct {
	quiet bool
	w     io.Writer
}

func newReporter(quiet bool) reporter { return reporter{quiet: quiet, w: os.Stderr} }

// Info prints an informational line (systemd-nspawn's log_info).
func (r reporter) Info(format string, args ...any) {
	if !r.quiet {
		fmt.Fprintf(r.w, format+"\n", args...)
	}
}

// Warn prints warnings about what nspawn does differently than asked.
func (r reporter) Warn(warnings ...string) {
	for _, w := range warnings {
		r.Info("nspawn: %s", w)
	}
}

// Ignored prints what went wrong but does not stop the container, as
// systemd-nspawn logs its "…, ignoring" lines.
func (r reporter) Ignored(errs []error) {
	for _, err := range errs {
		r.Info("nspawn: %v, ignoring", err)
	}
}

// Error prints an error, quiet or not.
func (r reporter) Error(err error) {
	fmt.Fprintf(r.w, "nspawn: %v\n", err)
}

// Print prints a line whatever --quiet says: what the user asked for
// (--stats), and what they must not miss (a death by signal, the OOM
// killer).
func (r reporter) Print(format string, args ...any) {
	fmt.Fprintf(r.w, format+"\n", args...)
}
