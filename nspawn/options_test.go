package nspawn

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/spf13/pflag"

	"github.com/nspawn/nspawn/pty"
	"github.com/nspawn/nspawn/security"
	"github.com/nspawn/nspawn/userns"
)

func TestParseOptionsStopsAtCommand(t *testing.T) {
	o, err := ParseOptions([]string{"-D", "t", "-q", "ls", "-la", "--bind=/x"})
	if err != nil {
		t.Fatal(err)
	}
	if o.Directory != "t" || !o.Quiet || !reflect.DeepEqual(o.Command, []string{"ls", "-la", "--bind=/x"}) {
		t.Fatalf("got %+v", o)
	}
}

func TestParseOptionsRepeatable(t *testing.T) {
	o, err := ParseOptions([]string{"-E", "A=1", "--setenv=B=2", "--bind=/a", "--bind", "/b:/c", "--bind-ro=/d", "--tmpfs=/e", "-u", "nobody", "--chdir=/data", "-a"})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(o.Setenv, []string{"A=1", "B=2"}) || !reflect.DeepEqual(o.Binds, []string{"/a", "/b:/c"}) ||
		!reflect.DeepEqual(o.BindsRO, []string{"/d"}) || !reflect.DeepEqual(o.Tmpfs, []string{"/e"}) ||
		o.User != "nobody" || o.Chdir != "/data" || !o.AsPID2 || len(o.Command) != 0 {
		t.Fatalf("got %+v", o)
	}
}

// TestParseOptionsForms: every way getopt_long lets a caller write an
// option, as systemd-nspawn's callers write them.
func TestParseOptionsForms(t *testing.T) {
	for _, row := range []struct {
		args []string
		want func(o *Options) bool
	}{
		{[]string{"--directory=root"}, func(o *Options) bool { return o.Directory == "root" }},
		{[]string{"--directory", "root"}, func(o *Options) bool { return o.Directory == "root" }},
		{[]string{"-D", "root"}, func(o *Options) bool { return o.Directory == "root" }},
		{[]string{"-Droot"}, func(o *Options) bool { return o.Directory == "root" }},
		{[]string{"--bind", "/src"}, func(o *Options) bool { return reflect.DeepEqual(o.Binds, []string{"/src"}) }},
		{[]string{"--setenv", "K=V"}, func(o *Options) bool { return reflect.DeepEqual(o.Setenv, []string{"K=V"}) }},
		{[]string{"-E", "K=V", "-EJ=W"}, func(o *Options) bool { return reflect.DeepEqual(o.Setenv, []string{"K=V", "J=W"}) }},
		// Bundled short options; the one that takes a value ends the word.
		{[]string{"-qD", "root"}, func(o *Options) bool { return o.Quiet && o.Directory == "root" }},
		{[]string{"-qaD", "root"}, func(o *Options) bool { return o.Quiet && o.AsPID2 && o.Directory == "root" }},
		{[]string{"-qaDroot", "ls"}, func(o *Options) bool {
			return o.Quiet && o.AsPID2 && o.Directory == "root" && reflect.DeepEqual(o.Command, []string{"ls"})
		}},
		{[]string{"-bUq"}, func(o *Options) bool { return o.Boot && o.PrivateUsers == "pick" && o.Quiet }},
		// Unambiguous prefixes of long names, exact names before them.
		{[]string{"--dir=root", "--bo"}, func(o *Options) bool { return o.Directory == "root" && o.Boot }},
		{[]string{"--bind-ro=/x"}, func(o *Options) bool { return reflect.DeepEqual(o.BindsRO, []string{"/x"}) }},
		// Optional values only after '='.
		{[]string{"--private-users", "true"}, func(o *Options) bool {
			return o.PrivateUsers == "yes" && reflect.DeepEqual(o.Command, []string{"true"})
		}},
		{[]string{"--private-users=pick"}, func(o *Options) bool { return o.PrivateUsers == "pick" }},
		{[]string{"--stats"}, func(o *Options) bool { return o.Stats == "line" }},
		// The command: after the first operand, after "--", or "-" itself.
		{[]string{"-q", "--", "-D", "x"}, func(o *Options) bool { return o.Directory == "" && reflect.DeepEqual(o.Command, []string{"-D", "x"}) }},
		{[]string{"-", "-q"}, func(o *Options) bool { return !o.Quiet && reflect.DeepEqual(o.Command, []string{"-", "-q"}) }},
		{[]string{"-S", "ci.slice", "--no-pager"}, func(o *Options) bool { return o.Slice == "ci.slice" && o.NoPager }},
		// --help, --version and =help end parsing, whatever follows.
		{[]string{"--help", "--bogus"}, func(o *Options) bool { return o.Help }},
		{[]string{"-qh", "-y"}, func(o *Options) bool { return o.Help }},
		{[]string{"--version", "-D"}, func(o *Options) bool { return o.Version }},
		{[]string{"--console=help", "--bogus"}, func(o *Options) bool { return o.HelpValues[0] == "autopipe" }},
		{[]string{"--capability", "help"}, func(o *Options) bool { return o.HelpValues[0] == "cap_chown" }},
	} {
		o, err := ParseOptions(row.args)
		if err != nil {
			t.Errorf("%q: %v", row.args, err)
			continue
		}
		if !row.want(o) {
			t.Errorf("%q: got %+v", row.args, o)
		}
	}
}

