package nspawn

import (
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/nspawn/nspawn/mounts"
)

// The files systemd-nspawn keeps in step with the host: /etc/resolv.conf
// and /etc/localtime (--resolv-conf=, --timezone=), and /etc/machine-id,
// which it only reads. Decided here from the host and the tree; carried out
// by the child, binds with the other mounts and file changes once the
// command is known to exist, so a failed start leaves the tree as it was.

// Host paths of the name server lists, by --resolv-conf's suffix.
var resolvSources = map[string]string{
	"host":   "/etc/resolv.conf",
	"static": "/usr/lib/systemd/resolv.conf",
	"uplink": "/run/systemd/resolve/resolv.conf",
	"stub":   "/run/systemd/resolve/stub-resolv.conf",
}

// resolvSourceList is resolvSources' paths, for the probe.
func resolvSourceList() []string {
	return []string{resolvSources["host"], resolvSources["static"], resolvSources["uplink"], resolvSources["stub"]}
}

// localtime is the host's, and the tree's, time zone file.
const localtime = "/etc/localtime"

var resolvModes = []string{"off", "copy-host", "copy-static", "copy-uplink", "copy-stub",
	"replace-host", "replace-static", "replace-uplink", "replace-stub",
	"bind-host", "bind-static", "bind-uplink", "bind-stub", "delete", "auto"}

var timezoneModes = []string{"off", "copy", "bind", "symlink", "delete", "auto"}

// parseMode reads a --resolv-conf or --timezone value: one of modes, or a
// boolean meaning auto or off, as systemd-nspawn accepts.
func parseMode(flag, value string, modes []string) (string, error) {
	if value == "" {
		return "auto", nil
	}
	for _, m := range modes {
		if value == m {
			return m, nil
		}
	}
	if b, err := parseBool(value); err == nil {
		if b {
			return "auto", nil
		}
		return "off", nil
	}
	return "", fmt.Errorf("%s=%s: unknown mode; use one of %s", flag, value, strings.Join(modes, ", "))
}

// treeFiles is what --resolv-conf and --timezone do: binds to mount with
// the rest, changes to the tree's files for later, and warnings.
type treeFiles struct {
	host           *Facts
	binds, changes []mounts.Step
	warnings       []string
}

// resolvConf plans --resolv-conf. auto is off with a private network (the
// default here: there is nothing to resolve with), else the host's list,
// copied, or bound where the tree is read-only.
func (tf *treeFiles) resolvConf(mode string, privateNetwork, readOnly bool) {
	const target = "/etc/resolv.conf"
	if mode == "auto" {
		switch {
		case privateNetwork:
			mode = "off"
		case tf.host.ResolvedStub:
			mode = pick(readOnly, "bind-stub", "copy-stub")
		case tf.host.file(resolvSources["host"]).Err == nil:
			mode = pick(readOnly, "bind-host", "copy-host")
		default:
			mode = pick(readOnly, "off", "delete")
		}
	}
	if mode == "off" {
		return
	}
	if mode == "delete" {
		tf.changes = append(tf.changes, mounts.Step{Kind: mounts.KindRemove, Target: target, BestEffort: true})
		return
	}
	how, which, _ := strings.Cut(mode, "-")
	tf.copyOrBind(how, resolvSources[which], target, "--resolv-conf="+mode)
}

// copyOrBind copies src over target in the tree, or binds it read-only.
func (tf *treeFiles) copyOrBind(how, src, target, flag string) {
	if how == "bind" {
		tf.binds = append(tf.binds, mounts.Step{Kind: mounts.KindBind, Source: src, Target: target,
			ReadOnly: true, Flags: unix.MS_NOSUID | unix.MS_NODEV, BestEffort: true})
		return
	}
	f := tf.host.file(src)
	if f.Err != nil {
		tf.warnings = append(tf.warnings, fmt.Sprintf("%s: cannot read %s, not updating %s: %v", flag, src, target, f.Err))
		return
	}
	tf.changes = append(tf.changes, mounts.Step{Kind: mounts.KindWrite, Target: target, Content: string(f.Content),
		ModTime: f.ModTime, Replace: how != "copy", BestEffort: true})
}

