package nspawn

import (
	"strings"
	"testing"

	"github.com/spf13/pflag"

	"github.com/nspawn/nspawn/security"
	"github.com/nspawn/nspawn/userns"
)

// TestCompletionCoversEveryOption keeps completionKinds in step with the
// flag set: a new option with a value needs a decision on what completes
// it (possibly "": free text), and no entry may name an option that is gone.
func TestCompletionCoversEveryOption(t *testing.T) {
	kinds := completionKinds()
	seen := map[string]bool{}
	newFlagSet(&Options{}).VisitAll(func(f *pflag.Flag) {
		seen[f.Name] = true
		_, ok := kinds[f.Name]
		switch {
		case takesNoValue(f) && ok:
			t.Errorf("--%s is a switch; completionKinds has an entry for it", f.Name)
		case !takesNoValue(f) && !ok:
			t.Errorf("--%s takes a value; say in completionKinds what completes it (\"\" for free text)", f.Name)
		}
	})
	for name := range kinds {
		if !seen[name] {
			t.Errorf("completionKinds names --%s, which is no option", name)
		}
	}
	for _, c := range CompletionOptions() {
		words := c.Complete == CompleteWords || c.Complete == CompleteList || c.Complete == CompleteStats
		if words != (len(c.Values) > 0) {
			t.Errorf("--%s: completes %q with %d values", c.Long, c.Complete, len(c.Values))
		}
	}
}

// TestCompletionValuesParse: every word a completion offers is one the
// option's own parser takes.
func TestCompletionValuesParse(t *testing.T) {
	boolean := func(v string) error { _, err := parseBool(v); return err }
	parsers := map[string]func(string) error{
		"notify-ready":      boolean,
		"register":          boolean,
		"no-new-privileges": boolean,
		"suppress-sync":     boolean,
		"settings":          func(v string) error { _, err := parseSettingsMode(v); return err },
		"private-users":     func(v string) error { _, err := userns.ParseSpec(v); return err },
		"private-users-ownership": func(v string) error {
			_, err := userns.ParseOwnership(v)
			return err
		},
		"stats":       func(v string) error { _, err := statsMode(v); return err },
		"kill-signal": func(v string) error { _, err := parseSignal(v); return err },
		"capability":  func(v string) error { _, err := security.ParseCapabilities(v); return err },
		"rlimit": func(v string) error {
			return parseRlimit(v+"infinity", make([]Rlimit, len(rlimits)))
		},
		"system-call-filter": func(v string) error {
			if !strings.HasPrefix(v, "@") {
				t.Errorf("--system-call-filter offers %q, not a group", v)
			}
			return nil
		},
	}
	for _, c := range CompletionOptions() {
		parse, ok := parsers[c.Long]
		if !ok {
			continue
		}
		for _, v := range c.Values {
			if err := parse(v); err != nil {
				t.Errorf("--%s offers %q, which its parser refuses: %v", c.Long, v, err)
			}
		}
	}
}
