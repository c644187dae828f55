#!/usr/bin/env bash
# Start-up benchmark: ours vs bwrap vs systemd-nspawn vs plain unshare, all
# running /bin/true in the bookworm tree. A report, not a test: exits 0
# whatever the ratios are.
# Usage: tests/bench.sh ./nspawn   (the ours entry is skipped if it's missing)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
nspawn=${1:-./nspawn}
[[ -f $nspawn && -x $nspawn ]] && nspawn=$(readlink -f "$nspawn")
runs=${BENCH_RUNS:-100} warmup=${BENCH_WARMUP:-10}

pkgs=()
for p in hyperfine bubblewrap systemd-container; do
    [[ $(dpkg-query -W -f='${Status}' "$p" 2>/dev/null) == "install ok installed" ]] || pkgs+=("$p")
done
if ((${#pkgs[@]})); then
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q "${pkgs[@]}" || { apt-get update -q && apt-get install -y -q "${pkgs[@]}"; }
fi

tree=$("$here/trees/build.sh" bookworm)
trees=$(dirname "$tree")

# systemd-nspawn may modify the tree (resolv.conf, machine-id...), so it gets
# its own copy, refreshed whenever the pristine tree's stamp changes.
sdn=$trees/bookworm-sdn
if ! cmp -s "$trees/bookworm.stamp" "$sdn.stamp" 2>/dev/null; then
    echo "bench.sh: copying tree to $sdn" >&2
    rm -rf "$sdn" "$sdn.stamp"
    cp -a "$tree" "$sdn.tmp.$$" && mv "$sdn.tmp.$$" "$sdn"
    cp "$trees/bookworm.stamp" "$sdn.stamp"
fi

# name|command. Commands are split on whitespace by hyperfine -N, so no quoting.
cands=(
    "ours|$nspawn -q -D $tree /bin/true"
    "bwrap|bwrap --bind $tree / --proc /proc --dev /dev --unshare-all /bin/true"
    "systemd-nspawn|systemd-nspawn --register=no --keep-unit -q -D $sdn /bin/true"
    "unshare|unshare -mpfiunC --mount-proc /bin/true"
    # A picked, ID-mapped range (-U): both tools map the tree the same way.
    "ours -U|$nspawn -q -D $tree -U /bin/true"
    "systemd-nspawn -U|systemd-nspawn --register=no --keep-unit -q -D $sdn -U /bin/true"
)
# Smoke-run each once; hyperfine aborts on a failing command, so drop those.
args=()
for c in "${cands[@]}"; do
    n=${c%%|*} cmd=${c#*|}
    if [[ $n == ours* && ! ( -f $nspawn && -x $nspawn ) ]]; then
        echo "bench.sh: skipping ours: $nspawn not found" >&2; continue
    fi
    if ! out=$($cmd 2>&1); then
        echo "bench.sh: skipping $n: '$cmd' failed: $out" >&2; continue
    fi
    args+=(-n "$n" "$cmd")
done

((${#args[@]})) || { echo "bench.sh: nothing to benchmark" >&2; exit 0; }

# -N (no intermediate shell) exists since hyperfine 1.13.
shell=()
hyperfine --help | grep -q -- '--shell=none' && shell=(-N)

json=$(mktemp --suffix=.json) spaced=$(mktemp --suffix=.json)
trap 'rm -f "$json" "$spaced"' EXIT
echo "start-up, back to back:"
hyperfine "${shell[@]}" --warmup "$warmup" --runs "$runs" --export-json "$json" "${args[@]}" || true
[[ -s $json ]] || exit 0
# Starts 50 ms apart, the normal case: back-to-back starts can fall inside
# the previous start's RCU grace period and skip waits a lone start pays.
spaced_args=()
for ((i = 0; i < ${#args[@]}; i += 3)); do
    [[ ${args[i+1]} == ours || ${args[i+1]} == bwrap || ${args[i+1]} == systemd-nspawn ]] && spaced_args+=("${args[@]:i:3}")
done
echo
echo "start-up, 50 ms apart:"
hyperfine "${shell[@]}" --warmup 3 --runs "${BENCH_SPACED_RUNS:-60}" --prepare 'sleep 0.05' --export-json "$spaced" "${spaced_args[@]}" || true

python3 - "$json" "$spaced" <<'EOF'
import json, os, sys

def load(path):
    if not os.path.getsize(path):
        return {}
    out = {}
    for r in json.load(open(path))["results"]:
        t = sorted(r["times"])
        out[r["command"]] = (r["median"] * 1000, t[int(0.9 * (len(t) - 1))] * 1000)  # command = the -n name
    return out

for title, res in (("back to back", load(sys.argv[1])), ("50 ms apart", load(sys.argv[2]))):
    if not res:
        continue
    print(f"\n{title}\n{'name':<20}{'median ms':>10}{'p90 ms':>10}{'p90/med':>9}")
    for n, (m, p) in res.items():
        print(f"{n:<20}{m:>10.2f}{p:>10.2f}{p / m:>9.2f}")
    if "ours" in res:
        for o in ("bwrap", "systemd-nspawn", "unshare"):
            if o in res:
                print(f"{'ours/' + o:<20}{res['ours'][0] / res[o][0]:>10.2f}{res['ours'][1] / res[o][1]:>10.2f}")
    if "ours -U" in res and "systemd-nspawn -U" in res:
        print(f"{'ours/sdn, both -U':<20}{res['ours -U'][0] / res['systemd-nspawn -U'][0]:>10.2f}")
EOF

# Ephemeral (-x): ours puts an overlay over the tree, so its start does not
# grow with the tree; systemd-nspawn copies the tree (a snapshot only on
# btrfs). Two sizes: the bookworm tree, and a copy of it with 1 GiB more in
# 16384 files, cached beside it.
if [[ ${BENCH_EPHEMERAL:-1} == 1 && -x $nspawn ]]; then
    big=$trees/bookworm-1g
    if ! cmp -s "$trees/bookworm.stamp" "$big.stamp" 2>/dev/null; then
        echo "bench.sh: making $big (the bookworm tree + 1 GiB)" >&2
        rm -rf "$big" "$big.stamp" "$big.tmp"
        cp -a "$tree" "$big.tmp"
        mkdir "$big.tmp/bulk"
        for ((d = 0; d < 16; d++)); do
            mkdir "$big.tmp/bulk/$d"
            head -c 64M /dev/urandom | split -b 64K -a 4 - "$big.tmp/bulk/$d/f"
        done
        mv "$big.tmp" "$big"
        cp "$trees/bookworm.stamp" "$big.stamp"
    fi
    xjson=$(mktemp --suffix=.json) sjson=$(mktemp --suffix=.json)
    echo
    echo "ephemeral: -x /bin/true on the bookworm tree ($(du -sh "$tree" | cut -f1)) and on it + 1 GiB"
    hyperfine "${shell[@]}" --warmup 3 --runs "${BENCH_EPHEMERAL_RUNS:-50}" --export-json "$xjson" \
        -n "ours" "$nspawn -q -D $tree /bin/true" \
        -n "ours -x" "$nspawn -q -x -D $tree /bin/true" \
        -n "ours -x 1G" "$nspawn -q -x -D $big /bin/true" || true
    hyperfine "${shell[@]}" --runs "${BENCH_SDN_EPHEMERAL_RUNS:-3}" --export-json "$sjson" \
        -n "systemd-nspawn -x" "systemd-nspawn --register=no --keep-unit -q -x -D $tree /bin/true" \
        -n "systemd-nspawn -x 1G" "systemd-nspawn --register=no --keep-unit -q -x -D $big /bin/true" || true
    python3 - "$xjson" "$sjson" <<'EOF'
import json, os, sys
m = {}
for path in sys.argv[1:]:
    if os.path.getsize(path):
        for r in json.load(open(path))["results"]:
            m[r["command"]] = r["median"] * 1000
for n, v in m.items():
    print(f"{n:<22}{v:>10.2f} ms")
def ratio(a, b, what):
    if a in m and b in m:
        print(f"{what:<40}{m[a] / m[b]:>8.3f}")
ratio("ours -x", "ours", "ours -x / ours plain")
ratio("ours -x 1G", "ours -x", "ours -x, 1 GiB more / bookworm")
ratio("ours -x", "systemd-nspawn -x", "ours -x / systemd-nspawn -x")
ratio("ours -x 1G", "systemd-nspawn -x 1G", "ours -x / systemd-nspawn -x, 1 GiB more")
ratio("systemd-nspawn -x 1G", "systemd-nspawn -x", "systemd-nspawn -x, 1 GiB more / bookworm")
EOF
    rm -f "$xjson" "$sjson"
fi

# Network: -n against the plain start, both run in a network namespace of
# their own (unshare -n) so nothing touches this machine's links, firewall
# or sysctls; systemd-nspawn -n beside them (it makes the links and
# configures nothing).
if [[ ${BENCH_NETWORK:-1} == 1 && -x $nspawn ]]; then
    njson=$(mktemp --suffix=.json)
    echo
    echo "network: -n /bin/true, each in a fresh network namespace"
    hyperfine "${shell[@]}" --warmup 3 --runs "${BENCH_NETWORK_RUNS:-50}" --export-json "$njson" \
        -n "ours" "unshare -n $nspawn -q -D $tree /bin/true" \
        -n "ours -n" "unshare -n $nspawn -q -D $tree -n /bin/true" \
        -n "ours -n -p 8080" "unshare -n $nspawn -q -D $tree -n -p 8080 /bin/true" \
        -n "systemd-nspawn" "unshare -n systemd-nspawn --register=no --keep-unit -q -D $sdn --private-network /bin/true" \
        -n "systemd-nspawn -n" "unshare -n systemd-nspawn --register=no --keep-unit -q -D $sdn -n /bin/true" || true
    python3 - "$njson" <<'EOF'
import json, os, sys
if os.path.getsize(sys.argv[1]):
    m = {r["command"]: r["median"] * 1000 for r in json.load(open(sys.argv[1]))["results"]}
    for n, v in m.items():
        print(f"{n:<22}{v:>10.2f} ms")
    for a, b in (("ours -n", "ours"), ("ours -n -p 8080", "ours"), ("systemd-nspawn -n", "systemd-nspawn")):
        if a in m and b in m:
            print(f"{a + ' - ' + b:<40}{m[a] - m[b]:>+8.2f} ms")
    if "ours -n" in m and "systemd-nspawn -n" in m:
        print(f"{'ours -n / systemd-nspawn -n':<40}{m['ours -n'] / m['systemd-nspawn -n']:>8.3f}")
EOF
    rm -f "$njson"
fi

# A running container's supervisor: threads and proportional memory of
# each nspawn process, with BENCH_MANY containers running at once.
if [[ ${BENCH_SUPERVISOR:-1} == 1 && -x $nspawn ]]; then
    many=${BENCH_MANY:-200}
    echo
    # --read-only: a writer holds the tree's lock, so only one would run.
    echo "supervisor: $many containers of 'sleep 120' at once, --read-only"
    pids=()
    for ((i = 0; i < many; i++)); do
        "$nspawn" -q --read-only -D "$tree" -M "bench-sup-$i" sleep 120 </dev/null >/dev/null 2>&1 &
        pids+=($!)
    done
    # Ready once every container runs its sleep.
    for ((t = 0; t < 600; t++)); do
        n=$(pgrep -x sleep -c || true)
        ((n >= many)) && break
        sleep 0.1
    done
    python3 - "${pids[@]}" <<'EOF'
import sys
threads, pss = [], []
for pid in sys.argv[1:]:
    try:
        status = open(f"/proc/{pid}/status").read()
        rollup = open(f"/proc/{pid}/smaps_rollup").read()
    except OSError:
        continue
    threads.append(int(next(l.split()[1] for l in status.splitlines() if l.startswith("Threads:"))))
    pss.append(int(next(l.split()[1] for l in rollup.splitlines() if l.startswith("Pss:"))))
if pss:
    threads.sort(); pss.sort()
    print(f"nspawn processes {len(pss)}: threads median {threads[len(threads)//2]} max {threads[-1]}; "
          f"PSS median {pss[len(pss)//2] / 1024:.2f} MB, max {pss[-1] / 1024:.2f} MB")
EOF
    kill -TERM "${pids[@]}" 2>/dev/null || true
    wait "${pids[@]}" 2>/dev/null || true
fi

# Boot: seconds to READY=1 and from SIGTERM to exit, booting the systemd
# tree (a fresh copy per run) under each tool, as a Go benchmark.
if [[ ${BENCH_BOOT:-1} == 1 && -x $nspawn ]]; then
    echo
    echo "boot: systemd tree to READY=1, then SIGTERM to exit (Go benchmark)"
    out=$(cd "$here" && NSPAWN_BIN=$nspawn go test -count=1 -run '^$' -bench Boot -benchtime "${BENCH_BOOT_RUNS:-1}x" . 2>&1) || true
    echo "$out" | grep -E '^Benchmark' || echo "$out" | tail -5
    echo "$out" | python3 -c "$(cat <<'PY'
import re, sys
m = {}
for name, rest in re.findall(r"BenchmarkBoot/(\S+?)-\d+\s+\d+\s+\d+ ns/op(.*)", sys.stdin.read()):
    m[name] = {k: float(v) for v, k in re.findall(r"([\d.]+) (s-to-\w+)", rest)}
if "nspawn" in m and "systemd-nspawn" in m:
    for k in ("s-to-ready", "s-to-exit"):
        print("boot %s ours/systemd-nspawn %.2f (lower is better)" % (k, m["nspawn"][k] / m["systemd-nspawn"][k]))
PY
)"
fi

# Console throughput: 1 GiB through the interactive console of each tool,
# as a Go benchmark (it needs a pty pair to play the terminal).
[[ ${BENCH_CONSOLE:-1} == 1 && -x $nspawn ]] || exit 0
echo
echo "console: 1 GiB of zeros through the interactive console (Go benchmark)"
out=$(cd "$here" && NSPAWN_BIN=$nspawn go test -count=1 -run '^$' -bench ConsoleCat -benchtime "${BENCH_CONSOLE_RUNS:-2}x" . 2>&1) || true
echo "$out" | grep -E '^Benchmark' || { echo "$out" | tail -5; exit 0; }
echo "$out" | python3 -c "$(cat <<'PY'
import re, sys
rate = {m.group(1): float(m.group(2)) for m in re.finditer(
    r"ConsoleCat/(\S+?)-\d+\s+\d+\s+\d+ ns/op\s+([\d.]+) MB/s", sys.stdin.read())}
if "nspawn" in rate and "systemd-nspawn" in rate:
    ratio = rate["nspawn"] / rate["systemd-nspawn"]
    print("console throughput ours/systemd-nspawn %.2f (higher is better)" % ratio)
PY
)"

# systemd-nspawn 252 run with --keep-unit outside any unit (as above, on a
# host without systemd) leaves the payload/ and supervisor/ cgroups it made
# below the caller's own; they are empty once its containers are gone.
cg=$(awk -F: '$1 == "0" { print $3 }' /proc/self/cgroup)
v2=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/self/mounts)
if [[ -n $v2 ]]; then
    rmdir "$v2$cg/payload/init.scope" "$v2$cg/payload" "$v2$cg/supervisor" 2>/dev/null || true
fi
exit 0
