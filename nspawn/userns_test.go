package nspawn

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nspawn/nspawn/userns"
)

// TestPlanUserNS follows systemd-nspawn's rules for --private-users, -U
// and --private-users-ownership, and its order of the shorthands.
func TestPlanUserNS(t *testing.T) {
	dir := t.TempDir()
	plain := filepath.Join(dir, "plain")
	shifted := filepath.Join(dir, "shifted")
	fakeTree(plain)
	fakeTree(shifted)
	if err := os.Chown(shifted, 0x70000+1, 0x70000+1); err != nil {
		t.Skip("cannot chown:", err)
	}
	for _, tc := range []struct {
		args []string
		tree string
		want userns.Config
		err  string
	}{
		{args: nil, tree: plain, want: userns.Config{Mode: userns.Identity, Ownership: userns.OwnershipOff}},
		{args: []string{"-U"}, tree: plain, want: userns.Config{Mode: userns.Pick, Size: 65536, Ownership: userns.OwnershipAuto}},
		{args: []string{"-U"}, tree: shifted, want: userns.Config{Mode: userns.Pick, Shift: 0x70000, Size: 65536, Ownership: userns.OwnershipChown}},
		{args: []string{"--private-users=yes"}, tree: shifted, want: userns.Config{Mode: userns.Fixed, FromTree: true, Shift: 0x70000, Size: 65536, Ownership: userns.OwnershipOff}},
		{args: []string{"--private-users"}, tree: plain, want: userns.Config{Mode: userns.Fixed, FromTree: true, Size: 65536, Ownership: userns.OwnershipOff}},
		{args: []string{"--private-users=100000:5000", "--private-users-ownership=map"}, tree: plain, want: userns.Config{Mode: userns.Fixed, Shift: 100000, Size: 5000, Ownership: userns.OwnershipMap}},
		// Command-line order decides, as with getopt.
		{args: []string{"-U", "--private-users=no"}, tree: plain, want: userns.Config{Mode: userns.Off, Ownership: userns.OwnershipOff}},
		{args: []string{"--private-users=no", "-U"}, tree: plain, want: userns.Config{Mode: userns.Pick, Size: 65536, Ownership: userns.OwnershipAuto}},
		{args: []string{"--private-users-ownership=map", "--private-users-chown", "-U"}, tree: plain, want: userns.Config{Mode: userns.Pick, Size: 65536, Ownership: userns.OwnershipChown}},
		{args: []string{"-U", "--private-users-ownership=map"}, tree: shifted, err: "chowned before"},
		{args: []string{"-U", "--private-users-ownership=chown", "--read-only"}, tree: plain, err: "--read-only and --private-users-ownership=chown"},
		{args: []string{"--private-users=100000", "--private-users-ownership=chown"}, tree: plain, err: "65536 IDs from a multiple of 65536"},
		{args: []string{"--private-users=maybe"}, tree: plain, err: "--private-users=maybe: use yes, no, pick"},
		{args: []string{"--private-users-ownership=copy"}, tree: plain, err: "--private-users-ownership=copy: use off, chown"},
	} {
		o, err := ParseOptions(append(append([]string{"-D", tc.tree}, tc.args...), "true"))
		if err != nil {
			t.Fatal(err)
		}
		p, err := BuildPlan(o, &Facts{Cwd: dir})
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%v: error %v, want one with %q", tc.args, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%v: %v", tc.args, err)
			continue
		}
		if p.UserNS != tc.want {
			t.Errorf("%v: %+v, want %+v", tc.args, p.UserNS, tc.want)
		}
	}
}
