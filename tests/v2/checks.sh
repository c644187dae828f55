#!/bin/sh
# The checks, run by stage2.sh inside the VM on a pure cgroup v2 host.
# Each prints exactly "V2TEST PASS <name>" or "V2TEST FAIL <name>: <why>";
# the last line is "V2TEST DONE". Other lines are for people.
N=/nspawn
T=/tree
CG=/sys/fs/cgroup
MS=$CG/machine.slice
E=/tmp/err  # nspawn's stderr, per run
O=/tmp/out  # the container's output, per run

# Every nspawn is bounded: a hang fails its check, not the whole VM run.
ns() { timeout -s KILL 60 "$N" -q -D "$T" "$@"; }
# In the background: "nsbg ... &" makes $! nspawn's PID (busybox timeout
# execs its command in its own process; the exec replaces the subshell).
nsbg() { exec timeout -s KILL 60 "$N" -q -D "$T" "$@"; }

why=
bad() { [ -n "$why" ] || why=$*; }
# stderr of the last nspawn, on one line, for a failure message.
errs() { tr '\n' ' ' <"$E" | cut -c1-300; }

now() { cut -d' ' -f1 /proc/uptime; }   # seconds.centiseconds

# alive PID: running, not a zombie waiting for us. Read by the shell's
# own read, not a forked grep: ash reaps a finished background job when it
# forks, so between "[ -e /proc/PID ]" and a grep of its stat the zombie
# could vanish, the grep fail, and a dead nspawn pass for a live one.
alive() {
    { read -r line <"/proc/$1/stat"; } 2>/dev/null || return 1
    case $line in *") Z "*) return 1 ;; esac
}

# wait_up NAME PID: until the scope's payload has a process (30 s, TCG is
# slow), or nspawn has exited.
wait_up() {
    i=0
    while [ $i -lt 300 ]; do
        # cgroup files stat as empty: read it.
        [ -n "$(cat "$MS/machine-$1.scope/payload/cgroup.procs" 2>/dev/null)" ] && return 0
        alive "$2" || return 1
        sleep 0.1
        i=$((i + 1))
    done
    return 1
}

# stop PID SECS: SIGTERM, then wait up to SECS for it to exit; its status in $rc.
stop() {
    kill -TERM "$1" 2>/dev/null
    i=0
    while alive "$1" && [ $i -lt $(($2 * 10)) ]; do sleep 0.1; i=$((i + 1)); done
    if alive "$1"; then
        bad "nspawn still running $2 s after SIGTERM"
        kill -KILL "$1" 2>/dev/null
    fi
    wait "$1"
    rc=$?
}

# sleep30: the PIDs of "sleep 30" processes anywhere on the host.
sleep30() {
    for p in /proc/[0-9]*; do
        c=$(cat "$p/cmdline" 2>/dev/null | tr '\0' ' ')
        case $c in "sleep 30 " | "/bin/sleep 30 ") echo "${p#/proc/}" ;; esac
    done
}

# nothing_left: no machine.slice, so no scope, no payload.
nothing_left() {
    if [ -e "$MS" ]; then
        bad "left behind: $(cd $CG && find machine.slice -type d | tr '\n' ' ')"
    fi
}

# tidy: after a check, clear what it left so the next one starts clean.
tidy() {
    [ -e "$MS" ] || return 0
    for k in $(find "$MS" -name cgroup.kill); do echo 1 >"$k" 2>/dev/null; done
    sleep 0.2
    find "$MS" -depth -type d -exec rmdir {} \; 2>/dev/null
}

# dump: what a failed check left, for the console log.
dump() {
    echo "---- $1: cgroups left under machine.slice, with their processes"
    [ -e "$MS" ] && find "$MS" -name cgroup.procs | while read -r f; do
        echo "${f#$CG/}: $(tr '\n' ' ' <"$f")"
    done
    echo "---- $1: processes"
    ps -o pid,ppid,stat,args | awk '$1 != 2 && $2 != 2'   # no kernel threads
    echo "---- $1: end"
}

check() {
    why=
    t0=$(now)
    "check_$(echo "$1" | tr - _)"
    t1=$(now)
    if [ -z "$why" ]; then echo "V2TEST PASS $1"; else echo "V2TEST FAIL $1: $why"; dump "$1"; fi
    echo "V2TEST NOTE $1 took $(echo "$t1 $t0" | awk '{printf "%.1f", $1 - $2}') s"
    tidy
}

