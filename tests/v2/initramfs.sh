#!/bin/busybox sh
# Run by init.sh while / is still the initramfs (rootfs), before its
# switch_root: pivot_root(2) cannot move rootfs, so nspawn moves the tree
# over it and chroots, and must still keep the initramfs out of reach.
# Leaves its notes in /v2/initramfs.log and what failed (empty: nothing)
# in /v2/initramfs.why, for checks.sh's check_initramfs to report once
# the log is being watched (run.sh prints from V2TEST BEGIN on).
export PATH=/bin
LOG=/v2/initramfs.log
WHY=/v2/initramfs.why
E=/tmp/err
O=/tmp/out
CG=/sys/fs/cgroup
case ",${V2_CHECKS:-initramfs}," in *,initramfs,*) ;; *) exit 0 ;; esac

why=
bad() { [ -n "$why" ] || why=$*; }
errs() { tr '\n' ' ' <"$E" | cut -c1-300; }
ns() { timeout -s KILL 120 /nspawn -q -D /tree "$@"; }

mkdir -p /proc /sys /dev /tmp /etc
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs -o mode=1777 tmpfs /tmp
mount -t cgroup2 none $CG
printf 'root:x:0:0:root:/root:/bin/sh\n' >/etc/passwd
printf 'root:x:0:\n' >/etc/group
secret="initramfs-secret-$(cut -d' ' -f1 /proc/uptime)"
echo "$secret" >/escape-marker
echo "$secret" >/v2/escape-marker

# A container runs, in its own tree, with its own /proc.
ns /bin/sh -c 'echo inside-$((6*7)); [ -e /v2 ] && echo SEES_HOST; [ -e /tree ] && echo SEES_HOST; true' >$O 2>$E
rc=$?
[ $rc = 0 ] || bad "exited $rc: $(errs)"
grep -q '^inside-42$' $O || bad "no output from inside: $(tr '\n' ' ' <$O) $(errs)"
grep -q SEES_HOST $O && bad "the initramfs is visible inside"
[ -e $CG/machine.slice ] && bad "left behind: $(cd $CG && find machine.slice -type d | tr '\n' ' ')"

# The battery's chroot escape, as root with and without a user namespace
# (-U chowns the tree, on this kernel's tmpfs without ID-mapped mounts, and
# it is chowned back after).
if [ -x /v2/attack ]; then
    for opt in "" -U; do
        ns $opt --bind-ro=/v2:/opt/v2 /opt/v2/attack chroot-escape "$secret" /escape-marker /v2/escape-marker >$O 2>$E
        echo "V2TEST NOTE initramfs: chroot escape ${opt:-as root}: $(cat $O)" >>$LOG
        grep -q '^DENIED: ' $O || bad "chroot escape ${opt:-as root}: $(cat $O) $(errs)"
    done
    ns --private-users=0 --private-users-ownership=chown /bin/true 2>$E || bad "chown back: $(errs)"
else
    echo "V2TEST NOTE initramfs: no attack program (run.sh builds it with gcc -static): chroot escape not tried" >>$LOG
fi
[ -e /escape-marker ] && [ "$(cat /escape-marker)" = "$secret" ] || bad "the initramfs's /escape-marker changed"
[ -e /nspawn-escape ] && bad "the container created /nspawn-escape on the initramfs"

echo "$why" >$WHY
rm -f /escape-marker /v2/escape-marker
rmdir $CG/machine.slice 2>/dev/null
umount -l $CG /tmp /dev /sys /proc
