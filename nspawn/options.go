package nspawn

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/spf13/pflag"
	"golang.org/x/sys/unix"

	"github.com/nspawn/nspawn/security"
)

// Options is what the user said on the command line, parsed and nothing
// more: no file is looked at and no default that needs the tree is filled in
// here. BuildPlan turns it into a Plan.
type Options struct {
	Directory    string
	Machine      string
	Hostname     string
	UUID         string
	User         string
	Chdir        string
	Setenv       []string
	Quiet        bool
	AsPID2       bool
	Boot         bool
	NotifyReady  string
	KillSignal   string
	Binds        []string
	BindsRO      []string
	Tmpfs        []string
	ReadOnly     bool
	ResolvConf   string
	Timezone     string
	ShareNetwork bool
	Slice        string
	Properties   []string
	Register     string
	KeepUnit     bool
	Stats        string
	// Settings is --settings=: whether and how NAME.nspawn is read
	// (settings.go).
	Settings string
	// given are the options the command line gave, in order, for the
	// settings file's merge.
	given []givenFlag
	// Security (security.go).
	PrivateUsers          string
	PrivateUsersOwnership string
	Capabilities          []string
	DropCapabilities      []string
	AmbientCapabilities   []string
	NoNewPrivileges       string
	SystemCallFilter      []string
	Console               string
	Pipe                  bool
	// PrivateNetwork is accepted for systemd-nspawn compatibility: a
	// private network is our default already.
	PrivateNetwork bool
	Help           bool
	Version        bool
	// NoPager is accepted as systemd-nspawn's --no-pager: nspawn pages
	// nothing.
	NoPager bool
	// HelpValues, when set, are the accepted values of the option given
	// `help` as its value: nspawn prints them and exits.
	HelpValues []string
	// AsSystemdNspawn: nspawn was run under the name systemd-nspawn, so it
	// keeps systemd-nspawn's defaults where callers would notice ours
	// (README: "Defaults under the name systemd-nspawn").
	AsSystemdNspawn bool
	// The process's execution environment (options_exec.go) and the
	// container's files and devices (options_files.go).
	ExecOptions
	FilesOptions
	NetworkOptions

	// Command is the payload and its arguments: everything after the first
	// non-option argument, untouched.
	Command []string
}

// UsageError is a mistake on the command line; the message names the
// option and the fix.
type UsageError struct{ msg string }

func (e *UsageError) Error() string { return e.msg }

