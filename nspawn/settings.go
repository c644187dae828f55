// .nspawn settings files (systemd.nspawn(5)): found by machine name, read
// with go-systemd's unit parser, and merged into Options before the host
// is probed, so that planning sees one Options, as if the file's settings
// had been given as options, and reads the host only through Facts.

package nspawn

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/coreos/go-systemd/v22/unit"
	"github.com/spf13/pflag"
	"golang.org/x/sys/unix"
)

// TrustedSettingsDirs are where an administrator's NAME.nspawn files live,
// looked in in this order (load_settings): a file there is trusted.
var TrustedSettingsDirs = []string{"/etc/systemd/nspawn", "/run/systemd/nspawn"}

// settingsMode is --settings=: whether a file is read, whether it wins
// over the command line, and whether it is trusted wherever it is.
type settingsMode struct {
	read     bool
	override bool // the file's settings win over the command line's
	// trust: 1 trusted wherever found, 0 never, -1 by where it is.
	trust int
}

// parseSettingsMode follows systemd-nspawn 252's --settings=: a boolean,
// override or trusted (252 refuses "untrusted"; `no` reads no file).
func parseSettingsMode(v string) (settingsMode, error) {
	switch v {
	case "trusted":
		return settingsMode{read: true, trust: 1}, nil
	case "override":
		return settingsMode{read: true, override: true, trust: -1}, nil
	}
	on, err := parseBool(v)
	if err != nil {
		return settingsMode{}, fmt.Errorf("--settings=%s: not yes, no, override or trusted", v)
	}
	if !on {
		return settingsMode{}, nil
	}
	return settingsMode{read: true, trust: -1}, nil
}

// givenFlag is one option as the command line gave it, in order, so the
// merge can give it again on top of a file's settings.
type givenFlag struct{ name, value string }

// settingsFile is a NAME.nspawn found: where, and whether it is trusted.
type settingsFile struct {
	path    string
	trusted bool
}

// findSettings looks for NAME.nspawn as load_settings does: in the
// trusted dirs first, then beside the tree (untrusted unless
// --settings=trusted). It returns a zero settingsFile when there is none.
func findSettings(name, tree string, dirs []string, mode settingsMode) (settingsFile, error) {
	file := name + ".nspawn"
	for _, dir := range dirs {
		path := filepath.Join(dir, file)
		if _, err := os.Stat(path); err == nil {
			return settingsFile{path, mode.trust != 0}, nil
		} else if !errors.Is(err, fs.ErrNotExist) {
			return settingsFile{}, fmt.Errorf("%s: %v; fix it, or run with --settings=no", path, unwrapPath(err))
		}
	}
	if tree == "/" || tree == "" {
		return settingsFile{}, nil
	}
	path := filepath.Join(filepath.Dir(tree), file)
	if _, err := os.Stat(path); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return settingsFile{}, nil
		}
		return settingsFile{}, fmt.Errorf("%s: %v; fix it, or run with --settings=no", path, unwrapPath(err))
	}
	return settingsFile{path, mode.trust == 1}, nil
}

// unwrapPath is an os error without the path, which the message names
// already.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// settingAssignment is one Key=value of a file, where it is.
type settingAssignment struct {
	line    int
	section string
	key     string
	value   string
}

// settingsSections are the sections a .nspawn file has.
var settingsSections = map[string]bool{"Exec": true, "Files": true, "Network": true}

