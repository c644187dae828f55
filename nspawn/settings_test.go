package nspawn

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// settingsRun writes file as the machine "web"'s settings, in a trusted
// directory (trusted) or beside the tree, and loads it under args.
func settingsRun(t *testing.T, file string, trusted bool, args ...string) (*Options, []string, error) {
	t.Helper()
	dir := t.TempDir()
	etc := filepath.Join(dir, "etc")
	tree := filepath.Join(dir, "machines", "web")
	for _, d := range []string{etc, tree} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	where := filepath.Join(dir, "machines", "web.nspawn")
	if trusted {
		where = filepath.Join(etc, "web.nspawn")
	}
	if err := os.WriteFile(where, []byte(file), 0o644); err != nil {
		t.Fatal(err)
	}
	o, err := ParseOptions(append([]string{"-D", tree}, args...))
	if err != nil {
		t.Fatal(err)
	}
	return LoadSettings(o, "/", []string{etc})
}

// sameOptions compares two Options but for the record of the given flags.
func sameOptions(a, b *Options) bool {
	x, y := *a, *b
	x.given, y.given = nil, nil
	return reflect.DeepEqual(x, y)
}

// TestSettingsKeys: every key of systemd-nspawn 252 (nspawn-gperf.gperf)
// gives the same Options as the options it stands for, and a malformed
// value is a warning naming file:line and the key, and changes nothing.
func TestSettingsKeys(t *testing.T) {
	for _, row := range []struct {
		key, good string
		flags     []string
		bad       string // "" where only planning can tell
	}{
		{"Exec.Boot", "yes", []string{"-b"}, "maybe"},
		{"Exec.ProcessTwo", "yes", []string{"-a"}, "maybe"},
		{"Exec.Parameters", `/bin/sh -c "echo hi"`, []string{"--", "/bin/sh", "-c", "echo hi"}, `"open`},
		{"Exec.Ephemeral", "yes", []string{"-x"}, "maybe"},
		{"Exec.Environment", `A=1 "B=2 3"`, []string{"-E", "A=1", "-E", "B=2 3"}, "=x"},
		{"Exec.User", "daemon", []string{"-u", "daemon"}, ""},
		{"Exec.Capability", "CAP_NET_ADMIN CAP_SYS_TIME", []string{"--capability=CAP_NET_ADMIN,CAP_SYS_TIME"}, "CAP_BOGUS"},
		{"Exec.AmbientCapability", "CAP_NET_ADMIN", []string{"--ambient-capability=CAP_NET_ADMIN"}, "CAP_BOGUS"},
		{"Exec.DropCapability", "CAP_NET_RAW", []string{"--drop-capability=CAP_NET_RAW"}, "CAP_BOGUS"},
		{"Exec.KillSignal", "SIGRTMIN+3", []string{"--kill-signal=SIGRTMIN+3"}, "SIGBOGUS"},
		{"Exec.Personality", "x86", []string{"--personality=x86"}, "vax"},
		{"Exec.MachineID", "0123456789abcdef0123456789abcdef", []string{"--uuid=0123456789abcdef0123456789abcdef"}, ""},
		{"Exec.WorkingDirectory", "/srv", []string{"--chdir=/srv"}, "srv"},
		{"Exec.PivotRoot", "/sysroot", []string{"--pivot-root=/sysroot"}, ""},
		{"Exec.PrivateUsers", "pick", []string{"--private-users=pick"}, ""},
		{"Exec.NotifyReady", "yes", []string{"--notify-ready=yes"}, "maybe"},
		{"Exec.SystemCallFilter", "~@clock", []string{"--system-call-filter=~@clock"}, "@bogus"},
		{"Exec.LimitNOFILE", "1024:2048", []string{"--rlimit=NOFILE=1024:2048"}, "lots"},
		{"Exec.LimitCPU", "5", []string{"--rlimit=CPU=5"}, "lots"},
		{"Exec.Hostname", "front", []string{"--hostname=front"}, "bad_name!"},
		{"Exec.NoNewPrivileges", "yes", []string{"--no-new-privileges=yes"}, "maybe"},
		{"Exec.OOMScoreAdjust", "100", []string{"--oom-score-adjust=100"}, ""},
		{"Exec.CPUAffinity", "0", []string{"--cpu-affinity=0"}, ""},
		{"Exec.ResolvConf", "copy-host", []string{"--resolv-conf=copy-host"}, "bogus"},
		{"Exec.LinkJournal", "try-guest", []string{"--link-journal=try-guest"}, "bogus"},
		{"Exec.Timezone", "copy", []string{"--timezone=copy"}, "bogus"},
		{"Exec.SuppressSync", "yes", []string{"--suppress-sync=yes"}, "maybe"},
		{"Files.ReadOnly", "yes", []string{"--read-only"}, "maybe"},
		{"Files.Volatile", "state", []string{"--volatile=state"}, "bogus"},
		{"Files.Bind", "/srv:/mnt:norbind", []string{"--bind=/srv:/mnt:norbind"}, ""},
		{"Files.BindReadOnly", "/srv", []string{"--bind-ro=/srv"}, ""},
		{"Files.TemporaryFileSystem", "/tmp:size=10M", []string{"--tmpfs=/tmp:size=10M"}, ""},
		{"Files.Inaccessible", "/etc/shadow", []string{"--inaccessible=/etc/shadow"}, ""},
		{"Files.Overlay", "/a:/b:/c", []string{"--overlay=/a:/b:/c"}, ""},
		{"Files.OverlayReadOnly", "/a:/c", []string{"--overlay-ro=/a:/c"}, ""},
		{"Files.PrivateUsersChown", "yes", []string{"--private-users-ownership=chown"}, "maybe"},
		{"Files.PrivateUsersOwnership", "map", []string{"--private-users-ownership=map"}, "bogus"},
		{"Files.BindUser", "alice bob", []string{"--bind-user=alice", "--bind-user=bob"}, ""},
		{"Network.Private", "no", []string{"--share-network"}, "maybe"},
		{"Network.VirtualEthernet", "yes", []string{"-n"}, "maybe"},
		{"Network.VirtualEthernetExtra", "ve-a:a", []string{"--network-veth-extra=ve-a:a"}, ""},
		{"Network.Interface", "eth1 eth2:lan", []string{"--network-interface=eth1", "--network-interface=eth2:lan"}, ""},
		{"Network.MACVLAN", "eth1", []string{"--network-macvlan=eth1"}, ""},
		{"Network.IPVLAN", "eth1", []string{"--network-ipvlan=eth1"}, ""},
		{"Network.Bridge", "br0", []string{"--network-bridge=br0"}, ""},
		{"Network.Zone", "lab", []string{"--network-zone=lab"}, ""},
		{"Network.Port", "tcp:8080:80", []string{"--port=tcp:8080:80"}, ""},
	} {
		section, key, _ := strings.Cut(row.key, ".")
		got, warnings, err := settingsRun(t, "# comment\n["+section+"]\n"+key+"="+row.good+"\n", true)
		if err != nil || len(warnings) != 0 {
			t.Errorf("%s=%s: %v %q", row.key, row.good, err, warnings)
			continue
		}
		want, err := ParseOptions(append([]string{"-D", got.Directory}, row.flags...))
		if err != nil {
			t.Fatalf("%v: %v", row.flags, err)
		}
		if !sameOptions(got, want) {
			t.Errorf("%s=%s: got %+v, want %+v (%v)", row.key, row.good, got, want, row.flags)
		}
		if row.bad == "" {
			continue
		}
		got, warnings, err = settingsRun(t, "["+section+"]\n"+key+"="+row.bad+"\n", true)
		plain, _ := ParseOptions([]string{"-D", got.Directory})
		if err != nil || len(warnings) != 1 || !strings.Contains(warnings[0], "web.nspawn:2: "+key+"=: ") ||
			!strings.HasSuffix(warnings[0], "; ignoring") || !sameOptions(got, plain) {
			t.Errorf("%s=%s: %v %q, options %+v", row.key, row.bad, err, warnings, got)
		}
	}
}