// timezone plans --timezone. auto follows the host's /etc/localtime: a
// symlink into zoneinfo becomes the same symlink in the tree, a plain file
// a copy, none a removal; a read-only tree gets a bind instead.
func (tf *treeFiles) timezone(mode, root string, readOnly bool) {
	const target = localtime
	hf := tf.host.file(localtime)
	link, err := hf.Link, hf.LinkErr
	if mode == "auto" {
		switch {
		case errors.Is(err, unix.ENOENT):
			mode = pick(readOnly, "off", "delete")
		case errors.Is(err, unix.EINVAL): // a file, not a symlink
			mode = pick(readOnly, "bind", "copy")
		case err == nil:
			mode = pick(readOnly, "bind", "symlink")
		default:
			tf.warnings = append(tf.warnings, fmt.Sprintf("--timezone=auto: cannot read the host's /etc/localtime, not updating the container's: %v", err))
			return
		}
	}
	switch mode {
	case "off":
	case "delete":
		tf.changes = append(tf.changes, mounts.Step{Kind: mounts.KindRemove, Target: target, BestEffort: true})
	case "symlink":
		if err != nil {
			tf.warnings = append(tf.warnings, fmt.Sprintf("--timezone=symlink: the host's /etc/localtime is not a symlink, not updating the container's: %v", err))
			return
		}
		zone, ok := zoneOf(link)
		if !ok {
			tf.warnings = append(tf.warnings, fmt.Sprintf("--timezone=symlink: the host's /etc/localtime does not point into /usr/share/zoneinfo/, not updating the container's"))
			return
		}
		if p, err := mounts.InTreeParent(root, target); err == nil {
			if treeLink, err := os.Readlink(p); err == nil {
				if z, ok := zoneOf(treeLink); ok && z == zone {
					return // the tree is in the host's zone already
				}
			}
		}
		if exists(inTree(root, "/usr/share/zoneinfo/"+zone)) {
			tf.changes = append(tf.changes, mounts.Step{Kind: mounts.KindSymlink, Source: "../usr/share/zoneinfo/" + zone,
				Target: target, Replace: true, BestEffort: true})
			return
		}
		// The tree lacks the zone: bind the host's, as systemd-nspawn does.
		tf.copyOrBind("bind", target, target, "--timezone="+mode)
	default: // copy, bind
		how := mode
		if how == "copy" {
			how = "replace" // copy_file_atomic: a new file, even over a symlink
		}
		tf.copyOrBind(how, target, target, "--timezone="+mode)
	}
}

// zoneOf is the zone a /etc/localtime symlink names.
func zoneOf(link string) (string, bool) {
	for _, prefix := range []string{"../usr/share/zoneinfo/", "/usr/share/zoneinfo/"} {
		if z, ok := strings.CutPrefix(link, prefix); ok && z != "" {
			return z, true
		}
	}
	return "", false
}

func pick(cond bool, ifTrue, ifFalse string) string {
	if cond {
		return ifTrue
	}
	return ifFalse
}

// treeMachineID reads the tree's /etc/machine-id as systemd-nspawn does:
// a valid ID is the container's UUID (over --uuid); a missing, empty or
// "uninitialized" file leaves the choice to --uuid or chance; anything
// else is refused. The file itself is never written.
func treeMachineID(root string) (string, error) {
	data, err := os.ReadFile(inTree(root, "/etc/machine-id"))
	if errors.Is(err, unix.ENOENT) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read the tree's /etc/machine-id: %v", err)
	}
	id := strings.TrimSuffix(string(data), "\n")
	if id == "" || id == "uninitialized" {
		return "", nil
	}
	var b [16]byte
	if len(id) != 32 || strings.ContainsAny(id, "-") {
		return "", fmt.Errorf("the tree's /etc/machine-id is not a machine ID (32 hex digits and a newline); fix it, or empty it to get a new ID on each start")
	}
	if _, err := hex.Decode(b[:], []byte(id)); err != nil {
		return "", fmt.Errorf("the tree's /etc/machine-id is not a machine ID (32 hex digits and a newline); fix it, or empty it to get a new ID on each start")
	}
	if b == [16]byte{} {
		return "", fmt.Errorf("the tree's /etc/machine-id is all zeros; refusing (write a real ID, or empty it to get a new ID on each start)")
	}
	return formatUUID(b[:]), nil
}
