package nspawn

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/nspawn/nspawn/mounts"
)

// journalModes are --link-journal's values, as systemd-nspawn takes them.
var journalModes = []string{"no", "host", "try-host", "guest", "try-guest", "auto"}

// journalPlan is --link-journal: where the container's journal,
// /var/log/journal/MACHINE-ID, lives as the host sees it.
type journalPlan struct {
	// Mode is "" (no), "guest" (in the tree, with a symlink to it in the
	// host's /var/log/journal), "host" (in the host's, bound into the
	// tree) or "auto" (the host's directory bound in if there is one).
	Mode string
	// Try turns what would stop the start into nothing done.
	Try bool
}

// planJournal decides --link-journal as systemd-nspawn's
// parse_link_journal() and setup_journal() do. The host's side is
// settled when the container starts (linkJournal).
func (p *Plan) planJournal(o *Options, host *Facts) error {
	mode := o.LinkJournal
	if mode == "" {
		mode = "auto"
	}
	j := journalPlan{}
	switch mode {
	case "no":
		return nil
	}
	if o.Ephemeral {
		return nil // nothing of a throw-away container is linked, as in systemd-nspawn
	}
	switch mode {
	case "auto":
		j = journalPlan{Mode: "auto", Try: true}
	case "host", "guest":
		j = journalPlan{Mode: mode}
	case "try-host", "try-guest":
		j = journalPlan{Mode: strings.TrimPrefix(mode, "try-"), Try: true}
	default:
		return fmt.Errorf("--link-journal=%s: unknown mode; use one of %s", mode, strings.Join(journalModes, ", "))
	}
	if strings.ReplaceAll(p.UUID, "-", "") == host.MachineID {
		if !j.Try {
			return fmt.Errorf("--link-journal=%s: the tree's machine ID is the host's (%s), so their journals would be one; give the tree an ID of its own (empty its /etc/machine-id), or use --link-journal=no", mode, host.MachineID)
		}
		p.Warnings = append(p.Warnings, fmt.Sprintf("--link-journal=%s: the tree's machine ID is the host's, not linking journals", mode))
		return nil
	}
	p.Journal = j
	return nil
}

// hostJournalRoot is the host's journal directory.
const hostJournalRoot = "/var/log/journal"

// linkJournal carries out --link-journal on the host's side before the
// tree is staged: guest links the host's /var/log/journal/ID to the
// tree's (a link that stays, as systemd-nspawn leaves it, so journalctl
// -m finds the container's journal afterwards); host makes the host's
// directory; host and auto then bind it into the tree. auto and no
// write nothing on the host.
func (c *container) linkJournal() error {
	j := c.plan.Journal
	if j.Mode == "" {
		return nil
	}
	id := strings.ReplaceAll(c.plan.UUID, "-", "")
	hostDir := filepath.Join(hostJournalRoot, id)
	treeDir := filepath.Join(c.plan.Root, hostJournalRoot, id)
	err := c.journalHostSide(j, hostDir, treeDir)
	if err != nil {
		if j.Try {
			return nil
		}
		return fmt.Errorf("--link-journal=%s: %w", j.Mode, err)
	}
	if j.Mode == "guest" || !exists(hostDir) {
		return nil
	}
	if err := c.mkdirInTree(filepath.Join(hostJournalRoot, id)); err != nil {
		return fmt.Errorf("--link-journal=%s: %w", j.Mode, err)
	}
	c.mounts.Staged = append(c.mounts.Staged, mounts.Step{
		Kind: mounts.KindBind, Source: hostDir, Target: filepath.Join(hostJournalRoot, id),
		Flags: unix.MS_NOSUID | unix.MS_NODEV,
	})
	return nil
}

// journalHostSide makes the host's side of j: a symlink for guest, a
// directory for host. An existing link to the tree is kept.
func (c *container) journalHostSide(j journalPlan, hostDir, treeDir string) error {
	if link, err := os.Readlink(hostDir); err == nil {
		if link == treeDir && j.Mode != "host" {
			return c.mkdirInTree(filepath.Join(hostJournalRoot, filepath.Base(hostDir)))
		}
		if j.Mode == "auto" {
			return nil
		}
		if err := os.Remove(hostDir); err != nil {
			return err
		}
	}
	switch j.Mode {
	case "guest":
		if err := unix.Rmdir(hostDir); err != nil && !errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("%s exists and is not an empty directory or a symlink: %w", hostDir, err)
		}
		if err := os.Symlink(treeDir, hostDir); err != nil {
			return err
		}
		return c.mkdirInTree(filepath.Join(hostJournalRoot, filepath.Base(hostDir)))
	case "host":
		// Not its parents: a host without a persistent journal is not
		// given one.
		if err := unix.Mkdir(hostDir, 0o755); err != nil && !errors.Is(err, unix.EEXIST) {
			return err
		}
	}
	return nil
}

// mkdirInTree makes dir and its parents in the tree, owned by the
// container's root.
func (c *container) mkdirInTree(dir string) error {
	prefix := ""
	for _, part := range strings.Split(strings.Trim(dir, "/"), "/") {
		prefix += "/" + part
		host, err := mounts.InTreeParent(c.plan.Root, prefix)
		if err != nil {
			return err
		}
		if err := unix.Mkdir(host, 0o755); err != nil && !errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("make %s in the tree: %w", dir, err)
		} else if err == nil && c.ids.Shifted() {
			unix.Lchown(host, int(c.ids.Shift), int(c.ids.Shift))
		}
	}
	return nil
}
