package tests

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
)

// The security battery (issue 6): attack programs from tests/security/
// run as root inside a container on the busybox tree, under our nspawn
// and under systemd-nspawn, each printing one line, ALLOWED or DENIED.
// Ours must deny every attack but one (ptrace of a process of the
// container itself, which both allow). The table of both columns is
// logged, and written as Markdown to $NSPAWN_SECURITY_TABLE when set.

// verdict is what one attack achieved under one nspawn.
type verdict struct {
	allowed bool
	text    string // "ALLOWED: why" or "DENIED: why"; else why there is no verdict
	broken  bool   // the run went wrong: no verdict at all
}

func (v verdict) String() string {
	if v.broken {
		return "ERROR: " + v.text
	}
	return v.text
}

// verdictOf takes the attack's line from a finished run.
func verdictOf(r result) verdict {
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if l := lines[i]; strings.HasPrefix(l, "ALLOWED: ") || strings.HasPrefix(l, "DENIED: ") {
			return verdict{allowed: strings.HasPrefix(l, "ALLOWED"), text: l}
		}
	}
	return verdict{broken: true, text: fmt.Sprintf("no verdict (status %d, stdout %q, stderr %q)", r.status, r.stdout, lastLines(r.stderr, 3))}
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// engine is one nspawn implementation the battery runs under.
type engine struct {
	name    string
	bin     string
	args    []string // how this engine is always started
	dev     uint64   // the host's stat of bin, for the /proc/PID/exe check
	ino     uint64
	attacks string // host directory with the built attack programs
}

// command runs argv in tree, the attack programs at /opt/attack (read-only).
func (e *engine) command(tree string, opts []string, argv ...string) *exec.Cmd {
	args := append(append([]string{}, e.args...), "-D", tree, "-M", fmt.Sprintf("sec-%d", os.Getpid()),
		"--pipe", "--bind-ro="+e.attacks+":/opt/attack")
	args = append(append(args, opts...), argv...)
	cmd := exec.Command(e.bin, args...)
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "TERM=dumb"}
	cmd.WaitDelay = 10 * time.Second
	return cmd
}

// finish runs cmd to its end (at most two minutes), with stdin unless nil.
// It may run in a goroutine of its own, so it reports rather than fails.
func finish(cmd *exec.Cmd, stdin io.Reader) result {
	var out, errb bytes.Buffer
	if stdin != nil {
		cmd.Stdin = stdin
	}
	if cmd.Stdout == nil {
		cmd.Stdout = &out
	}
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		return result{"", err.Error(), -1}
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(2 * time.Minute):
		cmd.Process.Kill()
		<-done
		return result{out.String(), "timed out; " + errb.String(), -1}
	}
	return result{out.String(), errb.String(), exitStatus(cmd.ProcessState)}
}

// payload runs the attack program with args and takes its verdict.
func (e *engine) payload(t *testing.T, tree string, opts []string, args ...string) verdict {
	t.Helper()
	return verdictOf(finish(e.command(tree, opts, append([]string{"/opt/attack/attack"}, args...)...), nil))
}

// attack is one row of the battery.
type attack struct {
	name  string // the subtest's name and the row's
	allow bool   // nspawn allows it by design
	try   func(t *testing.T, e *engine) verdict
}

// hostFixtures are what the attacks look for on the host.
type hostFixtures struct {
	sleepPID int
	mark     string // a word of the sleep's command line
	socket   string // abstract unix socket name, without the @
	file     string // a host file outside the tree holding mark
	accepted *atomic.Int32
}

