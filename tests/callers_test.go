package tests

// The command lines that real programs which drive systemd-nspawn pass it,
// run against nspawn installed under the name systemd-nspawn, checked for
// what each caller relies on: its version parse, its option probes, the
// output it reads and the exit status it acts on. Set CALLERS_SDN=1 to run
// the same lines against /usr/bin/systemd-nspawn too, which proves the
// expectations are what callers get from systemd 252.
//
// Sources read, per caller (the lines are theirs, only the paths, the
// payload standing in for the build, and the users their setup creates are
// ours):
//
//   - debspawn, lkhq/debspawn at v0.6.5-3-g2ea6fae: debspawn/nspawn.py
//     (systemd_version: `systemd-nspawn --version`, out.split(' ', 2)[1] as
//     an int, >= 244 gates --console=pipe; _execute_sdnspawn,
//     nspawn_run_persist, nspawn_run_ephemeral: the returncode is the
//     build's), debspawn/build.py (the flags: --bind=PKG:/srv/build/, -u
//     builder, --private-network), debspawn/config.py (SyscallFilter
//     "compat": @memlock @pkey @clock @cpu-emulation).
//   - mkosi v14 (systemd/mkosi tag v14, the last release whose builds ran in
//     systemd-nspawn; v15 moved them to bwrap): mkosi/backend.py
//     (nspawn_version: int(stdout.strip().split()[1]); nspawn_knows_arg:
//     "unrecognized option" not in the stderr of `systemd-nspawn ARG
//     --directory /dev/null --image /dev/null`; nspawn_rlimit_params;
//     run_workspace_command), mkosi/__init__.py (run_build_script, with
//     :rootidmap on its binds when the version is >= 252; a non-zero status
//     is "Build script returned non-zero exit code").
//   - Fedora's mock, rpm-software-management/mock at mock-6.7-1-34-g81787520:
//     mock/py/mockbuild/util.py (_prepare_nspawn_command, its probes of
//     `systemd-nspawn --help` stdout for --pipe, --console, --resolv-conf,
//     --chdir, --suppress-sync; clean_env; SYSTEMD_NSPAWN_TMPFS_TMP=0 and
//     SYSTEMD_SECCOMP=0 in nspawn's own environment; ChildPreExec unsharing
//     the IPC and network namespaces before the exec), mock/py/mockbuild/
//     config.py (nspawn_args: --capability=cap_ipc_lock), buildroot.py (binds
//     of /dev/fuse and /dev/loop-control, --resolv-conf=off).
//   - Arch's devtools v1.5.0 (archlinux/devtools): src/arch-nspawn.in (its
//     nspawn_args, exec'd through setarch), src/makechrootpkg.in (the build's
//     binds and --tmpfs=/tmp:nosuid,nodev,size=50%,nr_inodes=2m; `if
//     arch-nspawn ...` acts on zero or not).
//   - debos, go-debos/debos commands.go at 02f7682 (Command.Run,
//     ChrootMethodNspawn: its own resolv.conf in the tree, --resolv-conf=off,
//     separate-word --setenv and --bind, stdout and stderr into one log,
//     stdin closed; any non-zero status fails the action). It shares the
//     host's network (apt downloads), so the default must stay the host's.
//   - NixOS containers, nixpkgs nixos/modules/virtualisation/
//     nixos-containers.nix at 00ef614 (startScript: --keep-unit -M -D
//     --notify-ready=yes --kill-signal=SIGRTMIN+3, binds of /nix,
//     --link-journal=try-guest, separate-word --setenv, the container-init
//     script that traps SIGRTMIN+3 and exits 0; SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1
//     in nspawn's environment; the unit stops it with SIGTERM).
//   - Nomad's nspawn driver, JanMa/nomad-driver-nspawn v0.10.0-11-g8fc5333:
//     nspawn/nspawn.go (MachineConfig.ConfigArray: separate-word --machine,
//     --resolv-conf, --user, --chdir, --bind, --bind-ro, -E, --capability);
//     its exec and fingerprint go through machined, which this host lacks,
//     so only the launch line is run.
//
// On this VM systemd-nspawn 252 finds no system bus: it needs --register=no
// and --keep-unit, which are added to its runs only, where a line lacks them.

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// underTest is one binary the callers' lines run against.
type underTest struct {
	name string
	bin  string
	// noBus: systemd-nspawn 252 without a system bus fails unless told
	// --register=no and --keep-unit.
	noBus bool
}

