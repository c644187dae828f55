package nspawn

import (
	"github.com/spf13/pflag"

	"github.com/nspawn/nspawn/security"
)

// CompletionOption is one option as a shell completion offers it. The
// completion scripts in completions/ are generated from this list
// (internal/completiongen), so they offer exactly what --help lists.
type CompletionOption struct {
	// Long is the name after "--"; "" for -U and -j, which
	// systemd-nspawn knows by their short name alone.
	Long  string
	Short string
	// Value is "" for a switch, "required" for a value given after '='
	// or as the next word, "optional" for one given only after '='
	// (getopt's optional_argument: --volatile, --private-users, --stats).
	Value string
	// Repeats: each use adds to the option's list (--bind, --setenv).
	Repeats bool
	// Arg is the value's name in --help ("PATH", "MODE").
	Arg   string
	Usage string
	// Complete says what completes the value (a completion kind below);
	// "" is free text nothing can guess (a hostname, a UUID, a path
	// inside the tree).
	Complete string
	// Values are the words a "words" or "list" value is one (or, comma
	// separated, several) of.
	Values []string
}

// The completion kinds: how a shell finds an option's possible values.
const (
	CompleteWords      = "words"      // one of Values
	CompleteList       = "list"       // Values, separated by commas
	CompleteDirectory  = "directory"  // a host directory
	CompleteFile       = "file"       // a host path
	CompletePaths      = "paths"      // host paths separated by ':' (--overlay)
	CompleteBindSource = "bind"       // a host path, then :DST[:OPTS]
	CompleteCredential = "credential" // ID:PATH, the path on the host
	CompleteMachine    = "machine"    // a tree name in the image search path
	CompleteTreeUser   = "tree-user"  // a user of the tree (-D's, else the host's)
	CompleteHostUser   = "host-user"  // a user of the host
	CompleteInterface  = "interface"  // a host network interface
	CompleteBridge     = "bridge"     // a host bridge
	CompleteZone       = "zone"       // a zone (a vz-ZONE bridge's ZONE)
	CompleteEnv        = "env"        // an environment variable's name, then '='
	CompleteStats      = "stats"      // Values, or a file
)

// CompletionOptions lists every option --help lists, in its order, with
// how a shell completes its value. Values come from the parsers' own
// tables (the `help` lists, the mode tables), so they cannot drift.
func CompletionOptions() []CompletionOption {
	fs := newFlagSet(&Options{})
	kinds := completionKinds()
	var out []CompletionOption
	fs.VisitAll(func(f *pflag.Flag) {
		c := CompletionOption{Long: f.Name, Short: f.Shorthand, Usage: f.Usage}
		if f.Hidden {
			c.Long = ""
		}
		if arg := f.Annotations["arg"]; len(arg) > 0 {
			c.Arg = arg[0]
		}
		switch {
		case takesNoValue(f):
		case f.NoOptDefVal != "":
			c.Value = "optional"
		default:
			c.Value = "required"
		}
		c.Repeats = f.Value.Type() == "stringArray"
		c.Complete = kinds[f.Name]
		c.Values = completionValues(f)
		out = append(out, c)
	})
	return out
}

// completionKinds says, for every option that takes a value, what
// completes it, as systemd's shell-completion/bash/systemd-nspawn does
// where it does (directories for -D and --template, files for --bind,
// interfaces for --network-interface). Every option with a value has an
// entry, "" for free text, so that a new option is a decision
// (TestCompletionCoversEveryOption).
func completionKinds() map[string]string {
	return map[string]string{
		"directory":                 CompleteDirectory,
		"template":                  CompleteDirectory,
		"machine":                   CompleteMachine,
		"hostname":                  "",
		"uuid":                      "",
		"user":                      CompleteTreeUser,
		"chdir":                     "", // a path inside the tree
		"setenv":                    CompleteEnv,
		"notify-ready":              CompleteWords,
		"kill-signal":               CompleteWords,
		"bind":                      CompleteBindSource,
		"bind-ro":                   CompleteBindSource,
		"tmpfs":                     "", // a path inside the tree
		"resolv-conf":               CompleteWords,
		"timezone":                  CompleteWords,
		"slice":                     "",
		"property":                  "",
		"register":                  CompleteWords,
		"settings":                  CompleteWords,
		"stats":                     CompleteStats,
		"private-users":             CompleteWords,
		"private-users-ownership":   CompleteWords,
		"capability":                CompleteList,
		"drop-capability":           CompleteList,
		"ambient-capability":        CompleteList,
		"no-new-privileges":         CompleteWords,
		"system-call-filter":        CompleteWords,
		"console":                   CompleteWords,
		"volatile":                  CompleteWords,
		"overlay":                   CompletePaths,
		"overlay-ro":                CompletePaths,
		"link-journal":              CompleteWords,
		"pivot-root":                "", // paths inside the tree
		"set-credential":            "",
		"load-credential":           CompleteCredential,
		"inaccessible":              "", // a path inside the tree
		"bind-user":                 CompleteHostUser,
		"rlimit":                    CompleteWords,
		"oom-score-adjust":          "",
		"cpu-affinity":              "",
		"personality":               CompleteWords,
		"suppress-sync":             CompleteWords,
		"restrict-address-families": CompleteWords,
		"network-veth-extra":        "",
		"network-bridge":            CompleteBridge,
		"network-zone":              CompleteZone,
		"network-macvlan":           CompleteInterface,
		"network-ipvlan":            CompleteInterface,
		"network-interface":         CompleteInterface,
		"network-namespace-path":    CompleteFile,
		"port":                      "",
		"network-configure":         CompleteWords,
	}
}

// completionValues are the words an option's value is one of: its
// `help` list where it has one (in the completion's spelling: CAP_NAME
// upper case, SIGNAME, RLIMIT_NAME=), else its parser's words.
func completionValues(f *pflag.Flag) []string {
	values := f.Annotations[valuesAnnotation]
	switch f.Name {
	case "capability", "drop-capability", "ambient-capability":
		return append(security.CapabilityNames(security.AllCapabilities), "all")
	case "kill-signal":
		var names []string
		for _, v := range values {
			if v[0] < '0' || v[0] > '9' { // 32 and 33 have no name
				names = append(names, "SIG"+v)
			}
		}
		return names
	case "rlimit":
		names := make([]string, len(values))
		for i, v := range values {
			names[i] = v + "="
		}
		return names
	case "notify-ready", "register", "no-new-privileges", "suppress-sync":
		return []string{"yes", "no"}
	case "settings":
		return []string{"yes", "no", "override", "trusted"}
	case "private-users":
		return []string{"yes", "no", "identity", "pick"}
	case "stats":
		return []string{"line", "json"}
	case "system-call-filter":
		return security.SyscallGroupNames()
	}
	return append([]string(nil), values...)
}

// MachineSearchPath is where -M NAME's tree is looked for, in order: the
// completions offer the tree names found there.
func MachineSearchPath() []string { return imageSearchPath() }
