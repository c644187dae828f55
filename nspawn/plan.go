package nspawn

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/nspawn/nspawn/mounts"
	"github.com/nspawn/nspawn/pty"
	"github.com/nspawn/nspawn/security"
	"github.com/nspawn/nspawn/userns"
	"github.com/nspawn/nspawn/users"
)

// Plan is everything the container will be, decided before anything is
// created: every user mistake is caught while building it, and it does not
// change after BuildPlan returns. What is only settled once nspawn runs (a
// picked ID range, the cgroup systemd makes, the compiled filter) is the
// run-time state's (container); what the child reads is its message
// (childMessage), made from both.
type Plan struct {
	Root     string // absolute host path of the tree
	Machine  string
	Hostname string
	UUID     string

	// Cgroup is where the container's processes go and what limits them.
	Cgroup CgroupPlan

	// Cloneflags are the namespaces the child is created in.
	Cloneflags uintptr
	// LateCgroupNS makes the child enter its cgroup namespace only once
	// nspawn has moved it into its cgroups and handed it its message:
	// CLONE_NEWCGROUP roots the namespace where the child is at clone
	// time, which is only its cgroup when CLONE_INTO_CGROUP put it there.
	LateCgroupNS bool
	// PrivateNetwork: the container has a network namespace of its own
	// (Network says which and what is in it).
	PrivateNetwork bool
	Network        NetworkPlan
	// UserNS is the user namespace as asked for (with CLONE_NEWUSER): how
	// the container's IDs map onto the host's and who owns the tree. A
	// picked range and the ownership auto resolves to are settled when
	// nspawn runs (settleUserNS).
	UserNS userns.Config

	// Mounts are the container's filesystem, by phase.
	Mounts mounts.Phases
	// oldRoot binds the tree to --pivot-root's OLD in the container, the
	// first of the staged mounts.
	oldRoot *mounts.Step
	// Capabilities are what root in the container keeps (bit = CAP_*);
	// AmbientCapabilities are raised for the payload, whoever it runs as.
	Capabilities        uint64
	AmbientCapabilities uint64
	// NoNewPrivileges sets no_new_privs for the payload.
	NoNewPrivileges bool
	// SyscallFilter changes systemd-nspawn's system call filter; nspawn
	// compiles it while the child starts up. NoSeccomp installs none
	// ($SYSTEMD_SECCOMP=0).
	SyscallFilter security.SyscallFilter
	NoSeccomp     bool
	// Warnings are printed by nspawn before it starts the container.
	Warnings []string

	// Credentials are the payload's, in $CREDENTIALS_DIRECTORY
	// (credentials_files.go).
	Credentials []Credential

	// Payload is who runs what, where: the child gets it whole.
	Payload
	// Ephemeral runs the container on a throw-away overlay of the tree
	// (-x), its upper layer in a fresh directory in EphemeralUpper, ""
	// a tmpfs (ephemeral_files.go).
	Ephemeral      bool
	EphemeralUpper string
	// Template is --template: -D to make from it first (template_files.go).
	Template TemplateCopy
	// TreeLock is how the tree is locked against other containers
	// (lock_files.go).
	TreeLock treeLockMode
	// Volatile is --volatile's mode, "" for no (mounts.Volatile).
	Volatile string
	// OverlayWork are the work directories of the overlays with an
	// upper directory, removed when the container ends.
	OverlayWork []string
	// Journal is --link-journal.
	Journal journalPlan
	// BoundUsers are --bind-user's host users (binduser_files.go).
	BoundUsers boundUsers
	// Exec is the payload's execution environment beyond who runs it
	// (plan_exec.go): the child gets it whole.
	Exec ExecSettings

	// Console is the resolved --console mode (never autopipe).
	Console pty.Mode

	AsPID2 bool
	// Boot runs the tree's init as PID 1 (Argv[0]).
	Boot bool
	// NotifyReady waits for the payload's own READY=1 (--notify-ready=yes).
	NotifyReady bool
	// HostOSRelease is the host's os-release, for /run/host/os-release.
	HostOSRelease string
	// HostMachineID is the host's machine ID, which the links' MACs are
	// derived from, as systemd-nspawn derives them.
	HostMachineID string
	// KillSignal, when set, replaces the signal nspawn forwards on SIGTERM
	// and SIGINT (--kill-signal).
	KillSignal unix.Signal
	Quiet      bool
}

// Payload is the process the container runs: who, what, where, with
// which environment.
type Payload struct {
	User  users.User
	Env   []string
	Chdir string
	// Argv is the payload's command line; Argv[0] is looked up in the
	// container's PATH unless it contains a slash. Argv0 overrides the name
	// the payload sees (a login shell's "-sh").
	Argv  []string
	Argv0 string
	// ListenFDs is how many socket-activation fds nspawn passes on as
	// the payload's 3.. (Facts.ListenFDs).
	ListenFDs int
}