func undersTest() []underTest {
	list := []underTest{{name: "nspawn", bin: nspawnBin}}
	if os.Getenv("CALLERS_SDN") == "1" {
		list = append(list, underTest{name: "systemd-nspawn", bin: "/usr/bin/systemd-nspawn", noBus: true})
	}
	return list
}

// callerLine is one command line of a caller, split where the payload
// begins.
type callerLine struct {
	via     []string // a program the caller execs it through (setarch)
	opts    []string
	payload []string
	env     []string // nspawn's own environment; the test's when nil
	unshare uintptr  // namespaces the caller leaves before the exec
}

// command builds the caller's exec of u, installed as systemd-nspawn in a
// directory of its own that leads PATH, started in a fresh cgroup as a
// caller's own unit would be: --keep-unit runs then never meet a stranger's
// payload/ (systemd-nspawn leaves one behind in the cgroup it ran in).
// Mock names /usr/bin/systemd-nspawn; the link's name stands in for it.
func (u underTest) command(t *testing.T, l callerLine) *exec.Cmd {
	t.Helper()
	dir := t.TempDir()
	link := filepath.Join(dir, "systemd-nspawn")
	if err := os.Symlink(u.bin, link); err != nil {
		t.Fatal(err)
	}
	opts := slices.Clone(l.opts)
	if u.noBus {
		// Before a closing "--", where a caller ends its options.
		end := len(l.opts)
		if end > 0 && l.opts[end-1] == "--" {
			end--
		}
		var host []string
		if !slices.ContainsFunc(l.opts, func(o string) bool { return strings.HasPrefix(o, "--register") }) {
			host = append(host, "--register=no")
		}
		if !slices.Contains(l.opts, "--keep-unit") {
			host = append(host, "--keep-unit")
		}
		opts = slices.Insert(opts, end, host...)
	}
	cgroups := callerCgroups(t)
	// $0 counts the cgroups that follow; the shell joins them, then execs.
	script := `n=$0; while [ "$n" -gt 0 ]; do echo $$ >"$1/cgroup.procs" || exit 125; shift; n=$((n-1)); done; exec "$@"`
	prog := link
	if len(l.via) > 0 {
		prog = "systemd-nspawn" // found by the program in between, on PATH
	}
	args := slices.Concat([]string{"-c", script, strconv.Itoa(len(cgroups))}, cgroups, l.via, []string{prog}, opts, l.payload)
	cmd := exec.Command("/bin/sh", args...)
	env := l.env
	if env == nil {
		env = os.Environ()
	}
	cmd.Env = []string{"PATH=" + dir + ":/usr/sbin:/usr/bin:/sbin:/bin"}
	for _, e := range env {
		if !strings.HasPrefix(e, "PATH=") {
			cmd.Env = append(cmd.Env, e)
		}
	}
	if l.unshare != 0 {
		cmd.SysProcAttr = &syscall.SysProcAttr{Unshareflags: l.unshare}
	}
	return cmd
}

// callerCgroups makes a fresh cgroup of one name on the unified hierarchy
// and, in the hybrid layout, on systemd's named one, removed with all below
// them when the test ends. One name: systemd-nspawn makes its payload/ and
// supervisor/ on the named hierarchy at its path on the unified one.
func callerCgroups(t *testing.T) []string {
	t.Helper()
	roots := []string{"/sys/fs/cgroup"}
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err != nil {
		roots = nil
		for _, r := range []string{"/sys/fs/cgroup/unified", "/sys/fs/cgroup/systemd"} {
			if _, err := os.Stat(r + "/cgroup.procs"); err == nil {
				roots = append(roots, r)
			}
		}
	}
	if len(roots) == 0 {
		t.Fatal("no cgroup hierarchy to run callers in")
	}
	first, err := os.MkdirTemp(roots[0], "nspawn-callers-")
	if err != nil {
		t.Fatal(err)
	}
	dirs := []string{first}
	for _, r := range roots[1:] {
		d := filepath.Join(r, filepath.Base(first))
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
		dirs = append(dirs, d)
	}
	t.Cleanup(func() {
		for _, d := range dirs {
			removeCgroupTree(t, d)
		}
	})
	return dirs
}

