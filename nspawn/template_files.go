package nspawn

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/nspawn/nspawn/progress"
	"github.com/nspawn/nspawn/undo"
)

// --template=DIR, as systemd-nspawn 252 has it: a -D that does not exist
// is made from DIR before the container starts; a -D that exists is used
// as it is, with a line saying so. systemd-nspawn snapshots a btrfs
// subvolume and copies elsewhere; we always copy, reflinking each file
// where the filesystem can, into a temporary sibling of -D renamed over
// it only when complete, so no half tree is ever found at -D.

// TemplateCopy is --template as planned.
type TemplateCopy struct {
	// From is the template, absolute and symlink-free; "" without
	// --template.
	From string
	// To is -D, absolute, its parent symlink-free.
	To string
	// Exists: -D was there at planning, and is used as it is.
	Exists bool
}

// undoKindTree is the undo log's kind for a template copy's temporary.
const undoKindTree = "tree"

// templateTemp matches the name of a template copy's temporary,
// ".#<base>.<16 hex digits>", which UndoTree alone removes.
var templateTemp = regexp.MustCompile(`^\.#.+\.[0-9a-f]{16}$`)

// planTemplate resolves -D, and with --template the template: it returns
// the tree planning reads. When -D is still to be made that is the
// template, which -D will be a copy of; Populate plans again on the copy.
func (p *Plan) planTemplate(o *Options, cwd string) (string, error) {
	if o.Template == "" {
		// An empty --template= is none, as in systemd-nspawn.
		return treeRoot(o.Directory, cwd)
	}
	if o.Directory == "" {
		return "", fmt.Errorf("--template=%s: needs -D, the directory to make from it", o.Template)
	}
	if o.Ephemeral {
		return "", fmt.Errorf("--ephemeral and --template=%s exclude each other: -x never writes a tree, so there is none to populate (drop one)", o.Template)
	}
	from, err := templateRoot(o.Template, cwd)
	if err != nil {
		return "", err
	}
	to := absPath(o.Directory, cwd)
	if _, err := os.Lstat(to); err == nil {
		p.Template = TemplateCopy{From: from, To: to, Exists: true}
		return treeRoot(o.Directory, cwd)
	}
	parent, err := filepath.EvalSymlinks(filepath.Dir(to))
	if err != nil {
		return "", fmt.Errorf("--directory=%s: its parent %s does not exist; make it first", o.Directory, filepath.Dir(to))
	}
	to = filepath.Join(parent, filepath.Base(to))
	if to == from || strings.HasPrefix(to, from+"/") {
		return "", fmt.Errorf("--template=%s: -D %s is inside the template, which would copy itself; put -D elsewhere", o.Template, to)
	}
	p.Template = TemplateCopy{From: from, To: to}
	return from, nil
}

// templateRoot resolves --template to an absolute, symlink-free directory.
func templateRoot(dir, cwd string) (string, error) {
	abs := absPath(dir, cwd)
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return "", fmt.Errorf("--template=%s: %s does not exist; give the directory to copy -D from", dir, abs)
	}
	if st, err := os.Stat(real); err != nil {
		return "", fmt.Errorf("--template=%s: %v", dir, err)
	} else if !st.IsDir() {
		return "", fmt.Errorf("--template=%s: %s is not a directory; give the directory to copy -D from", dir, abs)
	}
	if real == "/" {
		return "", fmt.Errorf("--template=%s: refusing to copy the host's root directory; give a tree", dir)
	}
	return real, nil
}

func absPath(path, cwd string) string {
	if !filepath.IsAbs(path) {
		path = filepath.Join(cwd, path)
	}
	return filepath.Clean(path)
}