check_basic() {
    ns -M v2a /bin/true 2>"$E"
    rc=$?
    [ $rc = 0 ] || bad "/bin/true exited $rc: $(errs)"
    nothing_left
    ns -M v2a /bin/sh -c 'exit 7' 2>"$E"
    rc=$?
    [ $rc = 7 ] || bad "sh -c 'exit 7' exited $rc: $(errs)"
    nothing_left
}

check_namespace() {
    ns -M v2n /bin/sh -c 'cat /proc/self/cgroup; grep " /sys/fs/cgroup " /proc/self/mounts; mkdir /sys/fs/cgroup/x && echo MKDIR_OK' >"$O" 2>"$E"
    rc=$?
    [ $rc = 0 ] || bad "exited $rc: $(errs)"
    first=$(head -n1 "$O")
    [ "$first" = "0::/" ] || bad "/proc/self/cgroup inside is '$(tr '\n' ' ' <"$O" | cut -c1-100)', want 0::/"
    grep -q '^[^ ]* /sys/fs/cgroup cgroup2 rw' "$O" || bad "/sys/fs/cgroup inside is not a writable cgroup2: $(grep /sys/fs/cgroup "$O")"
    grep -q '^MKDIR_OK$' "$O" || bad "mkdir /sys/fs/cgroup/x failed inside: $(errs)"
    # x stays behind in the payload: nspawn must remove it too.
    nothing_left
}

check_scope_while_running() {
    nsbg -M v2b /bin/sleep 30 2>"$E" &
    pid=$!
    if ! wait_up v2b $pid; then
        bad "never came up: $(errs)"
    else
        scope=$MS/machine-v2b.scope
        ctrls=$(cat "$scope/cgroup.controllers")
        case " $ctrls " in *" memory "*) ;; *) bad "scope's controllers '$ctrls' lack memory" ;; esac
        case " $ctrls " in *" pids "*) ;; *) bad "scope's controllers '$ctrls' lack pids" ;; esac
        grep -q '^0::/machine.slice/machine-v2b.scope/payload$' "/proc/$(head -n1 "$scope/payload/cgroup.procs")/cgroup" ||
            bad "payload is in $(cat "/proc/$(head -n1 "$scope/payload/cgroup.procs")/cgroup")"
    fi
    stop $pid 10
    echo "V2TEST NOTE scope-while-running: nspawn exited $rc after SIGTERM"
    nothing_left
    [ -z "$(sleep30)" ] || bad "sleep 30 still running: $(sleep30)"
}

check_sigkill() {
    nsbg -M v2c /bin/sleep 30 2>"$E" &
    pid=$!
    if ! wait_up v2c $pid; then
        bad "never came up: $(errs)"
        kill -KILL $pid 2>/dev/null
        wait $pid
        return
    fi
    kill -KILL $pid
    wait $pid 2>/dev/null   # no "Killed" job notice
    i=0
    while [ $i -lt 50 ]; do
        [ -e "$MS/machine-v2c.scope" ] || [ -n "$(sleep30)" ] || break
        sleep 0.1
        i=$((i + 1))
    done
    echo "V2TEST NOTE sigkill: cleaned up after $((i / 10)).$((i % 10)) s"
    [ -e "$MS/machine-v2c.scope" ] && bad "scope still there 5 s after SIGKILL: $(cd $CG && find machine.slice -type d | tr '\n' ' ')"
    [ -n "$(sleep30)" ] && bad "sleep 30 still running 5 s after SIGKILL: pid $(sleep30)"
    # The reaper removes the empty slice as nspawn would have.
    i=0
    while [ -e "$MS" ] && [ $i -lt 20 ]; do sleep 0.1; i=$((i + 1)); done
    nothing_left
}

check_leftover() {
    ns -M v2c /bin/sh -c 'echo up' >"$O" 2>"$E"
    rc=$?
    [ $rc = 0 ] || bad "same name after SIGKILL exited $rc: $(errs)"
    [ "$(cat "$O")" = up ] || bad "output '$(cat "$O")', want up"
    nothing_left
}

check_tasksmax() {
    nsbg -M v2t --property=TasksMax=20 /bin/sh -c 'i=0; while [ $i -lt 60 ]; do sleep 5 & i=$((i+1)); done; wait' >"$O" 2>&1 &
    pid=$!
    if wait_up v2t $pid; then
        pm=$(cat "$MS/machine-v2t.scope/pids.max")
        [ "$pm" = 20 ] || bad "scope's pids.max is $pm, want 20"
    else
        bad "never came up: $(tr '\n' ' ' <"$O" | cut -c1-300)"
    fi
    wait $pid
    rc=$?
    echo "V2TEST NOTE tasksmax: nspawn exited $rc"
    grep -q "can't fork" "$O" || bad "the shell reported no fork failure: $(tr '\n' ' ' <"$O" | cut -c1-300)"
    [ "$(sh -c 'echo ok')" = ok ] || bad "the host cannot fork any more"
    nothing_left
}

