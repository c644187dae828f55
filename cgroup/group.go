package cgroup

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// PayloadDir is the container's own cgroup below its scope, and the root of
// its cgroup namespace. Limits go on the scope, one level up, so root in the
// container, which may write its namespace root's files, cannot lift them
// (systemd-nspawn's payload/ for the same reason).
const PayloadDir = "payload"

// Group is a container's cgroup: its scope on the unified hierarchy, with
// the payload cgroup below it, and on a hybrid host the same scope on the
// v1 hierarchies its limits and accounting need.
type Group struct {
	root string // the hierarchy's mount point
	path string // the scope, relative to root: /machine.slice/machine-x.scope
	// owned means nspawn made the scope and removes it; otherwise only
	// the payload cgroup is nspawn's (Spec.Existing).
	owned bool
	// v1 are the scope's directories on v1 hierarchies.
	v1 []string
	// payload is an open directory fd of PayloadDir, for CLONE_INTO_CGROUP.
	payload int
	// lock is the scope directory, open and flock()ed while nspawn or its
	// undo stage acts on it: the claim's second layer, for a nspawn of
	// the same name in another network namespace.
	lock int
}

// ErrBusy means the scope exists and is held: a running container of the
// same name.
var ErrBusy = errors.New("cgroup in use")

// ErrForeign means the payload cgroup in an existing scope is there and
// was not made by nspawn: systemd-nspawn --keep-unit puts its container
// in payload/ too, and it is not nspawn's to kill.
var ErrForeign = errors.New("cgroup not made by nspawn")

// markXattr marks a payload cgroup nspawn made in an existing scope, so
// a leftover is told from another program's cgroup of the same name.
// trusted.* needs CAP_SYS_ADMIN in the host's user namespace: root in a
// container with its own user namespace cannot forge it.
const markXattr = "trusted.nspawn"

// leftoverWait is how long a held scope may take to be released before it
// counts as a running container: a killed nspawn's undo stage needs a
// moment to kill and remove what is left.
const leftoverWait = 2 * time.Second

// Claim claims the cgroup of spec (claim.go), waiting for a killed
// nspawn's undo stage to finish with it, before the undo watcher starts:
// the watcher is handed the socket and holds it until its cleanup is
// over. ErrBusy: a running container has it.
func Claim(spec Spec) (int, error) {
	g := &Group{root: spec.Layout.Unified, path: spec.Path, owned: !spec.Existing}
	return claim(g.lockDir(), leftoverWait)
}

// Create makes the scope of spec with its payload cgroup, delegating every
// controller the host offers down to the payload so an init inside can
// manage its services, and writes the limits on the scope. The caller
// holds its Claim; the undo record goes to rec before anything is made. A
// scope left by a killed nspawn is removed first. Warnings name limits
// the host cannot carry.
func Create(spec Spec, rec Recorder) (g *Group, warnings []string, err error) {
	g = &Group{root: spec.Layout.Unified, path: spec.Path, owned: !spec.Existing, payload: -1, lock: -1}
	// The record before anything is made: a SIGKILL from here on leaves
	// nothing.
	if err := g.record(rec, spec.Layout); err != nil {
		return nil, nil, err
	}
	if err := removeLeftover(g.lockDir(), spec.Layout, spec.Path, g.owned); err != nil {
		return nil, nil, err
	}
	// A container of another name ending at this moment may remove an
	// empty slice between our mkdirs: try again.
	for try := 0; try < 3; try++ {
		if err = g.mkdirs(); err == nil || !errors.Is(err, unix.ENOENT) {
			break
		}
	}
	if err == nil && !g.owned {
		err = mark(g.lockDir())
	}
	if err != nil {
		return nil, nil, err
	}
	// A same-name nspawn in another network namespace, where the claim's
	// name is free, may hold it already.
	if g.lock, err = lockDir(g.lockDir()); err != nil {
		return nil, nil, err
	}
	fail := func(err error) (*Group, []string, error) {
		g.Remove()
		return nil, nil, err
	}
	if spec.Supervise && spec.Path != "/" {
		if err := g.supervise(); err != nil {
			return fail(err)
		}
	}
	if warnings, err = g.limit(spec); err != nil {
		return fail(err)
	}
	payload := g.Dir() + "/" + PayloadDir
	if g.payload, err = unix.Open(payload, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0); err != nil {
		return fail(fmt.Errorf("open %s: %w", payload, err))
	}
	if err := g.delegateTo(spec.Owner); err != nil {
		return fail(err)
	}
	return g, warnings, nil
}