// TestParseOptionsErrors: what getopt_long refuses, in glibc's words,
// which callers look for, and what nspawn itself refuses.
func TestParseOptionsErrors(t *testing.T) {
	for _, row := range []struct {
		args   []string
		getopt bool
		want   string
	}{
		{[]string{"--bogus"}, true, "unrecognized option '--bogus'"},
		{[]string{"--bogus=1"}, true, "unrecognized option '--bogus=1'"},
		{[]string{"--private-users-pick"}, true, "unrecognized option '--private-users-pick'"},
		{[]string{"-y"}, true, "invalid option -- 'y'"},
		{[]string{"-qy"}, true, "invalid option -- 'y'"},
		{[]string{"-D"}, true, "option requires an argument -- 'D'"},
		{[]string{"-qD"}, true, "option requires an argument -- 'D'"},
		{[]string{"--bind"}, true, "option '--bind' requires an argument"},
		{[]string{"--dir"}, true, "option '--directory' requires an argument"},
		{[]string{"--quiet=yes"}, true, "option '--quiet' doesn't allow an argument"},
		{[]string{"--b"}, true, "option '--b' is ambiguous; possibilities: '--boot' '--bind' '--bind-ro'"},
		{[]string{"--share-network", "--private-network"}, false, "--share-network and --private-network contradict each other"},
		{[]string{"--network-bridge="}, false, "--network-bridge=: the value is empty"},
		{[]string{"--network-zone="}, false, "--network-zone=: the value is empty"},
		{[]string{"--network-namespace-path="}, false, "--network-namespace-path=: the value is empty"},
	} {
		_, err := ParseOptions(row.args)
		var getopt *GetoptError
		if err == nil || err.Error() != row.want && !strings.HasPrefix(err.Error(), row.want) || errors.As(err, &getopt) != row.getopt {
			t.Errorf("%q: got %v, want %q (getopt's: %v)", row.args, err, row.want, row.getopt)
		}
	}
}