check_memorymax() {
    # The limits as written, so a global OOM kill cannot pass for them.
    prop v2m MemoryMax=32M memory.max 33554432
    prop v2m MemorySwapMax=0 memory.swap.max 0
    ns -M v2m --property=MemoryMax=32M --property=MemorySwapMax=0 /bin/sh -c 'x=a; while true; do x=$x$x; done' 2>"$E"
    rc=$?
    [ $rc = 137 ] || bad "exited $rc, want 137: $(errs)"
    grep -qi oom "$E" || bad "nothing about OOM on stderr: $(errs)"
    nothing_left
}

# prop NAME PROPERTY FILE WANT: the scope's FILE reads WANT (a grep -x
# pattern) while a container with --property=PROPERTY runs.
prop() {
    nsbg -M "$1" --property="$2" /bin/sleep 30 2>"$E" &
    pid=$!
    if wait_up "$1" $pid; then
        got=$(cat "$MS/machine-$1.scope/$3" 2>&1)
        echo "$got" | grep -qx "$4" || bad "--property=$2: $3 is '$got', want '$4'"
    else
        bad "--property=$2: never came up: $(errs)"
    fi
    stop $pid 10
    nothing_left
}

check_cpuquota() {
    prop v2q CPUQuota=50% cpu.max '50000 100000'
    prop v2q CPUWeight=200 cpu.weight 200
    prop v2q MemoryHigh=64M memory.high 67108864
    prop v2q AllowedCPUs=0 cpuset.cpus 0
    prop v2q IOWeight=300 io.weight 'default 300'
}

# limits-inside: the container reads its limits at its own cgroup root
# (the payload shows the scope's), as Go's GOMAXPROCS and the JVM do; root
# inside may rewrite the payload's copy, while the scope's still holds.
check_limits_inside() {
    nsbg -M v2l --property=CPUQuota=50% --property=MemoryMax=64M --property=TasksMax=50 /bin/sh -c \
        'cd /sys/fs/cgroup && echo "cpu.max $(cat cpu.max)" && echo "memory.max $(cat memory.max)" && echo "pids.max $(cat pids.max)" &&
         echo max >pids.max && echo "rewritten $(cat pids.max)"; exec sleep 30' >"$O" 2>"$E" &
    pid=$!
    i=0
    while ! grep -q '^rewritten' "$O" && alive $pid && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
    echo "V2TEST NOTE limits-inside: $(tr '\n' ' ' <"$O")"
    grep -qx 'cpu.max 50000 100000' "$O" || bad "cpu.max inside is not '50000 100000': $(tr '\n' ' ' <"$O") $(errs)"
    grep -qx 'memory.max 67108864' "$O" || bad "memory.max inside is not 67108864: $(tr '\n' ' ' <"$O") $(errs)"
    grep -qx 'pids.max 50' "$O" || bad "pids.max inside is not 50: $(tr '\n' ' ' <"$O") $(errs)"
    grep -qx 'rewritten max' "$O" || bad "root inside could not rewrite its own pids.max: $(tr '\n' ' ' <"$O") $(errs)"
    pm=$(cat "$MS/machine-v2l.scope/pids.max" 2>&1)
    [ "$pm" = 50 ] || bad "scope's pids.max is '$pm' after the container rewrote its own, want 50"
    stop $pid 10
    nothing_left
}

check_badproperty() {
    for p in Bogus=1 MemoryMax=lots; do
        ns -M v2x --property=$p /bin/true 2>"$E"
        rc=$?
        [ $rc = 1 ] || bad "--property=$p exited $rc, want 1: $(errs)"
        [ "$(wc -l <"$E")" = 1 ] || bad "--property=$p: stderr has $(wc -l <"$E") lines, want 1: $(errs)"
        head -n1 "$E" | grep -qF "nspawn: --property=$p: " || bad "--property=$p: stderr does not name the property: $(errs)"
        nothing_left
    done
}

check_stats() {
    ns -M v2s --stats=json /bin/sh -c 'i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done' 2>"$E"
    rc=$?
    [ $rc = 0 ] || bad "exited $rc: $(errs)"
    grep '^{' "$E" | grep '"cpu_user_usec"' | grep -q '"memory_peak_bytes"' ||
        bad "no JSON line with cpu_user_usec and memory_peak_bytes on stderr: $(errs)"
    nothing_left
}