// removeCgroupTree removes dir and the cgroups below it, deepest first,
// giving the kernel a few seconds to let go of exited processes.
func removeCgroupTree(t *testing.T, dir string) {
	var all []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			all = append(all, p)
		}
		return nil
	})
	slices.Reverse(all)
	for _, d := range all {
		var err error
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			if err = syscall.Rmdir(d); err != syscall.EBUSY || time.Now().After(deadline) {
				break
			}
		}
		if err != nil {
			t.Errorf("remove cgroup %s: %v", d, err)
		}
	}
}

// run runs the caller's line with stdin from /dev/null, as callers do, and
// waits at most a minute.
func (u underTest) run(t *testing.T, l callerLine) result {
	t.Helper()
	cmd := u.command(t, l)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	cmd.WaitDelay = 10 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitWithin(t, cmd, fmt.Sprintf("%q", cmd.Args), errb.String)
	return result{out.String(), errb.String(), exitStatus(cmd.ProcessState)}
}

// want fails the test unless r ended with status and printed stdout.
// Line ends are compared as "\n": systemd-nspawn 252 without --console and
// without a terminal picks read-only, a pseudo-terminal that turns them into
// "\r\n", and the callers that pass no --console only log the output.
func want(t *testing.T, what string, r result, status int, stdout string) {
	t.Helper()
	if r.status != status || strings.ReplaceAll(r.stdout, "\r\n", "\n") != stdout {
		t.Errorf("%s: status %d, want %d\nstdout: %q\nwant:   %q\nstderr:\n%s", what, r.status, status, r.stdout, stdout, r.stderr)
	}
}

func TestCallers(t *testing.T) {
	callers := []struct {
		name string
		test func(*testing.T, underTest)
	}{
		{"debspawn", debspawnCalls},
		{"mkosi", mkosiCalls},
		{"mock", mockCalls},
		{"arch-nspawn", archNspawnCalls},
		{"debos", debosCalls},
		{"nixos-container", nixosContainerCalls},
		{"nomad-driver-nspawn", nomadCalls},
	}
	for _, u := range undersTest() {
		t.Run(u.name, func(t *testing.T) {
			for _, c := range callers {
				t.Run(c.name, func(t *testing.T) {
					before := snapshotHost(t)
					defer checkNoLeaks(t, before)
					c.test(t, u)
				})
			}
		})
	}
}

// versionField is the second word of `systemd-nspawn --version`, which
// debspawn and mkosi read as an int.
func versionField(t *testing.T, u underTest) int {
	t.Helper()
	r := u.run(t, callerLine{opts: []string{"--version"}})
	f := strings.Fields(r.stdout)
	if r.status != 0 || len(f) < 2 || f[0] != "systemd" {
		// The runs that follow go on as if 252 had been read.
		t.Errorf("--version: status %d, stdout %q, want \"systemd N (...)\"; stderr: %s", r.status, r.stdout, r.stderr)
		return 252
	}
	v, err := strconv.Atoi(f[1])
	if err != nil {
		t.Errorf("--version: %q is no number: %v", f[1], err)
		return 252
	}
	return v
}

// addUser gives a copied tree a user and its group, as a caller's setup
// does before it runs builds as that user.
func addUser(t *testing.T, tree, name string, id int, home string) {
	t.Helper()
	appendFile(t, filepath.Join(tree, "etc/passwd"), fmt.Sprintf("%s:x:%d:%d::%s:/bin/sh\n", name, id, id, home))
	appendFile(t, filepath.Join(tree, "etc/group"), fmt.Sprintf("%s:x:%d:\n", name, id))
	if err := os.MkdirAll(filepath.Join(tree, home), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(filepath.Join(tree, home), id, id); err != nil {
		t.Fatal(err)
	}
}

func appendFile(t *testing.T, path, text string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(text); err != nil {
		t.Fatal(err)
	}
}

func writeFile(t *testing.T, path, text string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), mode); err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Error(err)
	}
	return string(data)
}

// netDevices lists the interfaces /proc/net/dev shows; the shell line
// prints the same inside a container.
const netDevicesSh = `echo net=$(tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | sort | tr '\n' ' ')`

