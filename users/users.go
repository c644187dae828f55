// Package users resolves a user of the container from the tree's own
// /etc/passwd and /etc/group, read from the host before the container
// starts, so no getent or NSS is needed inside.
package users

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// User is who the payload runs as.
type User struct {
	Name   string
	UID    uint32
	GID    uint32
	Groups []uint32 // supplementary, primary excluded
	Home   string
	Shell  string
}

// Lookup finds spec, a user name or numeric UID, in the passwd and group
// files given (the tree's, resolved by the caller). The name "root" and UID
// 0 always resolve, even in a tree without /etc/passwd.
func Lookup(passwdPath, groupPath, spec string) (User, error) {
	u, found, err := findPasswd(passwdPath, spec)
	if err != nil {
		return User{}, err
	}
	if !found {
		if spec != "root" && spec != "0" {
			return User{}, fmt.Errorf("user %q is not in the tree's /etc/passwd", spec)
		}
		u = User{Name: "root", Home: "/root", Shell: "/bin/sh"}
	}
	if u.Groups, err = supplementaryGroups(groupPath, u.Name, u.GID); err != nil {
		return User{}, err
	}
	return u, nil
}

func findPasswd(file, spec string) (User, bool, error) {
	f, err := os.Open(file)
	if os.IsNotExist(err) {
		return User{}, false, nil
	}
	if err != nil {
		return User{}, false, fmt.Errorf("read the tree's /etc/passwd: %w", err)
	}
	defer f.Close()
	var found User
	ok := false
	err = eachLine(f, 7, func(fields []string) bool {
		if fields[0] != spec && fields[2] != spec {
			return true
		}
		uid, err1 := strconv.ParseUint(fields[2], 10, 32)
		gid, err2 := strconv.ParseUint(fields[3], 10, 32)
		if err1 != nil || err2 != nil {
			return true // a broken line names nobody
		}
		found = User{Name: fields[0], UID: uint32(uid), GID: uint32(gid), Home: fields[5], Shell: fields[6]}
		ok = true
		return false
	})
	return found, ok, err
}

// supplementaryGroups lists the GIDs of the groups whose member list names
// user, as initgroups(3) would, without the primary group.
func supplementaryGroups(file, user string, primary uint32) ([]uint32, error) {
	f, err := os.Open(file)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read the tree's /etc/group: %w", err)
	}
	defer f.Close()
	var gids []uint32
	err = eachLine(f, 4, func(fields []string) bool {
		gid, err := strconv.ParseUint(fields[2], 10, 32)
		if err != nil || uint32(gid) == primary {
			return true
		}
		for _, m := range strings.Split(fields[3], ",") {
			if m == user {
				gids = append(gids, uint32(gid))
				break
			}
		}
		return true
	})
	return gids, err
}

// NamedIDs lists the UIDs a passwd file and the GIDs a group file name,
// as far as they can be read.
func NamedIDs(passwdPath, groupPath string) []uint32 {
	var ids []uint32
	for _, file := range []struct {
		path   string
		fields int
	}{{passwdPath, 7}, {groupPath, 4}} {
		f, err := os.Open(file.path)
		if err != nil {
			continue
		}
		eachLine(f, file.fields, func(fields []string) bool {
			if id, err := strconv.ParseUint(fields[2], 10, 32); err == nil {
				ids = append(ids, uint32(id))
			}
			return true
		})
		f.Close()
	}
	return ids
}

// eachLine calls fn with the colon-separated fields of every line of a
// passwd-style file that has exactly n fields, until fn returns false.
func eachLine(r io.Reader, n int, fn func([]string) bool) error {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		fields := strings.Split(line, ":")
		if len(fields) != n {
			continue
		}
		if !fn(fields) {
			return nil
		}
	}
	return sc.Err()
}