// TestSettingsKeysCover252: the table knows every key 252 has.
func TestSettingsKeysCover252(t *testing.T) {
	keys := settingKeys()
	for _, k := range strings.Fields(`Exec.Boot Exec.Ephemeral Exec.ProcessTwo Exec.Parameters
		Exec.Environment Exec.User Exec.Capability Exec.AmbientCapability Exec.DropCapability
		Exec.KillSignal Exec.Personality Exec.MachineID Exec.WorkingDirectory Exec.PivotRoot
		Exec.PrivateUsers Exec.NotifyReady Exec.SystemCallFilter Exec.LimitCPU Exec.LimitFSIZE
		Exec.LimitDATA Exec.LimitSTACK Exec.LimitCORE Exec.LimitRSS Exec.LimitNOFILE Exec.LimitAS
		Exec.LimitNPROC Exec.LimitMEMLOCK Exec.LimitLOCKS Exec.LimitSIGPENDING Exec.LimitMSGQUEUE
		Exec.LimitNICE Exec.LimitRTPRIO Exec.LimitRTTIME Exec.Hostname Exec.NoNewPrivileges
		Exec.OOMScoreAdjust Exec.CPUAffinity Exec.ResolvConf Exec.LinkJournal Exec.Timezone
		Exec.SuppressSync Files.ReadOnly Files.Volatile Files.Bind Files.BindReadOnly
		Files.TemporaryFileSystem Files.Inaccessible Files.Overlay Files.OverlayReadOnly
		Files.PrivateUsersChown Files.PrivateUsersOwnership Files.BindUser Network.Private
		Network.Interface Network.MACVLAN Network.IPVLAN Network.VirtualEthernet
		Network.VirtualEthernetExtra Network.Bridge Network.Zone Network.Port`) {
		k0, ok := keys[k]
		if !ok {
			t.Errorf("%s: not in settingKeys", k)
			continue
		}
		if k0.flag != "" && newFlagSet(&Options{}).Lookup(k0.flag) == nil {
			t.Errorf("%s: flag --%s does not exist", k, k0.flag)
		}
	}
}

