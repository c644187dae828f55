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
// path inside the tree, and OPTS is a comma list of rbind (the default) and
// norbind. A relative SRC is taken relative to cwd.
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
			case "idmap", "rootidmap", "owneridmap":
				return Step{}, fmt.Errorf("option %q is not supported yet (ID-mapped binds)", opt)
			default:
				return Step{}, fmt.Errorf("unknown option %q (use rbind or norbind)", opt)
			}
		}
	}
	return s, nil
}

// ParseTmpfs parses a --tmpfs value, PATH[:OPTS]. OPTS are tmpfs mount
// options and replace the default mode=0755; the mount is nodev, as
// systemd-nspawn makes it.
func ParseTmpfs(spec string) (Step, error) {
	fields, err := splitSpec(spec, 2)
	if err != nil {
		return Step{}, err
	}
	target, err := absPath("path", fields[0])
	if err != nil {
		return Step{}, err
	}
	data := "mode=0755"
	if len(fields) > 1 && fields[1] != "" {
		data = fields[1]
	}
	return Step{
		Kind: KindFS, FSType: "tmpfs", Source: "tmpfs", Target: target,
		Flags: unix.MS_NODEV | unix.MS_STRICTATIME, Data: data,
	}, nil
}
