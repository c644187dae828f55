package nspawn

import (
	"fmt"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/nspawn/nspawn/security"
)

// planSecurity decides what root in the container may do: capabilities,
// no_new_privs and the system call filter.
func (p *Plan) planSecurity(o *Options, host *Facts) error {
	caps := security.Capabilities(p.PrivateNetwork)
	if !p.PrivateNetwork && p.Cloneflags&unix.CLONE_NEWUSER != 0 {
		// Binding a port below 1024 takes CAP_NET_BIND_SERVICE in the user
		// namespace that owns the network namespace: the host's one here,
		// where root in the container has nothing. systemd-nspawn 258
		// drops it then (PR 38723), so a program that checks for it does
		// not try and fail. Asked for with --capability=, it is kept.
		caps &^= 1 << unix.CAP_NET_BIND_SERVICE
	}
	for _, c := range []struct {
		flag   string
		values []string
		set    *uint64
	}{
		{"--capability", o.Capabilities, nil},
		{"--drop-capability", o.DropCapabilities, nil},
		{"--ambient-capability", o.AmbientCapabilities, &p.AmbientCapabilities},
	} {
		for _, v := range c.values {
			set, err := security.ParseCapabilities(v)
			if err != nil {
				return fmt.Errorf("%s=%s: %v", c.flag, v, err)
			}
			switch c.flag {
			case "--capability":
				caps |= set
			case "--drop-capability":
				caps &^= set
			default:
				*c.set |= set
			}
		}
	}
	// systemd-nspawn's checks (verify_arguments): ambient capabilities
	// are named one by one, kept, and of use only to a command.
	for _, v := range o.AmbientCapabilities {
		for _, name := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(name), "all") {
				return fmt.Errorf("--ambient-capability=%s: name the capabilities; all is not accepted", v)
			}
		}
	}
	if missing := p.AmbientCapabilities &^ caps; missing != 0 {
		return fmt.Errorf("--ambient-capability: %s not in the container's set; add it with --capability= too", strings.Join(security.CapabilityNames(missing), ","))
	}
	if p.AmbientCapabilities != 0 && o.Boot {
		return fmt.Errorf("--ambient-capability is of no use with --boot: init runs as root with the whole set")
	}
	p.NoSeccomp = !p.envBool(host.Env, knobSeccomp, true)
	own := host.Capabilities
	if missing := p.AmbientCapabilities &^ own; missing != 0 {
		return fmt.Errorf("--ambient-capability: nspawn itself lacks %s, so the container cannot have it", strings.Join(security.CapabilityNames(missing), ","))
	}
	p.Capabilities = caps & own

	var err error
	if p.SyscallFilter, err = security.ParseSyscallFilter(o.SystemCallFilter); err != nil {
		return err
	}
	// Every name is checked here; nspawn compiles the program once the
	// child is started (stageTree).
	if o.NoNewPrivileges != "" {
		if p.NoNewPrivileges, err = parseBool(o.NoNewPrivileges); err != nil {
			return fmt.Errorf("--no-new-privileges=%s: %v", o.NoNewPrivileges, err)
		}
	}
	return nil
}