// TestSettingsMerge: the command line replaces the file's settings of a
// group as a whole; override the other way round; a group only one side
// gives comes from that side.
func TestSettingsMerge(t *testing.T) {
	file := "[Exec]\nHostname=file\nEnvironment=A=file B=file\nBoot=yes\n[Files]\nBind=/srv\nTemporaryFileSystem=/tmp\nReadOnly=yes\n"
	for _, row := range []struct {
		name string
		args []string
		want []string // as options
	}{
		{"file alone", nil, []string{"--hostname=file", "-E", "A=file", "-E", "B=file", "-b", "--bind=/srv", "--tmpfs=/tmp", "--read-only"}},
		{"env from the command line, whole", []string{"-E", "C=cmd"}, []string{"--hostname=file", "-E", "C=cmd", "-b", "--bind=/srv", "--tmpfs=/tmp", "--read-only"}},
		{"a bind drops every custom mount of the file", []string{"--bind-ro=/opt"}, []string{"--hostname=file", "-E", "A=file", "-E", "B=file", "-b", "--bind-ro=/opt", "--read-only"}},
		{"a command drops Boot=", []string{"/bin/true"}, []string{"--hostname=file", "-E", "A=file", "-E", "B=file", "--bind=/srv", "--tmpfs=/tmp", "--read-only", "/bin/true"}},
		{"-a drops Boot=", []string{"-a"}, []string{"--hostname=file", "-E", "A=file", "-E", "B=file", "-a", "--bind=/srv", "--tmpfs=/tmp", "--read-only"}},
		{"override", []string{"--settings=override", "--hostname=cmd", "-E", "C=cmd", "-q"}, []string{"--settings=override", "-q", "--hostname=file", "-E", "A=file", "-E", "B=file", "-b", "--bind=/srv", "--tmpfs=/tmp", "--read-only"}},
		{"no", []string{"--settings=no", "--hostname=cmd"}, []string{"--settings=no", "--hostname=cmd"}},
		{"false", []string{"--settings=false"}, []string{"--settings=false"}},
	} {
		got, warnings, err := settingsRun(t, file, true, row.args...)
		if err != nil || len(warnings) != 0 {
			t.Errorf("%s: %v %q", row.name, err, warnings)
			continue
		}
		want, _ := ParseOptions(append([]string{"-D", got.Directory}, row.want...))
		if !sameOptions(got, want) {
			t.Errorf("%s: got %+v, want %+v", row.name, got, want)
		}
	}
}