// TestSecurity is the battery: one subtest per attack, run under ours
// (which must deny it) and then under systemd-nspawn (for the table).
func TestSecurity(t *testing.T) {
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skip("needs gcc to build the attack programs (apt-get install gcc)")
	}
	attacks := t.TempDir()
	build := exec.Command("gcc", "-static", "-O2", "-o", filepath.Join(attacks, "attack"), "security/attack.c")
	if out, err := build.CombinedOutput(); err != nil {
		t.Skipf("gcc -static cannot build the attack programs (needs libc6-dev's static libc): %v\n%s", err, out)
	}
	tree := copyTree(t, busyboxTree)
	if err := os.MkdirAll(filepath.Join(tree, "opt", "attack"), 0o755); err != nil {
		t.Fatal(err)
	}
	engines := []*engine{newEngine(t, "ours", nspawnBin, attacks, "-q")}
	sdnColumn := "systemd-nspawn"
	if sdn, err := exec.LookPath("systemd-nspawn"); err == nil {
		version, _ := exec.Command(sdn, "--version").Output()
		if f := strings.Fields(string(version)); len(f) > 1 {
			sdnColumn += " " + f[1]
		}
		engines = append(engines, newEngine(t, sdnColumn, sdn, attacks, "-q", "--register=no", "--keep-unit"))
	}
	host := startHostFixtures(t)

	var rows [][3]string
	for _, a := range battery(t, tree, host) {
		row := [3]string{a.name, "", "not installed"}
		ran := false // -run may leave it out
		t.Run(a.name, func(t *testing.T) {
			ran = true
			before := snapshotHost(t)
			ours := a.try(t, engines[0])
			checkNoLeaks(t, before)
			row[1] = ours.String()
			if len(engines) > 1 {
				row[2] = a.try(t, engines[1]).String()
			}
			t.Logf("ours: %s\n%s: %s", row[1], sdnColumn, row[2])
			switch {
			case ours.broken:
				t.Errorf("no verdict from ours: %s", ours.text)
			case ours.allowed && !a.allow:
				t.Errorf("the container could do it: %s", ours.text)
			case !ours.allowed && a.allow:
				t.Errorf("nspawn should allow this: %s", ours.text)
			}
		})
		if !ran {
			continue
		}
		if a.allow {
			row[0] += " (allowed by design)"
		}
		rows = append(rows, row)
	}
	table := markdownTable([3]string{"attack", "ours", sdnColumn}, rows) + "\n" +
		"Both run `-q --pipe -D TREE --bind-ro=ATTACKS:/opt/attack` on a copy of the busybox tree, as root inside; " +
		"systemd-nspawn also `--register=no --keep-unit`, so its `--property` limits have no effect, " +
		"and it keeps its defaults: the host's network namespace, no user namespace.\n"
	t.Logf("security battery:\n%s", table)
	if file := os.Getenv("NSPAWN_SECURITY_TABLE"); file != "" {
		if err := os.WriteFile(file, []byte(table), 0o644); err != nil {
			t.Error(err)
		}
	}
}

func newEngine(t *testing.T, name, bin, attacks string, args ...string) *engine {
	real, err := filepath.EvalSymlinks(bin)
	if err != nil {
		t.Fatal(err)
	}
	var st unix.Stat_t
	if err := unix.Stat(real, &st); err != nil {
		t.Fatal(err)
	}
	return &engine{name: name, bin: bin, args: args, dev: st.Dev, ino: st.Ino, attacks: attacks}
}

func markdownTable(head [3]string, rows [][3]string) string {
	var b strings.Builder
	cell := func(s string) string { return strings.ReplaceAll(strings.ReplaceAll(s, "|", `\|`), "\n", " ") }
	fmt.Fprintf(&b, "| %s | %s | %s |\n|---|---|---|\n", head[0], head[1], head[2])
	for _, r := range rows {
		fmt.Fprintf(&b, "| %s | %s | %s |\n", cell(r[0]), cell(r[1]), cell(r[2]))
	}
	return b.String()
}

