package users

import (
	"bufio"
	"bytes"
	"fmt"
	"strconv"
	"strings"
)

// A host user bound into the container (--bind-user) is known there three
// ways: by the JSON user and group records systemd-nspawn 252 writes to
// /run/host/userdb for nss-systemd and userdbd, and by a passwd and a
// group line for trees whose NSS reads files alone.

// Bound UIDs are systemd-nspawn's MAP_UID_MIN..MAP_UID_MAX: the
// container's ID for a bound user and its group, the lowest of these the
// tree does not use.
const (
	BoundMin = 60514
	BoundMax = 60577
)

// Entry is one line of a passwd file.
type Entry struct {
	Name, Gecos, Home, Shell string
	UID, GID                 uint32
}

// FindUser finds the passwd line of name in the content of a passwd file.
func FindUser(passwd []byte, name string) (Entry, bool) {
	var e Entry
	found := false
	eachLine(bytes.NewReader(passwd), 7, func(f []string) bool {
		if f[0] != name {
			return true
		}
		uid, err1 := strconv.ParseUint(f[2], 10, 32)
		gid, err2 := strconv.ParseUint(f[3], 10, 32)
		if err1 != nil || err2 != nil {
			return true
		}
		e = Entry{Name: f[0], UID: uint32(uid), GID: uint32(gid), Gecos: f[4], Home: f[5], Shell: f[6]}
		found = true
		return false
	})
	return e, found
}

// GroupName is the name of group gid in the content of a group file.
func GroupName(group []byte, gid uint32) (string, bool) {
	name, found := "", false
	eachLine(bytes.NewReader(group), 4, func(f []string) bool {
		if f[2] == strconv.FormatUint(uint64(gid), 10) {
			name, found = f[0], true
			return false
		}
		return true
	})
	return name, found
}

// HasName says whether a passwd (fields 7) or group (fields 4) file's
// content names name.
func HasName(content []byte, fields int, name string) bool {
	found := false
	eachLine(bytes.NewReader(content), fields, func(f []string) bool {
		found = f[0] == name
		return !found
	})
	return found
}

// ValidName is systemd's strict valid_user_group_name(), which
// systemd-nspawn applies to --bind-user: a letter or '_', then letters,
// digits, '_' and '-', at most 31 characters (utmp's limit).
func ValidName(name string) bool {
	if name == "" || len(name) > 31 {
		return false
	}
	for i, c := range name {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '_':
		case i > 0 && (c >= '0' && c <= '9' || c == '-'):
		default:
			return false
		}
	}
	return true
}

// BoundHome is where a bound user's home is inside the container.
func BoundHome(name string) string { return "/run/host/home/" + name }

// UserRecord is the JSON user record systemd-nspawn 252 writes for a
// bound user, byte for byte: the privileged part (hashed password, SSH
// keys) is never copied, so no *.user-privileged file exists.
func UserRecord(name string, uid uint32) string {
	return fmt.Sprintf("{\"userName\":%q,\"uid\":%d,\"gid\":%d,\"homeDirectory\":%q,\"service\":\"io.systemd.NSpawn\"}\n",
		name, uid, uid, BoundHome(name))
}

// GroupRecord is the JSON group record of a bound user's group.
func GroupRecord(name string, gid uint32) string {
	return fmt.Sprintf("{\"groupName\":%q,\"gid\":%d,\"service\":\"io.systemd.NSpawn\"}\n", name, gid)
}

// PasswdLine is a bound user's passwd line, as nss-systemd shows its
// record (the name as GECOS, no password).
func PasswdLine(name string, uid uint32, shell string) string {
	return fmt.Sprintf("%s:x:%d:%d:%s:%s:%s\n", name, uid, uid, name, BoundHome(name), shell)
}

// GroupLine is a bound user's group line.
func GroupLine(name string, gid uint32) string {
	return fmt.Sprintf("%s:x:%d:\n", name, gid)
}

// NSSReadsSystemd says whether an nsswitch.conf resolves database
// (passwd, group) through nss-systemd, which reads /run/host/userdb.
func NSSReadsSystemd(nsswitch []byte, database string) bool {
	sc := bufio.NewScanner(bytes.NewReader(nsswitch))
	for sc.Scan() {
		line, _, _ := strings.Cut(sc.Text(), "#")
		db, sources, ok := strings.Cut(line, ":")
		if !ok || strings.TrimSpace(db) != database {
			continue
		}
		for _, s := range strings.Fields(sources) {
			if s == "systemd" {
				return true
			}
		}
		return false
	}
	return false
}