// TestSettingsUntrusted: a file beside the tree applies only what 252
// applies from an untrusted file, a warning for each setting dropped;
// --settings=trusted trusts it.
func TestSettingsUntrusted(t *testing.T) {
	file := "[Exec]\nHostname=file\nCapability=CAP_SYS_ADMIN\nDropCapability=CAP_NET_RAW\nLimitNOFILE=10\nSystemCallFilter=~@clock\n[Files]\nBind=/srv\nReadOnly=yes\n[Network]\nVirtualEthernet=yes\n"
	got, warnings, err := settingsRun(t, file, false)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := ParseOptions([]string{"-D", got.Directory, "--hostname=file", "--drop-capability=CAP_NET_RAW", "--system-call-filter=~@clock", "--read-only"})
	if !sameOptions(got, want) {
		t.Errorf("untrusted: got %+v, want %+v", got, want)
	}
	wantWarn := []string{"web.nspawn:3: Capability=", "web.nspawn:5: LimitNOFILE=", "web.nspawn:8: Bind=", "web.nspawn:11: VirtualEthernet="}
	if len(warnings) != len(wantWarn) {
		t.Fatalf("untrusted: warnings %q, want %q", warnings, wantWarn)
	}
	for i, w := range wantWarn {
		if !strings.Contains(warnings[i], w) || !strings.Contains(warnings[i], "untrusted") {
			t.Errorf("untrusted: warning %q, want %q", warnings[i], w)
		}
	}
	// An allow list drops the deny list with it (merge_settings).
	got, _, _ = settingsRun(t, "[Exec]\nSystemCallFilter=~@clock\nSystemCallFilter=@raw-io\n", false)
	if len(got.SystemCallFilter) != 0 {
		t.Errorf("untrusted allow list: %q applied", got.SystemCallFilter)
	}
	got, warnings, _ = settingsRun(t, file, false, "--settings=trusted")
	if len(warnings) != 0 || len(got.Binds) != 1 || !got.NetworkVeth || len(got.Capabilities) != 1 {
		t.Errorf("--settings=trusted: %q %+v", warnings, got)
	}
}

// TestSettingsLookup: /etc before /run before beside the tree; the name
// is -M's, else the tree's; a tree at / has no file beside it.
func TestSettingsLookup(t *testing.T) {
	dir := t.TempDir()
	etc, run, machines := filepath.Join(dir, "etc"), filepath.Join(dir, "run"), filepath.Join(dir, "machines")
	for _, d := range []string{etc, run, filepath.Join(machines, "web")} {
		os.MkdirAll(d, 0o755)
	}
	write := func(path, host string) {
		os.WriteFile(path, []byte("[Exec]\nHostname="+host+"\n"), 0o644)
	}
	load := func(args ...string) string {
		o, err := ParseOptions(args)
		if err != nil {
			t.Fatal(err)
		}
		o, _, err = LoadSettings(o, machines, []string{etc, run})
		if err != nil {
			t.Fatal(err)
		}
		return o.Hostname
	}
	write(filepath.Join(machines, "web.nspawn"), "beside")
	if h := load("-D", "web"); h != "beside" {
		t.Errorf("beside: %q", h)
	}
	write(filepath.Join(run, "web.nspawn"), "run")
	if h := load("-D", "web"); h != "run" {
		t.Errorf("run: %q", h)
	}
	write(filepath.Join(etc, "web.nspawn"), "etc")
	if h := load("-D", "web"); h != "etc" {
		t.Errorf("etc: %q", h)
	}
	if h := load("-D", "web", "-M", "other"); h != "" {
		t.Errorf("-M other: %q", h)
	}
	write(filepath.Join(run, "other.nspawn"), "other")
	if h := load("-D", "web", "-M", "other"); h != "other" {
		t.Errorf("-M other: %q", h)
	}
	if h := load("-D", "web", "--settings=no"); h != "" {
		t.Errorf("--settings=no: %q", h)
	}
}