// startHostFixtures starts a host process and an abstract unix socket
// that no container may reach.
func startHostFixtures(t *testing.T) *hostFixtures {
	h := &hostFixtures{mark: fmt.Sprintf("86400.%d", os.Getpid()), accepted: &atomic.Int32{}}
	sleep := exec.Command("sleep", h.mark)
	if err := sleep.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sleep.Process.Kill(); sleep.Wait() })
	h.file = filepath.Join(t.TempDir(), "escape-marker")
	if err := os.WriteFile(h.file, []byte(h.mark+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	h.sleepPID = sleep.Process.Pid
	h.socket = "nspawn-sec-test"
	l, err := net.Listen("unix", "@"+h.socket)
	if err != nil { // another run holds the name
		h.socket = fmt.Sprintf("nspawn-sec-test-%d", os.Getpid())
		if l, err = net.Listen("unix", "@"+h.socket); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			h.accepted.Add(1)
			c.Close()
		}
	}()
	return h
}

// battery lists the attacks in the order of the issue.
func battery(t *testing.T, tree string, host *hostFixtures) []attack {
	simple := func(name string, args ...string) attack {
		return attack{name: name, try: func(t *testing.T, e *engine) verdict { return e.payload(t, tree, nil, args...) }}
	}
	maj, min := hostDisk(t)
	return []attack{
		simple("1 write /proc/sys/vm/stat_interval (own value)", "sysctl-write"),
		simple("1 open /proc/sysrq-trigger for writing"+absentOnHost("/proc/sysrq-trigger"), "sysrq-open"),
		simple("2a remount /proc/sys rw, write a sysctl", "procsys-remount"),
		simple("2b umount /proc/sys, write a sysctl", "procsys-umount"),
		simple("2c fresh proc on /tmp, write its sys/ sysctl", "proc-fresh"),
		simple("2d remount /sys rw", "sys-remount"),
		simple("2d fresh sysfs on /tmp, writable", "sysfs-fresh"),
		simple("3 read /proc/kcore"+absentOnHost("/proc/kcore"), "read", "/proc/kcore"),
		simple("3 read /proc/keys", "read", "/proc/keys"),
		simple("3 read /proc/timer_list", "read", "/proc/timer_list"),
		simple("3 /proc/kallsyms addresses"+kallsymsNote(), "kallsyms"),
		simple("3 list /sys/firmware", "list", "/sys/firmware"),
		simple(fmt.Sprintf("4 mknod host disk b %s:%s, open it", maj, min), "mknod", maj, min),
		simple("5 kexec_load"+missingOnHost("/proc/sys/kernel/kexec_load_disabled", "kexec"), "kexec_load"),
		simple("5 kexec_file_load"+missingOnHost("/proc/sys/kernel/kexec_load_disabled", "kexec"), "kexec_file_load"),
		simple("5 init_module"+missingOnHost("/proc/modules", "modules"), "init_module"),
		simple("5 finit_module"+missingOnHost("/proc/modules", "modules"), "finit_module"),
		simple("5 delete_module"+missingOnHost("/proc/modules", "modules"), "delete_module"),
		simple("5 open_by_handle_at (shocker)", "open_by_handle_at"),
		simple("5 add_key/keyctl", "keyctl"),
		simple("5 swapon", "swapon"),
		simple("5 ioperm/iopl", "ioperm"),
		simple("5 acct", "acct"),
		simple("5 ptrace a host process", "ptrace-host", fmt.Sprint(host.sleepPID), host.mark),
		{name: "5 ptrace a process of the container", allow: true, try: func(t *testing.T, e *engine) verdict {
			return e.payload(t, tree, nil, "ptrace-inside")
		}},
		{name: "6 TIOCSTI into the host's terminal (--pipe)", try: func(t *testing.T, e *engine) verdict { return tiocsti(t, e, tree) }},
		{name: "7 fds beyond 0-2 (host /etc/shadow open as fd 3)", try: func(t *testing.T, e *engine) verdict {
			return withHostFD(t, e, tree, "fds")
		}},
		{name: "7 cwd outside the container", try: func(t *testing.T, e *engine) verdict { return withHostFD(t, e, tree, "cwd") }},
		{name: "8 /proc/*/exe is the runtime (payload as PID 1)", try: func(t *testing.T, e *engine) verdict {
			return e.payload(t, tree, nil, "exe", fmt.Sprint(e.dev), fmt.Sprint(e.ino))
		}},
		{name: "8 /proc/*/exe is the runtime (--as-pid2)", try: func(t *testing.T, e *engine) verdict {
			return e.payload(t, tree, []string{"--as-pid2"}, "exe", fmt.Sprint(e.dev), fmt.Sprint(e.ino))
		}},
		{name: "8 /proc/*/exe is the runtime (-b, init a shell script)", try: exeFromBootedInit},
		{name: "9 bind onto /mnt -> /etc", try: func(t *testing.T, e *engine) verdict { return symlinkedBind(t, e, "/etc") }},
		{name: "9 bind onto /mnt -> ../../../../etc", try: func(t *testing.T, e *engine) verdict {
			return symlinkedBind(t, e, "../../../../etc")
		}},
		simple("10 host processes visible", "pids", host.mark),
		simple("10 host network interfaces visible", "netdevs"),
		{name: "10 host abstract socket @" + host.socket, try: func(t *testing.T, e *engine) verdict {
			before := host.accepted.Load()
			v := e.payload(t, tree, nil, "abstract", host.socket)
			if n := host.accepted.Load() - before; n > 0 && !v.broken {
				v.allowed, v.text = true, fmt.Sprintf("%s (the host accepted %d connections)", v.text, n)
			}
			return v
		}},
		simple("10 /run/dbus/system_bus_socket"+absentOnHost("/run/dbus/system_bus_socket"), "dbus"),
		{name: "11 fork bomb under TasksMax=64", try: func(t *testing.T, e *engine) verdict { return forkBomb(t, e, tree) }},
		{name: "11 memory hog under MemoryMax=64M", try: func(t *testing.T, e *engine) verdict { return memoryHog(t, e, tree) }},
		simple("11 fill /tmp until ENOSPC", "tmpfill"),
		simple("12 chroot escape, read a host file", "chroot-escape", host.mark, host.file),
	}
}

