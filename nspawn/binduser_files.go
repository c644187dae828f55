package nspawn

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/nspawn/nspawn/mounts"
	"github.com/nspawn/nspawn/userns"
	"github.com/nspawn/nspawn/users"
	"github.com/nspawn/nspawn/wire"
)

// --bind-user=NAME as systemd-nspawn 252's nspawn-bind-user.c: the host
// user's home is bound to /run/host/home/NAME, the user and its private
// group get the container's UID and GID from 60514 (the first the tree
// leaves free), mapped onto the host user's IDs in the user namespace,
// and JSON records of both go to /run/host/userdb for nss-systemd.
//
// Beyond 252: a tree whose nsswitch.conf does not ask nss-systemd (a
// plain Debian, busybox) would not know the user, so its /etc/passwd and
// /etc/group are shown with the user's line added: copies on a detached
// tmpfs bound over them in the container, so the tree is never written.
// While bound, a tool that replaces /etc/passwd by rename (useradd)
// fails with EBUSY there; a tree with nss-systemd is left alone.

// boundUsers are the --bind-user users and what the child makes of them.
type boundUsers struct {
	Users []boundUser
	// Passwd and Group are the tree's files with the users' lines added,
	// "" where the tree's is left as it is; Shell the users' shell there.
	Passwd, Group, Shell string
}

// boundUser is one host user bound into the container.
type boundUser struct {
	Name string
	// UID is the user's ID in the container and its group's GID.
	UID              uint32
	HostUID, HostGID uint32
}

// planBindUsers checks --bind-user against the host's users, the tree's
// and the user namespace, as systemd-nspawn's bind_user_prepare() does,
// and adds the homes' binds. It reads the host's /etc/passwd and
// /etc/group (the probe's): users only NSS knows (LDAP) are not found.
func (p *Plan) planBindUsers(o *Options, host *Facts) error {
	if len(o.BindUsers) == 0 {
		return nil
	}
	for _, n := range o.BindUsers {
		if !users.ValidName(n) {
			return fmt.Errorf("--bind-user=%s: not a valid user name (a letter or '_', then letters, digits, '_' or '-', at most 31)", n)
		}
	}
	first := o.BindUsers[0]
	c := p.UserNS
	if !c.Ranged() {
		return fmt.Errorf("--bind-user=%s: needs a user namespace with a range of its own, as in systemd-nspawn; add -U (or --private-users=pick, yes or UID)", first)
	}
	hostPasswd, hostGroup := host.file("/etc/passwd"), host.file("/etc/group")
	if hostPasswd.Err != nil || hostGroup.Err != nil {
		err := hostPasswd.Err
		if err == nil {
			err = hostGroup.Err
		}
		return fmt.Errorf("--bind-user=%s: cannot read the host's /etc/passwd and /etc/group: %v", first, err)
	}
	treePasswd, _ := os.ReadFile(p.treePath("/etc/passwd"))
	treeGroup, _ := os.ReadFile(p.treePath("/etc/group"))
	taken := map[uint32]bool{}
	for _, id := range users.NamedIDs(p.treePath("/etc/passwd"), p.treePath("/etc/group")) {
		taken[id] = true
	}
	next := uint32(users.BoundMin)
	var mountSteps []mounts.Step
	for _, n := range o.BindUsers {
		if slices.ContainsFunc(p.BoundUsers.Users, func(b boundUser) bool { return b.Name == n }) {
			continue // given twice is once, as in systemd-nspawn
		}
		u, err := hostUser(n, hostPasswd.Content, hostGroup.Content, c)
		if err != nil {
			return fmt.Errorf("--bind-user=%s: %v", n, err)
		}
		if users.HasName(treePasswd, 7, n) {
			return fmt.Errorf("--bind-user=%s: the tree's /etc/passwd has a user %s already; systemd-nspawn refuses to hide it", n, n)
		}
		if users.HasName(treeGroup, 4, n) {
			return fmt.Errorf("--bind-user=%s: the tree's /etc/group has a group %s already; systemd-nspawn refuses to hide it", n, n)
		}
		for taken[next] {
			next++
		}
		if next > users.BoundMax || next >= c.Size {
			return fmt.Errorf("--bind-user=%s: no free UID in %d..%d in the tree's /etc/passwd and /etc/group (and below the range size %d)", n, users.BoundMin, users.BoundMax, c.Size)
		}
		b := boundUser{Name: n, UID: next, HostUID: u.UID, HostGID: u.GID}
		next++
		p.BoundUsers.Users = append(p.BoundUsers.Users, b)
		mountSteps = append(mountSteps, mounts.Step{Kind: mounts.KindBind, Source: u.Home, Target: users.BoundHome(n), Recursive: true})
	}
	p.BoundUsers.Shell = "/bin/sh"
	if p.executable("/bin/bash") {
		p.BoundUsers.Shell = "/bin/bash" // nss-systemd's shell for a regular user
	}
	p.BoundUsers.Passwd, p.BoundUsers.Group = p.boundUserFiles(treePasswd, treeGroup)
	// /run/host and /run/host/home are tmpfs instances of their own here:
	// nspawn makes the bind's mount points as host root, which would leave
	// them to nobody in the container; a tmpfs is the container root's
	// (mounts.OwnedBy).
	hostDirs := []mounts.Step{
		{Kind: mounts.KindFS, FSType: "tmpfs", Source: "tmpfs", Target: "/run/host", Flags: unix.MS_NOSUID | unix.MS_NODEV, Data: "mode=0755,size=4m"},
		{Kind: mounts.KindFS, FSType: "tmpfs", Source: "tmpfs", Target: "/run/host/home", Flags: unix.MS_NOSUID | unix.MS_NODEV, Data: "mode=0755,size=64k"},
	}
	p.Mounts.Staged = append(p.Mounts.Staged, append(hostDirs, mountSteps...)...)
	return nil
}

