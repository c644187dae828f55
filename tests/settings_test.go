package tests

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// settingsProbe prints what a .nspawn file changes, as the payload sees it.
const settingsProbe = `hostname
echo "A=$A B=$B"
[ -e /mnt/marker ] && echo bound || echo unbound
touch /rw-probe 2>/dev/null && echo rw || echo ro`

// settingsCase runs the probe under nspawn and, where it runs here,
// systemd-nspawn 252, each on its own copy of the tree, with file as the
// machine's settings in /run/systemd/nspawn (trusted) or beside the tree,
// and returns their outputs.
type settingsCase struct {
	name    string
	file    string
	trusted bool
	args    []string
}

func runSettingsCase(t *testing.T, c settingsCase, bin string) result {
	t.Helper()
	machine := fmt.Sprintf("nspset-%d-%s", os.Getpid(), c.name)
	tree := copyTree(t, busyboxTree)
	path := filepath.Join(filepath.Dir(tree), machine+".nspawn")
	if c.trusted {
		path = filepath.Join("/run/systemd/nspawn", machine+".nspawn")
		os.MkdirAll("/run/systemd/nspawn", 0o755)
	}
	if err := os.WriteFile(path, []byte(c.file), 0o644); err != nil {
		t.Fatal(err)
	}
	defer os.Remove(path)
	args := append([]string{"-q", "-P", "-D", tree, "-M", machine}, c.args...)
	if bin != nspawnBin {
		// Without systemd here; ours runs in a cgroup of its own, never
		// in the payload/ systemd-nspawn leaves behind.
		args = append([]string{"--register=no", "--keep-unit"}, args...)
	}
	cmd := exec.Command(bin, append(args, "/bin/sh", "-c", settingsProbe)...)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitWithin(t, cmd, bin+" "+strings.Join(args, " "), errb.String)
	return result{out.String(), errb.String(), exitStatus(cmd.ProcessState)}
}

// TestSettingsFiles: the same effective settings inside as systemd-nspawn
// 252 gives, for each trust level and merge rule.
func TestSettingsFiles(t *testing.T) {
	host := t.TempDir()
	if err := os.WriteFile(filepath.Join(host, "marker"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	file := "[Exec]\nHostname=fromfile\nEnvironment=A=1 \"B=2 3\"\nUnknownKey=1\n[Files]\nBind=" + host + ":/mnt\nReadOnly=yes\n"
	sdn, _ := exec.LookPath("systemd-nspawn")
	for _, c := range []struct {
		settingsCase
		want string
	}{
		{settingsCase{"trusted", file, true, nil}, "fromfile\nA=1 B=2 3\nbound\nro\n"},
		{settingsCase{"cmdline", file, true, []string{"--hostname=cmd", "-E", "A=cmd", "--bind-ro=/tmp:/srv"}}, "cmd\nA=cmd B=\nunbound\nro\n"},
		{settingsCase{"override", file, true, []string{"--settings=override", "--hostname=cmd", "-E", "A=cmd"}}, "fromfile\nA=1 B=2 3\nbound\nro\n"},
		{settingsCase{"untrusted", file, false, nil}, "fromfile\nA=1 B=2 3\nunbound\nro\n"},
		{settingsCase{"trustedmode", file, false, []string{"--settings=trusted"}}, "fromfile\nA=1 B=2 3\nbound\nro\n"},
		{settingsCase{"no", file, true, []string{"--settings=no"}}, "nspset-%d-no\nA= B=\nunbound\nrw\n"},
	} {
		want := c.want
		if strings.Contains(want, "%d") {
			want = fmt.Sprintf(want, os.Getpid())
		}
		ours := runSettingsCase(t, c.settingsCase, nspawnBin)
		if ours.status != 0 || ours.stdout != want {
			t.Errorf("%s: ours %d %q, want %q; stderr %s", c.name, ours.status, ours.stdout, want, ours.stderr)
		}
		if c.name != "no" && !strings.Contains(ours.stderr, ".nspawn:4: UnknownKey=: unknown key in section [Exec]; ignoring") {
			t.Errorf("%s: no warning for the unknown key: %s", c.name, ours.stderr)
		}
		if c.name == "untrusted" && !strings.Contains(ours.stderr, ".nspawn:6: Bind=: not applied") {
			t.Errorf("%s: no warning for the untrusted Bind=: %s", c.name, ours.stderr)
		}
		if sdn == "" {
			continue
		}
		theirs := runSettingsCase(t, c.settingsCase, sdn)
		if theirs.status != 0 || theirs.stdout != ours.stdout {
			t.Errorf("%s: systemd-nspawn %d %q, ours %q; its stderr %s", c.name, theirs.status, theirs.stdout, ours.stdout, theirs.stderr)
		}
	}
}

// TestSettingsFileBroken: a file that cannot be parsed is one line naming
// it, and nothing starts, as with systemd-nspawn.
func TestSettingsFileBroken(t *testing.T) {
	c := settingsCase{"broken", "[Exec]\nHostname=x\n[Exec\n", true, nil}
	ours := runSettingsCase(t, c, nspawnBin)
	lines := strings.Split(strings.TrimSpace(ours.stderr), "\n")
	if ours.status != 1 || ours.stdout != "" || len(lines) != 1 || !strings.Contains(lines[0], ".nspawn:3: invalid section header") {
		t.Errorf("ours: %d %q %q", ours.status, ours.stdout, ours.stderr)
	}
	if sdn, err := exec.LookPath("systemd-nspawn"); err == nil {
		if theirs := runSettingsCase(t, c, sdn); theirs.status != 1 || theirs.stdout != "" {
			t.Errorf("systemd-nspawn: %d %q %q", theirs.status, theirs.stdout, theirs.stderr)
		}
	}
}
