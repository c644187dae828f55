package mounts

import (
	"reflect"
	"testing"
)

// TestParseOverlay: systemd-nspawn's --overlay syntax, every form and
// every malformed value.
func TestParseOverlay(t *testing.T) {
	for _, tc := range []struct {
		spec string
		ro   bool
		want Step
		err  string
	}{
		{spec: "/lo:/up", want: Step{Kind: KindOverlay, Lower: []string{"/lo"}, Source: "/up", Target: "/up"}},
		{spec: "/lo:+/up", want: Step{Kind: KindOverlay, Lower: []string{"/lo"}, Source: "+/up", Target: "/up"}},
		{spec: "/a:/b:/up:/dst", want: Step{Kind: KindOverlay, Lower: []string{"/a", "/b"}, Source: "/up", Target: "/dst"}},
		{spec: "/a::/dst", want: Step{Kind: KindOverlay, Lower: []string{"/a"}, Target: "/dst"}},
		{spec: "+/a:/b//c/::/dst/", ro: true, want: Step{Kind: KindOverlay, Lower: []string{"+/a", "/b/c"}, Target: "/dst", ReadOnly: true}},
		{spec: `/we\:ird:/up:/dst`, want: Step{Kind: KindOverlay, Lower: []string{"/we:ird"}, Source: "/up", Target: "/dst"}},
		{spec: "", err: "needs at least LOWER:UPPER"},
		{spec: "/only", err: "needs at least LOWER:UPPER"},
		{spec: "/lo:", err: "the upper directory is empty (a throw-away one needs LOWER::DEST)"},
		{spec: "rel:/up", err: `lower directory "rel" is not an absolute path`},
		{spec: ":/up", err: "lower directory is empty"},
		{spec: "/lo:rel", err: `upper directory "rel" is not an absolute path`},
		{spec: "/lo:/up:rel", err: `destination "rel" is not an absolute path`},
		{spec: "/lo:/up:", err: "destination is empty"},
		{spec: "/lo:/up:+/dst", err: `destination "+/dst" is not an absolute path`},
	} {
		got, err := ParseOverlay(tc.spec, tc.ro)
		if tc.err != "" {
			if err == nil || err.Error() != tc.err {
				t.Errorf("ParseOverlay(%q) = %+v, %v; want error %q", tc.spec, got, err, tc.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseOverlay(%q) = %+v, %v; want %+v", tc.spec, got, err, tc.want)
		}
	}
}

func TestOverlayWorkDir(t *testing.T) {
	if got := OverlayWorkDir("/srv/up"); got != "/srv/.#up.nspawn-work" {
		t.Errorf("OverlayWorkDir = %q", got)
	}
}
