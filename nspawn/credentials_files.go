package nspawn

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/sys/unix"

	"github.com/nspawn/nspawn/wire"
)

// Credentials (--set-credential, --load-credential) as systemd-nspawn
// passes them: files in /run/host/credentials, named by their ID, on a
// ramfs so a secret never reaches swap, read-only, readable by root and
// the payload's user alone, and gone with the container's mount
// namespace. $CREDENTIALS_DIRECTORY names the directory.

// credentialsDir is the credentials' directory inside the container.
const credentialsDir = "/run/host/credentials"

// Credential is one credential: its ID, the file's name, and its bytes.
type Credential struct {
	ID    string
	Value string
}

// planCredentials reads --set-credential and --load-credential, in that
// order: an ID may be given once.
func (p *Plan) planCredentials(o *Options, host *Facts) error {
	seen := map[string]bool{}
	add := func(flag, spec, id, value string) error {
		if !validCredentialID(id) {
			return fmt.Errorf("%s=%s: %q is not a valid credential ID (a file name: no '/', not . or .., at most 255 bytes)", flag, spec, id)
		}
		if seen[id] {
			return fmt.Errorf("%s=%s: credential %s is given twice; give each ID once", flag, spec, id)
		}
		seen[id] = true
		p.Credentials = append(p.Credentials, Credential{ID: id, Value: value})
		return nil
	}
	for _, spec := range o.SetCredentials {
		id, raw, ok := strings.Cut(spec, ":")
		if !ok {
			return fmt.Errorf("--set-credential=%s: not ID:VALUE", spec)
		}
		value, err := unescapeC(raw)
		if err != nil {
			return fmt.Errorf("--set-credential=%s: %v", spec, err)
		}
		if err := add("--set-credential", spec, id, value); err != nil {
			return err
		}
	}
	for _, spec := range o.LoadCredentials {
		id, src, ok := strings.Cut(spec, ":")
		if !ok || src == "" {
			return fmt.Errorf("--load-credential=%s: not ID:PATH", spec)
		}
		path, err := credentialSource(src, host.Env)
		if err != nil {
			return fmt.Errorf("--load-credential=%s: %v", spec, err)
		}
		f := host.file(path)
		if f.Err != nil {
			return fmt.Errorf("--load-credential=%s: cannot read %s: %v", spec, path, f.Err)
		}
		if err := add("--load-credential", spec, id, string(f.Content)); err != nil {
			return err
		}
	}
	return nil
}

// credentialSource is where --load-credential's PATH is read from: a path
// (it has a '/'), or the name of one of nspawn's own credentials, in its
// $CREDENTIALS_DIRECTORY, as systemd-nspawn looks it up.
func credentialSource(src string, env []string) (string, error) {
	if strings.Contains(src, "/") {
		return src, nil
	}
	if !validCredentialID(src) {
		return "", fmt.Errorf("%q is neither a path nor a credential name", src)
	}
	dir, ok := lookupEnvOK(env, "CREDENTIALS_DIRECTORY")
	if !ok || dir == "" {
		return "", fmt.Errorf("%s is no path (it has no '/') and nspawn was given no credentials ($CREDENTIALS_DIRECTORY) to take it from; give a path such as ./%s", src, src)
	}
	return filepath.Join(dir, src), nil
}

// probeCredentials reads the sources of --load-credential into f.Files,
// for planCredentials: a file, or an AF_UNIX stream socket to connect to
// and read to its end (READ_FULL_FILE_CONNECT_SOCKET).
func probeCredentials(o *Options, f *Facts) {
	for _, spec := range o.LoadCredentials {
		_, src, _ := strings.Cut(spec, ":")
		if path, err := credentialSource(src, f.Env); err == nil {
			f.Files[path] = readCredential(path)
		}
	}
}

func readCredential(path string) HostFile {
	var hf HostFile
	var st unix.Stat_t
	if hf.Err = unix.Stat(path, &st); hf.Err != nil {
		return hf
	}
	if st.Mode&unix.S_IFMT != unix.S_IFSOCK {
		hf.Content, hf.Err = os.ReadFile(path)
		return hf
	}
	conn, err := net.Dial("unix", path)
	if err != nil {
		hf.Err = err
		return hf
	}
	defer conn.Close()
	conn.(*net.UnixConn).CloseWrite()
	hf.Content, hf.Err = io.ReadAll(conn)
	return hf
}

