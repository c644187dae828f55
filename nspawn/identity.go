// The container's identity: its machine name, hostname and UUID, checked
// and derived as systemd does.

package nspawn

import (
	"encoding/hex"
	"fmt"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// hostNameMax is Linux's HOST_NAME_MAX.
const hostNameMax = 64

// validHostname follows systemd's hostname_is_valid(): dot-separated labels
// of letters, digits and '-', none empty, none starting or ending with '-',
// at most 64 characters in all.
func validHostname(s string) bool {
	if s == "" || len(s) > hostNameMax {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, c := range label {
			if !hostnameChar(c) {
				return false
			}
		}
	}
	return true
}

func hostnameChar(c rune) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-'
}

// machineName is -M, or the tree's base name made into a valid hostname as
// systemd's hostname_cleanup() does: other characters dropped, runs of dots
// joined, leading and trailing dots and dashes trimmed, cut to 64.
func machineName(given, root string) (string, error) {
	if given != "" {
		if !validHostname(given) {
			return "", fmt.Errorf("--machine=%s: not a valid machine name (letters, digits, '-' and '.', at most 64 characters)", given)
		}
		return given, nil
	}
	var b strings.Builder
	for _, c := range filepath.Base(root) {
		if hostnameChar(c) || c == '.' && b.Len() > 0 && !strings.HasSuffix(b.String(), ".") {
			b.WriteRune(c)
		}
	}
	name := b.String()
	if len(name) > hostNameMax {
		name = name[:hostNameMax]
	}
	name = strings.Trim(name, ".-")
	if !validHostname(name) {
		return "", fmt.Errorf("cannot derive a machine name from %s; give one with --machine=NAME", root)
	}
	return name, nil
}

// ephemeralName is name with systemd-nspawn's -x suffix: a dash and 16
// random hex digits, the name cut to keep within a hostname's length.
func ephemeralName(name string) (string, error) {
	var b [8]byte
	if _, err := unix.Getrandom(b[:], 0); err != nil {
		return "", fmt.Errorf("-x: random machine name: %w", err)
	}
	suffix := fmt.Sprintf("-%x", b)
	if len(name)+len(suffix) > hostNameMax {
		name = strings.TrimRight(name[:hostNameMax-len(suffix)], ".-")
	}
	return name + suffix, nil
}

// machineUUID parses --uuid or makes a random (version 4) one.
func machineUUID(s string) (string, error) {
	if s == "" {
		// getrandom(2) directly: crypto/rand would pull its FIPS machinery
		// into every start of both stages.
		var b [16]byte
		if _, err := unix.Getrandom(b[:], 0); err != nil {
			return "", fmt.Errorf("random UUID: %w", err)
		}
		b[6] = b[6]&0x0f | 0x40
		b[8] = b[8]&0x3f | 0x80
		return formatUUID(b[:]), nil
	}
	digits := strings.ReplaceAll(s, "-", "")
	dashed := len(s) == 36 && s[8] == '-' && s[13] == '-' && s[18] == '-' && s[23] == '-'
	if len(digits) != 32 || (len(s) != 32 && !dashed) {
		return "", fmt.Errorf("--uuid=%s: not a UUID (32 hex digits, optionally 8-4-4-4-12 with dashes)", s)
	}
	var b [16]byte
	if _, err := hex.Decode(b[:], []byte(digits)); err != nil {
		return "", fmt.Errorf("--uuid=%s: not a UUID (32 hex digits, optionally 8-4-4-4-12 with dashes)", s)
	}
	if b == [16]byte{} {
		return "", fmt.Errorf("--uuid=%s: the null UUID is not allowed", s)
	}
	return formatUUID(b[:]), nil
}

func formatUUID(b []byte) string {
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
