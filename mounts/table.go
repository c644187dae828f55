package mounts

import "golang.org/x/sys/unix"

// tmpfs size limits, as systemd-nspawn sets them (src/shared/mount-util.h:
// TMPFS_LIMITS_*), so a payload cannot fill the host's memory through
// /dev, /run or /tmp.
const (
	limitsDev    = ",size=4m,nr_inodes=64k"
	limitsNested = ",size=10%,nr_inodes=400k"
	limitsRun    = ",size=20%,nr_inodes=800k"
)

// Standard is the API filesystem table every container gets, in the order
// systemd-nspawn's mount_all() applies it: /proc with its kernel tunables
// read-only, a read-only /sys, a private /dev, /run and /tmp. With cgroup2,
// /sys/fs/cgroup is the container's own cgroup v2 tree, writable, rooted at
// its cgroup namespace, for an init inside to manage.
func Standard(cgroup2 bool) []Step {
	const (
		noSuidDevExec = unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC
		noSuidDev     = unix.MS_NOSUID | unix.MS_NODEV | unix.MS_STRICTATIME
	)
	steps := []Step{
		{Kind: KindFS, FSType: "proc", Source: "proc", Target: "/proc", Flags: noSuidDevExec},
		// The payload may tune its own namespaces' knobs through /proc but
		// not the kernel's: /proc/sys and the sysrq trigger are read-only.
		{Kind: KindReadOnly, Target: "/proc/sys"},
		{Kind: KindReadOnly, Target: "/proc/sysrq-trigger"},
		// Hardware information and tunables, read-only as in
		// systemd-nspawn; those the kernel lacks are skipped.
		{Kind: KindReadOnly, Target: "/proc/acpi"},
		{Kind: KindReadOnly, Target: "/proc/apm"},
		{Kind: KindReadOnly, Target: "/proc/asound"},
		{Kind: KindReadOnly, Target: "/proc/bus"},
		{Kind: KindReadOnly, Target: "/proc/fs"},
		{Kind: KindReadOnly, Target: "/proc/irq"},
		{Kind: KindReadOnly, Target: "/proc/scsi"},
		{Kind: KindFS, FSType: "sysfs", Source: "sysfs", Target: "/sys", Flags: noSuidDevExec | unix.MS_RDONLY},
	}
	if cgroup2 {
		steps = append(steps, Step{Kind: KindFS, FSType: "cgroup2", Source: "cgroup2", Target: "/sys/fs/cgroup", Flags: noSuidDevExec})
	}
	return append(steps, []Step{
		{Kind: KindFS, FSType: "tmpfs", Source: "tmpfs", Target: "/dev", Flags: unix.MS_NOSUID | unix.MS_STRICTATIME, Data: "mode=0755" + limitsDev},
		// The only device nodes a container's /dev holds, as in
		// systemd-nspawn's copy_devnodes(); /dev/console comes with a console.
		{Kind: KindDevices, Target: "/dev", Devices: []string{"null", "zero", "full", "random", "urandom", "tty"}},
		{Kind: KindFS, FSType: "devpts", Source: "devpts", Target: "/dev/pts", Flags: unix.MS_NOSUID | unix.MS_NOEXEC, Data: "newinstance,ptmxmode=0666,mode=620,gid=5"},
		{Kind: KindSymlink, Source: "pts/ptmx", Target: "/dev/ptmx"},
		{Kind: KindSymlink, Source: "/proc/self/fd", Target: "/dev/fd"},
		{Kind: KindSymlink, Source: "/proc/self/fd/0", Target: "/dev/stdin"},
		{Kind: KindSymlink, Source: "/proc/self/fd/1", Target: "/dev/stdout"},
		{Kind: KindSymlink, Source: "/proc/self/fd/2", Target: "/dev/stderr"},
		{Kind: KindFS, FSType: "tmpfs", Source: "tmpfs", Target: "/dev/shm", Flags: noSuidDev, Data: "mode=01777" + limitsNested},
		{Kind: KindFS, FSType: "mqueue", Source: "mqueue", Target: "/dev/mqueue", Flags: noSuidDevExec},
		{Kind: KindFS, FSType: "tmpfs", Source: "tmpfs", Target: "/run", Flags: noSuidDev, Data: "mode=0755" + limitsRun},
		{Kind: KindFS, FSType: "tmpfs", Source: "tmpfs", Target: "/tmp", Flags: noSuidDev, Data: "mode=01777" + limitsNested},
	}...)
}