// newFlagSet declares every option once, so parsing and --help cannot drift
// apart. Names and meanings follow systemd-nspawn(1).
func newFlagSet(o *Options) *pflag.FlagSet {
	fs := pflag.NewFlagSet("nspawn", pflag.ContinueOnError)
	// systemd-nspawn stops at the first non-option, so that
	// `nspawn -D t ls -la` hands -la to ls.
	fs.SetInterspersed(false)
	fs.SortFlags = false

	fs.StringVarP(&o.Directory, "directory", "D", "", "Root directory of the container (default: the current directory)")
	fs.StringVarP(&o.Machine, "machine", "M", "", "Machine name, also the hostname (default: the directory's base name); without -D, the tree of that name in /var/lib/machines")
	fs.StringVar(&o.Hostname, "hostname", "", "Hostname inside the container, if not the machine name")
	fs.StringVar(&o.UUID, "uuid", "", "Machine UUID (default: random)")
	fs.StringVarP(&o.User, "user", "u", "", "Run the command as this user of the tree (name or UID)")
	fs.StringVar(&o.Chdir, "chdir", "", "Working directory inside the container (absolute)")
	fs.StringArrayVarP(&o.Setenv, "setenv", "E", nil, "Set an environment variable for the command")
	fs.BoolVarP(&o.Quiet, "quiet", "q", false, "Print no informational messages")
	fs.BoolVarP(&o.AsPID2, "as-pid2", "a", false, "Run the command as PID 2 under a minimal stub init")
	fs.BoolVarP(&o.Boot, "boot", "b", false, "Boot the tree's init; arguments after the options go to it")
	fs.StringVar(&o.NotifyReady, "notify-ready", "", "Report readiness to nspawn's service manager when the payload does (yes), or as soon as it starts (no, the default)")
	fs.StringVar(&o.KillSignal, "kill-signal", "", "Signal sent to PID 1 when nspawn is asked to stop")
	fs.StringArrayVar(&o.Binds, "bind", nil, "Bind mount a host path into the container; OPTS: rbind, norbind, idmap, noidmap, rootidmap, owneridmap")
	fs.StringArrayVar(&o.BindsRO, "bind-ro", nil, "Bind mount a host path read-only; OPTS as --bind")
	fs.StringArrayVar(&o.Tmpfs, "tmpfs", nil, "Mount an empty tmpfs")
	fs.BoolVar(&o.ReadOnly, "read-only", false, "Mount the root directory read-only")
	fs.StringVar(&o.ResolvConf, "resolv-conf", "auto", "How /etc/resolv.conf follows the host's: off, copy-host, copy-static, copy-uplink, copy-stub, replace-*, bind-*, delete or auto")
	fs.StringVar(&o.Timezone, "timezone", "auto", "How /etc/localtime follows the host's: off, copy, bind, symlink, delete or auto")
	fs.BoolVar(&o.ShareNetwork, "share-network", false, "Stay in the host's network namespace (default: a private one with only lo)")
	fs.BoolVar(&o.PrivateNetwork, "private-network", false, "Private network namespace with only lo (the default)")
	fs.StringVarP(&o.Slice, "slice", "S", "", "The slice the container's scope goes in (default: machine.slice)")
	fs.StringArrayVar(&o.Properties, "property", nil, "Set a resource limit on the container's scope, in systemd's unit syntax (MemoryMax=1G, TasksMax=100, CPUQuota=50%, ...)")
	fs.StringVar(&o.Register, "register", "yes", "Register the container with systemd-machined, when systemd runs the host")
	fs.BoolVar(&o.KeepUnit, "keep-unit", false, "Stay in nspawn's own unit (or cgroup) instead of making a scope for the container")
	fs.StringVar(&o.Settings, "settings", "yes", "Read the machine's NAME.nspawn settings file: yes, no, override (its settings win over the options) or trusted (trusted beside the tree too)")
	fs.StringVar(&o.Stats, "stats", "", "At exit, print what the container used: one line, json, or json into the file FILE")
	fs.Lookup("stats").NoOptDefVal = "line"
	fs.StringVar(&o.PrivateUsers, "private-users", "", "User namespace: identity (the default: every ID maps onto itself, mounts locked), no (none; nested containers need it), pick (a free 64K range), yes (the tree's own range) or UID[:COUNT]")
	fs.Lookup("private-users").NoOptDefVal = "yes"
	// -U has no long name in systemd-nspawn; pflag needs one, kept out
	// of --help, which shows -U alone.
	fs.VarP(setTo{&o.PrivateUsers, "pick"}, "private-users-pick", "U", "Same as --private-users=pick --private-users-ownership=auto")
	fs.Lookup("private-users-pick").NoOptDefVal = "true"
	fs.Lookup("private-users-pick").Hidden = true
	fs.StringVar(&o.PrivateUsersOwnership, "private-users-ownership", "", "How the tree's files are owned by a shifted range: off, chown (the tree is chowned into it), map (an ID-mapped mount) or auto (map, else chown; the default with pick)")
	fs.Var(setTo{&o.PrivateUsersOwnership, "chown"}, "private-users-chown", "Same as --private-users-ownership=chown")
	fs.Lookup("private-users-chown").NoOptDefVal = "true"
	fs.StringArrayVar(&o.Capabilities, "capability", nil, "Give root in the container these capabilities too (CAP_NAME,..., or all)")
	fs.StringArrayVar(&o.DropCapabilities, "drop-capability", nil, "Take these capabilities from root in the container (CAP_NAME,..., or all)")
	fs.StringArrayVar(&o.AmbientCapabilities, "ambient-capability", nil, "Raise these capabilities in the payload's ambient set, so a non-root --user has them too")
	fs.StringVar(&o.NoNewPrivileges, "no-new-privileges", "", "Set no_new_privs for the payload: setuid programs and file capabilities grant nothing")
	fs.StringArrayVar(&o.SystemCallFilter, "system-call-filter", nil, "Allow these system calls beyond the default filter (NAME or @GROUP ...), or deny them with a leading ~")
	fs.StringVar(&o.Console, "console", "", "Console mode: interactive, read-only, passive, pipe or autopipe (default: interactive on a terminal, else pipe)")
	fs.BoolVarP(&o.Pipe, "pipe", "P", false, "Same as --console=pipe")
	declareFilesOptions(fs, &o.FilesOptions)
	declareExecOptions(fs, &o.ExecOptions)
	declareNetworkOptions(fs, &o.NetworkOptions)
	fs.BoolVarP(&o.Help, "help", "h", false, "Show this help")
	fs.BoolVar(&o.Version, "version", false, "Show the version, as systemd-nspawn's: \"systemd 252 (252-nspawn-VERSION)\"")
	fs.BoolVar(&o.NoPager, "no-pager", false, "Accepted for systemd-nspawn's callers; nspawn pages nothing")
	// Argument names for --help and the manual page.
	argNames(fs, map[string]string{
		"directory":               "PATH",
		"machine":                 "NAME",
		"hostname":                "NAME",
		"uuid":                    "UUID",
		"user":                    "USER",
		"chdir":                   "PATH",
		"setenv":                  "NAME[=VALUE]",
		"kill-signal":             "SIGNAL",
		"bind":                    "SRC[:DST[:OPTS]]",
		"bind-ro":                 "SRC[:DST[:OPTS]]",
		"tmpfs":                   "PATH[:OPTS]",
		"console":                 "MODE",
		"notify-ready":            "BOOL",
		"resolv-conf":             "MODE",
		"timezone":                "MODE",
		"slice":                   "SLICE",
		"property":                "NAME=VALUE",
		"register":                "BOOL",
		"stats":                   "line|json|FILE",
		"settings":                "MODE",
		"private-users":           "MODE",
		"private-users-ownership": "MODE",
		"capability":              "CAPS",
		"drop-capability":         "CAPS",
		"ambient-capability":      "CAPS",
		"no-new-privileges":       "BOOL",
		"system-call-filter":      "LIST",
	})
	// The values `--OPTION=help` lists, in systemd-nspawn 252's order.
	for name, values := range map[string][]string{
		"capability":              capabilityHelp(),
		"drop-capability":         capabilityHelp(),
		"ambient-capability":      capabilityHelp(),
		"kill-signal":             signalHelp(),
		"resolv-conf":             resolvModes,
		"timezone":                timezoneModes,
		"console":                 {"autopipe", "interactive", "passive", "pipe", "read-only"},
		"private-users-ownership": {"off", "chown", "map", "auto"},
	} {
		fs.SetAnnotation(name, valuesAnnotation, values)
	}
	return fs
}

