package mounts

import (
	"os"
	"strings"
	"testing"
)

// TestLanded checks the real kernel's answer in this process's own mount
// namespace: / and /proc are mounts, a fresh directory is not.
func TestLanded(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(dir+"/x", 0o755); err != nil {
		t.Fatal(err)
	}
	pid := os.Getpid()
	if err := Landed(pid, "/", []Step{{Kind: KindFS, FSType: "proc", Target: "/proc"}}, []Step{{Kind: KindBind, Source: "/", Target: "/"}}); err != nil {
		t.Errorf("/proc and /: %v", err)
	}
	for _, tc := range []struct {
		step Step
		want string // in the error; "" for none
	}{
		{Step{Kind: KindBind, Source: "/srv/data", Target: "/x"}, "bind /srv/data on /x did not reach"},
		{Step{Kind: KindFS, FSType: "tmpfs", Target: "/x"}, "tmpfs on /x did not reach"},
		{Step{Kind: KindFS, FSType: "tmpfs", Target: "/missing"}, "tmpfs on /missing did not reach"},
		{Step{Kind: KindBind, Source: "/etc/resolv.conf", Target: "/x", BestEffort: true}, ""},
		{Step{Kind: KindSymlink, Source: "pts/ptmx", Target: "/x"}, ""},
	} {
		err := Landed(pid, dir, []Step{tc.step})
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%+v: %v", tc.step, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%+v: got %v, want %q", tc.step, err, tc.want)
		}
	}
}
