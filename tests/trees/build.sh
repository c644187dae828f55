#!/usr/bin/env bash
# Build (or reuse) a root-filesystem tree for the nspawn tests.
# Usage: tests/trees/build.sh busybox|bookworm|bookworm-systemd
# Prints the tree's absolute path on stdout; all progress goes to stderr.
# Trees live in ${NSPAWN_TREES:-/var/cache/nspawn-tests}/<name>, with
# <name>.stamp holding the sha256 of that tree's recipe (its build_<name>
# function); a changed recipe rebuilds that tree only.
set -euo pipefail

name=${1:-}
case $name in busybox|bookworm|bookworm-systemd) ;; *) echo "usage: $0 busybox|bookworm|bookworm-systemd" >&2; exit 2;; esac

trees=${NSPAWN_TREES:-/var/cache/nspawn-tests}
dest=$trees/$name
stamp=$trees/$name.stamp
log() { echo "build.sh: $*" >&2; }

. "$(dirname "$0")/../need.sh"

# First deb URI from the apt configuration whose suites include exactly "bookworm".
mirror() {
    local f uri=
    for f in /etc/apt/sources.list.d/*.sources; do
        [[ -e $f ]] || continue
        # deb822: paragraphs separated by blank lines; fields may come in any order.
        uri=$(awk 'BEGIN { RS = ""; FS = "\n" }
            { u = ""; s = 0; t = 0
              for (i = 1; i <= NF; i++) {
                if ($i ~ /^URIs:/)   { split($i, a, /[ \t]+/); u = a[2] }
                if ($i ~ /^Suites:/  && $i ~ /[ \t]bookworm([ \t]|$)/) s = 1
                if ($i ~ /^Types:/   && $i ~ /[ \t]deb([ \t]|$)/) t = 1
              }
              if (u != "" && s && t) { print u; exit } }' "$f")
        [[ -n $uri ]] && break
    done
    if [[ -z $uri && -f /etc/apt/sources.list ]]; then
        # classic: deb [options] URL bookworm components...
        uri=$(sed -E 's/\[[^]]*\]//' /etc/apt/sources.list |
            awk '$1 == "deb" && $3 == "bookworm" { print $2; exit }')
    fi
    [[ -n $uri ]] || { log "no bookworm mirror found in apt configuration"; return 1; }
    echo "$uri"
}

build_busybox() {
    local t=$1 a
    need busybox-static   # static: the tree has no libc
    mkdir -p "$t"/{bin,etc,usr,root,home/tester,tmp,run,proc,sys,dev,var,mnt,srv}
    install -m 0755 /bin/busybox "$t/bin/busybox"
    for a in $("$t/bin/busybox" --list); do
        [[ $a == busybox ]] || ln -sf busybox "$t/bin/$a"
    done
    ln -sf busybox "$t/bin/sh"
    # Everything lives in /bin; the other PATH dirs point at it.
    ln -s bin "$t/sbin"
    ln -s ../bin "$t/usr/bin"
    ln -s ../bin "$t/usr/sbin"
    chmod 0700 "$t/root"
    chmod 1777 "$t/tmp"
    chown 1000:1000 "$t/home/tester"
    cat >"$t/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
tester:x:1000:1000:tester:/home/tester:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
EOF
    cat >"$t/etc/group" <<'EOF'
root:x:0:
wheel:x:10:tester
audio:x:29:tester
tester:x:1000:
nogroup:x:65534:
EOF
    # A time zone as distributions link it, so --timezone=auto (a link to
    # the host's zone, or a bind over this one) leaves the tree as it is.
    mkdir -p "$t/usr/share/zoneinfo/Etc"
    if [[ -f /usr/share/zoneinfo/Etc/UTC ]]; then cp /usr/share/zoneinfo/Etc/UTC "$t/usr/share/zoneinfo/Etc/UTC"
    else : >"$t/usr/share/zoneinfo/Etc/UTC"; fi
    ln -s ../usr/share/zoneinfo/Etc/UTC "$t/etc/localtime"
    cat >"$t/etc/os-release" <<'EOF'
ID=busybox
NAME="BusyBox test tree"
PRETTY_NAME="BusyBox test tree"
EOF
}

build_bookworm() {
    local t=$1 m
    need debootstrap
    m=$(mirror)
    log "debootstrap bookworm from $m (about 40 s)"
    debootstrap --variant=minbase bookworm "$t" "$m" >&2
    # useradd handles passwd/shadow/group/gshadow consistently.
    chroot "$t" useradd -m -u 1000 -U -G audio,video -s /bin/bash tester
    rm -rf "$t"/var/cache/apt/archives/*.deb "$t"/var/lib/apt/lists/*_Packages
}

# bookworm plus systemd as /sbin/init, for -b/--boot.
build_bookworm-systemd() {
    local t=$1 m
    need debootstrap
    m=$(mirror)
    log "debootstrap bookworm with systemd from $m (about 60 s)"
    debootstrap --variant=minbase --include=systemd,systemd-sysv,dbus,systemd-container,iproute2 \
        bookworm "$t" "$m" >&2
    # useradd handles passwd/shadow/group/gshadow consistently.
    chroot "$t" useradd -m -u 1000 -U -G audio,video -s /bin/bash tester
    rm -rf "$t"/var/cache/apt/archives/*.deb "$t"/var/lib/apt/lists/*_Packages
}

mkdir -p "$trees"
hash=$(declare -f "build_$name" | sha256sum | cut -d" " -f1)
# Serialise concurrent callers; the loser waits, then finds the tree fresh.
exec 9>"$trees/.$name.lock"
flock 9

if [[ -d $dest && -f $stamp && $(cat "$stamp") == "$hash" ]]; then
    echo "$dest"
    exit 0
fi

tmp=$(mktemp -d "$trees/.$name.tmp.XXXXXX")
trap 'rm -rf "$tmp" "${old:-}"' EXIT
chmod 0755 "$tmp"   # mktemp makes it 0700; it becomes the container's /
start=$SECONDS
log "building $name in $tmp"
"build_$name" "$tmp"

# Swap into place: a directory can't be renamed over a non-empty one, so
# move the old tree aside first (we hold the lock, readers see either tree).
rm -f "$stamp"
old=
if [[ -e $dest ]]; then old=$trees/.$name.old.$$; mv "$dest" "$old"; fi
mv "$tmp" "$dest"
echo "$hash" >"$stamp"
log "built $name in $((SECONDS - start)) s"
echo "$dest"