func hostNetDevices(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("/bin/sh", "-c", netDevicesSh).Output()
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

func debspawnCalls(t *testing.T, u underTest) {
	if v := versionField(t, u); v < 244 {
		t.Errorf("--version: %d, debspawn wants >= 244 to pass --console=pipe", v)
	}

	// nspawn_run_persist, as build.py runs the package build.
	tree := copyTree(t, debianTree)
	addUser(t, tree, "builder", 1011, "/home/builder")
	pkg, aptCache := t.TempDir(), t.TempDir()
	if err := os.Chmod(pkg, 0o777); err != nil {
		t.Fatal(err)
	}
	build := `id -un; pwd; echo "opts=$DEB_BUILD_OPTIONS"; ` + netDevicesSh + `; echo built > /srv/build/result; exit 3`
	r := u.run(t, callerLine{
		opts: []string{"-M", "debspawn-bookworm-1", "--register=no", "-a", "--timezone=copy",
			"--system-call-filter", "@memlock @pkey @clock @cpu-emulation",
			"-E", "DEB_BUILD_OPTIONS=nocheck",
			"--chdir=/srv/build", "--link-journal=no",
			"--bind=" + aptCache + ":/var/cache/apt/archives/",
			"--bind=" + pkg + ":/srv/build/", "-u", "builder", "--private-network",
			"-qD", tree},
		payload: []string{"sh", "-c", build},
	})
	want(t, "debspawn build", r, 3, "builder\n/srv/build\nopts=nocheck\nnet=lo\n")
	if got := readFile(t, filepath.Join(pkg, "result")); got != "built\n" {
		t.Errorf("debspawn build: /srv/build/result on the host holds %q, want \"built\\n\"", got)
	}

	// nspawn_run_ephemeral: -x, so the tree is as before afterwards.
	tree = copyTree(t, busyboxTree)
	r = u.run(t, callerLine{
		opts: []string{"-M", "debspawn-bookworm-2", "--register=no", "-a", "--timezone=copy",
			"--chdir=/tmp", "--link-journal=no", "-qxD", tree},
		payload: []string{"sh", "-c", "echo changed > /marker; cat /marker"},
	})
	want(t, "debspawn ephemeral", r, 0, "changed\n")
	if _, err := os.Stat(filepath.Join(tree, "marker")); err == nil {
		t.Errorf("debspawn ephemeral: -x left /marker in the tree")
	}
}

// rlimInfinity is RLIM_INFINITY as the kernel returns it in a uint64.
const rlimInfinity = ^uint64(0)

func mkosiCalls(t *testing.T, u underTest) {
	version := versionField(t, u)

	// nspawn_knows_arg: an option is known unless stderr says
	// "unrecognized option"; the two nonsense arguments make sure nothing
	// runs.
	for _, c := range []struct {
		arg   string
		known bool
	}{{"--rlimit", true}, {"--console=pipe", true}, {"--no-such-option", false}} {
		if u.name == "nspawn" && c.arg == "--console=pipe" {
			// Known gap: the probe's --image is unrecognized by ours
			// (disk images are not implemented), so mkosi concludes
			// --console=pipe is unknown and leaves it out, which ours'
			// pipe default for commands makes harmless.
			continue
		}
		r := u.run(t, callerLine{opts: []string{c.arg, "--directory", "/dev/null", "--image", "/dev/null"}})
		if known := !strings.Contains(r.stderr, "unrecognized option"); known != c.known || r.status == 0 {
			t.Errorf("mkosi probe of %s: status %d, stderr %q; want a failure that does%s say \"unrecognized option\"",
				c.arg, r.status, r.stderr, map[bool]string{true: " not", false: ""}[c.known])
		}
	}

	var core syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_CORE, &core); err != nil {
		t.Fatal(err)
	}
	rlimitValue := func(v uint64) string {
		if v == rlimInfinity {
			return "infinity"
		}
		return strconv.FormatUint(v, 10)
	}
	limitsValue := func(v uint64) string {
		if v == rlimInfinity {
			return "unlimited"
		}
		return strconv.FormatUint(v, 10)
	}
	rlimit := fmt.Sprintf("--rlimit=RLIMIT_CORE=%s:%s", rlimitValue(core.Cur), rlimitValue(core.Max))
	wantCore := fmt.Sprintf("core=%s %s\n", limitsValue(core.Cur), limitsValue(core.Max))

	// run_workspace_command with capture_stdout, as the package managers'
	// post-install steps run.
	tree := copyTree(t, busyboxTree)
	varTmp := t.TempDir()
	writeFile(t, filepath.Join(varTmp, "marker"), "from the workspace\n", 0o644)
	r := u.run(t, callerLine{
		opts: []string{"--quiet", "--directory=" + tree, "--machine=mkosi-0123456789abcdef0123456789abcdef",
			"--as-pid2", "--link-journal=no", "--register=no", "--bind=" + varTmp + ":/var/tmp",
			"--setenv=SYSTEMD_OFFLINE=1", rlimit, "--private-network", "--console=pipe", "--"},
		payload: []string{"sh", "-c", `echo core=$(awk '/^Max core file size/ { print $5, $6 }' /proc/self/limits); echo offline=$SYSTEMD_OFFLINE; cat /var/tmp/marker; ` + netDevicesSh},
	})
	want(t, "mkosi workspace command", r, 0, wantCore+"offline=1\nfrom the workspace\nnet=lo\n")

	// run_build_script: the build's status is mkosi's verdict.
	idmap := ""
	if version >= 252 {
		idmap = ":rootidmap"
	}
	dest := t.TempDir()
	writeFile(t, filepath.Join(tree, "root/mkosi.build"), "#!/bin/sh\necho \"docs=$WITH_DOCS tests=$WITH_TESTS network=$WITH_NETWORK dest=$DESTDIR\"\necho artifact > $DESTDIR/artifact\nexit 7\n", 0o755)
	r = u.run(t, callerLine{
		opts: []string{"--quiet", "--directory=" + tree, "--machine=mkosi-fedcba9876543210fedcba9876543210",
			"--as-pid2", "--link-journal=no", "--register=no",
			"--bind=" + dest + ":/root/dest" + idmap, "--bind=" + varTmp + ":/var/tmp" + idmap,
			"--setenv=WITH_DOCS=0", "--setenv=WITH_TESTS=1", "--setenv=WITH_NETWORK=0", "--setenv=DESTDIR=/root/dest",
			rlimit, "--console=pipe", "--private-network"},
		payload: []string{"/root/mkosi.build"},
	})
	want(t, "mkosi build script", r, 7, "docs=0 tests=1 network=0 dest=/root/dest\n")
	if got := readFile(t, filepath.Join(dest, "artifact")); got != "artifact\n" {
		t.Errorf("mkosi build script: the install dir holds %q, want \"artifact\\n\"", got)
	}
}

