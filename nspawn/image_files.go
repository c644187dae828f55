// -M NAME without -D: the tree is looked up by name where systemd-nspawn
// 252 looks (determine_names() in src/nspawn/nspawn.c, image_find() in
// src/shared/discover-image.c), so `nspawn -M NAME` and the nspawn@.service
// unit (--machine=%i, no -D) run /var/lib/machines/NAME as systemd-nspawn
// does, never the current directory.

package nspawn

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// imageSearchPath is systemd 252's search path for machine images, in its
// order: /etc/machines and /run/machines for symlinks, /var/lib/machines
// the main place, /var/lib/container the legacy one, then the vendor's.
func imageSearchPath() []string {
	return []string{"/etc/machines", "/run/machines", "/var/lib/machines", "/var/lib/container", "/usr/local/lib/machines", "/usr/lib/machines"}
}

// templateMachineDir is where --template puts -M NAME's new tree when no
// -D is given, as systemd-nspawn does.
const templateMachineDir = "/var/lib/machines"

// ImageKind is what a name in the image search path is.
type ImageKind string

// The kinds image_find() recognises: a directory tree (or a symlink to
// one), a NAME.raw disk image, a block device.
const (
	ImageNone      ImageKind = ""
	ImageDirectory ImageKind = "directory"
	ImageRaw       ImageKind = "raw"
	ImageBlock     ImageKind = "block"
)

// MachineImage is what the probe found for -M NAME in the image search
// path.
type MachineImage struct {
	// Searched is the search path as looked through, "" when no lookup
	// was due (-D, --template, or no -M).
	Searched []string
	// Path is the first match, DIR/NAME or DIR/NAME.raw, with DIR's own
	// symlinks resolved and NAME's kept (it is named after NAME).
	Path string
	Kind ImageKind
	// ReadOnly: the image is read-only where it lies (under /usr, on a
	// read-only filesystem, or an immutable directory), so the container
	// gets a read-only root unless -x, as systemd-nspawn gives it.
	ReadOnly bool
	// Err is why the search stopped short: an entry that could not be
	// looked at (permission, a symlink loop).
	Err error
}

// imageLookupDue: systemd-nspawn looks -M up only when neither -D nor an
// image is given; with --template, -D is made under /var/lib/machines.
func imageLookupDue(o *Options) bool {
	return o.Machine != "" && o.Directory == "" && o.Template == "" && validHostname(o.Machine)
}

// probeMachineImage looks name up in dirs as image_find() does: the first
// directory holding NAME (a directory or block device, symlinks followed)
// or NAME.raw (a regular file) wins; a NAME that is something else is
// passed over; a search directory that does not exist is skipped.
func probeMachineImage(name string, dirs []string) MachineImage {
	img := MachineImage{Searched: dirs}
	for _, dir := range dirs {
		resolved, err := filepath.EvalSymlinks(dir)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			img.Err = err
			return img
		}
		path := filepath.Join(resolved, name)
		var st unix.Stat_t
		err = unix.Stat(path, &st)
		switch {
		case err == unix.ENOENT:
			path += ".raw"
			if err := unix.Stat(path, &st); err == unix.ENOENT {
				continue
			} else if err != nil {
				img.Err = &os.PathError{Op: "stat", Path: path, Err: err}
				return img
			}
			if st.Mode&unix.S_IFMT != unix.S_IFREG {
				continue
			}
			img.Kind = ImageRaw
		case err != nil:
			img.Err = &os.PathError{Op: "stat", Path: path, Err: err}
			return img
		case st.Mode&unix.S_IFMT == unix.S_IFDIR:
			img.Kind = ImageDirectory
		case st.Mode&unix.S_IFMT == unix.S_IFBLK:
			img.Kind = ImageBlock
		default:
			continue // a plain file named NAME is no image
		}
		img.Path = path
		img.ReadOnly = imageReadOnly(resolved, path, img.Kind, st.Mode)
		return img
	}
	return img
}

// imageReadOnly is image_make()'s read-only test: anything under /usr,
// anything on a read-only filesystem, an immutable directory (chattr +i),
// a file or device with no write bit.
func imageReadOnly(dir, path string, kind ImageKind, mode uint32) bool {
	if dir == "/usr" || strings.HasPrefix(dir, "/usr/") {
		return true
	}
	if unix.Faccessat(unix.AT_FDCWD, path, unix.W_OK, unix.AT_EACCESS) == unix.EROFS {
		return true
	}
	if kind != ImageDirectory {
		return mode&0o222 == 0
	}
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return false
	}
	defer unix.Close(fd)
	// FS_IOC_GETFLAGS is not supported everywhere; a failure is no flag,
	// as in systemd.
	flags, err := unix.IoctlGetUint32(fd, unix.FS_IOC_GETFLAGS)
	return err == nil && flags&fsImmutableFL != 0
}

// fsImmutableFL is <linux/fs.h>'s FS_IMMUTABLE_FL, which x/sys/unix lacks.
const fsImmutableFL = 0x10

// withMachineImage completes what the user said with what systemd-nspawn
// derives from -M alone: with --template and no -D, -D is
// /var/lib/machines/NAME; with neither -D nor --template, -D is the tree
// the image search found, read-only where it lies read-only (unless -x).
// It returns o itself when nothing is derived.
func withMachineImage(o *Options, host *Facts) (*Options, error) {
	if o.Machine == "" || o.Directory != "" {
		return o, nil
	}
	if _, err := machineName(o.Machine, ""); err != nil {
		return nil, err
	}
	derived := *o
	if o.Template != "" {
		derived.Directory = filepath.Join(templateMachineDir, o.Machine)
		return &derived, nil
	}
	img := host.Image
	switch {
	case img.Err != nil:
		return nil, fmt.Errorf("--machine=%s: looking for its tree: %v", o.Machine, img.Err)
	case img.Kind == ImageNone:
		return nil, fmt.Errorf("--machine=%s: no tree named %s in %s; put it there or give it with -D", o.Machine, o.Machine, strings.Join(img.Searched, ", "))
	case img.Kind != ImageDirectory:
		return nil, fmt.Errorf("--machine=%s: %s is a disk image (%s), which nspawn cannot run; give a directory tree with -D", o.Machine, img.Path, img.Kind)
	}
	derived.Directory = img.Path
	derived.ReadOnly = o.ReadOnly || img.ReadOnly && !o.Ephemeral
	return &derived, nil
}
