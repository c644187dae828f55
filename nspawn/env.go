package nspawn

import (
	"fmt"
	"strings"

	"github.com/nspawn/nspawn/notify"
)

// containerManager is the value of $container, the Container Interface's
// name for who runs the container.
const containerManager = "nspawn"

// environment is the payload's environment as systemd-nspawn composes it:
// PATH, container=, container_uuid=, TERM from the host if set, the user's HOME,
// USER, LOGNAME and SHELL, then each -E in order (a later one wins). Nothing
// else of nspawn's own environment reaches the payload.
func environment(p *Plan, setenv, hostEnv []string) ([]string, error) {
	env := []string{
		"PATH=" + defaultPath,
		"container=" + containerManager,
		"container_uuid=" + p.UUID,
		"NOTIFY_SOCKET=" + notify.SocketInContainer,
	}
	// TERM only when nspawn has one, as systemd-nspawn passes it.
	if term, ok := lookupEnvOK(hostEnv, "TERM"); ok {
		env = append(env, "TERM="+term)
	}
	env = append(env,
		"HOME="+p.User.Home,
		"USER="+p.User.Name,
		"LOGNAME="+p.User.Name,
		"SHELL="+p.User.Shell,
	)
	for _, e := range setenv {
		name, value, hasValue := strings.Cut(e, "=")
		if !validEnvName(name) {
			return nil, fmt.Errorf("--setenv=%s: %q is not a valid variable name", e, name)
		}
		if !hasValue {
			// -E NAME passes nspawn's own value on, as systemd-nspawn does.
			v, ok := lookupEnvOK(hostEnv, name)
			if !ok {
				continue
			}
			value = v
		}
		env = setEnv(env, name, value)
	}
	return env, nil
}

func setEnv(env []string, name, value string) []string {
	for i, e := range env {
		if strings.HasPrefix(e, name+"=") {
			env[i] = name + "=" + value
			return env
		}
	}
	return append(env, name+"="+value)
}

func lookupEnv(env []string, name string) string {
	v, _ := lookupEnvOK(env, name)
	return v
}

func lookupEnvOK(env []string, name string) (string, bool) {
	for i := len(env) - 1; i >= 0; i-- {
		if v, ok := strings.CutPrefix(env[i], name+"="); ok {
			return v, true
		}
	}
	return "", false
}

func validEnvName(s string) bool {
	if s == "" {
		return false
	}
	for i, c := range s {
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}