# devices: only the devices systemd-nspawn gives are usable (a BPF filter
# on the payload cgroup). A node of block 7:0 made on the host and bound in
# is refused (EPERM) by the filter alone: the container's capabilities and
# user namespace do not matter to a host filesystem's node. With
# DeviceAllow=/dev/block/7:0 r it passes the filter, to find no driver
# (the VM has no loop devices) or an empty one.
check_devices() {
    mkdir -p /tmp/devs
    mknod /tmp/devs/blk b 7 0 2>/dev/null
    s='echo x >/dev/null && head -c1 /dev/zero >/dev/null && echo NULL_OK
head -c1 /mnt/blk 2>&1 >/dev/null | sed "s/^/OPEN /"
mknod /dev/blk b 7 0 2>&1 && echo MKNOD_OK'
    ns -M v2d --bind=/tmp/devs:/mnt /bin/sh -c "$s" >"$O" 2>"$E"
    echo "V2TEST NOTE devices: $(tr '\n' ' ' <"$O")"
    grep -q '^NULL_OK$' "$O" || bad "/dev/null or /dev/zero unusable: $(tr '\n' ' ' <"$O") $(errs)"
    grep -q '^OPEN .*Operation not permitted' "$O" || bad "the bound block device opened: $(tr '\n' ' ' <"$O") $(errs)"
    grep -q '^MKNOD_OK$' "$O" && bad "mknod b 7 0 allowed inside"
    nothing_left
    ns -M v2d --bind=/tmp/devs:/mnt --property='DeviceAllow=/dev/block/7:0 r' /bin/sh -c "$s" >"$O" 2>"$E"
    echo "V2TEST NOTE devices with DeviceAllow: $(tr '\n' ' ' <"$O")"
    grep -q '^NULL_OK$' "$O" || bad "DeviceAllow=/dev/block/7:0 r: /dev/null unusable: $(errs)"
    grep -q '^OPEN .*Operation not permitted' "$O" && bad "DeviceAllow=/dev/block/7:0 r: still refused: $(tr '\n' ' ' <"$O")"
    grep -q '^MKNOD_OK$' "$O" && bad "DeviceAllow=/dev/block/7:0 r: mknod allowed without m"
    nothing_left
    rm -rf /tmp/devs
}

# -U on this kernel (6.1): the tree is on the initramfs, which takes no
# ID-mapped mount, so auto falls back to chown; root inside is a host UID
# of the picked range and still manages its delegated cgroup. The tree is
# chowned back after.
check_userns() {
    ns -M v2u -U /bin/sh -c 'cat /proc/self/uid_map; mkdir /sys/fs/cgroup/x && echo MKDIR_OK; touch /root/f && echo WRITE_OK; rm -f /root/f' >"$O" 2>"$E"
    rc=$?
    [ $rc = 0 ] || bad "exited $rc: $(errs)"
    set -- $(head -n1 "$O")
    [ "$1" = 0 ] && [ "$2" != 0 ] && [ "$3" = 65536 ] || bad "uid_map inside: $(head -n1 "$O")"
    grep -q '^MKDIR_OK$' "$O" || bad "mkdir in the delegated cgroup failed: $(errs)"
    grep -q '^WRITE_OK$' "$O" || bad "root inside cannot write its tree: $(errs)"
    echo "V2TEST NOTE userns: base $2, tree owned by $(stat -c %u "$T") on the host"
    nothing_left
    ns --private-users=0 --private-users-ownership=chown /bin/true 2>"$E" || bad "chown back: $(errs)"
    [ "$(stat -c %u:%g "$T/bin")" = 0:0 ] || bad "tree not chowned back: $(stat -c %u:%g "$T/bin")"
}

# initramfs: what initramfs.sh found, run by init.sh before the
# switch_root while / was still the initramfs.
check_initramfs() {
    [ -f /v2/initramfs.log ] && cat /v2/initramfs.log
    if [ -f /v2/initramfs.why ]; then
        why=$(cat /v2/initramfs.why)
    else
        bad "initramfs.sh left no result"
    fi
}

# V2_CHECKS (from run.sh, through the kernel command line) picks checks.
for c in $(echo "${V2_CHECKS:-initramfs basic namespace scope-while-running sigkill leftover tasksmax memorymax cpuquota limits-inside badproperty stats devices userns}" | tr , " "); do
    check $c
done
echo "V2TEST DONE"