// delegateTo gives the payload cgroup to uid: the directory and the files
// systemd hands a delegated unit (cg_set_access), so root inside can make
// cgroups below it and move processes between them.
func (g *Group) delegateTo(uid uint32) error {
	if uid == 0 {
		return nil
	}
	if err := unix.Fchown(g.payload, int(uid), int(uid)); err != nil {
		return fmt.Errorf("delegate the container's cgroup to UID %d: %w", uid, err)
	}
	for _, name := range []string{"cgroup.procs", "cgroup.threads", "cgroup.subtree_control"} {
		if err := unix.Fchownat(g.payload, name, int(uid), int(uid), 0); err != nil && !errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("delegate the container's cgroup to UID %d: %s: %w", uid, name, err)
		}
	}
	return nil
}

// lockDir opens dir and takes its lock, or fails with ErrBusy.
func lockDir(dir string) (int, error) { return lockDirWait(dir, 0) }

// lockDirWait is lockDir waiting up to wait for the lock.
func lockDirWait(dir string, wait time.Duration) (int, error) {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("open cgroup %s: %w", dir, err)
	}
	for deadline := time.Now().Add(wait); unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB) != nil; {
		if time.Now().After(deadline) {
			unix.Close(fd)
			return -1, fmt.Errorf("%s: %w", dir, ErrBusy)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return fd, nil
}

// supervise moves nspawn into SupervisorDir and delegates the
// controllers of the scope to its children.
func (g *Group) supervise() error {
	dir := g.Dir() + "/" + SupervisorDir
	if err := unix.Mkdir(dir, 0o755); err != nil && !errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("create cgroup %s: %w", dir, err)
	}
	if err := writeFile(dir+"/cgroup.procs", "0"); err != nil {
		return fmt.Errorf("move nspawn into %s: %w", dir, err)
	}
	delegate(g.Dir())
	return nil
}

// lockDir is the directory whose flock marks the cgroup in use: the
// scope, or the payload cgroup in an existing scope.
func (g *Group) lockDir() string {
	if g.owned {
		return g.Dir()
	}
	return g.Dir() + "/" + PayloadDir
}

// removeLeftover removes a cgroup (locked at dir) no nspawn holds any
// more, after waiting for a killed one's undo stage to finish with it: the
// scope on every hierarchy when owned, else the payload cgroup, which
// must be marked as nspawn's (or be empty) to go.
func removeLeftover(dir string, l Layout, path string, owned bool) error {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil // none
	}
	defer unix.Close(fd)
	if !owned && !marked(dir) {
		if err := unix.Rmdir(dir); err != nil && !errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("%s: %w", dir, ErrForeign)
		}
		return nil
	}
	for deadline := time.Now().Add(leftoverWait); unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB) != nil; {
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: %w", dir, ErrBusy)
		}
		time.Sleep(5 * time.Millisecond)
	}
	kill(dir)
	if owned {
		for _, root := range v1Roots(l) {
			if err := removeTree(root + path); err != nil {
				return err
			}
		}
	}
	return removeTree(dir)
}

// mark marks dir as a cgroup nspawn made (markXattr).
func mark(dir string) error {
	if err := unix.Setxattr(dir, markXattr, []byte("1"), 0); err != nil {
		if errors.Is(err, unix.EPERM) {
			return fmt.Errorf("mark cgroup %s as nspawn's: %w: nspawn runs in a container with a user namespace of its own, where no trusted.* attribute can be set; start that container with --private-users=no", dir, err)
		}
		return fmt.Errorf("mark cgroup %s as nspawn's: %w", dir, err)
	}
	return nil
}

// marked tells whether nspawn made the cgroup at dir.
func marked(dir string) bool {
	_, err := unix.Getxattr(dir, markXattr, nil)
	return err == nil
}

// v1Roots are the distinct v1 hierarchies of l.
func v1Roots(l Layout) []string {
	var roots []string
	for _, c := range v1Controllers {
		if dir, ok := l.V1[c]; ok && !slices.Contains(roots, dir) {
			roots = append(roots, dir)
		}
	}
	return roots
}

