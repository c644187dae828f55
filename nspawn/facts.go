package nspawn

import (
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/nspawn/nspawn/cgroup"
	"github.com/nspawn/nspawn/pty"
)

// Facts are what planning needs to know of the host and of nspawn's own
// situation, read once by ProbeHost before BuildPlan. BuildPlan reads the
// host only through them (and the tree itself), so every planning
// decision and error can be tested with Facts made up by the test.
type Facts struct {
	Env       []string // nspawn's environment (TERM, -E NAME without a value)
	Cwd       string   // its working directory
	StdinTTY  bool     // whether its stdin and stdout are terminals
	StdoutTTY bool
	// ListenFDs is how many socket-activation fds (from 3) nspawn was
	// passed for itself (passedListenFDs); they go on to the payload.
	ListenFDs int

	// Capabilities is nspawn's own permitted set: what it lacks (a sandbox
	// may withhold CAP_SYS_RESOURCE) it cannot give, as systemd-nspawn
	// cannot.
	Capabilities uint64
	// TimeNS: the kernel has time namespaces (Linux 5.6).
	TimeNS bool
	// OSRelease is the host's os-release, for /run/host/os-release.
	OSRelease string
	// MachineID is the host's /etc/machine-id, 32 hex digits or "".
	MachineID string
	// Cgroups is where the host mounts its cgroup hierarchies; Systemd
	// that systemd runs the host (sd_booted()).
	Cgroups cgroup.Layout
	Systemd bool
	// Limits are what relative --property= values are relative to.
	Limits cgroup.Host
	// OwnCgroup is nspawn's own cgroup on the unified hierarchy, for
	// --keep-unit; OwnCgroupErr why it is unknown.
	OwnCgroup    string
	OwnCgroupErr error
	// ResolvedStub: systemd-resolved serves its stub resolver here.
	// systemd-nspawn asks resolved over D-Bus; its stub file and its
	// Varlink socket both existing is the same answer without a bus.
	ResolvedStub bool
	// Files are the host files --resolv-conf and --timezone may carry
	// into the tree, by path.
	Files map[string]HostFile
	// Exec is what the payload's execution environment needs (facts_exec.go).
	Exec ExecFacts
	// Net is what the network options name on the host (facts_network.go).
	Net NetFacts
	// Image is what -M NAME names in the image search path, looked up
	// only for -M without -D (image_files.go).
	Image MachineImage
}

// HostFile is a host file as the probe found it.
type HostFile struct {
	Content []byte
	ModTime int64 // Unix nanoseconds
	Err     error // why it could not be read (ENOENT: there is none)
	Link    string
	LinkErr error // why it is no symlink (EINVAL: a plain file)
}

// file is the probed host file at path; one the probe did not read is
// missing.
func (f *Facts) file(path string) HostFile {
	if hf, ok := f.Files[path]; ok {
		return hf
	}
	return HostFile{Err: unix.ENOENT, LinkErr: unix.ENOENT}
}

// ProbeHost reads the facts BuildPlan needs for o. What only some options
// need is read only for them.
func ProbeHost(o *Options) (*Facts, error) {
	cwd, err := os.Getwd()
	if err != nil {
		return nil, err
	}
	f := &Facts{
		Env: os.Environ(), Cwd: cwd,
		StdinTTY: pty.IsTerminal(0), StdoutTTY: pty.IsTerminal(1),
		Capabilities: ownCapabilities(),
		TimeNS:       exists("/proc/self/ns/time"),
		OSRelease:    hostOSRelease(),
		MachineID:    hostMachineID(),
		Cgroups:      cgroup.Detect(),
		Systemd:      exists("/run/systemd/system"),
		ResolvedStub: exists(resolvSources["stub"]) && exists("/run/systemd/resolve/io.systemd.Resolve"),
		Files:        map[string]HostFile{},
		Exec:         probeExecFacts(),
		ListenFDs:    passedListenFDs(os.Environ(), os.Getpid(), fdOpen),
	}
	if len(o.Properties) > 0 {
		f.Limits = limitsHost()
	}
	if o.KeepUnit {
		f.OwnCgroup, f.OwnCgroupErr = unifiedCgroup("self")
	}
	for _, path := range append([]string{localtime}, resolvSourceList()...) {
		f.Files[path] = readHostFile(path)
	}
	if len(o.BindUsers) > 0 {
		// --bind-user's users, as the host's files name them.
		for _, path := range []string{"/etc/passwd", "/etc/group"} {
			f.Files[path] = readHostFile(path)
		}
	}
	probeCredentials(o, f)
	if imageLookupDue(o) {
		f.Image = probeMachineImage(o.Machine, imageSearchPath())
	}
	f.Net = probeNetFacts(o)
	return f, nil
}

// readHostFile reads path, and where it is a symlink, what it says.
func readHostFile(path string) HostFile {
	var hf HostFile
	hf.Link, hf.LinkErr = os.Readlink(path)
	if hf.Content, hf.Err = os.ReadFile(path); hf.Err == nil {
		var st unix.Stat_t
		if hf.Err = unix.Stat(path, &st); hf.Err == nil {
			hf.ModTime = st.Mtim.Nano()
		}
	}
	return hf
}

// hostMachineID is the host's machine ID, as --link-journal compares it.
func hostMachineID() string {
	data, err := os.ReadFile("/etc/machine-id")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(data))
}

// ownCapabilities is nspawn's own permitted set.
func ownCapabilities() uint64 {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return 0
	}
	return uint64(data[0].Permitted) | uint64(data[1].Permitted)<<32
}

// hostOSRelease is the host's os-release, from where os-release(5) says
// to look; empty when the host has none.
func hostOSRelease() string {
	for _, path := range []string{"/etc/os-release", "/usr/lib/os-release"} {
		if data, err := os.ReadFile(path); err == nil {
			return string(data)
		}
	}
	return ""
}

// limitsHost is what relative limits are relative to: RAM, the kernel's
// task limit, the online CPUs.
func limitsHost() cgroup.Host {
	var h cgroup.Host
	var si unix.Sysinfo_t
	if unix.Sysinfo(&si) == nil {
		h.MemTotal = uint64(si.Totalram) * uint64(si.Unit)
	}
	for _, f := range []string{"/proc/sys/kernel/pid_max", "/proc/sys/kernel/threads-max"} {
		if b, err := os.ReadFile(f); err == nil {
			if n, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64); err == nil && (h.TasksMax == 0 || n < h.TasksMax) {
				h.TasksMax = n
			}
		}
	}
	if b, err := os.ReadFile("/sys/devices/system/cpu/online"); err == nil {
		h.CPUs = strings.TrimSpace(string(b))
	}
	return h
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
