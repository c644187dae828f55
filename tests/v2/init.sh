#!/bin/busybox sh
# Stage 1, PID 1 in the initramfs. pivot_root(2) refuses to move the
# initramfs (rootfs has no parent mount), and nspawn pivots, so copy
# everything into a tmpfs and switch_root into it; stage2.sh goes on there.
# The kernel gave us /dev/console (made in the cpio) as stdin/out/err.
export PATH=/bin
sh /v2/initramfs.sh
mkdir -p /newroot
mount -t tmpfs -o mode=0755 tmpfs /newroot || { echo "V2TEST FAIL init: mount tmpfs"; poweroff -f; }
cp -a /bin /v2 /tree /nspawn /newroot/ || { echo "V2TEST FAIL init: copy to tmpfs"; poweroff -f; }
mkdir -p /newroot/proc /newroot/sys /newroot/dev /newroot/tmp /newroot/run /newroot/etc
exec switch_root /newroot /v2/stage2.sh
