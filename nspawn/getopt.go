package nspawn

import (
	"fmt"
	"strings"

	"github.com/spf13/pflag"
)

// GetoptError is a command line glibc's getopt_long itself refuses, worded
// as glibc words it ("unrecognized option '--foo'"): programs that drive
// systemd-nspawn probe for an option by running it and looking for these
// words on stderr. Main prefixes it with the program name as invoked, as
// glibc does.
type GetoptError struct{ msg string }

func (e *GetoptError) Error() string { return e.msg }

// valuesAnnotation names the flag annotation that lists an option's
// accepted values: given the value `help`, the option prints them one a
// line and nspawn exits 0, as systemd-nspawn does for --capability=help,
// --console=help and the like. Any flag may carry it, e.g.
//
//	fs.SetAnnotation("link-journal", valuesAnnotation, []string{"no", "host", ...})
//
// Set it only where systemd-nspawn 252 takes `help` itself.
const valuesAnnotation = "values"

// parseArgs applies args to fs as getopt_long does with systemd-nspawn's
// optstring, which starts with '+': options end at the first operand or
// at "--"; a long option may be shortened to any unambiguous prefix and
// takes its value after '=' or, when it requires one, as the next word;
// short options bundle (-qaD root, -qDroot). It returns the operands.
// Parsing stops early, as systemd-nspawn's parse_argv returns early, at
// --help, --version and a value of `help` for an option that lists its
// values (o.Help, o.Version, o.HelpValues).
func parseArgs(fs *pflag.FlagSet, o *Options, args []string) ([]string, error) {
	for i := 0; i < len(args); i++ {
		arg := args[i]
		switch {
		case arg == "--":
			return args[i+1:], nil
		case strings.HasPrefix(arg, "--"):
			f, val, hasVal, err := longOption(fs, arg)
			if err != nil {
				return nil, err
			}
			switch {
			case takesNoValue(f):
				if hasVal {
					return nil, &GetoptError{fmt.Sprintf("option '--%s' doesn't allow an argument", f.Name)}
				}
				val = f.NoOptDefVal
			case hasVal:
			case f.NoOptDefVal != "": // an optional value comes only after '='
				val = f.NoOptDefVal
			case i+1 < len(args):
				i++
				val = args[i]
			default:
				return nil, &GetoptError{fmt.Sprintf("option '--%s' requires an argument", f.Name)}
			}
			if done, err := setOption(fs, o, f, "--"+f.Name, val); done || err != nil {
				return nil, err
			}
		case strings.HasPrefix(arg, "-") && arg != "-":
			next, done, err := shortOptions(fs, o, arg[1:], args[i+1:])
			if done || err != nil {
				return nil, err
			}
			i += next
		default:
			return args[i:], nil
		}
	}
	return nil, nil
}

// shortOptions applies one word of bundled short options (without its
// dash); rest are the words after it, of which it consumed next.
func shortOptions(fs *pflag.FlagSet, o *Options, word string, rest []string) (next int, done bool, err error) {
	for j := 0; j < len(word); j++ {
		c := word[j : j+1]
		f := fs.ShorthandLookup(c)
		if f == nil {
			return 0, false, &GetoptError{fmt.Sprintf("invalid option -- '%s'", c)}
		}
		val := f.NoOptDefVal
		if !takesNoValue(f) {
			switch {
			case j+1 < len(word): // -Droot: the rest of the word is the value
				val, j = word[j+1:], len(word)
			case f.NoOptDefVal != "":
			case next < len(rest):
				val = rest[next]
				next++
			default:
				return 0, false, &GetoptError{fmt.Sprintf("option requires an argument -- '%s'", c)}
			}
		}
		if done, err := setOption(fs, o, f, "-"+c, val); done || err != nil {
			return 0, done, err
		}
	}
	return next, false, nil
}

// longOption finds the option "--name[=value]" names: its exact name, or
// the one option it is an unambiguous prefix of. Flags hidden from --help
// exist for pflag's sake (-U's long name) and are not systemd-nspawn's.
func longOption(fs *pflag.FlagSet, arg string) (f *pflag.Flag, val string, hasVal bool, err error) {
	name, val, hasVal := strings.Cut(arg[2:], "=")
	if f = fs.Lookup(name); f != nil && !f.Hidden && name != "" {
		return f, val, hasVal, nil
	}
	var matches []*pflag.Flag
	if name != "" {
		fs.VisitAll(func(c *pflag.Flag) {
			if !c.Hidden && strings.HasPrefix(c.Name, name) {
				matches = append(matches, c)
			}
		})
	}
	switch len(matches) {
	case 0:
		return nil, "", false, &GetoptError{fmt.Sprintf("unrecognized option '%s'", arg)}
	case 1:
		return matches[0], val, hasVal, nil
	}
	var b strings.Builder
	fmt.Fprintf(&b, "option '%s' is ambiguous; possibilities:", arg)
	for _, m := range matches {
		fmt.Fprintf(&b, " '--%s'", m.Name)
	}
	return nil, "", false, &GetoptError{b.String()}
}

// takesNoValue tells a switch (getopt's no_argument) from an option with a
// value: pflag's booleans, and setTo shorthands.
func takesNoValue(f *pflag.Flag) bool { return f.Value.Type() == "bool" }

// setOption gives f its value. done reports that parsing ends here:
// --help, --version, or `help` as the value of an option that lists its
// values.
func setOption(fs *pflag.FlagSet, o *Options, f *pflag.Flag, as, val string) (done bool, err error) {
	if values, ok := f.Annotations[valuesAnnotation]; ok && val == "help" {
		o.HelpValues = values
		return true, nil
	}
	if err := fs.Set(f.Name, val); err != nil {
		if takesNoValue(f) {
			return false, &UsageError{fmt.Sprintf("%s: %v", as, err)}
		}
		return false, &UsageError{fmt.Sprintf("%s=%s: %v", as, val, err)}
	}
	o.given = append(o.given, givenFlag{f.Name, val})
	return f.Name == "help" || f.Name == "version", nil
}