// mkdirs creates each level below the root (only the payload cgroup in an
// existing scope) and enables the controllers the level above offers in
// it.
func (g *Group) mkdirs() error {
	dir := g.root
	levels := append(strings.Split(strings.Trim(g.path, "/"), "/"), PayloadDir)
	if !g.owned {
		dir, levels = g.Dir(), []string{PayloadDir}
	}
	for _, name := range levels {
		delegate(dir)
		dir += "/" + name
		if err := unix.Mkdir(dir, 0o755); err != nil && !errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("create cgroup %s: %w", dir, err)
		}
	}
	return nil
}

// delegate enables in dir's children every controller dir has. A hybrid
// host's unified hierarchy has none; failures leave a controller off
// rather than the container unstarted.
func delegate(dir string) {
	ctrls, err := readFile(dir + "/cgroup.controllers")
	if err != nil || len(bytes.TrimSpace(ctrls)) == 0 {
		return
	}
	enabled, _ := readFile(dir + "/cgroup.subtree_control")
	have := strings.Fields(string(enabled))
	for _, c := range strings.Fields(string(ctrls)) {
		if !slices.Contains(have, c) {
			writeFile(dir+"/cgroup.subtree_control", "+"+c)
		}
	}
}

// Dir is the scope's absolute path on the host.
func (g *Group) Dir() string { return g.root + g.path }

// PayloadFD is the payload cgroup's directory fd, for
// SysProcAttr.CgroupFD.
func (g *Group) PayloadFD() int { return g.payload }

// Remove kills every process left in the container's cgroup and removes
// it: the scope and the slices above it that are left empty, or only the
// payload cgroup in an existing scope. The claim is the caller's to give
// up, after the undo watcher is done.
func (g *Group) Remove() error {
	if g.payload >= 0 {
		unix.Close(g.payload)
		g.payload = -1
	}
	if g.lock >= 0 {
		defer unix.Close(g.lock)
		g.lock = -1
	}
	if !g.owned {
		payload := g.Dir() + "/" + PayloadDir
		kill(payload)
		return removeTree(payload)
	}
	scope := g.Dir()
	kill(scope)
	err := removeTree(scope)
	for _, dir := range g.v1 {
		if e := removeTree(dir); err == nil {
			err = e
		}
		removeEmptyParents(path.Dir(dir), strings.TrimSuffix(dir, g.path))
	}
	removeEmptyParents(path.Dir(scope), g.root)
	return err
}

// removeEmptyParents removes dir and the levels above it up to root while
// they are empty. Slices are shared by containers: one that still holds
// another container refuses (EBUSY) and stays.
func removeEmptyParents(dir, root string) {
	for ; len(dir) > len(root) && strings.HasPrefix(dir, root+"/"); dir = path.Dir(dir) {
		if unix.Rmdir(dir) != nil {
			break
		}
	}
}

// kill ends every process in dir and below: cgroup.kill where the kernel
// has it (5.14), SIGKILL to each listed process otherwise.
func kill(dir string) {
	if writeFile(dir+"/cgroup.kill", "1") == nil {
		return
	}
	for try := 0; try < 10; try++ {
		pids := procs(dir)
		if len(pids) == 0 {
			return
		}
		for _, pid := range pids {
			unix.Kill(pid, unix.SIGKILL)
		}
		time.Sleep(time.Millisecond)
	}
}

// procs lists the processes in dir and its descendants.
func procs(dir string) []int {
	var pids []int
	data, _ := readFile(dir + "/cgroup.procs")
	for _, f := range strings.Fields(string(data)) {
		if pid, err := strconv.Atoi(f); err == nil {
			pids = append(pids, pid)
		}
	}
	for _, sub := range subdirs(dir) {
		pids = append(pids, procs(sub)...)
	}
	return pids
}

func subdirs(dir string) []string {
	entries, _ := os.ReadDir(dir)
	var dirs []string
	for _, e := range entries {
		if e.IsDir() {
			dirs = append(dirs, dir+"/"+e.Name())
		}
	}
	return dirs
}

// removeTree removes dir and the cgroups an init inside created below it,
// deepest first. Killed processes leave their cgroups a moment after
// their death is reported: EBUSY is retried for a while.
func removeTree(dir string) error {
	for _, sub := range subdirs(dir) {
		if err := removeTree(sub); err != nil {
			return err
		}
	}
	var err error
	for deadline := time.Now().Add(5 * time.Second); ; {
		err = unix.Rmdir(dir)
		if !errors.Is(err, unix.EBUSY) || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	if err != nil && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("remove cgroup %s: %w", dir, err)
	}
	return nil
}
