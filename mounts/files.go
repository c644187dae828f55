package mounts

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

// InTreeParent resolves the directory of target within the tree and
// returns the host path of target itself, unresolved: the last component
// is what is created, replaced, removed or read as a link, never what a
// symlink there points to.
func InTreeParent(root, target string) (string, error) {
	dir, err := InTree(root, filepath.Dir(target))
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, filepath.Base(target)), nil
}

func symlink(root string, s Step) error {
	p, err := InTreeParent(root, s.Target)
	if err != nil {
		return err
	}
	if s.Replace {
		if err := unix.Unlink(p); err != nil && !errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("replace %s: %w", s.Target, err)
		}
	}
	if err := unix.Symlink(s.Source, p); err != nil {
		return fmt.Errorf("symlink %s -> %s: %w", s.Target, s.Source, err)
	}
	return nil
}

// write copies Content into the tree the two ways systemd-nspawn does:
// copy_file() into the existing file (O_NOFOLLOW: a symlink there fails
// with ELOOP and is left alone), or copy_file_atomic() as a new file.
func write(root string, s Step) error {
	p, err := InTreeParent(root, s.Target)
	if err != nil {
		return err
	}
	dst := p
	flags := unix.O_WRONLY | unix.O_CREAT | unix.O_TRUNC | unix.O_NOFOLLOW | unix.O_CLOEXEC
	if s.Replace {
		dst = filepath.Join(filepath.Dir(p), "."+filepath.Base(p)+".nspawn-new")
		flags = unix.O_WRONLY | unix.O_CREAT | unix.O_EXCL | unix.O_NOFOLLOW | unix.O_CLOEXEC
	}
	f, err := os.OpenFile(dst, flags, 0o644)
	if err != nil {
		return fmt.Errorf("write %s: %w", s.Target, err)
	}
	_, err = f.WriteString(s.Content)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && s.ModTime != 0 {
		mtime := time.Unix(0, s.ModTime)
		err = os.Chtimes(dst, mtime, mtime)
	}
	if err == nil && s.Replace {
		err = os.Rename(dst, p)
	}
	if err != nil {
		if s.Replace {
			os.Remove(dst)
		}
		return fmt.Errorf("write %s: %w", s.Target, err)
	}
	return nil
}

func remove(root, target string) error {
	p, err := InTreeParent(root, target)
	if err != nil {
		return err
	}
	if err := unix.Unlink(p); err != nil && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("remove %s: %w", target, err)
	}
	return nil
}
