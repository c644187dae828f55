#!/usr/bin/env bash
# Run nspawn on a pure cgroup v2 host: Debian bookworm's cloud kernel under
# qemu (TCG, no KVM needed), booted into an initramfs holding busybox, the
# given nspawn binary, a busybox tree and the checks (checks.sh).
# Usage: tests/v2/run.sh NSPAWN_BIN
# V2_CHECKS="basic sigkill" runs only those checks (names as in checks.sh).
# Prints the VM's test output; exits 0 only when every check passed.
# The kernel is cached in ${NSPAWN_TREES:-/var/cache/nspawn-tests}/v2.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
bin=${1:-}
[[ -n $bin && -x $bin ]] || { echo "usage: $0 NSPAWN_BIN" >&2; exit 2; }
bin=$(realpath "$bin")
cache=${NSPAWN_TREES:-/var/cache/nspawn-tests}/v2
timeout=${V2_TIMEOUT:-300}
log() { echo "v2: $*" >&2; }

. "$here/../need.sh"

# apt-get download PKG into the current directory, updating the package
# lists once if that fails.
download() {
    apt-get download -q "$1" >&2 ||
        { apt-get update -q >&2 && apt-get download -q "$1" >&2; }
}

# kernel: prints the path of the cached vmlinuz, fetching it first if the
# cache lacks the version apt offers now. Keyed by linux-image-cloud-amd64's
# candidate version, which apt-cache knows without the network.
kernel() {
    local want k dl meta dep
    want=$(LC_ALL=C apt-cache policy linux-image-cloud-amd64 2>/dev/null | awk '$1 == "Candidate:" { print $2 }')
    [[ $want == "(none)" ]] && want=
    if [[ -n $want && -f $cache/vmlinuz-$want ]]; then
        echo "$cache/vmlinuz-$want"
        return
    fi
    if [[ -z $want ]]; then
        # No package lists: any kernel cached before will do.
        k=$(ls -t "$cache"/vmlinuz-* 2>/dev/null | head -n1 || true)
        [[ -n $k ]] && { echo "$k"; return; }
    fi
    dl=$work/kernel
    mkdir "$dl"
    # apt drops to _apt for downloads; let it write here.
    chown _apt "$dl" 2>/dev/null || true
    cd "$dl"
    download linux-image-cloud-amd64
    meta=$(ls linux-image-cloud-amd64_*.deb)
    want=$(dpkg-deb -f "$meta" Version)
    # The metapackage depends on the versioned image package.
    dep=$(dpkg-deb -f "$meta" Depends | sed -E 's/[ (,|].*//')
    log "fetching $dep (kernel of linux-image-cloud-amd64 $want)"
    download "$dep"
    dpkg-deb -x "$dep"_*.deb x
    k=$(ls x/boot/vmlinuz-* | head -n1)
    install -m 0644 "$k" "$cache/.vmlinuz-$want.tmp"
    mv "$cache/.vmlinuz-$want.tmp" "$cache/vmlinuz-$want"
    cd - >/dev/null
    rm -rf "$dl"
    echo "$cache/vmlinuz-$want"
}

need qemu-system-x86 busybox-static
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
chmod 0755 "$work"   # for apt's _apt user
mkdir -p "$cache"
# Serialise concurrent runs' kernel downloads.
exec 9>"$cache/.lock"
flock 9
vmlinuz=$(kernel)
flock -u 9
log "kernel $vmlinuz"

# The initramfs: busybox with its applets in /bin, the stage scripts and
# checks in /v2, nspawn, and the project's busybox tree as /tree.
tree=$("$here/../trees/build.sh" busybox)
r=$work/root
mkdir -p "$r"/{bin,dev,proc,sys,v2,newroot}
install -m 0755 /bin/busybox "$r/bin/busybox"
for a in $("$r/bin/busybox" --list); do
    [[ $a == busybox ]] || ln -s busybox "$r/bin/$a"
done
install -m 0755 "$here/init.sh" "$r/init"
install -m 0755 "$here/stage2.sh" "$here/checks.sh" "$here/initramfs.sh" "$r/v2/"
# The security battery's attack program, for initramfs.sh's chroot escape.
if command -v gcc >/dev/null; then
    gcc -static -O2 -o "$r/v2/attack" "$here/../security/attack.c" ||
        log "gcc -static cannot build the attack program: chroot escape not tried"
fi
install -m 0755 "$bin" "$r/nspawn"
cp -a "$tree" "$r/tree"
# The kernel opens /dev/console for init before anything can mount /dev.
mknod -m 0600 "$r/dev/console" c 5 1
(cd "$r" && find . -mindepth 1 | busybox cpio -o -H newc -R 0:0 2>/dev/null) | gzip -1 >"$work/initrd.gz"

# Software emulation: no KVM here. panic=-1 plus -no-reboot makes any
# kernel panic (such as PID 1 exiting) end qemu at once.
log "booting $(basename "$vmlinuz") under qemu (TCG), at most $timeout s"
start=$SECONDS
set +e
append="console=ttyS0 panic=-1 quiet systemd.unified_cgroup_hierarchy=1"
# The kernel hands NAME=VALUE words it doesn't know to init's environment.
[[ -n ${V2_CHECKS:-} ]] && append+=" V2_CHECKS=${V2_CHECKS// /,}"
timeout "$timeout" qemu-system-x86_64 -accel tcg -m 1024 -smp 2 \
    -nographic -no-reboot -nodefaults -serial stdio \
    -kernel "$vmlinuz" -initrd "$work/initrd.gz" \
    -append "$append" \
    </dev/null 2>&1 | tr -d '\r' | tee "$work/console.log" |
    awk '!on && /V2TEST BEGIN/ { on = 1; sub(/.*V2TEST BEGIN/, "V2TEST BEGIN") } on { print; fflush() }'
status=${PIPESTATUS[0]}
set -e
log "VM ran $((SECONDS - start)) s"

fail=
if ((status == 124)); then
    fail="timed out after $timeout s"
elif ((status != 0)); then
    fail="qemu exited $status"
elif grep -q 'V2TEST FAIL' "$work/console.log"; then
    fail="$(grep -c 'V2TEST FAIL' "$work/console.log") check(s) failed"
elif ! grep -q '^V2TEST DONE' "$work/console.log"; then
    fail="the checks did not finish (no V2TEST DONE)"
fi
if [[ -n $fail ]]; then
    echo "---- full console log ----"
    cat "$work/console.log"
    echo "---- end of console log ----"
    log "FAIL: $fail"
    exit 1
fi
log "all $(grep -c '^V2TEST PASS' "$work/console.log") checks passed"
