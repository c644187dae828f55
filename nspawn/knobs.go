package nspawn

import "fmt"

// The environment variables systemd-nspawn reads for what has no option,
// which callers set (mock sets both of these): each a boolean, as
// systemd's getenv_bool() parses it; a value that is none is ignored with
// a warning, as there.
const (
	// knobSeccomp=0 installs no system call filter at all
	// (is_seccomp_available()).
	knobSeccomp = "SYSTEMD_SECCOMP"
	// knobTmpfsTmp=0 leaves the tree's own /tmp instead of a tmpfs.
	knobTmpfsTmp = "SYSTEMD_NSPAWN_TMPFS_TMP"
)

// envBool reads the knob name from env, def when unset or unreadable.
func (p *Plan) envBool(env []string, name string, def bool) bool {
	v, ok := lookupEnvOK(env, name)
	if !ok {
		return def
	}
	b, err := parseBool(v)
	if err != nil {
		p.Warnings = append(p.Warnings, fmt.Sprintf("$%s=%s: %v, ignoring", name, v, err))
		return def
	}
	return b
}