// hostUser finds a user to bind in the host's passwd and group files and
// checks it can be bound, as systemd-nspawn 252 does.
func hostUser(name string, passwd, group []byte, c userns.Config) (users.Entry, error) {
	u, ok := users.FindUser(passwd, name)
	switch {
	case !ok:
		return u, fmt.Errorf("the host has no such user in /etc/passwd; name an existing user")
	case u.UID == 0:
		return u, fmt.Errorf("binding root is not supported, as in systemd-nspawn; name a regular user")
	case u.UID == 65534:
		return u, fmt.Errorf("binding nobody is not supported, as in systemd-nspawn; name a regular user")
	// A picked range is settled later, never one the host's passwd or
	// group names (userns.PickRange): only a fixed one is checked here.
	case c.Mode == userns.Fixed && u.UID >= c.Shift && uint64(u.UID) < uint64(c.Shift)+uint64(c.Size):
		return u, fmt.Errorf("the user's UID %d is inside the container's range %d..%d; pick a range without it", u.UID, c.Shift, uint64(c.Shift)+uint64(c.Size)-1)
	case c.Mode == userns.Fixed && u.GID >= c.Shift && uint64(u.GID) < uint64(c.Shift)+uint64(c.Size):
		return u, fmt.Errorf("the user's GID %d is inside the container's range %d..%d; pick a range without it", u.GID, c.Shift, uint64(c.Shift)+uint64(c.Size)-1)
	}
	if g, ok := users.GroupName(group, u.GID); !ok || g != name {
		return u, fmt.Errorf("the user's primary group %d is not a private group named %s; systemd-nspawn binds only users with their own group", u.GID, name)
	}
	if fi, err := os.Stat(u.Home); err != nil || !fi.IsDir() {
		return u, fmt.Errorf("the user's home %s does not exist or is not a directory; create it first", u.Home)
	}
	return u, nil
}

