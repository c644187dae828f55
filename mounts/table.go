package mounts

import (
	"fmt"
	"strconv"

	"golang.org/x/sys/unix"
)

// tmpfs size limits, as systemd-nspawn sets them (src/shared/mount-util.h:
// TMPFS_LIMITS_*), so a payload cannot fill the host's memory through
// /dev, /run or /tmp.
const (
	limitsDev    = ",size=4m,nr_inodes=64k"
	limitsNested = ",size=10%,nr_inodes=400k"
	limitsRun    = ",size=20%,nr_inodes=800k"
)

// ttyGroup is the tty group's GID, which systemd-nspawn's setup_pts()
// assumes every tree has (TTY_GID), for devpts's terminals.
const ttyGroup = 5

const (
	noSuidDevExec = unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC
	noSuidDev     = unix.MS_NOSUID | unix.MS_NODEV | unix.MS_STRICTATIME
)

// Kernel is /proc and /sys as systemd-nspawn's mount_all() leaves them,
// hardened the way runtimes learnt to (runc's masked paths): the payload
// may tune its own namespaces through /proc but not the kernel, and reads
// nothing of the host's memory, keys, timers or firmware.
func Kernel() []KernelFS {
	const attr = unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NODEV | unix.MOUNT_ATTR_NOEXEC
	return []KernelFS{
		{
			FSType: "proc", Target: "/proc", Attr: attr,
			// Hardware information and tunables, read-only as in
			// systemd-nspawn.
			ReadOnly: []string{"sys", "sysrq-trigger", "acpi", "apm", "asound", "bus", "fs", "irq", "scsi"},
			// systemd-nspawn's inaccessible /proc files, and what else
			// shows the host's kernel: its memory and symbols, timers
			// (CVE-2016-7916-class leaks), scheduler and latency state.
			Masked: []string{"kallsyms", "kcore", "keys", "timer_list", "sched_debug", "latency_stats", "timer_stats"},
		},
		{
			FSType: "sysfs", Target: "/sys", Attr: attr | unix.MOUNT_ATTR_RDONLY,
			// Firmware tables and EFI variables, and the RAPL energy
			// counters that leak what other code computes
			// (CVE-2020-8694).
			Masked: []string{"firmware", "devices/virtual/powercap"},
		},
	}
}

// Namespaced are the API filesystems of the container's own namespaces
// that need no hardening, mounted by the child inside them: its IPC
// namespace's message queues and, with cgroup2, its cgroup namespace's
// tree, writable, for an init inside to manage.
func Namespaced(cgroup2 bool) []Step {
	var steps []Step
	if cgroup2 {
		steps = append(steps, Step{Kind: KindFS, FSType: "cgroup2", Source: "cgroup2", Target: "/sys/fs/cgroup", Flags: noSuidDevExec})
	}
	return append(steps, Step{Kind: KindFS, FSType: "mqueue", Source: "mqueue", Target: "/dev/mqueue", Flags: noSuidDevExec})
}

// Standard is the rest of the API filesystem table every container gets,
// in the order systemd-nspawn's mount_all() applies it: a private /dev,
// /run and /tmp.
func Standard() []Step {
	return []Step{
		{Kind: KindFS, FSType: "tmpfs", Source: "tmpfs", Target: "/dev", Flags: unix.MS_NOSUID | unix.MS_STRICTATIME, Data: "mode=0755" + limitsDev},
		// The only device nodes a container's /dev holds, as in
		// systemd-nspawn's copy_devnodes(), with /dev/fuse as newer
		// systemd-nspawn adds it (FUSE mounts work in a user namespace);
		// /dev/console comes with a console.
		{Kind: KindDevices, Target: "/dev", Devices: []string{"null", "zero", "full", "random", "urandom", "tty", "net/tun", "fuse"}},
		Devpts{TTYGroup: ttyGroup}.Step(),
		{Kind: KindSymlink, Source: "pts/ptmx", Target: "/dev/ptmx"},
		{Kind: KindSymlink, Source: "/proc/self/fd", Target: "/dev/fd"},
		{Kind: KindSymlink, Source: "/proc/self/fd/0", Target: "/dev/stdin"},
		{Kind: KindSymlink, Source: "/proc/self/fd/1", Target: "/dev/stdout"},
		{Kind: KindSymlink, Source: "/proc/self/fd/2", Target: "/dev/stderr"},
		{Kind: KindFS, FSType: "tmpfs", Source: "tmpfs", Target: "/dev/shm", Flags: noSuidDev, Data: "mode=01777" + limitsNested},
		{Kind: KindFS, FSType: "tmpfs", Source: "tmpfs", Target: "/run", Flags: noSuidDev, Data: "mode=0755" + limitsRun},
		{Kind: KindFS, FSType: "tmpfs", Source: "tmpfs", Target: "/tmp", Flags: noSuidDev, Data: "mode=01777" + limitsNested},
	}
}

// OwnedBy gives the tmpfs and devpts instances among steps to uid, the
// host's ID of root in a shifted container, as systemd-nspawn's
// tmpfs_patch_options() and setup_pts() do: nspawn mounts them from the
// host, where they would belong to host root, an ID the container cannot
// write as. devpts's tty group moves into the container's range with them.
func OwnedBy(steps []Step, uid uint32) []Step {
	out := make([]Step, len(steps))
	for i, s := range steps {
		if s.Kind == KindFS {
			switch s.FSType {
			case "tmpfs":
				s.Data = joinOptions(s.Data, fmt.Sprintf("uid=%d,gid=%d", uid, uid))
			case "devpts":
				s = Devpts{TTYGroup: ttyGroup + uid}.Step()
			}
		}
		if s.Kind == KindOverlay && s.Source == "" {
			// Its throw-away upper directory is root's (overlay_mount.go).
			s.Data = fmt.Sprintf("uid=%d", uid)
		}
		out[i] = s
	}
	return out
}

// Devpts is the container's own devpts instance, on /dev/pts.
type Devpts struct {
	// TTYGroup is the group its terminals are made with (gid=): the tty
	// group as the host sees it, shifted like the tmpfs owners in a
	// shifted container.
	TTYGroup uint32
}

// Step mounts d, systemd-nspawn's setup_pts(): a new instance with its
// own ptmx, each terminal writable by the tty group (mode 620, for
// write(1) and wall).
func (d Devpts) Step() Step {
	return Step{
		Kind: KindFS, FSType: "devpts", Source: "devpts", Target: "/dev/pts",
		Flags: unix.MS_NOSUID | unix.MS_NOEXEC,
		Data:  "newinstance,ptmxmode=0666,mode=620,gid=" + strconv.FormatUint(uint64(d.TTYGroup), 10),
	}
}

func joinOptions(a, b string) string {
	if a == "" {
		return b
	}
	return a + "," + b
}
