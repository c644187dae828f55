package nspawn

import (
	"os"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

// TestDocsCoverEveryOption keeps README.md and man/nspawn.1 in step with
// --help: every option must appear in both.
func TestDocsCoverEveryOption(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	manual, err := os.ReadFile("../man/nspawn.1")
	if err != nil {
		t.Fatal(err)
	}
	// The manual page escapes dashes.
	man := strings.ReplaceAll(string(manual), `\-`, "-")
	newFlagSet(&Options{}).VisitAll(func(f *pflag.Flag) {
		if f.Hidden { // known by its short name alone
			if !strings.Contains(string(readme), "-"+f.Shorthand) || !strings.Contains(man, "-"+f.Shorthand) {
				t.Errorf("README.md or man/nspawn.1 does not document -%s", f.Shorthand)
			}
			return
		}
		if !strings.Contains(string(readme), "--"+f.Name) {
			t.Errorf("README.md does not document --%s", f.Name)
		}
		if !strings.Contains(man, "--"+f.Name) {
			t.Errorf("man/nspawn.1 does not document --%s", f.Name)
		}
	})
}