func mockCalls(t *testing.T, u underTest) {
	// Mock reads --help's stdout (`systemd-nspawn --help || true`) for the
	// options it may pass.
	help := u.run(t, callerLine{opts: []string{"--help"}})
	for _, opt := range []string{"--pipe", "--console", "--resolv-conf", "--chdir", "--suppress-sync"} {
		if !strings.Contains(help.stdout, opt) {
			t.Errorf("mock: --help's stdout does not name %s", opt)
		}
	}

	tree := copyTree(t, debianTree)
	addUser(t, tree, "mockbuild", 1010, "/builddir")
	// Mock writes the chroot's resolv.conf and tells nspawn to keep it.
	writeFile(t, filepath.Join(tree, "etc/resolv.conf"), "# written by mock\n", 0o644)
	opts := []string{"-q", "-M", "5f0e6c2fb0b94c0e8a3a8b6c1d2e3f40", "-D", tree, "-a",
		"-u", "mockbuild", "--capability=cap_ipc_lock"}
	for _, dev := range []string{"/dev/fuse", "/dev/loop-control"} {
		if _, err := os.Stat(dev); err == nil {
			opts = append(opts, "--bind="+dev)
		}
	}
	opts = append(opts, "--resolv-conf=off", "--console=pipe", "--chdir=/builddir")
	env := []string{"TERM=vt100", "SHELL=/bin/sh", "HOME=/builddir", "HOSTNAME=mock",
		"PATH=/usr/bin:/bin:/usr/sbin:/sbin", "LANG=C.UTF-8"}
	for _, e := range env {
		opts = append(opts, "--setenv="+e)
	}
	build := `id -un; pwd; echo home=$HOME; cat /etc/resolv.conf; ` +
		`if grep -q ' /tmp ' /proc/self/mountinfo; then echo tmp=mounted; else echo tmp=tree; fi; ` +
		`grep -E '^(CapBnd|Seccomp):' /proc/self/status; ` + netDevicesSh + `; exit 9`
	r := u.run(t, callerLine{
		opts:    opts,
		payload: []string{"/bin/sh", "-c", build},
		env:     append(env, "SYSTEMD_NSPAWN_TMPFS_TMP=0", "SYSTEMD_SECCOMP=0"),
		unshare: syscall.CLONE_NEWIPC | syscall.CLONE_NEWNET,
	})
	lines := strings.Split(r.stdout, "\n")
	var capBnd string
	var kept []string
	for _, l := range lines {
		if v, ok := strings.CutPrefix(l, "CapBnd:"); ok {
			capBnd = strings.TrimSpace(v)
			continue
		}
		kept = append(kept, l)
	}
	r.stdout = strings.Join(kept, "\n")
	want(t, "mock build", r, 9, "mockbuild\n/builddir\nhome=/builddir\n# written by mock\ntmp=tree\nSeccomp:\t0\nnet=lo\n")
	if bits, err := strconv.ParseUint(capBnd, 16, 64); err != nil || bits&(1<<14) == 0 {
		t.Errorf("mock build: CapBnd %q, want CAP_IPC_LOCK (bit 14) in it", capBnd)
	}
}

