#!/bin/sh
# Stage 2, PID 1 on the tmpfs root: a pure cgroup v2 host (only cgroup2 on
# /sys/fs/cgroup), then the checks, then power off whatever happened.
export PATH=/bin HOME=/root
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1
mkdir -p /dev/pts /dev/shm
mount -t devpts -o newinstance,ptmxmode=0666 devpts /dev/pts
mount -t tmpfs -o mode=1777 tmpfs /tmp
mount -t tmpfs -o mode=0755 tmpfs /run
mount -t cgroup2 none /sys/fs/cgroup
# What a host has that nspawn may look at.
echo v2host >/proc/sys/kernel/hostname
printf 'root:x:0:0:root:/root:/bin/sh\n' >/etc/passwd
printf 'root:x:0:\n' >/etc/group
mkdir -p /root
for c in cpu memory pids io cpuset; do
    echo "+$c" >/sys/fs/cgroup/cgroup.subtree_control 2>/dev/null ||
        echo "V2TEST NOTE controller $c could not be enabled at the root"
done
echo "V2TEST BEGIN after $(cut -d' ' -f1 /proc/uptime) s: kernel $(uname -r), $(nproc) CPUs, root controllers: $(cat /sys/fs/cgroup/cgroup.subtree_control)"
echo "V2TEST NOTE namespaces: $(ls /proc/self/ns | tr '\n' ' ')"
# checks.sh prints V2TEST DONE as its last line: a crash or hang loses it.
sh /v2/checks.sh </dev/null
sync
poweroff -f
echo o >/proc/sysrq-trigger
sleep 10
