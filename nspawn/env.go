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
// USER, LOGNAME and SHELL, LANG=C.UTF-8 unless booting, the host's
// os-release IDs as $container_host_*, then each -E in order (a later one
// wins). Nothing else of nspawn's own environment reaches the payload.
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
	// systemd-nspawn 252 gives a command a UTF-8 locale that every libc
	// has, and leaves a booted init to set its own.
	if !p.Boot {
		env = append(env, "LANG="+payloadLocale)
	}
	env = append(env, containerHostEnv(p.HostOSRelease)...)
	env = append(env, listenEnv(p, hostEnv)...)
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

// listenEnv is socket activation's variables for the payload, when nspawn
// passes it fds (Payload.ListenFDs): their count, their names as nspawn
// was given them, and LISTEN_PID as the payload's PID inside the
// container: 1, or 2 under --as-pid2, where the stub init is 1 (systemd-
// nspawn 252 says 1 there too, which sd_listen_fds in the payload rejects;
// it drops LISTEN_FDNAMES, which sd_listen_fds_with_names wants).
func listenEnv(p *Plan, hostEnv []string) []string {
	if p.ListenFDs == 0 {
		return nil
	}
	pid := 1
	if p.AsPID2 {
		pid = 2
	}
	env := []string{fmt.Sprintf("LISTEN_FDS=%d", p.ListenFDs), fmt.Sprintf("LISTEN_PID=%d", pid)}
	if names, ok := lookupEnvOK(hostEnv, "LISTEN_FDNAMES"); ok {
		env = append(env, "LISTEN_FDNAMES="+names)
	}
	return env
}

// payloadLocale is systemd's SYSTEMD_NSPAWN_LOCALE.
const payloadLocale = "C.UTF-8"

// containerHostFields are the host's os-release fields the Container
// Interface (systemd's docs/CONTAINER_INTERFACE.md) passes on as
// $container_host_<field>, in lower case: the ID fields systemd-nspawn
// has set since 246. A field the host's os-release lacks is left out.
var containerHostFields = []string{"ID", "VERSION_ID", "BUILD_ID", "VARIANT_ID"}

// containerHostEnv is $container_host_id and the like from the host's
// os-release.
func containerHostEnv(osRelease string) []string {
	fields := parseOSRelease(osRelease)
	var env []string
	for _, k := range containerHostFields {
		if v := fields[k]; v != "" {
			env = append(env, "container_host_"+strings.ToLower(k)+"="+v)
		}
	}
	return env
}

// parseOSRelease reads os-release(5): KEY=VALUE lines, the value
// perhaps in double or single quotes with \-escapes, # comments.
func parseOSRelease(s string) map[string]string {
	out := map[string]string{}
	for _, line := range strings.Split(s, "\n") {
		line = strings.TrimSpace(line)
		k, v, ok := strings.Cut(line, "=")
		if !ok || strings.HasPrefix(line, "#") || !validEnvName(k) {
			continue
		}
		if n := len(v); n >= 2 && (v[0] == '"' || v[0] == '\'') && v[n-1] == v[0] {
			quote := v[0]
			v = v[1 : n-1]
			if quote == '"' {
				var b strings.Builder
				for i := 0; i < len(v); i++ {
					if v[i] == '\\' && i+1 < len(v) {
						i++
					}
					b.WriteByte(v[i])
				}
				v = b.String()
			}
		}
		out[k] = v
	}
	return out
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