// defaultPath is systemd's DEFAULT_PATH with the split-/usr directories, as
// systemd-nspawn gives it to the payload.
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// BuildPlan validates opts against the tree and fills in every default.
// It reads the tree, and the host only through host; it changes nothing.
func BuildPlan(o *Options, host *Facts) (*Plan, error) {
	o, err := withMachineImage(o, host)
	if err != nil {
		return nil, err
	}
	p := &Plan{Quiet: o.Quiet, AsPID2: o.AsPID2, Boot: o.Boot, HostOSRelease: host.OSRelease, HostMachineID: host.MachineID}
	for _, step := range []func(*Options, *Facts) error{
		p.planMode, p.planIdentity, p.planNetwork, p.planLifecycle, p.planCgroup,
		p.planMounts, p.planUserNS, p.planBindUsers, p.planSecurity, p.planPayload, p.planExec, p.planJournal,
	} {
		if err := step(o, host); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// planMode checks what the options say about the run as a whole.
func (p *Plan) planMode(o *Options, host *Facts) error {
	if o.Boot && o.AsPID2 {
		return fmt.Errorf("--boot and --as-pid2 exclude each other: a booted init is PID 1 itself")
	}
	if o.Boot && o.User != "" {
		return fmt.Errorf("--boot and --user exclude each other: init runs as root and starts its own users")
	}
	var err error
	p.Console, err = consoleMode(o, host)
	p.Cloneflags = namespaces(host.TimeNS)
	return err
}

// privateNetwork decides the network namespace: ours unless
// --share-network; under the name systemd-nspawn, systemd-nspawn's
// default, the host's unless --private-network, since the package and
// image builders that run systemd-nspawn fetch packages inside.
func privateNetwork(o *Options) bool {
	if o.AsSystemdNspawn {
		return o.PrivateNetwork
	}
	return !o.ShareNetwork
}

// planIdentity decides the tree and who the container is: machine name,
// hostname, UUID.
func (p *Plan) planIdentity(o *Options, host *Facts) error {
	var err error
	if p.Root, err = p.planTemplate(o, host.Cwd); err != nil {
		return err
	}
	if o.PivotRoot != "" {
		if err := p.planPivotRoot(o.PivotRoot, p.Root); err != nil {
			return err
		}
	}
	// Named after -D as given, not where its symlinks lead, as
	// systemd-nspawn names it.
	given := o.Directory
	if given == "" {
		given = host.Cwd
	} else if !filepath.IsAbs(given) {
		given = filepath.Join(host.Cwd, given)
	}
	if p.Machine, err = machineName(o.Machine, filepath.Clean(given)); err != nil {
		return err
	}
	p.Ephemeral = o.Ephemeral
	if err := p.planTreeLock(o, host.Env); err != nil {
		return err
	}
	if err := p.planEphemeralUpper(o, host.Env); err != nil {
		return err
	}
	if o.Ephemeral && o.Machine == "" {
		// A random suffix, as systemd-nspawn adds one, so that many
		// throw-away containers of one tree run at once.
		if p.Machine, err = ephemeralName(p.Machine); err != nil {
			return err
		}
	}
	p.Hostname = p.Machine
	if o.Hostname != "" {
		if !validHostname(o.Hostname) {
			return fmt.Errorf("--hostname=%s: not a valid hostname (letters, digits, '-' and '.', at most 64 characters)", o.Hostname)
		}
		p.Hostname = o.Hostname
	}
	if p.UUID, err = machineUUID(o.UUID); err != nil {
		return err
	}
	if id, err := treeMachineID(p.Root); err != nil {
		return err
	} else if id != "" {
		p.UUID = id // the tree's own ID wins over --uuid, as in systemd-nspawn
	}
	return nil
}

// planLifecycle decides how the container's start and stop are told and
// asked for: readiness and the stop signal.
func (p *Plan) planLifecycle(o *Options, _ *Facts) error {
	var err error
	if o.NotifyReady != "" {
		if p.NotifyReady, err = parseBool(o.NotifyReady); err != nil {
			return fmt.Errorf("--notify-ready=%s: %v", o.NotifyReady, err)
		}
	}
	if o.KillSignal != "" {
		if p.KillSignal, err = parseSignal(o.KillSignal); err != nil {
			return fmt.Errorf("--kill-signal=%s: %v", o.KillSignal, err)
		}
	} else if o.Boot {
		// systemd's request for an orderly poweroff, systemd-nspawn's
		// default under --boot.
		p.KillSignal = sigRTMin + 3
	}
	return nil
}

// planPayload decides who runs what, where, with which environment.
func (p *Plan) planPayload(o *Options, host *Facts) error {
	userSpec := o.User
	if userSpec == "" {
		userSpec = "root"
	}
	var err error
	if u, ok := p.BoundUsers.lookup(userSpec); ok {
		p.User = u
	} else if p.User, err = users.Lookup(inTree(p.Root, "/etc/passwd"), inTree(p.Root, "/etc/group"), userSpec); err != nil {
		return fmt.Errorf("--user=%s: %v", userSpec, err)
	}
	if o.Chdir != "" && !filepath.IsAbs(o.Chdir) {
		return fmt.Errorf("--chdir=%s: the working directory must be an absolute path inside the container", o.Chdir)
	}
	p.Chdir = o.Chdir
	if p.Boot {
		if err := p.checkOSRelease(host.Env); err != nil {
			return err
		}
	}
	if err := p.planCommand(o.Command); err != nil {
		return err
	}
	if p.Chdir == "" {
		p.Chdir = "/" // systemd-nspawn's working directory for a command
	}
	p.ListenFDs = host.ListenFDs
	if p.Env, err = environment(p, o.Setenv, host.Env); err != nil {
		return err
	}
	if _, set := lookupEnvOK(p.Env, "CREDENTIALS_DIRECTORY"); len(p.Credentials) > 0 && !set {
		p.Env = append(p.Env, "CREDENTIALS_DIRECTORY="+credentialsDir)
	}
	return nil
}

// consoleMode resolves --console and -P to the mode the container gets.
func consoleMode(o *Options, host *Facts) (pty.Mode, error) {
	var m pty.Mode
	if o.Console != "" {
		var err error
		if m, err = pty.ParseMode(o.Console); err != nil {
			return "", fmt.Errorf("--console=%s: %v", o.Console, err)
		}
	}
	if o.Pipe {
		if m != "" && m != pty.Pipe {
			return "", fmt.Errorf("--pipe and --console=%s contradict each other; pick one", o.Console)
		}
		m = pty.Pipe
	}
	if m == "" && o.Boot && !(host.StdinTTY && host.StdoutTTY) {
		// A booted init without a terminal gets systemd-nspawn 252's
		// default, read-only, so its boot messages reach the caller's
		// log; a command keeps pipe, byte-exact both ways.
		return pty.ReadOnly, nil
	}
	return pty.Resolve(m, host.StdinTTY, host.StdoutTTY), nil
}

// treeRoot resolves -D to an absolute, symlink-free directory.
func treeRoot(dir, cwd string) (string, error) {
	if dir == "" {
		dir = cwd
	}
	abs := dir
	if !filepath.IsAbs(abs) {
		abs = filepath.Join(cwd, abs)
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return "", fmt.Errorf("--directory=%s: %s does not exist", dir, abs)
	}
	st, err := os.Stat(real)
	if err != nil {
		return "", fmt.Errorf("--directory=%s: %v", dir, err)
	}
	if !st.IsDir() {
		return "", fmt.Errorf("--directory=%s: %s is not a directory", dir, abs)
	}
	if real == "/" {
		return "", fmt.Errorf("--directory=%s: refusing to use the host's root directory as the container", dir)
	}
	return real, nil
}

// namespaces are the ones every container gets; the time namespace only
// where the kernel has one (Linux 5.6+). The network namespace is added
// by planNetwork, the user namespace by planUserNS.
func namespaces(timeNS bool) uintptr {
	f := uintptr(unix.CLONE_NEWNS | unix.CLONE_NEWPID | unix.CLONE_NEWUTS | unix.CLONE_NEWIPC | unix.CLONE_NEWCGROUP)
	if timeNS {
		f |= unix.CLONE_NEWTIME
	}
	return f
}

// planCommand picks the payload. Without a command it is the user's login
// shell from the tree's passwd, then /bin/bash, then /bin/sh, started as a
// login shell in the home directory, as systemd-nspawn does.
func (p *Plan) planCommand(cmd []string) error {
	if p.Boot {
		return p.planInit(cmd)
	}
	if len(cmd) > 0 {
		p.Argv = cmd
		return nil
	}
	for _, sh := range []string{p.User.Shell, "/bin/bash", "/bin/sh"} {
		if sh == "" || !filepath.IsAbs(sh) {
			continue
		}
		if p.executable(sh) {
			p.Argv = []string{sh}
			p.Argv0 = "-" + filepath.Base(sh)
			if p.Chdir == "" {
				p.Chdir = p.User.Home
			}
			return nil
		}
	}
	return fmt.Errorf("no command given and the tree has no usable shell (tried %s, /bin/bash, /bin/sh); give a command or use a tree with /bin/sh", p.User.Shell)
}

// planInit makes the tree's init PID 1 for --boot, looked for where
// systemd-nspawn looks, binds applied (a /usr bound in brings its
// systemd); the arguments after the options are init's.
func (p *Plan) planInit(args []string) error {
	initPaths := []string{"/usr/lib/systemd/systemd", "/lib/systemd/systemd", "/sbin/init"}
	for _, init := range initPaths {
		if p.executable(init) {
			p.Argv = append([]string{init}, args...)
			return nil
		}
	}
	return fmt.Errorf("--boot: the tree has no init (looked for %s); install one or give a command without --boot", strings.Join(initPaths, ", "))
}

// executable tells whether path, inside the container, is an executable
// file.
func (p *Plan) executable(path string) bool {
	st, err := os.Stat(p.treePath(path))
	return err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0
}

// parseBool reads a boolean as systemd's parse_boolean() does.
func parseBool(s string) (bool, error) {
	switch strings.ToLower(s) {
	case "1", "yes", "y", "true", "t", "on":
		return true, nil
	case "0", "no", "n", "false", "f", "off":
		return false, nil
	}
	return false, fmt.Errorf("not a boolean (yes or no)")
}
