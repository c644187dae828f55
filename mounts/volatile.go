package mounts

import (
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// VolatileModes are --volatile's values, in systemd-nspawn 252's order.
var VolatileModes = []string{"no", "yes", "state", "overlay"}

// volatileTmpfs are the options of --volatile's tmpfs (the root for yes,
// /var for state), systemd-nspawn's TMPFS_LIMITS_ROOTFS and
// TMPFS_LIMITS_VOLATILE_STATE.
const volatileTmpfs = "mode=0755,size=25%,nr_inodes=1m"

// Volatile shows the tree at root, already staged over itself, as
// --volatile's mode says, in the staging namespace: "yes" a fresh tmpfs
// root holding the tree's /usr read-only, "state" the tree read-only under
// a fresh tmpfs /var. ("overlay" is Ephemeral's overlay, made by
// stageTree.) Its tmpfs are owner's, root of the container as the host
// sees it. The tree is never written: what the container changes lives in
// tmpfs that end with the namespaces.
func Volatile(root, mode string, owner uint32) error {
	switch mode {
	case "yes":
		return volatileYes(root, owner)
	case "state":
		return volatileState(root, owner)
	}
	return nil
}

func volatileState(root string, owner uint32) error {
	attr := unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY}
	if err := unix.MountSetattr(unix.AT_FDCWD, root, unix.AT_RECURSIVE, &attr); err != nil {
		return fmt.Errorf("--volatile=state: make %s read-only: %w", root, err)
	}
	// /var is there: planning refuses a tree without it.
	dst, err := InTree(root, "/var")
	if err != nil {
		return err
	}
	if err := unix.Mount("tmpfs", dst, "tmpfs", unix.MS_STRICTATIME, withOwner(volatileTmpfs, owner)); err != nil {
		return fmt.Errorf("--volatile=state: mount a tmpfs on /var: %w", err)
	}
	return nil
}

// volatileYes builds the new root on a tmpfs mounted nowhere, then puts
// it over the tree: the tree's /usr read-only, and what systemd-nspawn's
// base_filesystem_create() adds to a bare /usr (the merged-/usr symlinks,
// the top directories), so the container can boot from /usr alone.
func volatileYes(root string, owner uint32) error {
	options := []string{"mode=0755", "size=25%", "nr_inodes=1m"}
	if owner != 0 {
		options = append(options, fmt.Sprintf("uid=%d", owner), fmt.Sprintf("gid=%d", owner))
	}
	top, err := detachedTmpfs(unix.MOUNT_ATTR_STRICTATIME, options...)
	if err != nil {
		return fmt.Errorf("--volatile=yes: %w", err)
	}
	defer unix.Close(top)
	// The tmpfs is reached by its fd's path: it has no other.
	base := fmt.Sprintf("/proc/self/fd/%d", top)
	if err := baseFilesystem(base, root, owner); err != nil {
		return fmt.Errorf("--volatile=yes: %w", err)
	}
	usr, err := unix.OpenTree(unix.AT_FDCWD, filepath.Join(root, "usr"), unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC|unix.AT_RECURSIVE)
	if err != nil {
		return fmt.Errorf("--volatile=yes: open the tree's /usr: %w", err)
	}
	defer unix.Close(usr)
	if err := unix.MountSetattr(usr, "", unix.AT_EMPTY_PATH|unix.AT_RECURSIVE, &unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY}); err != nil {
		return fmt.Errorf("--volatile=yes: make /usr read-only: %w", err)
	}
	if err := unix.MoveMount(usr, "", top, "usr", unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
		return fmt.Errorf("--volatile=yes: bind /usr: %w", err)
	}
	if err := unix.MoveMount(top, "", unix.AT_FDCWD, root, unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
		return fmt.Errorf("--volatile=yes: put the tmpfs over %s: %w", root, err)
	}
	return nil
}

// baseFilesystem makes in the empty root base what a root made of /usr
// alone needs, as systemd's base_filesystem_create() does: /bin, /lib and
// /sbin pointing into /usr, /lib64 where the tree's dynamic loader is, and
// the top directories, all owner's. tree is the tree, to look into /usr.
func baseFilesystem(base, tree string, owner uint32) error {
	dirs := []struct {
		name string
		mode uint32
	}{{"usr", 0o755}, {"var", 0o755}, {"etc", 0o755}, {"root", 0o750}, {"proc", 0o555}, {"sys", 0o555}, {"dev", 0o555}}
	for _, d := range dirs {
		p := filepath.Join(base, d.name)
		if err := os.Mkdir(p, os.FileMode(d.mode)); err != nil {
			return err
		}
		if err := os.Chmod(p, os.FileMode(d.mode)); err != nil {
			return err
		}
		if err := os.Lchown(p, int(owner), int(owner)); err != nil {
			return err
		}
	}
	links := [][2]string{{"bin", "usr/bin"}, {"lib", "usr/lib"}, {"sbin", "usr/sbin"}}
	for _, lib := range []string{"usr/lib/x86_64-linux-gnu", "usr/lib64"} {
		if _, err := os.Stat(filepath.Join(tree, lib, "ld-linux-x86-64.so.2")); err == nil {
			links = append(links, [2]string{"lib64", lib})
			break
		}
	}
	for _, l := range links {
		p := filepath.Join(base, l[0])
		if err := os.Symlink(l[1], p); err != nil {
			return err
		}
		if err := os.Lchown(p, int(owner), int(owner)); err != nil {
			return err
		}
	}
	return nil
}

// withOwner adds the tmpfs options that make it owner's.
func withOwner(data string, owner uint32) string {
	if owner == 0 {
		return data
	}
	return joinOptions(data, fmt.Sprintf("uid=%d,gid=%d", owner, owner))
}
