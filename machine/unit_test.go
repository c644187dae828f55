package machine

import (
	"testing"

	"github.com/coreos/go-systemd/v22/unit"
)

func TestScopeName(t *testing.T) {
	for in, want := range map[string]string{
		"tree":       "machine-tree.scope",
		"my-tree":    `machine-my\x2dtree.scope`,
		".hidden":    `machine-\x2ehidden.scope`,
		"a.b_c:d":    "machine-a.b_c:d.scope",
		"sp ace":     `machine-sp\x20ace.scope`,
		`back\slash`: `machine-back\x5cslash.scope`,
		// From systemd-escape 252 here.
		"h\u00e9llo": `machine-h\xc3\xa9llo.scope`,
		"a/b":        "machine-a-b.scope",
		"/lead":      "machine--lead.scope",
		"x.-y":       `machine-x.\x2dy.scope`,
	} {
		if got := ScopeName(in); got != want {
			t.Errorf("ScopeName(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestEscapeShortHex pins where go-systemd's escape differs from systemd's
// (systemd-escape $'\t' is \x09): should it change, ScopeName's comment
// must too.
func TestEscapeShortHex(t *testing.T) {
	if got := unit.UnitNameEscape("\t"); got != `\x9` {
		t.Errorf("UnitNameEscape(tab) = %q; update ScopeName's comment", got)
	}
}

func TestSlicePath(t *testing.T) {
	for in, want := range map[string]string{
		"machine.slice": "/machine.slice",
		"a-b-c.slice":   "/a.slice/a-b.slice/a-b-c.slice",
		"-.slice":       "/",
		"x":             "",
		".slice":        "",
		"a--b.slice":    "",
		"-a.slice":      "",
		"a/b.slice":     "",
	} {
		got, err := SlicePath(in)
		if want == "" {
			if err == nil {
				t.Errorf("SlicePath(%q) = %q, want an error", in, got)
			}
			continue
		}
		if err != nil || got != want {
			t.Errorf("SlicePath(%q) = %q, %v, want %q", in, got, err, want)
		}
	}
}

func TestMangleSlice(t *testing.T) {
	for in, want := range map[string]string{
		"devtools-root": "devtools-root.slice", "ci.slice": "ci.slice",
		"web.service": "web.service", "a.b": "a.b.slice",
	} {
		if got := MangleSlice(in); got != want {
			t.Errorf("MangleSlice(%q) = %q, want %q", in, got, want)
		}
	}
}
