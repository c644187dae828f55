// Package mounts builds and carries out the container's filesystem: a list
// of typed steps (the bubblewrap model), applied in order by one loop in the
// child's new mount namespace, then pivot_root into the tree.
package mounts

// Kind says what a Step does.
type Kind string

const (
	// KindFS mounts a fresh filesystem (proc, sysfs, tmpfs, devpts, mqueue).
	KindFS Kind = "fs"
	// KindBind bind-mounts Source onto Target.
	KindBind Kind = "bind"
	// KindReadOnly makes the existing Target read-only in place (binding it
	// onto itself first when it is not a mount point yet).
	KindReadOnly Kind = "ro"
	// KindDevices creates the device nodes named in Devices under Target.
	KindDevices Kind = "devices"
	// KindSymlink creates Target as a symlink pointing at Source (in place
	// of whatever is there, with Replace).
	KindSymlink Kind = "symlink"
	// KindWrite writes Content to the file Target: in place, keeping the
	// file's mode and refusing a symlink (a copy, --resolv-conf=copy-*), or
	// with Replace as a new 0644 file renamed over it.
	KindWrite Kind = "write"
	// KindRemove removes Target (not what a symlink points to).
	KindRemove Kind = "remove"
	// KindInaccessible binds an empty, mode-0 node of Target's type over
	// it, read-only (--inaccessible).
	KindInaccessible Kind = "inaccessible"
	// KindOverlay mounts an overlay of Lower (bottom first) with the
	// upper directory Source (none: a throw-away tmpfs) at Target
	// (--overlay, --overlay-ro); see overlay_mount.go.
	KindOverlay Kind = "overlay"
)

// Step is one filesystem operation. Targets are absolute paths inside the
// container; Apply resolves them within the tree without following
// symlinks out of it.
type Step struct {
	Kind   Kind
	Source string
	Target string
	// FSType and Data are mount(2)'s filesystemtype and data for KindFS.
	FSType string
	Data   string
	// Flags are MS_* flags for KindFS; for KindBind MS_NOSUID and MS_NODEV.
	Flags uintptr
	// ReadOnly and Recursive apply to KindBind.
	ReadOnly  bool
	Recursive bool
	// SourceInTree means Source is a path inside the tree (systemd-nspawn's
	// "+" prefix), not on the host.
	SourceInTree bool
	// IDMap is how a KindBind shows its files' owners (--bind's idmap
	// options); empty for as they are.
	IDMap IDMap
	// Lower are KindOverlay's lower directories, bottom first; a
	// leading '+' marks a path inside the tree.
	Lower []string
	// Devices lists node names for KindDevices ("null", "zero", ...).
	Devices []string
	// Content and ModTime (Unix nanoseconds, 0 for now) are KindWrite's.
	Content string
	ModTime int64
	// Replace is for KindWrite and KindSymlink.
	Replace bool
	// BestEffort turns a failure into a warning, as systemd-nspawn treats
	// its resolv.conf and timezone updates.
	BestEffort bool
}