// argNames gives flags their argument names, for --help and the manual
// page ("--bind=SRC[:DST[:OPTS]]").
func argNames(fs *pflag.FlagSet, names map[string]string) {
	for name, arg := range names {
		fs.SetAnnotation(name, "arg", []string{arg})
	}
}

// ParseOptions parses argv (without the program name) as systemd-nspawn's
// getopt_long does (parseArgs).
func ParseOptions(args []string) (*Options, error) {
	o := &Options{}
	fs := newFlagSet(o)
	command, err := parseArgs(fs, o, args)
	if err != nil {
		return nil, err
	}
	if o.ShareNetwork && o.PrivateNetwork {
		return nil, &UsageError{"--share-network and --private-network contradict each other; pick one"}
	}
	for _, name := range []string{"network-bridge", "network-zone", "network-namespace-path"} {
		// Given empty is not the same as not given.
		if f := fs.Lookup(name); f.Changed && f.Value.String() == "" {
			return nil, &UsageError{fmt.Sprintf("--%s=: the value is empty; name one, or leave the option out", name)}
		}
	}
	if _, err := parseSettingsMode(o.Settings); err != nil {
		return nil, &UsageError{err.Error()}
	}
	o.Command = command
	return o, nil
}

// WriteHelp prints the usage text; man/nspawn.1 follows it.
func WriteHelp(w io.Writer) {
	fs := newFlagSet(&Options{})
	var b strings.Builder
	b.WriteString("nspawn [OPTIONS...] [COMMAND [ARGS...]]\n\n")
	b.WriteString("Run a command or shell in a directory tree, isolated in fresh namespaces.\n\n")
	fs.VisitAll(func(f *pflag.Flag) {
		// systemd-nspawn's layout: "-D --directory=PATH  Text".
		name := "   --" + f.Name
		if f.Hidden {
			name = "-" + f.Shorthand
		} else if f.Shorthand != "" {
			name = "-" + f.Shorthand + " --" + f.Name
		}
		if arg := f.Annotations["arg"]; len(arg) > 0 && f.NoOptDefVal != "" {
			name += "[=" + arg[0] + "]" // a value only after '=', as getopt's optional_argument
		} else if len(arg) > 0 {
			name += "=" + arg[0]
		}
		fmt.Fprintf(&b, "  %-30s %s\n", name, f.Usage)
	})
	io.WriteString(w, b.String())
}

// setTo is a boolean option that, when given, sets another option to val:
// systemd-nspawn's shorthands (-U, --private-users-chown) and the options
// they stand for then override each other in command-line order, as with
// getopt.
type setTo struct {
	dst *string
	val string
}

func (s setTo) Set(v string) error {
	on, err := parseBool(v)
	if err == nil && on {
		*s.dst = s.val
	}
	return err
}
func (s setTo) String() string   { return "false" }
func (s setTo) Type() string     { return "bool" }
func (s setTo) IsBoolFlag() bool { return true }

// capabilityHelp lists the capability names --capability=help prints:
// lower case, in number order, as systemd-nspawn lists them.
func capabilityHelp() []string {
	names := security.CapabilityNames(security.AllCapabilities)
	for i, n := range names {
		names[i] = strings.ToLower(n)
	}
	return names
}

// signalHelp lists what --kill-signal=help prints, as systemd-nspawn
// lists signals: the classic ones by name without SIG, 32 and 33 (glibc
// keeps them) by number, then RTMIN+N up to SIGRTMAX.
func signalHelp() []string {
	var names []string
	for n := 1; n <= sigRTMax; n++ {
		switch {
		case n >= sigRTMin:
			names = append(names, fmt.Sprintf("RTMIN+%d", n-sigRTMin))
		case unix.SignalName(unix.Signal(n)) != "":
			names = append(names, strings.TrimPrefix(unix.SignalName(unix.Signal(n)), "SIG"))
		default:
			names = append(names, strconv.Itoa(n))
		}
	}
	return names
}