func archNspawnCalls(t *testing.T, u underTest) {
	tree := copyTree(t, debianTree)
	cache, startdir, srcdest := t.TempDir(), t.TempDir(), t.TempDir()
	writeFile(t, filepath.Join(cache, "pkg.tar.zst"), "cached\n", 0o644)
	var via []string
	if runtime.GOARCH == "amd64" {
		via = []string{"setarch", "x86_64"}
	}
	line := func(payload string) callerLine {
		return callerLine{
			via: via,
			opts: []string{"--quiet", "--directory=" + tree,
				"--setenv=PATH=/usr/local/sbin:/usr/local/bin:/usr/bin",
				"--register=no", "--slice=devtools-root", fmt.Sprintf("--machine=arch-nspawn-%d", os.Getpid()),
				"--as-pid2", "--console=autopipe", "--timezone=off",
				"--bind=" + cache,
				"--bind=" + startdir + ":/startdir", "--bind=" + srcdest + ":/srcdest",
				"--tmpfs=/tmp:nosuid,nodev,size=50%,nr_inodes=2m"},
			payload: []string{"/usr/bin/sh", "-c", payload},
		}
	}
	build := `echo path=$PATH; cat ` + cache + `/pkg.tar.zst; ` +
		`awk '$5 == "/tmp" { print "tmp", $6 }' /proc/self/mountinfo | tail -1; echo built > /startdir/out.pkg.tar.zst`
	r := u.run(t, line(build))
	want(t, "makechrootpkg build", r, 0, "path=/usr/local/sbin:/usr/local/bin:/usr/bin\ncached\ntmp rw,nosuid,nodev\n")
	if got := readFile(t, filepath.Join(startdir, "out.pkg.tar.zst")); got != "built\n" {
		t.Errorf("makechrootpkg build: /startdir/out.pkg.tar.zst on the host holds %q", got)
	}
	// `if arch-nspawn ...`: a failed build is a non-zero status.
	if r := u.run(t, line("exit 1")); r.status == 0 {
		t.Errorf("makechrootpkg failed build: status 0, want non-zero; stderr: %s", r.stderr)
	}
}

func debosCalls(t *testing.T, u underTest) {
	tree := copyTree(t, busyboxTree)
	// Debos writes the host's resolver into the tree itself.
	writeFile(t, filepath.Join(tree, "etc/resolv.conf"), "# Automatically generated by Debos\nnameserver 192.0.2.53\n", 0o644)
	image := filepath.Join(t.TempDir(), "debian.img")
	writeFile(t, image, "image\n", 0o644)
	line := func(payload string) callerLine {
		return callerLine{
			opts: []string{"-q", "--resolv-conf=off", "--timezone=off", "--register=no",
				"--machine=debos-5577006791947779410", "--keep-unit", "--console=pipe",
				"--setenv", "DEBIAN_FRONTEND=noninteractive", "--bind", image, "-D", tree},
			payload: []string{"sh", "-c", payload},
		}
	}
	cmd := `head -1 /etc/resolv.conf; echo frontend=$DEBIAN_FRONTEND; cat ` + image + `; ` + netDevicesSh
	r := u.run(t, line(cmd))
	// The host's network: debos' apt steps download.
	want(t, "debos run", r, 0, "# Automatically generated by Debos\nfrontend=noninteractive\nimage\n"+hostNetDevices(t))
	want(t, "debos failing action", u.run(t, line("exit 2")), 2, "")
}

