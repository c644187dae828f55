package mounts

import (
	"fmt"
	"path"
	"strings"

	"golang.org/x/sys/unix"
)

// splitSpec splits a mount spec at unescaped colons into at most max
// fields; "\:" stands for a literal colon, as in systemd-nspawn.
func splitSpec(spec string, max int) ([]string, error) {
	var fields []string
	var cur strings.Builder
	for i := 0; i < len(spec); i++ {
		c := spec[i]
		switch {
		case c == '\\' && i+1 < len(spec):
			i++
			cur.WriteByte(spec[i])
		case c == ':':
			fields = append(fields, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(c)
		}
	}
	fields = append(fields, cur.String())
	if len(fields) > max {
		return nil, fmt.Errorf("too many ':'-separated fields (escape a colon in a path as '\\:')")
	}
	return fields, nil
}

// absPath checks that p is an absolute path and cleans it.
func absPath(what, p string) (string, error) {
	if p == "" {
		return "", fmt.Errorf("%s is empty", what)
	}
	if !path.IsAbs(p) {
		return "", fmt.Errorf("%s %q is not an absolute path", what, p)
	}
	return path.Clean(p), nil
}

// ParseBind parses a --bind/--bind-ro value, SRC[:DST[:OPTS]], with
// systemd-nspawn's meaning: DST defaults to SRC, a leading '+' makes SRC a
// path inside the tree, and OPTS is a comma list of rbind (the default) or
// norbind and noidmap (the default), idmap, rootidmap or owneridmap (see
// IDMap; the last one given counts). A relative SRC is taken relative to
// cwd.
func ParseBind(spec string, readOnly bool, cwd string) (Step, error) {
	fields, err := splitSpec(spec, 3)
	if err != nil {
		return Step{}, err
	}
	s := Step{Kind: KindBind, ReadOnly: readOnly, Recursive: true}
	src := fields[0]
	if strings.HasPrefix(src, "+") {
		s.SourceInTree = true
		src = "/" + strings.TrimLeft(src[1:], "/")
	} else if src != "" && !path.IsAbs(src) {
		src = path.Join(cwd, src)
	}
	if s.Source, err = absPath("source", src); err != nil {
		return Step{}, err
	}
	s.Target = s.Source
	if len(fields) > 1 {
		if s.Target, err = absPath("destination", fields[1]); err != nil {
			return Step{}, err
		}
	}
	if len(fields) > 2 && fields[2] != "" {
		for _, opt := range strings.Split(fields[2], ",") {
			switch opt {
			case "rbind":
				s.Recursive = true
			case "norbind":
				s.Recursive = false
			case "noidmap":
				s.IDMap = IDMapNone
			case "idmap":
				s.IDMap = IDMapContainer
			case "rootidmap":
				s.IDMap = IDMapRoot
			case "owneridmap":
				s.IDMap = IDMapOwner
			default:
				return Step{}, fmt.Errorf("unknown option %q (use rbind, norbind, idmap, noidmap, rootidmap or owneridmap)", opt)
			}
		}
	}
	return s, nil
}

// ParseTmpfs parses a --tmpfs value, PATH[:OPTS]. OPTS mixes mount flags
// and tmpfs options, as mount(8) takes them: the flags (rw, nosuid,
// noexec, ...) become MS_* flags and the rest the tmpfs's data, as
// systemd-nspawn's mount_option_mangle() splits them. Without OPTS the
// data is mode=0755; the mount is nodev and strictatime unless OPTS says
// dev or another atime.
func ParseTmpfs(spec string) (Step, error) {
	fields, err := splitSpec(spec, 2)
	if err != nil {
		return Step{}, err
	}
	target, err := absPath("path", fields[0])
	if err != nil {
		return Step{}, err
	}
	s := Step{Kind: KindFS, FSType: "tmpfs", Source: "tmpfs", Target: target,
		Flags: unix.MS_NODEV | unix.MS_STRICTATIME, Data: "mode=0755"}
	if len(fields) > 1 && fields[1] != "" {
		s.Flags, s.Data = splitMountOptions(fields[1], s.Flags)
	}
	return s, nil
}

// mountFlag is what a mount(8) flag option does to the MS_* flags: sets
// set, and clear cleared first (an atime option replaces the others).
type mountFlag struct{ set, clear uintptr }

const atimeFlags = unix.MS_NOATIME | unix.MS_RELATIME | unix.MS_STRICTATIME

// mountFlags are the options mount(8) and libmount turn into MS_* flags
// rather than pass to the filesystem.
var mountFlags = map[string]mountFlag{
	"defaults":      {},
	"ro":            {set: unix.MS_RDONLY},
	"rw":            {clear: unix.MS_RDONLY},
	"nosuid":        {set: unix.MS_NOSUID},
	"suid":          {clear: unix.MS_NOSUID},
	"nodev":         {set: unix.MS_NODEV},
	"dev":           {clear: unix.MS_NODEV},
	"noexec":        {set: unix.MS_NOEXEC},
	"exec":          {clear: unix.MS_NOEXEC},
	"sync":          {set: unix.MS_SYNCHRONOUS},
	"async":         {clear: unix.MS_SYNCHRONOUS},
	"dirsync":       {set: unix.MS_DIRSYNC},
	"mand":          {set: unix.MS_MANDLOCK},
	"nomand":        {clear: unix.MS_MANDLOCK},
	"noatime":       {set: unix.MS_NOATIME, clear: atimeFlags},
	"atime":         {clear: unix.MS_NOATIME},
	"relatime":      {set: unix.MS_RELATIME, clear: atimeFlags},
	"norelatime":    {clear: unix.MS_RELATIME},
	"strictatime":   {set: unix.MS_STRICTATIME, clear: atimeFlags},
	"nostrictatime": {clear: unix.MS_STRICTATIME},
	"nodiratime":    {set: unix.MS_NODIRATIME},
	"diratime":      {clear: unix.MS_NODIRATIME},
	"lazytime":      {set: unix.MS_LAZYTIME},
	"nolazytime":    {clear: unix.MS_LAZYTIME},
	"silent":        {set: unix.MS_SILENT},
	"loud":          {clear: unix.MS_SILENT},
	"nosymfollow":   {set: unix.MS_NOSYMFOLLOW},
}

// splitMountOptions applies the flag options of the comma list opts to
// flags and returns the others, in their order, as the filesystem's data.
func splitMountOptions(opts string, flags uintptr) (uintptr, string) {
	var data []string
	for _, o := range strings.Split(opts, ",") {
		if f, ok := mountFlags[o]; ok {
			flags = flags&^f.clear | f.set
		} else if o != "" {
			data = append(data, o)
		}
	}
	return flags, strings.Join(data, ",")
}
