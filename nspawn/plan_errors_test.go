package nspawn

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nspawn/nspawn/cgroup"
)

// testFacts are a pure cgroup v2 host without systemd, where nspawn holds
// every capability; rows change what they test.
func testFacts(cwd string) *Facts {
	return &Facts{
		Cwd: cwd, Env: []string{"TERM=xterm", "HOME=/root"},
		Capabilities: 1<<41 - 1, TimeNS: true,
		Cgroups: cgroup.Layout{Unified: "/sys/fs/cgroup"},
		Limits:  cgroup.Host{MemTotal: 8 << 30, TasksMax: 4194304, CPUs: "0-1"},
	}
}

// TestPlanErrors: every mistake planning catches, one row each, with the
// line the user sees. BuildPlan touches nothing, so each row runs without
// root on a tree made here.
func TestPlanErrors(t *testing.T) {
	dir := t.TempDir()
	tree := filepath.Join(dir, "tree")
	fakeTree(tree)
	os.MkdirAll(filepath.Join(tree, "data"), 0o755)
	os.WriteFile(filepath.Join(tree, "etc-file"), nil, 0o644)
	hostFile := filepath.Join(dir, "host-file")
	os.WriteFile(hostFile, nil, 0o644)
	noInit := filepath.Join(dir, "noinit")
	os.MkdirAll(filepath.Join(noInit, "usr", "lib"), 0o755)
	os.WriteFile(filepath.Join(noInit, "usr", "lib", "os-release"), []byte("ID=test\n"), 0o644)
	notOS := filepath.Join(dir, "notos")
	os.MkdirAll(filepath.Join(notOS, "bin"), 0o755)
	noOSRelease := filepath.Join(dir, "noosrelease")
	fakeTree(noOSRelease)
	noCheck := func(f *Facts) { f.Env = append(f.Env, "SYSTEMD_NSPAWN_CHECK_OS_RELEASE=0") }
	withVar := filepath.Join(dir, "withvar")
	fakeTree(withVar)
	os.MkdirAll(filepath.Join(withVar, "var"), 0o755)
	shifted := filepath.Join(dir, "shifted")
	fakeTree(shifted)
	os.Chown(shifted, 65536, 65536)

	// --bind-user: the host's users, and a tree that names two of them.
	aliceHome := filepath.Join(dir, "alice")
	os.MkdirAll(aliceHome, 0o755)
	hostUsers := func(f *Facts) {
		f.Files = map[string]HostFile{
			"/etc/passwd": {Content: []byte("root:x:0:0:root:/root:/bin/bash\nnobody:x:65534:65534::/nonexistent:/bin/false\n" +
				"alice:x:1234:1234::" + aliceHome + ":/bin/sh\nshared:x:1235:100::" + aliceHome + ":/bin/sh\n" +
				"nohome:x:1236:1236::" + filepath.Join(dir, "missing") + ":/bin/sh\nbig:x:70000:70000::" + aliceHome + ":/bin/sh\n" +
				"bob:x:1237:1237::" + aliceHome + ":/bin/sh\ncarol:x:1238:1238::" + aliceHome + ":/bin/sh\n")},
			"/etc/group": {Content: []byte("root:x:0:\nnogroup:x:65534:\nalice:x:1234:\nusers:x:100:\nnohome:x:1236:\nbig:x:70000:\nbob:x:1237:\ncarol:x:1238:\n")},
		}
	}
	usersTree := filepath.Join(dir, "userstree")
	fakeTree(usersTree)
	os.MkdirAll(filepath.Join(usersTree, "etc"), 0o755)
	os.WriteFile(filepath.Join(usersTree, "etc", "passwd"), []byte("root:x:0:0::/root:/bin/sh\nbob:x:1000:1000::/home/bob:/bin/sh\n"), 0o644)
	os.WriteFile(filepath.Join(usersTree, "etc", "group"), []byte("root:x:0:\ncarol:x:1000:\n"), 0o644)

	noCgroup := func(f *Facts) { f.Cgroups = cgroup.Layout{} }
	noOwnCgroup := func(f *Facts) { f.OwnCgroupErr = errors.New("/proc/self/cgroup names no cgroup v2 cgroup") }
	lacksCaps := func(f *Facts) { f.Capabilities = 0 }
	sameMachineID := func(f *Facts) { f.MachineID = "0123456789abcdef0123456789abcdef" }
	twoCPUs := func(f *Facts) { f.Exec.CPUs = "0-1" }
	upper := func(v string) func(*Facts) {
		return func(f *Facts) { f.Env = append(f.Env, "NSPAWN_EPHEMERAL_UPPER="+v) }
	}
	hostLinks := func(f *Facts) {
		f.Net.Links = map[string]LinkFact{"eth1": {Exists: true}, "br0": {Exists: true, Bridge: true}}
	}
	notNetNS := func(f *Facts) { f.Net.NSPathErr = errors.New("/etc/passwd is not a network namespace") }
	// -M without -D: what the image search found (image_files.go).
	image := func(path string, kind ImageKind, err error) func(*Facts) {
		return func(f *Facts) {
			f.Image = MachineImage{Searched: imageSearchPath(), Path: path, Kind: kind, Err: err}
		}
	}
	for _, row := range []struct {
		args  []string
		facts func(*Facts)
		want  string
	}{
		// The run as a whole.
		{[]string{"-b", "-a"}, nil, "--boot and --as-pid2 exclude each other"},
		{[]string{"-b", "-u", "nobody"}, nil, "--boot and --user exclude each other"},
		{[]string{"--console=loud", "true"}, nil, "--console=loud:"},
		{[]string{"--pipe", "--console=interactive", "true"}, nil, "--pipe and --console=interactive contradict each other"},
		// The tree and who the container is.
		{[]string{"-D", filepath.Join(dir, "missing"), "true"}, nil, "does not exist"},
		{[]string{"-D", hostFile, "true"}, nil, "is not a directory"},
		{[]string{"-D", "/", "true"}, nil, "refusing to use the host's root directory"},
		{[]string{"-D", notOS, "true"}, nil, "--directory=" + notOS + ": " + notOS + " does not look like an OS tree (it has no /usr)"},
		{[]string{"-D", noOSRelease, "-b"}, nil, "--boot: " + noOSRelease + " does not look like an OS root directory"},
		{[]string{"-D", noOSRelease, "-b"}, noCheck, "--boot: the tree has no init"},
		{[]string{"-D", filepath.Join(dir, "new"), "--template=" + filepath.Join(dir, "missing"), "true"}, nil, "--template=" + filepath.Join(dir, "missing") + ": " + filepath.Join(dir, "missing") + " does not exist"},
		{[]string{"-D", filepath.Join(dir, "new"), "--template=" + hostFile, "true"}, nil, "--template=" + hostFile + ": " + hostFile + " is not a directory"},
		{[]string{"-D", filepath.Join(dir, "new"), "--template=/", "true"}, nil, "--template=/: refusing to copy the host's root directory"},
		{[]string{"-D", filepath.Join(dir, "new"), "--template=" + tree, "-x", "true"}, nil, "--ephemeral and --template=" + tree + " exclude each other"},
		{[]string{"-D", filepath.Join(dir, "no", "new"), "--template=" + tree, "true"}, nil, "--directory=" + filepath.Join(dir, "no", "new") + ": its parent " + filepath.Join(dir, "no") + " does not exist"},
		{[]string{"-D", filepath.Join(tree, "data", "new"), "--template=" + tree, "true"}, nil, "-D " + filepath.Join(tree, "data", "new") + " is inside the template"},
		{[]string{"-D", filepath.Join(dir, "new"), "--template=" + notOS, "true"}, nil, "does not look like an OS tree (it has no /usr)"},
		{[]string{"-M", "bad_name!", "true"}, nil, "--machine=bad_name!: not a valid machine name"},
		{[]string{"-M", "bad_name!", "-D", tree, "true"}, nil, "--machine=bad_name!: not a valid machine name"},
		{[]string{"-M", "web", "true"}, image("", ImageNone, nil), "--machine=web: no tree named web in /etc/machines, /run/machines, /var/lib/machines, /var/lib/container, /usr/local/lib/machines, /usr/lib/machines; put it there or give it with -D"},
		{[]string{"-M", "web", "true"}, image("/var/lib/machines/web.raw", ImageRaw, nil), "--machine=web: /var/lib/machines/web.raw is a disk image (raw), which nspawn cannot run; give a directory tree with -D"},
		{[]string{"-M", "web", "true"}, image("/var/lib/machines/web", ImageBlock, nil), "--machine=web: /var/lib/machines/web is a disk image (block)"},
		{[]string{"-M", "web", "true"}, image("", ImageNone, &os.PathError{Op: "stat", Path: "/etc/machines/web", Err: os.ErrPermission}), "--machine=web: looking for its tree: stat /etc/machines/web: permission denied"},
		{[]string{"-M", "web", "true"}, image(filepath.Join(dir, "missing"), ImageDirectory, nil), "--directory=" + filepath.Join(dir, "missing") + ": " + filepath.Join(dir, "missing") + " does not exist"},
		{[]string{"--hostname=-x", "true"}, nil, "--hostname=-x: not a valid hostname"},
		{[]string{"--uuid=xyz", "true"}, nil, "--uuid=xyz: not a UUID"},
		{[]string{"--uuid=00000000000000000000000000000000", "true"}, nil, "the null UUID is not allowed"},
		{[]string{"--pivot-root=sysroot", "true"}, nil, "--pivot-root=sysroot: both paths must be absolute"},
		{[]string{"--pivot-root=/data:old", "true"}, nil, "--pivot-root=/data:old: both paths must be absolute"},
		{[]string{"--pivot-root=/data:/", "true"}, nil, "the old root cannot go on the new root's /"},
		{[]string{"--pivot-root=/missing", "true"}, nil, "--pivot-root=/missing: /missing is no directory in the tree"},
		{[]string{"--pivot-root=/data", "true"}, nil, "does not look like an OS tree (it has no /usr)"},
		{[]string{"--set-credential=novalue", "true"}, nil, "--set-credential=novalue: not ID:VALUE"},
		{[]string{"--set-credential=a/b:x", "true"}, nil, `--set-credential=a/b:x: "a/b" is not a valid credential ID`},
		{[]string{"--set-credential=..:x", "true"}, nil, "is not a valid credential ID"},
		{[]string{"--set-credential=k:x\\", "true"}, nil, "lone backslash"},
		{[]string{"--set-credential=k:\\q", "true"}, nil, `unknown escape \q`},
		{[]string{"--set-credential=k:\\x4", "true"}, nil, "cut short"},
		{[]string{"--set-credential=k:a", "--set-credential=k:b", "true"}, nil, "credential k is given twice"},
		{[]string{"--load-credential=k", "true"}, nil, "--load-credential=k: not ID:PATH"},
		{[]string{"--load-credential=k:" + filepath.Join(dir, "missing"), "true"}, nil, "cannot read"},
		{[]string{"--load-credential=k:name", "true"}, nil, "nspawn was given no credentials ($CREDENTIALS_DIRECTORY)"},
		// Start and stop.
		{[]string{"--notify-ready=maybe", "true"}, nil, "--notify-ready=maybe: not a boolean"},
		{[]string{"--kill-signal=SIGFOO", "true"}, nil, "--kill-signal=SIGFOO: not a signal name"},
		{[]string{"--kill-signal=99", "true"}, nil, "--kill-signal=99: signal number out of range"},
		{[]string{"--kill-signal=RTMIN+40", "true"}, nil, "beyond SIGRTMAX"},
		// The cgroup.
		{[]string{"--slice=ci.slice", "--keep-unit", "true"}, nil, "--slice= and --keep-unit exclude each other"},
		{[]string{"--slice=ci.service", "true"}, nil, "--slice=ci.service: ci.service is not a slice unit name"},
		{[]string{"--slice=-ci", "true"}, nil, "--slice=-ci: -ci.slice is not a valid slice name"},
		{[]string{"--register=perhaps", "true"}, nil, "--register=perhaps: not a boolean"},
		{[]string{"--property=MemoryMax", "true"}, nil, "--property=MemoryMax: not NAME=VALUE"},
		{[]string{"--property=MemoryMax=lots", "true"}, nil, "--property=MemoryMax=lots:"},
		{[]string{"--property=Nice=5", "true"}, nil, "--property=Nice=5:"},
		{[]string{"--property=CPUWeight=0", "true"}, nil, "--property=CPUWeight=0:"},
		{[]string{"--property=AllowedCPUs=7", "true"}, nil, "--property=AllowedCPUs=7:"},
		{[]string{"--property=TasksMax=3", "true"}, nil, "--property=TasksMax=3: 3 is below the 16 tasks"},
		{[]string{"--property=MemoryMax=1G", "true"}, noCgroup, "this host has no cgroup v2 hierarchy to put limits on"},
		{[]string{"--property=MemoryMax=1G", "--keep-unit", "true"}, nil, "with --keep-unit the container stays in nspawn's own unit"},
		{[]string{"--keep-unit", "true"}, noOwnCgroup, "--keep-unit: /proc/self/cgroup names no cgroup v2 cgroup"},
		{[]string{"--stats=xml", "true"}, nil, "--stats=xml: use line, json, or a file"},
		{[]string{"--stats=" + filepath.Join(dir, "nodir", "s.json"), "true"}, nil, "does not exist"},
		// Mounts.
		{[]string{"--bind=relative:dst", "true"}, nil, "--bind=relative:dst: destination"},
		{[]string{"--bind=" + filepath.Join(dir, "missing"), "true"}, nil, "does not exist"},
		{[]string{"--bind=/a:/b:c:d", "true"}, nil, "too many ':'-separated fields"},
		{[]string{"--bind=" + hostFile + ":/data", "true"}, nil, "cannot bind a file onto a directory in the tree"},
		{[]string{"--bind-ro=" + dir + ":/etc-file", "true"}, nil, "cannot bind a directory onto a file in the tree"},
		{[]string{"--bind=" + dir + ":/x:bogus", "true"}, nil, `unknown option "bogus"`},
		{[]string{"--bind=" + dir + ":/x:idmap,rootidmapx", "true"}, nil, `unknown option "rootidmapx" (use rbind, norbind, idmap, noidmap, rootidmap or owneridmap)`},
		{[]string{"--bind-ro=" + dir + ":/x:IDMAP", "true"}, nil, `unknown option "IDMAP"`},
		{[]string{"--tmpfs=relative", "true"}, nil, "--tmpfs=relative: path"},
		{[]string{"--read-only", "--tmpfs=/nowhere", "true"}, nil, "--read-only: mount point /nowhere is missing in the tree"},
		{[]string{"--inaccessible=etc", "true"}, nil, "--inaccessible=etc: the path must be absolute"},
		{[]string{"--inaccessible=/", "true"}, nil, "--inaccessible=/: the container's root cannot be made inaccessible"},
		{[]string{"--inaccessible=/nowhere", "true"}, nil, "--inaccessible=/nowhere: /nowhere does not exist in the tree"},
		{[]string{"--volatile=bogus", "true"}, nil, "--volatile=bogus: unknown mode; use one of no, yes, state, overlay"},
		{[]string{"--volatile", "--read-only", "true"}, nil, "--volatile=yes: cannot be combined with --read-only"},
		{[]string{"--volatile=overlay", "--read-only", "true"}, nil, "--volatile=overlay: cannot be combined with --read-only"},
		{[]string{"--volatile=yes", "true"}, nil, "--volatile=yes: the tree's /bin is a directory, not merged into /usr"},
		{[]string{"--volatile=state", "true"}, nil, "--volatile=state: the tree has no /var directory"},
		{[]string{"-D", withVar, "--volatile=state", "--tmpfs=/nowhere", "true"}, nil, "--volatile=state: mount point /nowhere is missing in the tree"},
		{[]string{"--overlay=/only", "true"}, nil, "--overlay=/only: needs at least LOWER:UPPER"},
		{[]string{"--overlay=relative:" + dir, "true"}, nil, `--overlay=relative:` + dir + `: lower directory "relative" is not an absolute path`},
		{[]string{"--overlay=" + dir + ":relative", "true"}, nil, `upper directory "relative" is not an absolute path`},
		{[]string{"--overlay=" + dir + ":", "true"}, nil, "the upper directory is empty"},
		{[]string{"--overlay=" + dir + "::rel", "true"}, nil, `destination "rel" is not an absolute path`},
		{[]string{"--overlay=/missing:" + dir + ":/mnt", "true"}, nil, "lower directory /missing does not exist"},
		{[]string{"--overlay=+/missing::/mnt", "true"}, nil, "lower directory +/missing does not exist"},
		{[]string{"--overlay=" + hostFile + "::/mnt", "true"}, nil, "lower directory " + hostFile + " does not exist or is not a directory"},
		{[]string{"--overlay=" + dir + ":/missing:/mnt", "true"}, nil, "upper directory /missing does not exist"},
		{[]string{"--overlay=" + dir + ":" + tree + ":/mnt", "true"}, nil, "upper directory " + tree + " is inside lower directory " + dir},
		{[]string{"--overlay=" + tree + ":" + dir + ":/mnt", "true"}, nil, "lower directory " + tree + " is inside upper directory " + dir},
		{[]string{"--overlay=" + tree + ":/proc/sys:/mnt", "true"}, nil, "upper directory /proc/sys is on a kernel filesystem, which overlayfs cannot write to"},
		{[]string{"--overlay=" + tree + ":/proc:/mnt", "true"}, nil, "upper directory /proc is on a kernel filesystem"},
		{[]string{"--overlay=" + tree + ":/dev/shm:/mnt", "true"}, nil, "upper directory /dev/shm is a mount point, and overlayfs needs its work directory beside it"},
		{[]string{"--overlay-ro=/missing:" + dir + ":/mnt", "true"}, nil, "--overlay-ro=/missing:" + dir + ":/mnt: lower directory /missing does not exist"},
		{[]string{"--read-only", "--overlay=" + dir + "::/nowhere", "true"}, nil, "--read-only: mount point /nowhere is missing in the tree"},
		{[]string{"--resolv-conf=maybe-host", "true"}, nil, "--resolv-conf=maybe-host: unknown mode"},
		{[]string{"--link-journal=sometimes", "true"}, nil, "--link-journal=sometimes: unknown mode"},
		{[]string{"--link-journal=guest", "--uuid=0123456789abcdef0123456789abcdef", "true"}, sameMachineID, "the tree's machine ID is the host's"},
		{[]string{"--timezone=utc", "true"}, nil, "--timezone=utc: unknown mode"},
		// The user namespace.
		{[]string{"--private-users=lots", "true"}, nil, "--private-users=lots:"},
		{[]string{"--private-users-ownership=steal", "true"}, nil, "--private-users-ownership=steal:"},
		{[]string{"-D", shifted, "--private-users=pick", "--private-users-ownership=map", "true"}, nil, "chowned before"},
		{[]string{"--private-users=65536", "--private-users-ownership=chown", "--read-only", "true"}, nil, "--read-only and --private-users-ownership=chown exclude each other"},
		{[]string{"-x", "--private-users=65536", "--private-users-ownership=chown", "true"}, nil, "--ephemeral and --private-users-ownership=chown exclude each other"},
		{[]string{"-x", "true"}, upper("ram"), "$NSPAWN_EPHEMERAL_UPPER=ram: use tmpfs (in RAM, the default), disk (beside the tree) or an absolute directory"},
		{[]string{"-x", "true"}, upper("scratch/dir"), "$NSPAWN_EPHEMERAL_UPPER=scratch/dir: use tmpfs"},
		{[]string{"-x", "true"}, upper(filepath.Join(dir, "none")), "directory " + filepath.Join(dir, "none") + " does not exist; create it, or use tmpfs or disk"},
		{[]string{"-x", "true"}, upper(hostFile), "directory " + hostFile + " does not exist"},
		{[]string{"-x", "true"}, upper("/proc"), "$NSPAWN_EPHEMERAL_UPPER=/proc: /proc is on a kernel filesystem, which overlayfs cannot write to"},
		{[]string{"-x", "true"}, upper(filepath.Join(tree, "data")), "is inside the tree " + tree + ", which is the overlay's lower layer"},
		{[]string{"--volatile=overlay", "--private-users=65536", "--private-users-ownership=chown", "true"}, nil, "--volatile=overlay and --private-users-ownership=chown exclude each other"},
		{[]string{"--private-users=65537:65536", "--private-users-ownership=chown", "true"}, nil, "the range must be 65536 IDs from a multiple of 65536"},
		// Security.
		{[]string{"--capability=CAP_BOGUS", "true"}, nil, "--capability=CAP_BOGUS:"},
		{[]string{"--drop-capability=flying", "true"}, nil, "--drop-capability=flying:"},
		{[]string{"--ambient-capability=all", "true"}, nil, "name the capabilities; all is not accepted"},
		{[]string{"--ambient-capability=CAP_SYS_TIME", "true"}, nil, "CAP_SYS_TIME not in the container's set"},
		{[]string{"-b", "--capability=CAP_SYS_TIME", "--ambient-capability=CAP_SYS_TIME"}, nil, "--ambient-capability is of no use with --boot"},
		{[]string{"--ambient-capability=CAP_CHOWN", "true"}, lacksCaps, "nspawn itself lacks CAP_CHOWN"},
		{[]string{"--no-new-privileges=sometimes", "true"}, nil, "--no-new-privileges=sometimes: not a boolean"},
		{[]string{"--system-call-filter=frobnicate", "true"}, nil, "frobnicate"},
		// The execution environment.
		{[]string{"--rlimit=NOFILE", "true"}, nil, "--rlimit=NOFILE: not NAME=SOFT[:HARD]"},
		{[]string{"--rlimit=nofile=5", "true"}, nil, `--rlimit=nofile=5: unknown resource limit "nofile"`},
		{[]string{"--rlimit=RLIMIT_BOGUS=5", "true"}, nil, `unknown resource limit "RLIMIT_BOGUS"`},
		{[]string{"--rlimit=NOFILE=", "true"}, nil, "--rlimit=NOFILE=: empty limit"},
		{[]string{"--rlimit=NOFILE=lots", "true"}, nil, `--rlimit=NOFILE=lots: "lots" is not a number`},
		{[]string{"--rlimit=NOFILE=10:5", "true"}, nil, "the soft limit is above the hard one"},
		{[]string{"--rlimit=NOFILE=5:", "true"}, nil, "--rlimit=NOFILE=5:: empty limit"},
		{[]string{"--rlimit=AS=1Q", "true"}, nil, `--rlimit=AS=1Q: "1Q" is not a size`},
		{[]string{"--rlimit=CPU=5 fortnights", "true"}, nil, "is not a time span"},
		{[]string{"--rlimit=NICE=-25", "true"}, nil, "nice level -25 is outside -20..19"},
		{[]string{"--rlimit=NICE=41", "true"}, nil, "limit 41 is above 40"},
		{[]string{"--oom-score-adjust=1001", "true"}, nil, "--oom-score-adjust=1001: not an integer in -1000..1000"},
		{[]string{"--oom-score-adjust=high", "true"}, nil, "--oom-score-adjust=high: not an integer"},
		{[]string{"--cpu-affinity=1-0", "true"}, nil, `--cpu-affinity=1-0: "1-0" is not a CPU number`},
		{[]string{"--cpu-affinity=x", "true"}, nil, `--cpu-affinity=x: "x" is not a CPU number`},
		{[]string{"--cpu-affinity=,", "true"}, nil, "--cpu-affinity=,: no CPU named"},
		{[]string{"--cpu-affinity=0,7-8", "true"}, twoCPUs, "--cpu-affinity=0,7-8: this host has no CPU 7, 8 (online: 0-1)"},
		{[]string{"--personality=arm64", "true"}, nil, "--personality=arm64: unknown or unsupported on this host; use x86 or x86-64"},
		{[]string{"--suppress-sync=often", "true"}, nil, "--suppress-sync=often: not a boolean"},
		{[]string{"--restrict-address-families=AF_BOGUS", "true"}, nil, `--restrict-address-families=AF_BOGUS: unknown address family "AF_BOGUS"`},
		{[]string{"--restrict-address-families=~", "true"}, nil, "--restrict-address-families=~: no address family after ~"},
		// --bind-user.
		{[]string{"--bind-user=9x", "-U", "true"}, hostUsers, "--bind-user=9x: not a valid user name"},
		{[]string{"--bind-user=al:ice", "-U", "true"}, hostUsers, "--bind-user=al:ice: not a valid user name"},
		{[]string{"--bind-user=alice", "true"}, hostUsers, "--bind-user=alice: needs a user namespace with a range of its own"},
		{[]string{"--bind-user=alice", "--private-users=no", "true"}, hostUsers, "--bind-user=alice: needs a user namespace with a range of its own"},
		{[]string{"--bind-user=alice", "-U", "true"}, nil, "--bind-user=alice: cannot read the host's /etc/passwd and /etc/group"},
		{[]string{"--bind-user=ghost", "-U", "true"}, hostUsers, "--bind-user=ghost: the host has no such user in /etc/passwd"},
		{[]string{"--bind-user=root", "-U", "true"}, hostUsers, "--bind-user=root: binding root is not supported"},
		{[]string{"--bind-user=nobody", "-U", "true"}, hostUsers, "--bind-user=nobody: binding nobody is not supported"},
		{[]string{"--bind-user=shared", "-U", "true"}, hostUsers, "--bind-user=shared: the user's primary group 100 is not a private group named shared"},
		{[]string{"--bind-user=nohome", "-U", "true"}, hostUsers, "--bind-user=nohome: the user's home " + filepath.Join(dir, "missing") + " does not exist"},
		{[]string{"--bind-user=big", "--private-users=65536", "true"}, hostUsers, "--bind-user=big: the user's UID 70000 is inside the container's range 65536..131071"},
		{[]string{"--bind-user=alice", "--private-users=1000000:1000", "true"}, hostUsers, "--bind-user=alice: no free UID in 60514..60577"},
		{[]string{"-D", usersTree, "--bind-user=bob", "-U", "true"}, hostUsers, "--bind-user=bob: the tree's /etc/passwd has a user bob already"},
		{[]string{"-D", usersTree, "--bind-user=carol", "-U", "true"}, hostUsers, "--bind-user=carol: the tree's /etc/group has a group carol already"},
		// The network.
		{[]string{"--share-network", "-n", "true"}, nil, "--share-network and --network-veth contradict each other"},
		{[]string{"--share-network", "-p", "80", "true"}, nil, "--share-network and --port=80 contradict each other"},
		{[]string{"--share-network", "--network-namespace-path=/run/netns/x", "true"}, nil, "--share-network and --network-namespace-path=/run/netns/x contradict each other"},
		{[]string{"--network-namespace-path=/run/netns/x", "-n", "true"}, nil, "--network-namespace-path=/run/netns/x cannot be combined with --network-veth"},
		{[]string{"--network-namespace-path=/run/netns/x", "--private-network", "true"}, nil, "cannot be combined with --private-network"},
		{[]string{"--network-namespace-path=/etc/passwd", "true"}, notNetNS, "--network-namespace-path=/etc/passwd: /etc/passwd is not a network namespace"},
		{[]string{"--network-bridge=br0", "--network-zone=z", "true"}, hostLinks, "--network-bridge=br0 and --network-zone=z may not be combined"},
		{[]string{"--network-zone=abcdefghijklmnop", "true"}, nil, "--network-zone=abcdefghijklmnop: vz-abcdefghijklmnop is not a valid interface name; use at most 12 characters"},
		{[]string{"--network-zone=a/b", "true"}, nil, "--network-zone=a/b: vz-a/b is not a valid interface name"},
		{[]string{"--network-bridge=nosuch", "true"}, hostLinks, "--network-bridge=nosuch: the host has no interface nosuch"},
		{[]string{"--network-bridge=eth1", "true"}, hostLinks, "--network-bridge=eth1: eth1 is not a bridge"},
		{[]string{"--network-macvlan=nosuch", "true"}, hostLinks, "--network-macvlan=nosuch: the host has no interface nosuch"},
		{[]string{"--network-ipvlan=nosuch", "true"}, hostLinks, "--network-ipvlan=nosuch: the host has no interface nosuch"},
		{[]string{"--network-interface=nosuch", "true"}, hostLinks, "--network-interface=nosuch: the host has no interface nosuch"},
		{[]string{"--network-interface=", "true"}, hostLinks, `--network-interface=: "" is not a valid interface name; give HOSTIF[:CONTAINERIF]`},
		{[]string{"--network-interface=eth1:a:b", "true"}, hostLinks, `--network-interface=eth1:a:b: "a:b" is not a valid interface name`},
		{[]string{"--network-interface=eth1", "--network-interface=eth1:x", "true"}, hostLinks, "two network links would be eth1 on the host"},
		{[]string{"--network-macvlan=eth1", "--network-interface=eth1:mv-eth1", "true"}, hostLinks, "two network links would be mv-eth1 inside the container"},
		{[]string{"--network-veth-extra=a:b:c", "true"}, nil, `--network-veth-extra=a:b:c: "b:c" is not a valid interface name`},
		{[]string{"--network-veth-extra=123", "true"}, nil, `--network-veth-extra=123: "123" is not a valid interface name`},
		{[]string{"--network-veth-extra=ok:has space", "true"}, nil, `"has space" is not a valid interface name`},
		{[]string{"--network-veth-extra=..", "true"}, nil, `--network-veth-extra=..: ".." is not a valid interface name`},
		{[]string{"--network-macvlan=a/b", "true"}, hostLinks, "--network-macvlan=a/b: not a valid interface name"},
		{[]string{"--network-bridge=all", "true"}, hostLinks, "--network-bridge=all: not a valid interface name"},
		{[]string{"-p", "80", "true"}, nil, "--port=80: nothing to forward it to; give the container a veth"},
		{[]string{"--network-macvlan=eth1", "-p", "80", "true"}, hostLinks, "--port=80: nothing to forward it to"},
		{[]string{"-n", "--network-configure=maybe", "true"}, nil, "--network-configure=maybe: not one of auto, nspawn, networkd"},
		// The payload.
		{[]string{"-u", "nosuchuser", "true"}, nil, "--user=nosuchuser:"},
		{[]string{"--chdir=data", "true"}, nil, "--chdir=data: the working directory must be an absolute path"},
		{[]string{"-D", noInit}, nil, "no command given and the tree has no usable shell"},
		{[]string{"-D", noInit, "-b"}, nil, "--boot: the tree has no init"},
		{[]string{"-E", "1BAD=x", "true"}, nil, `--setenv=1BAD=x: "1BAD" is not a valid variable name`},
	} {
		args := row.args
		// A row starting with -M says itself whether it has -D: without
		// one, the tree is looked up by name.
		if !strings.HasPrefix(strings.Join(args, " "), "-D") && args[0] != "-M" {
			args = append([]string{"-D", tree}, args...)
		}
		o, err := ParseOptions(args)
		if err != nil {
			t.Errorf("%v: options: %v", row.args, err)
			continue
		}
		facts := testFacts(dir)
		if row.facts != nil {
			row.facts(facts)
		}
		_, err = BuildPlan(o, facts)
		if err == nil || !strings.Contains(err.Error(), row.want) {
			t.Errorf("%v: got %v, want an error with %q", row.args, err, row.want)
		}
	}
}