// hostDisk is the major and minor of the host's first block device.
func hostDisk(t *testing.T) (string, string) {
	data, err := os.ReadFile("/proc/partitions")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(data), "\n") {
		if f := strings.Fields(l); len(f) == 4 && f[0] != "major" {
			return f[0], f[1]
		}
	}
	t.Fatal("no block device in /proc/partitions")
	return "", ""
}

func absentOnHost(path string) string {
	if _, err := os.Stat(path); err != nil {
		return " (absent on this host)"
	}
	return ""
}

func missingOnHost(probe, what string) string {
	if _, err := os.Stat(probe); err != nil {
		return " (this kernel has no " + what + ")"
	}
	return ""
}

// kallsymsNote says when the host's kptr_restrict hides the addresses
// from everyone, so the row cannot show a leak.
func kallsymsNote() string {
	f, err := os.Open("/proc/kallsyms")
	if err != nil {
		return " (absent on this host)"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for i := 0; i < 1000 && sc.Scan(); i++ {
		if addr, _, _ := strings.Cut(sc.Text(), " "); strings.Trim(addr, "0") != "" {
			return ""
		}
	}
	return " (kptr_restrict hides them from host root too)"
}

// tiocsti runs the payload with stdin the slave of a pty whose master the
// test holds, as a user's terminal. A byte pushed into the terminal's
// input would sit in its queue (nobody reads it) and be echoed to the
// master: both are checked, besides the payload's own report.
func tiocsti(t *testing.T, e *engine, tree string) verdict {
	master, slave, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer master.Close()
	defer slave.Close()
	// Non-canonical, so the input queue counts a byte without a newline;
	// echo on, so an injected byte shows on the master.
	tio, err := unix.IoctlGetTermios(int(slave.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	tio.Lflag &^= unix.ICANON
	tio.Lflag |= unix.ECHO
	if err := unix.IoctlSetTermios(int(slave.Fd()), unix.TCSETS, tio); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var screen bytes.Buffer
	go func() {
		buf := make([]byte, 256)
		for {
			n, err := master.Read(buf)
			mu.Lock()
			screen.Write(buf[:n])
			mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	cmd := e.command(tree, nil, "/opt/attack/attack", "tiocsti")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	v := verdictOf(finish(cmd, slave))
	if v.broken {
		return v
	}
	queued, err := unix.IoctlGetInt(int(slave.Fd()), unix.TIOCINQ)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // let an echo reach the reader
	mu.Lock()
	echoed := screen.String()
	mu.Unlock()
	if queued > 0 || strings.Contains(echoed, "x") {
		v.allowed = true
		v.text += fmt.Sprintf("; the host's terminal holds %d input bytes, its master read %q", queued, echoed)
	} else {
		v.text += "; nothing reached the host's terminal"
	}
	return v
}

// withHostFD starts nspawn with the host's /etc/shadow open as fd 3
// (without close-on-exec) and a host directory as its working directory.
func withHostFD(t *testing.T, e *engine, tree, what string) verdict {
	shadow, err := os.Open("/etc/shadow")
	if err != nil {
		t.Fatal(err)
	}
	defer shadow.Close()
	cmd := e.command(tree, nil, "/opt/attack/attack", what)
	cmd.ExtraFiles = []*os.File{shadow}
	cmd.Dir = t.TempDir()
	return verdictOf(finish(cmd, nil))
}

// exeFromBootedInit boots a tree whose init is a shell script running the
// /proc/*/exe check, with init (the shell) as PID 1.
func exeFromBootedInit(t *testing.T, e *engine) verdict {
	tree := copyTree(t, busyboxTree)
	os.MkdirAll(filepath.Join(tree, "opt", "attack"), 0o755)
	init := filepath.Join(tree, "bin", "init")
	os.Remove(init)
	script := "#!/bin/sh\n/opt/attack/attack exe \"$1\" \"$2\"\n"
	if err := os.WriteFile(init, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return verdictOf(finish(e.command(tree, []string{"-b"}, fmt.Sprint(e.dev), fmt.Sprint(e.ino)), nil))
}

// symlinkedBind binds a host directory onto /mnt of a tree where /mnt is a
// symlink to target (CVE-2021-30465 class). While the container runs, the
// host's /etc must show neither the directory's marker nor a new mount.
func symlinkedBind(t *testing.T, e *engine, target string) verdict {
	tree := copyTree(t, busyboxTree)
	os.MkdirAll(filepath.Join(tree, "opt", "attack"), 0o755)
	os.Remove(filepath.Join(tree, "mnt"))
	if err := os.Symlink(target, filepath.Join(tree, "mnt")); err != nil {
		t.Fatal(err)
	}
	marker := fmt.Sprintf("nspawn-sec-marker-%d", os.Getpid())
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, marker), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	etcBefore := listDir(t, "/etc")
	mountsBefore := mountsAt("/etc")
	defer func() {
		// Undo a mount over the host's /etc, should one have happened.
		if mountsAt("/etc") > mountsBefore {
			exec.Command("umount", "-l", "/etc").Run()
		}
	}()

	probe := "for d in /etc /mnt; do [ -e $d/" + marker + " ] && echo \"landed at $d\"; done; echo ready; read x"
	cmd := e.command(tree, []string{"--bind=" + src + ":/mnt"}, "/bin/sh", "-c", probe)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 16)
	pr, pw := io.Pipe()
	cmd.Stdout = pw
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	done := make(chan result, 1)
	go func() { r := finish(cmd, nil); pw.Close(); done <- r }()
	var inside []string
	hostEtc, hostMounts := "", 0
wait:
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				break wait
			}
			if l != "ready" {
				inside = append(inside, l)
				continue
			}
			hostEtc, hostMounts = listDir(t, "/etc"), mountsAt("/etc")
			stdin.Close()
		case <-time.After(time.Minute):
			cmd.Process.Kill()
			break wait
		}
	}
	r := <-done
	etcAfter := listDir(t, "/etc")
	switch {
	case strings.Contains(hostEtc, marker) || hostMounts > mountsBefore:
		return verdict{allowed: true, text: fmt.Sprintf("ALLOWED: the host's /etc was mounted over while the container ran (%d mounts, marker %v)", hostMounts, strings.Contains(hostEtc, marker))}
	case etcAfter != etcBefore:
		return verdict{allowed: true, text: "ALLOWED: the host's /etc changed: " + lineDiff(etcAfter, etcBefore)}
	case hostEtc == "" && r.status != 0:
		return verdict{text: fmt.Sprintf("DENIED: refused (status %d: %s)", r.status, lastLines(r.stderr, 1))}
	case hostEtc == "":
		return verdict{broken: true, text: fmt.Sprintf("the probe never got ready (status %d, stderr %q)", r.status, r.stderr)}
	}
	landed := strings.Join(inside, ", ")
	if landed == "" {
		landed = "the bind shows at neither /etc nor /mnt"
	}
	return verdict{text: "DENIED: the host's /etc untouched; inside: " + landed}
}

func listDir(t *testing.T, dir string) string {
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return strings.Join(names, "\n")
}

// mountsAt counts the host's mounts on dir.
func mountsAt(dir string) int {
	data, _ := os.ReadFile("/proc/self/mountinfo")
	n := 0
	for _, l := range strings.Split(string(data), "\n") {
		if f := strings.Fields(l); len(f) > 4 && f[4] == dir {
			n++
		}
	}
	return n
}

// forkBomb forks up to 1000 processes under TasksMax=64 and holds them
// while the host starts a process; nspawn then exits with the payload's 0.
func forkBomb(t *testing.T, e *engine, tree string) verdict {
	cmd := e.command(tree, []string{"--property=TasksMax=64"}, "/opt/attack/attack", "forkbomb", "1000")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	pr, pw := io.Pipe()
	cmd.Stdout = pw
	var v verdict
	got := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			if l := sc.Text(); v.text == "" && (strings.HasPrefix(l, "ALLOWED: ") || strings.HasPrefix(l, "DENIED: ")) {
				v = verdict{allowed: strings.HasPrefix(l, "ALLOWED"), text: l}
				close(got)
			}
		}
	}()
	done := make(chan result, 1)
	go func() { r := finish(cmd, nil); pw.Close(); done <- r }()
	var hostErr error
	select {
	case <-got:
		hostErr = exec.Command("true").Run()
		stdin.Close()
	case r := <-done:
		return verdict{broken: true, text: fmt.Sprintf("the bomb ended early (status %d, stderr %q)", r.status, lastLines(r.stderr, 2))}
	}
	r := <-done
	switch {
	case hostErr != nil:
		v.allowed, v.text = true, v.text+fmt.Sprintf("; the host could not start a process: %v", hostErr)
	case r.status != 0:
		return verdict{broken: true, text: fmt.Sprintf("%s; nspawn exited %d, not the payload's 0 (stderr %q)", v.text, r.status, lastLines(r.stderr, 2))}
	default:
		v.text += "; the host still forks; nspawn exited 0"
	}
	if w := propertyWarning(r.stderr); w != "" {
		v.text += " (" + w + ")"
	}
	return v
}

// memoryHog touches up to 1 GiB under MemoryMax=64M: the OOM killer must
// end it inside, and nspawn pass on its death as 137.
func memoryHog(t *testing.T, e *engine, tree string) verdict {
	cmd := e.command(tree, []string{"--property=MemoryMax=64M", "--property=MemorySwapMax=0"}, "/opt/attack/attack", "memhog", "1024")
	r := finish(cmd, nil)
	if r.status == 137 {
		return verdict{text: "DENIED: OOM-killed at the limit; nspawn exited 137"}
	}
	v := verdictOf(r)
	if w := propertyWarning(r.stderr); w != "" && !v.broken {
		v.text += " (" + w + ")"
	}
	return v
}

// propertyWarning is systemd-nspawn's note that --property has no effect.
func propertyWarning(stderr string) string {
	for _, l := range strings.Split(stderr, "\n") {
		if strings.Contains(l, "--property=") {
			return strings.TrimSpace(l)
		}
	}
	return ""
}