// boundUserFiles are the tree's passwd and group with the bound users'
// lines added, or "" where the tree has no such file (binding one over a
// missing file would write the tree) or asks nss-systemd already.
func (p *Plan) boundUserFiles(passwd, group []byte) (string, string) {
	nsswitch, _ := os.ReadFile(p.treePath("/etc/nsswitch.conf"))
	shell := p.BoundUsers.Shell
	add := func(content []byte, path, database string, line func(boundUser) string) string {
		// --volatile=yes shows the tree's /usr alone: its /etc is not there.
		if fi, err := os.Lstat(p.treePath(path)); err != nil || !fi.Mode().IsRegular() || p.Volatile == "yes" || users.NSSReadsSystemd(nsswitch, database) {
			return ""
		}
		s := string(content)
		if s != "" && s[len(s)-1] != '\n' {
			s += "\n"
		}
		for _, b := range p.BoundUsers.Users {
			s += line(b)
		}
		return s
	}
	return add(passwd, "/etc/passwd", "passwd", func(b boundUser) string { return users.PasswdLine(b.Name, b.UID, shell) }),
		add(group, "/etc/group", "group", func(b boundUser) string { return users.GroupLine(b.Name, b.UID) })
}

// lookup is the payload's user for --user=NAME of a bound user.
func (b boundUsers) lookup(spec string) (users.User, bool) {
	for _, u := range b.Users {
		if u.Name == spec {
			return users.User{Name: u.Name, UID: u.UID, GID: u.UID, Home: users.BoundHome(u.Name), Shell: b.Shell}, true
		}
	}
	return users.User{}, false
}

// idMaps are the user namespace's UID and GID maps with each bound user's
// container ID mapped onto its host IDs.
func (b boundUsers) idMaps(c userns.Config) (uids, gids []syscall.SysProcIDMap) {
	if len(b.Users) == 0 || !c.Ranged() {
		maps := idMaps(c)
		return maps, maps
	}
	var ub, gb []userns.Bound
	for _, u := range b.Users {
		ub = append(ub, userns.Bound{Container: u.UID, Host: u.HostUID})
		gb = append(gb, userns.Bound{Container: u.UID, Host: u.HostGID})
	}
	return userns.SplitMaps(c.Shift, c.Size, ub), userns.SplitMaps(c.Shift, c.Size, gb)
}

// installBoundUsers writes the bound users' records to /run/host/userdb
// and binds the passwd and group copies, in the child, as root of the
// container: so the files are its root's, as systemd-nspawn's.
func installBoundUsers(b boundUsers) error {
	if len(b.Users) == 0 {
		return nil
	}
	const dir = "/run/host/userdb"
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("--bind-user: create %s: %w", dir, err)
	}
	for _, u := range b.Users {
		for _, f := range []struct{ suffix, content string }{
			{".group", users.GroupRecord(u.Name, u.UID)},
			{".user", users.UserRecord(u.Name, u.UID)},
		} {
			name := u.Name + f.suffix
			if err := os.WriteFile(filepath.Join(dir, name), []byte(f.content), 0o644); err != nil {
				return fmt.Errorf("--bind-user: write %s/%s: %w", dir, name, err)
			}
			if err := os.Symlink(name, filepath.Join(dir, fmt.Sprint(u.UID)+f.suffix)); err != nil {
				return fmt.Errorf("--bind-user: link %s/%d%s: %w", dir, u.UID, f.suffix, err)
			}
		}
	}
	files := map[string]string{}
	if b.Passwd != "" {
		files["/etc/passwd"] = b.Passwd
	}
	if b.Group != "" {
		files["/etc/group"] = b.Group
	}
	if err := mounts.BindContents(files, 0o644); err != nil {
		return fmt.Errorf("--bind-user: %w", err)
	}
	return nil
}

func (b boundUsers) appendWire(w *wire.Writer) {
	w.Num(uint64(len(b.Users)))
	for _, u := range b.Users {
		w.Str(u.Name)
		w.Num(uint64(u.UID))
		w.Num(uint64(u.HostUID))
		w.Num(uint64(u.HostGID))
	}
	w.Str(b.Passwd)
	w.Str(b.Group)
	w.Str(b.Shell)
}

func readBoundUsers(r *wire.Reader) boundUsers {
	var b boundUsers
	if n := r.Count(); n > 0 {
		b.Users = make([]boundUser, n)
		for i := range b.Users {
			b.Users[i] = boundUser{Name: r.Str(), UID: uint32(r.Num()), HostUID: uint32(r.Num()), HostGID: uint32(r.Num())}
		}
	}
	b.Passwd = r.Str()
	b.Group = r.Str()
	b.Shell = r.Str()
	return b
}
