package nspawn

import (
	"os"
	"path/filepath"
	"testing"
)

func TestParseMode(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"", "auto"}, {"auto", "auto"}, {"yes", "auto"}, {"no", "off"},
		{"copy-host", "copy-host"}, {"bind-stub", "bind-stub"}, {"copy", ""}, {"Copy-Host", ""},
	} {
		got, err := parseMode("--resolv-conf", c.in, resolvModes)
		if c.want == "" {
			if err == nil {
				t.Errorf("parseMode(%q) = %q, want an error", c.in, got)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("parseMode(%q) = %q, %v, want %q", c.in, got, err, c.want)
		}
	}
}

func TestZoneOf(t *testing.T) {
	for link, want := range map[string]string{
		"/usr/share/zoneinfo/Europe/Berlin":   "Europe/Berlin",
		"../usr/share/zoneinfo/Etc/UTC":       "Etc/UTC",
		"/etc/zoneinfo/UTC":                   "",
		"/usr/share/zoneinfo/":                "",
		"../../usr/share/zoneinfo/Asia/Tokyo": "",
	} {
		if got, ok := zoneOf(link); got != want || ok != (want != "") {
			t.Errorf("zoneOf(%q) = %q, %v, want %q", link, got, ok, want)
		}
	}
}

func TestTreeMachineID(t *testing.T) {
	root := t.TempDir()
	os.Mkdir(filepath.Join(root, "etc"), 0o755)
	for content, want := range map[string]string{
		"0123456789ABCDEF0123456789abcdef\n":     "01234567-89ab-cdef-0123-456789abcdef",
		"":                                       "",
		"uninitialized\n":                        "",
		"00000000000000000000000000000000\n":     "error",
		"01234567-89ab-cdef-0123-456789abcdef\n": "error",
		"0123456789abcdef0123456789abcdeX\n":     "error",
		"\n\n":                                   "error",
	} {
		os.WriteFile(filepath.Join(root, "etc/machine-id"), []byte(content), 0o644)
		got, err := treeMachineID(root)
		if want == "error" {
			if err == nil {
				t.Errorf("%q: got %q, want an error", content, got)
			}
			continue
		}
		if err != nil || got != want {
			t.Errorf("%q: got %q, %v, want %q", content, got, err, want)
		}
	}
}