// parseSettings reads a .nspawn file's assignments. go-systemd's parser
// reads the values (continuations, comments, whitespace) but neither
// numbers lines nor forgives what systemd's config_parse forgives (an
// assignment before any section, a line without '='). So one pass over
// the lines first numbers each assignment and blanks out, with a warning,
// what systemd ignores with one; the parser's entries then come in the
// same order as the numbered assignments. A broken section header is the
// error that stops everything, as in systemd.
func parseSettings(path string, data []byte) ([]settingAssignment, []string, error) {
	lines := strings.Split(string(data), "\n")
	var numbered []settingAssignment
	var warnings []string
	section := ""
	for i := 0; i < len(lines); i++ {
		first := i
		logical := lines[i]
		// A trailing backslash continues the line (systemd's config_parse).
		for strings.HasSuffix(strings.TrimRight(logical, " \t\r"), `\`) && i+1 < len(lines) {
			i++
			logical = strings.TrimSuffix(strings.TrimRight(logical, " \t\r"), `\`) + " " + lines[i]
		}
		t := strings.TrimSpace(logical)
		blank := func(why string) {
			warnings = append(warnings, fmt.Sprintf("%s:%d: %s; ignoring", path, first+1, why))
			for j := first; j <= i; j++ {
				lines[j] = ""
			}
		}
		switch {
		case t == "" || t[0] == '#' || t[0] == ';':
		case t[0] == '[':
			if len(t) < 3 || t[len(t)-1] != ']' {
				return nil, nil, fmt.Errorf("%s:%d: invalid section header %q; fix the file, or run with --settings=no", path, first+1, t)
			}
			section = t[1 : len(t)-1]
			if !settingsSections[section] {
				warnings = append(warnings, fmt.Sprintf("%s:%d: [%s]: unknown section; ignoring", path, first+1, section))
			}
		case section == "":
			blank("assignment outside of a section")
		case !strings.Contains(t, "="):
			blank("missing '='")
		default:
			key, _, _ := strings.Cut(t, "=")
			numbered = append(numbered, settingAssignment{line: first + 1, section: section, key: strings.TrimSpace(key)})
		}
	}
	sections, err := unit.DeserializeSections(bytes.NewReader([]byte(strings.Join(lines, "\n"))))
	if err != nil {
		return nil, nil, fmt.Errorf("%s: cannot be parsed: %v; fix the file, or run with --settings=no", path, err)
	}
	n := 0
	for _, s := range sections {
		for _, e := range s.Entries {
			if n >= len(numbered) || numbered[n].key != e.Name || numbered[n].section != s.Section {
				return nil, nil, fmt.Errorf("%s: cannot be parsed: entry %s=%s out of step; fix the file, or run with --settings=no", path, e.Name, e.Value)
			}
			numbered[n].value = joinContinuations(e.Value)
			n++
		}
	}
	var known []settingAssignment
	for _, a := range numbered {
		if settingsSections[a.section] {
			known = append(known, a)
		}
	}
	return known, warnings, nil
}

// joinContinuations joins a value's continued lines as systemd's
// config_parse does (the backslash a space, the next line stripped);
// go-systemd keeps them as written, for writing the file back.
func joinContinuations(v string) string {
	parts := strings.Split(v, "\\\n")
	for i := 1; i < len(parts); i++ {
		parts[i] = strings.TrimLeft(parts[i], " \t")
	}
	return strings.Join(parts, " ")
}

// fileSetting is an assignment turned into the options it stands for.
type fileSetting struct {
	settingAssignment
	group   settingGroup
	flags   [][2]string // (flag, value) in order; a nil value resets the flag
	params  []string    // Parameters=
	params0 bool        // Parameters= was given (empty resets)
	priv    bool
}

// resolveSettings checks each assignment against its key and turns it
// into options; a key unknown or a malformed value is a warning, and the
// assignment ignored, as systemd-nspawn's parsers do.
func resolveSettings(path string, assigns []settingAssignment) ([]fileSetting, []string) {
	keys := settingKeys()
	var out []fileSetting
	var warnings []string
	warn := func(a settingAssignment, format string, args ...any) {
		warnings = append(warnings, fmt.Sprintf("%s:%d: %s=: %s; ignoring", path, a.line, a.key, fmt.Sprintf(format, args...)))
	}
	for _, a := range assigns {
		k, ok := keys[a.section+"."+a.key]
		if !ok {
			warn(a, "unknown key in section [%s]", a.section)
			continue
		}
		fsg := fileSetting{settingAssignment: a, group: flagGroups[k.flag], priv: k.privileged}
		if k.flag == "" { // Parameters=
			fsg.group = groupStartMode
			words, err := splitWords(a.value)
			if err != nil {
				warn(a, "%v", err)
				continue
			}
			fsg.params, fsg.params0 = words, true
			out = append(out, fsg)
			continue
		}
		values := []string{a.value}
		if k.split {
			words, err := splitWords(a.value)
			if err != nil {
				warn(a, "%v", err)
				continue
			}
			values = words
		}
		if a.value == "" && k.set != nil {
			warn(a, "empty value")
			continue
		}
		if a.value == "" {
			// An empty value resets what the file said so far (systemd's
			// config parsers), here the flag back to nothing.
			fsg.flags = [][2]string{{k.flag, ""}}
			fsg.group = groupOf(k.flag, "")
			out = append(out, fsg)
			continue
		}
		bad := false
		for _, v := range values {
			if k.check != nil {
				if err := k.check(v); err != nil {
					warn(a, "%s: %v", v, err)
					bad = true
					break
				}
			}
			if k.privilegedIf != nil && k.privilegedIf(v) {
				fsg.priv = true
			}
			if k.set != nil {
				pairs, _ := k.set(v)
				fsg.flags = append(fsg.flags, pairs...)
			} else {
				fsg.flags = append(fsg.flags, [2]string{k.flag, v})
			}
		}
		if bad {
			continue
		}
		fsg.group = groupOf(fsg.flags[0][0], fsg.flags[0][1])
		out = append(out, fsg)
	}
	return out, warnings
}

// mergeSettings is merge_settings: the options a run goes with, the
// command line's and the file's, group by group (settingGroup). A group
// the command line gave comes whole from it, unless override; one only
// the file gave comes whole from the file; an untrusted file's privileged
// settings are dropped with a warning. The result is built afresh through
// the flag set, the command line's options given again in their order,
// then the file's, so every value goes through the one parser.
func mergeSettings(cmd *Options, file settingsFile, settings []fileSetting, override bool) (*Options, []string, error) {
	fromCmd := map[settingGroup]bool{}
	for _, g := range cmd.given {
		fromCmd[groupOf(g.name, g.value)] = true
	}
	if len(cmd.Command) > 0 {
		fromCmd[groupStartMode] = true
	}
	var warnings []string
	// An untrusted file's allow-list of system calls drops the whole
	// SystemCallFilter= setting, deny-lists included (merge_settings).
	untrustedSyscalls := false
	for _, s := range settings {
		if !file.trusted && s.priv && s.group == groupSyscallFilter {
			untrustedSyscalls = true
		}
	}
	fromFile := map[settingGroup]bool{}
	var apply []fileSetting
	for _, s := range settings {
		if fromCmd[s.group] && !override {
			continue
		}
		if !file.trusted && (s.priv || s.group == groupSyscallFilter && untrustedSyscalls) {
			warnings = append(warnings, fmt.Sprintf("%s:%d: %s=: not applied from a file outside %s (an untrusted file); ignoring",
				file.path, s.line, s.key, strings.Join(TrustedSettingsDirs, " and ")))
			continue
		}
		fromFile[s.group] = true
		apply = append(apply, s)
	}
	m := &Options{}
	fs := newFlagSet(m)
	for _, g := range cmd.given {
		if fromFile[groupOf(g.name, g.value)] {
			continue
		}
		if err := fs.Set(g.name, g.value); err != nil {
			return nil, nil, fmt.Errorf("--%s=%s: %v", g.name, g.value, err)
		}
	}
	m.Command = cmd.Command
	if fromFile[groupStartMode] {
		m.Command = nil // Parameters= replaces the command, given or not
	}
	for _, s := range apply {
		if s.params0 {
			m.Command = s.params
			continue
		}
		for _, fv := range s.flags {
			if err := setFromFile(fs, fv[0], fv[1]); err != nil {
				warnings = append(warnings, fmt.Sprintf("%s:%d: %s=%s: %v; ignoring", file.path, s.line, s.key, fv[1], err))
			}
		}
	}
	m.given, m.AsSystemdNspawn = cmd.given, cmd.AsSystemdNspawn
	return m, warnings, nil
}

// setFromFile gives a flag a file's value; an empty value resets it to
// its default (a list to empty), as an empty assignment resets a setting
// in systemd's config parsers.
func setFromFile(fs *pflag.FlagSet, name, value string) error {
	f := fs.Lookup(name)
	if value != "" && f.Value.Type() == "bool" {
		// pflag's booleans are strconv's; a file's are systemd's.
		on, err := parseBool(value)
		if err != nil {
			return err
		}
		return fs.Set(name, strconv.FormatBool(on))
	}
	if value != "" {
		return fs.Set(name, value)
	}
	if sv, ok := f.Value.(pflag.SliceValue); ok {
		return sv.Replace(nil)
	}
	return f.Value.Set(f.DefValue)
}

// LoadSettings finds the machine's .nspawn file, as --settings= says,
// and returns the options with its settings merged in, and the warnings
// to print (each whatever --quiet says, as systemd-nspawn's are). cwd is
// where a relative -D starts; dirs are the trusted directories.
func LoadSettings(o *Options, cwd string, dirs []string) (*Options, []string, error) {
	mode, err := parseSettingsMode(o.Settings)
	if err != nil || !mode.read {
		return o, nil, err
	}
	tree := o.Directory
	if tree == "" && imageLookupDue(o) {
		// -M NAME alone: the tree the image lookup finds, as 252's
		// determine_names runs before load_settings; not found, planning
		// says so.
		tree = probeMachineImage(o.Machine, imageSearchPath()).Path
	}
	if tree == "" {
		tree = cwd
	} else if !filepath.IsAbs(tree) {
		tree = filepath.Join(cwd, tree)
	}
	tree = filepath.Clean(tree)
	// The name before -x's random suffix, as determine_names keeps it for
	// the settings file; a name that cannot be derived is planning's error.
	name, err := machineName(o.Machine, tree)
	if err != nil {
		return o, nil, nil
	}
	file, err := findSettings(name, tree, dirs, mode)
	if err != nil || file.path == "" {
		return o, nil, err
	}
	data, err := readSettingsFile(file.path)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %v; fix it, or run with --settings=no", file.path, unwrapPath(err))
	}
	assigns, warnings, err := parseSettings(file.path, data)
	if err != nil {
		return nil, nil, err
	}
	settings, more := resolveSettings(file.path, assigns)
	warnings = append(warnings, more...)
	merged, more, err := mergeSettings(o, file, settings, mode.override)
	if err != nil {
		return nil, nil, err
	}
	return merged, append(warnings, more...), nil
}

// readSettingsFile reads a settings file, refusing what is not a regular
// file: a fifo or a device there would hang the start or read forever.
func readSettingsFile(path string) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	switch mode := st.Mode(); {
	case mode.IsDir():
		return nil, errors.New("is a directory")
	case !mode.IsRegular():
		return nil, fmt.Errorf("is not a regular file (%s)", strings.TrimPrefix(mode.Type().String(), "-"))
	}
	return io.ReadAll(f)
}

// splitWords splits a value into words as systemd's extract_first_word
// with EXTRACT_UNQUOTE does: whitespace separates, quotes group, a
// backslash escapes the next character.
func splitWords(s string) ([]string, error) {
	var words []string
	var w strings.Builder
	inWord := false
	var quote rune
	escaped := false
	for _, c := range s {
		switch {
		case escaped:
			w.WriteRune(c)
			escaped = false
		case c == '\\':
			escaped, inWord = true, true
		case quote != 0 && c == quote:
			quote = 0
		case quote != 0:
			w.WriteRune(c)
		case c == '"' || c == '\'':
			quote, inWord = c, true
		case c == ' ' || c == '\t' || c == '\n':
			if inWord {
				words = append(words, w.String())
				w.Reset()
				inWord = false
			}
		default:
			w.WriteRune(c)
			inWord = true
		}
	}
	if quote != 0 || escaped {
		return nil, errors.New("unbalanced quotes or trailing backslash")
	}
	if inWord {
		words = append(words, w.String())
	}
	return words, nil
}
