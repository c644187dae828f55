/* probe: what the payload's execution environment answers, one line per
 * call as "name=result", result 0 or the errno's name. Built static, so
 * it runs in any tree. Each call works on a file of its own in /tmp. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

static void report(const char *name, long r) {
	if (r < 0)
		printf("%s=%s\n", name, strerrorname_np(errno));
	else
		printf("%s=0\n", name);
}

static void probe_socket(const char *name, int family, int type) {
	int fd = socket(family, type, 0);
	report(name, fd);
	if (fd >= 0)
		close(fd);
}

int main(void) {
	int fd = open("/tmp/probe-file", O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || write(fd, "x", 1) != 1)
		return 1;
	sync();
	printf("sync=0\n");
	report("syncfs", syncfs(fd));
	report("fsync", fsync(fd));
	report("fdatasync", fdatasync(fd));
	report("sync_file_range", sync_file_range(fd, 0, 1, SYNC_FILE_RANGE_WRITE));
	void *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	report("msync", m == MAP_FAILED ? -1 : msync(m, 4096, MS_SYNC));
	/* Raw system calls: libc must not turn one into another. */
	report("open_O_SYNC", syscall(SYS_open, "/tmp/probe-file", O_WRONLY | O_SYNC));
	report("openat_O_DSYNC", syscall(SYS_openat, AT_FDCWD, "/tmp/probe-file", O_WRONLY | O_DSYNC));
	report("openat_plain", syscall(SYS_openat, AT_FDCWD, "/tmp/probe-file", O_WRONLY));
	struct { unsigned long long flags, mode, resolve; } how = { O_RDONLY, 0, 0 };
	report("openat2", syscall(SYS_openat2, AT_FDCWD, "/tmp/probe-file", &how, sizeof how));
	probe_socket("socket_unix", AF_UNIX, SOCK_STREAM);
	probe_socket("socket_inet", AF_INET, SOCK_DGRAM);
	probe_socket("socket_inet6", AF_INET6, SOCK_DGRAM);
	probe_socket("socket_netlink", AF_NETLINK, SOCK_RAW);
	probe_socket("socket_vsock", AF_VSOCK, SOCK_STREAM);
	unlink("/tmp/probe-file");
	return 0;
}