// Populate makes -D from the template where the plan says so, and returns
// the plan for the tree that is then at -D. It runs before anything else
// touches -D (settleUserNS may chown or ID-map it, the start locks it),
// and once, not on each reboot, so before the container's own undo
// watcher: the copy has one of its own, which removes the temporary if
// nspawn is killed while copying.
func Populate(plan *Plan, o *Options, host *Facts, out reporter) (*Plan, error) {
	t := plan.Template
	if t.From == "" {
		return plan, nil
	}
	if t.Exists {
		out.Info("Directory %s already exists, not populating from template %s.", t.To, t.From)
		return plan, nil
	}
	log, err := undo.Start()
	if err != nil {
		return nil, fmt.Errorf("--template=%s: %w", t.From, err)
	}
	made, err := copyTemplate(t.From, t.To, plan.Quiet, log)
	log.Done()
	if err != nil {
		return nil, fmt.Errorf("--template=%s: %w", t.From, err)
	}
	if made {
		out.Info("Populated %s from template %s.", t.To, t.From)
	} else {
		// Another nspawn made -D meanwhile: its tree is used.
		out.Info("Directory %s already exists, not populating from template %s.", t.To, t.From)
	}
	// The plan was made on the template; the container runs on the copy.
	again := *o
	again.Template = ""
	again.Directory = t.To // -M NAME's /var/lib/machines/NAME, when derived
	return BuildPlan(&again, host)
}

// copyTemplate copies from into a temporary sibling of to and renames it
// over to. made is false when another to appeared meanwhile; the copy is
// then thrown away. On an error or a signal the temporary goes at once.
func copyTemplate(from, to string, quiet bool, undo recorder) (made bool, err error) {
	var random [8]byte
	if _, err := rand.Read(random[:]); err != nil {
		return false, err
	}
	tmp := filepath.Join(filepath.Dir(to), ".#"+filepath.Base(to)+"."+hex.EncodeToString(random[:]))
	if undo != nil {
		if err := undo.Record(undoKindTree, tmp); err != nil {
			return false, fmt.Errorf("record %s in the undo log: %w", tmp, err)
		}
	}
	var root unix.Stat_t
	if err := unix.Stat(from, &root); err != nil {
		return false, fmt.Errorf("%s: %w", from, err)
	}
	done, meter := progress.Start(os.Stderr, "Copying "+from+" to "+to, quiet)
	c := &treeCopier{from: from, dev: root.Dev, links: map[fileID]string{}, done: done}
	// SIGINT and friends stop the copy between two files, so the
	// temporary is removed here rather than left to the undo log.
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, unix.SIGINT, unix.SIGTERM, unix.SIGHUP)
	go func() {
		if _, ok := <-signals; ok {
			c.stopped.Store(true)
		}
	}()
	err = c.dir(from, tmp, &root)
	signal.Stop(signals)
	close(signals)
	meter.Stop()
	if err == nil && c.stopped.Load() {
		err = errors.New("interrupted")
	}
	if err == nil {
		err = unix.Renameat2(unix.AT_FDCWD, tmp, unix.AT_FDCWD, to, unix.RENAME_NOREPLACE)
		if err == unix.EEXIST {
			os.RemoveAll(tmp)
			return false, nil
		}
		if err != nil {
			err = fmt.Errorf("rename %s to %s: %w", tmp, to, err)
		}
	}
	if err != nil {
		os.RemoveAll(tmp)
		return false, err
	}
	return true, nil
}

// UndoTree is the undo log's handler for kind "tree": it removes the one
// directory args names, and what is in it, if its name is a template
// copy's temporary (anything else is left alone, whatever the record
// says). A temporary that is gone already is fine.
func UndoTree(args []string) error {
	if len(args) != 1 {
		return fmt.Errorf("undo tree: want one path, got %d", len(args))
	}
	path := args[0]
	if !filepath.IsAbs(path) || !templateTemp.MatchString(filepath.Base(path)) {
		return fmt.Errorf("undo tree: %s is not a template copy's temporary; left alone", path)
	}
	if err := os.RemoveAll(path); err != nil {
		return fmt.Errorf("undo tree: %w", err)
	}
	return nil
}