func nixosContainerCalls(t *testing.T, u underTest) {
	tree := copyTree(t, debianTree)
	store, db, socket, profiles, gcroots := t.TempDir(), t.TempDir(), t.TempDir(), t.TempDir(), t.TempDir()
	// containerInit: SIGRTMIN+3 is the stop the unit's SIGTERM becomes.
	writeFile(t, filepath.Join(store, "container-init"), "#!/bin/bash -e\ntrap \"exit 0\" SIGRTMIN+3\nset +e\n. \"$1\"\n", 0o755)
	writeFile(t, filepath.Join(profiles, "system/init"), "echo ready\nwhile :; do sleep 1000 & wait $!; done\n", 0o755)
	opts := []string{"--keep-unit", "-M", "webserver", "-D", tree,
		"--notify-ready=yes", "--kill-signal=SIGRTMIN+3",
		"--bind-ro=" + store + ":/nix/store", "--bind-ro=" + db + ":/nix/var/nix/db",
		"--bind-ro=" + socket + ":/nix/var/nix/daemon-socket",
		"--bind=" + profiles + ":/nix/var/nix/profiles", "--bind=" + gcroots + ":/nix/var/nix/gcroots",
		"--link-journal=try-guest"}
	for _, v := range []string{"PRIVATE_NETWORK", "PRIVATE_USERS", "HOST_BRIDGE", "HOST_ADDRESS", "LOCAL_ADDRESS",
		"HOST_ADDRESS6", "LOCAL_ADDRESS6", "LOCAL_MAC_ADDRESS", "HOST_PORT"} {
		opts = append(opts, "--setenv", v+"=")
	}
	opts = append(opts, "--setenv", "PATH=/run/current-system/sw/bin:/usr/bin:/bin")
	cmd := u.command(t, callerLine{
		opts:    opts,
		payload: []string{"/nix/store/container-init", "/nix/var/nix/profiles/system/init"},
		env:     append(os.Environ(), "SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1"),
	})
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var errb strings.Builder
	cmd.Stderr = &errb
	cmd.WaitDelay = 10 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan bool, 1)
	go func() {
		s := bufio.NewScanner(stdout)
		found := false
		for s.Scan() {
			if s.Text() == "ready" && !found {
				found = true
				ready <- true
			}
		}
		if !found {
			ready <- false
		}
	}()
	select {
	case ok := <-ready:
		if !ok {
			cmd.Wait()
			t.Fatalf("nixos container ended before its init said ready: status %d, stderr: %s", exitStatus(cmd.ProcessState), errb.String())
		}
	case <-time.After(time.Minute):
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("nixos container: no ready within a minute; stderr: %s", errb.String())
	}
	// The unit's stop: SIGTERM to nspawn, SIGRTMIN+3 to the init, which
	// exits 0, and so does nspawn.
	cmd.Process.Signal(syscall.SIGTERM)
	waitWithin(t, cmd, "nixos container after SIGTERM", errb.String)
	if s := exitStatus(cmd.ProcessState); s != 0 {
		t.Errorf("nixos container stop: status %d, want 0; stderr: %s", s, errb.String())
	}
}

func nomadCalls(t *testing.T, u underTest) {
	tree := copyTree(t, busyboxTree)
	local, secrets := t.TempDir(), t.TempDir()
	writeFile(t, filepath.Join(secrets, "token"), "s3cret\n", 0o644)
	r := u.run(t, callerLine{
		opts: []string{"-D", tree, "--as-pid2", "--machine", "web-7c1f", "--resolv-conf", "off",
			"--user", "root", "--chdir", "/local", "--bind", local + ":/local", "--bind-ro", secrets + ":/secrets",
			"-E", "NOMAD_TASK_NAME=web", "--capability", "CAP_NET_ADMIN"},
		payload: []string{"sh", "-c", "echo task=$NOMAD_TASK_NAME; pwd; cat /secrets/token; echo log > /local/out; exit 6"},
	})
	want(t, "nomad task", r, 6, "task=web\n/local\ns3cret\n")
	if got := readFile(t, filepath.Join(local, "out")); got != "log\n" {
		t.Errorf("nomad task: /local/out on the host holds %q", got)
	}
}