// TestSettingsFileSyntax: what systemd's config_parse forgives is a
// warning with file:line; a broken section header stops everything.
func TestSettingsFileSyntax(t *testing.T) {
	got, warnings, err := settingsRun(t, "Hostname=early\n[Exec]\nnoequals\nFoo=bar\nHostname=a\\\n  b\nUser=daemon\n[Bogus]\nX=1\n[Files]\nReadOnly=yes\n", true)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"web.nspawn:1: assignment outside of a section; ignoring", "web.nspawn:3: missing '='; ignoring",
		"web.nspawn:8: [Bogus]: unknown section; ignoring", "web.nspawn:4: Foo=: unknown key in section [Exec]; ignoring",
		"web.nspawn:5: Hostname=: a b: not a valid hostname; ignoring"}
	if len(warnings) != len(want) {
		t.Fatalf("warnings %q, want %q", warnings, want)
	}
	for i := range want {
		if !strings.HasSuffix(warnings[i], want[i]) {
			t.Errorf("warning %q, want %q", warnings[i], want[i])
		}
	}
	if got.User != "daemon" || !got.ReadOnly || got.Hostname != "" {
		t.Errorf("options %+v", got)
	}
	for _, bad := range []string{"[Exec\nHostname=x\n", "[Exec]\n[\n", "[Exec] x\n"} {
		_, _, err := settingsRun(t, bad, true)
		if err == nil || !strings.Contains(err.Error(), "web.nspawn") || strings.Contains(err.Error(), "\n") {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

// TestSettingsModeParse: --settings takes 252's values, and refuses
// others while parsing.
func TestSettingsModeParse(t *testing.T) {
	for _, v := range []string{"yes", "no", "1", "0", "true", "false", "on", "off", "override", "trusted"} {
		if _, err := ParseOptions([]string{"--settings=" + v}); err != nil {
			t.Errorf("--settings=%s: %v", v, err)
		}
	}
	for _, v := range []string{"", "untrusted", "maybe", "Override"} {
		_, err := ParseOptions([]string{"--settings=" + v})
		if err == nil || !strings.HasPrefix(err.Error(), "--settings="+v+": ") {
			t.Errorf("--settings=%s: %v", v, err)
		}
	}
}

func TestSplitWords(t *testing.T) {
	for in, want := range map[string][]string{
		`a b`:           {"a", "b"},
		`  "a b"  'c' `: {"a b", "c"},
		`A="x y"`:       {"A=x y"},
		`a\ b`:          {"a b"},
		``:              nil,
	} {
		if got, err := splitWords(in); err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("%q: %q %v", in, got, err)
		}
	}
	for _, bad := range []string{`"a`, `a\`} {
		if _, err := splitWords(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

// TestSettingsFileUnreadable: a settings file nspawn cannot read as one
// (a directory, a fifo that would hang the start) is one line naming it
// and the way out; nothing starts.
func TestSettingsFileUnreadable(t *testing.T) {
	for _, tc := range []struct {
		name string
		make func(path string) error
		want string
	}{
		{"directory", func(p string) error { return os.Mkdir(p, 0o755) }, "is a directory"},
		{"fifo", func(p string) error { return unix.Mkfifo(p, 0o644) }, "is not a regular file (p"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			etc := filepath.Join(dir, "etc")
			tree := filepath.Join(dir, "web")
			for _, d := range []string{etc, tree} {
				if err := os.MkdirAll(d, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			path := filepath.Join(etc, "web.nspawn")
			if err := tc.make(path); err != nil {
				t.Fatal(err)
			}
			o, err := ParseOptions([]string{"-D", tree})
			if err != nil {
				t.Fatal(err)
			}
			_, _, err = LoadSettings(o, "/", []string{etc})
			if err == nil || !strings.HasPrefix(err.Error(), path+": "+tc.want) || !strings.HasSuffix(err.Error(), "; fix it, or run with --settings=no") || strings.Contains(err.Error(), "\n") {
				t.Errorf("got %v", err)
			}
		})
	}
}