// validCredentialID is systemd's credential_name_valid(): a valid file
// name.
func validCredentialID(id string) bool {
	return id != "" && id != "." && id != ".." && len(id) <= 255 && !strings.ContainsAny(id, "/\x00")
}

// unescapeC undoes C escapes as systemd's cunescape() does for
// --set-credential (UNESCAPE_ACCEPT_NUL): \a \b \f \n \r \t \v \\ \" \'
// \s (a space), \xHH, \OOO (three octal digits), \uXXXX, \UXXXXXXXX.
func unescapeC(s string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' {
			b.WriteByte(s[i])
			continue
		}
		i++
		if i >= len(s) {
			return "", errors.New("the value ends in a lone backslash; write \\\\ for one")
		}
		if c, ok := map[byte]byte{'a': '\a', 'b': '\b', 'f': '\f', 'n': '\n', 'r': '\r', 't': '\t', 'v': '\v',
			'\\': '\\', '"': '"', '\'': '\'', 's': ' '}[s[i]]; ok {
			b.WriteByte(c)
			continue
		}
		digits, base := 0, 0
		switch c := s[i]; {
		case c == 'x':
			digits, base = 2, 16
		case c == 'u':
			digits, base = 4, 16
		case c == 'U':
			digits, base = 8, 16
		case c >= '0' && c <= '7':
			digits, base = 3, 8
			i-- // the digit is the number's first
		default:
			return "", fmt.Errorf("unknown escape \\%c", c)
		}
		if i+1+digits > len(s) {
			return "", fmt.Errorf("escape \\%s is cut short", s[i:])
		}
		n, err := strconv.ParseUint(s[i+1:i+1+digits], base, 32)
		if err != nil {
			return "", fmt.Errorf("bad escape \\%s", s[i:i+1+digits])
		}
		if base == 8 || s[i] == 'x' {
			if n > 255 {
				return "", fmt.Errorf("bad escape \\%s", s[i+1:i+1+digits])
			}
			b.WriteByte(byte(n))
		} else {
			if !utf8.ValidRune(rune(n)) {
				return "", fmt.Errorf("escape \\%s is no Unicode character", s[i:i+1+digits])
			}
			b.WriteRune(rune(n))
		}
		i += digits
	}
	return b.String(), nil
}

func appendCredentials(w *wire.Writer, creds []Credential) {
	w.Num(uint64(len(creds)))
	for _, c := range creds {
		w.Str(c.ID)
		w.Str(c.Value)
	}
}

func readCredentials(r *wire.Reader) []Credential {
	n := r.Count()
	var creds []Credential
	for range n {
		creds = append(creds, Credential{ID: r.Str(), Value: r.Str()})
	}
	return creds
}

// writeCredentials puts creds in the container (the child, inside its
// own mount namespace): a ramfs, the files 0400 and the directory 0500,
// both owned by the payload's user, then made read-only.
func writeCredentials(creds []Credential, uid, gid uint32) error {
	if len(creds) == 0 {
		return nil
	}
	if err := os.MkdirAll(credentialsDir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", credentialsDir, err)
	}
	if err := unix.Mount("ramfs", credentialsDir, "ramfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "mode=0700"); err != nil {
		return fmt.Errorf("mount a ramfs for the credentials on %s: %w", credentialsDir, err)
	}
	for _, c := range creds {
		p := filepath.Join(credentialsDir, c.ID)
		if err := os.WriteFile(p, []byte(c.Value), 0o400); err != nil {
			return fmt.Errorf("write credential %s: %w", c.ID, err)
		}
		if err := os.Chown(p, int(uid), int(gid)); err != nil {
			return fmt.Errorf("credential %s: %w", c.ID, err)
		}
	}
	if err := os.Chmod(credentialsDir, 0o500); err != nil {
		return fmt.Errorf("credentials: %w", err)
	}
	if err := os.Chown(credentialsDir, int(uid), int(gid)); err != nil {
		return fmt.Errorf("credentials: %w", err)
	}
	if err := unix.Mount("", credentialsDir, "", unix.MS_REMOUNT|unix.MS_BIND|unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		return fmt.Errorf("make the credentials read-only: %w", err)
	}
	return nil
}
