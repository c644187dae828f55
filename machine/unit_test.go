package machine

import "testing"

func TestScopeName(t *testing.T) {
	for in, want := range map[string]string{
		"tree":       "machine-tree.scope",
		"my-tree":    `machine-my\x2dtree.scope`,
		".hidden":    `machine-\x2ehidden.scope`,
		"a.b_c:d":    "machine-a.b_c:d.scope",
		"sp ace":     `machine-sp\x20ace.scope`,
		`back\slash`: `machine-back\x5cslash.scope`,
	} {
		if got := ScopeName(in); got != want {
			t.Errorf("ScopeName(%q) = %q, want %q", in, got, want)
		}
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