// TestHelpValuesParse: every value --OPTION=help lists is one the option
// takes.
func TestHelpValuesParse(t *testing.T) {
	parsers := map[string]func(string) error{
		"capability":              func(v string) error { _, err := security.ParseCapabilities(v); return err },
		"drop-capability":         func(v string) error { _, err := security.ParseCapabilities(v); return err },
		"ambient-capability":      func(v string) error { _, err := security.ParseCapabilities(v); return err },
		"kill-signal":             func(v string) error { _, err := parseSignal(v); return err },
		"resolv-conf":             func(v string) error { _, err := parseMode("--resolv-conf", v, resolvModes); return err },
		"timezone":                func(v string) error { _, err := parseMode("--timezone", v, timezoneModes); return err },
		"console":                 func(v string) error { _, err := pty.ParseMode(v); return err },
		"private-users-ownership": func(v string) error { _, err := userns.ParseOwnership(v); return err },
		"link-journal": func(v string) error {
			_, err := ParseOptions([]string{"--link-journal=" + v})
			return err
		},
		"rlimit": func(v string) error { return parseRlimit(v+"=1", make([]Rlimit, len(rlimits))) },
		"personality": func(v string) error {
			if _, ok := personalities()[v]; !ok {
				return errors.New("unknown")
			}
			return nil
		},
		"volatile":                  func(v string) error { _, err := parseVolatile(v); return err },
		"network-configure":         func(v string) error { _, err := networkConfigure(v, false); return err },
		"restrict-address-families": func(v string) error { var a security.AddressFamilies; return a.Add(v) },
	}
	newFlagSet(&Options{}).VisitAll(func(f *pflag.Flag) {
		values, ok := f.Annotations[valuesAnnotation]
		if !ok {
			return
		}
		parse := parsers[f.Name]
		if parse == nil {
			t.Errorf("--%s=help lists values no test parses", f.Name)
			return
		}
		for _, v := range values {
			if err := parse(v); err != nil {
				t.Errorf("--%s=help lists %q, which it refuses: %v", f.Name, v, err)
			}
		}
	})
}

// parseTimeSample is a good value for the options ParseOptions itself
// checks, where "sample" would not do.
var parseTimeSample = map[string]string{"settings": "yes"}

// TestHelpIsTruthful: every option --help lists parses with a sample
// value, and --help lists every option there is.
func TestHelpIsTruthful(t *testing.T) {
	var b strings.Builder
	WriteHelp(&b)
	listed := map[string]bool{}
	option := regexp.MustCompile(`^  (?:-(\w) )?(?:\s*--([\w-]+))?(\[?=\S+)?\s`)
	for _, line := range strings.Split(b.String(), "\n") {
		m := option.FindStringSubmatch(line)
		if m == nil || m[1] == "" && m[2] == "" {
			continue
		}
		short, long, arg := m[1], m[2], m[3]
		var args []string
		if long != "" {
			args = []string{"--" + long}
			listed[long] = true
		} else {
			args = []string{"-" + short}
			listed[fmt.Sprint(newFlagSet(&Options{}).ShorthandLookup(short).Name)] = true
		}
		switch {
		case strings.HasPrefix(arg, "["): // an optional value, only after '='
			args[0] += "=sample"
		case arg != "" && parseTimeSample[long] != "":
			args = append(args, parseTimeSample[long])
		case arg != "":
			args = append(args, "sample")
		}
		o, err := ParseOptions(args)
		if err != nil {
			t.Errorf("--help lists %q, which does not parse: %v", args, err)
			continue
		}
		if len(o.Command) != 0 {
			t.Errorf("--help lists %q, which takes no value", args)
		}
	}
	newFlagSet(&Options{}).VisitAll(func(f *pflag.Flag) {
		if !listed[f.Name] {
			t.Errorf("--help does not list --%s", f.Name)
		}
	})
}

// TestVersionShape: the first line parses as systemd's does for its
// callers: the second word an integer, the third a parenthesised version
// starting with it.
func TestVersionShape(t *testing.T) {
	var b strings.Builder
	writeVersion(&b)
	words := strings.Fields(strings.SplitN(b.String(), "\n", 2)[0])
	if len(words) != 3 || words[0] != "systemd" || words[1] != strconv.Itoa(InterfaceLevel) ||
		!strings.HasPrefix(strings.Trim(words[2], "()"), words[1]+"-") || !strings.Contains(words[2], Version) {
		t.Fatalf("--version: %q", b.String())
	}
}

func TestHelpListsEveryOption(t *testing.T) {
	var b strings.Builder
	WriteHelp(&b)
	for _, want := range []string{"--directory", "--machine", "--hostname", "--uuid", "--user", "--chdir", "--setenv",
		"--quiet", "--as-pid2", "--kill-signal", "--bind", "--bind-ro", "--tmpfs", "--read-only", "--private-network",
		"--share-network", "--help", "--version"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("--help lacks %s", want)
		}
	}
}
