#!/usr/bin/env bash
# The reachability scan's cost (issue 12), run as root from the repository:
#   sudo bench/scan_bench.sh [RUNS]      (default 3)
# 1. At a command's exit: bench/scan_target.c with 1 GB of heap in 1,000,000 blocks of 1 KiB
#    (every page written, one block in ten definitely lost), traced with `-- CMD`: the scan at its
#    exit stop, frozen time as the report gives it (target: < 2 s).
# 2. With -p: the same program with 100 MB (100,000 blocks), allocated once the tracer is attached,
#    scanned on demand (SIGUSR1) RUNS times: the time it stays frozen each time.
# Also prints the marking alone on the same heap shape (bench_scan, in-process).
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
scripts/setup
scripts/build >/dev/null
build=${EDLEAK_BUILD_DIR:-build}
tracer=$build/edleak-bpf
target=$build/bench/scan_target
scratch=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$scratch"
}
trap cleanup EXIT

frozen_of() { grep -o '"frozen_ms":[0-9.]*' | cut -d: -f2; }
median() { sort -g | awk '{v[NR]=$1} END {print (NR % 2) ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2}'; }
wait_for() {  # file, text
  for _ in $(seq 1 600); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
  echo "scan_bench.sh: timed out waiting for '$2' in $1" >&2
  exit 1
}

echo "== exit scan: 1,000,000 blocks of 1 KiB (1 GB), $runs runs"
exit_ms=()
for ((r = 1; r <= runs; r++)); do
  "$tracer" -v --max-allocs 2000000 -i 30s --format json -o "$scratch/exit.json" -- "$target" 1000000 1024 exit \
    2> "$scratch/exit.err"
  grep 'scanned pid' "$scratch/exit.err" | sed 's/^edleak-bpf: /  /'
  exit_ms+=("$(tail -1 "$scratch/exit.json" | frozen_of | tail -1)")
done
echo "  frozen at exit, median of $runs: $(printf '%s\n' "${exit_ms[@]}" | median) ms (runs: ${exit_ms[*]})"

echo "== -p scan: 100,000 blocks of 1 KiB (100 MB), $runs scans on SIGUSR1"
"$target" 100000 1024 signal 600 > "$scratch/target.out" &
target_pid=$!
pids+=("$target_pid")
wait_for "$scratch/target.out" waiting
"$tracer" -v -p "$target_pid" -i 10s --format json -o "$scratch/p.json" 2> "$scratch/p.err" &
tracer_pid=$!
pids+=("$tracer_pid")
wait_for "$scratch/p.err" "tracing pid"
sleep 0.5
kill -USR2 "$target_pid"
wait_for "$scratch/target.out" ready
for ((r = 1; r <= runs; r++)); do
  kill -USR1 "$tracer_pid"
  for _ in $(seq 1 100); do (($(grep -c 'scanned pid' "$scratch/p.err") >= r)) && break; sleep 0.1; done
  sleep 0.5
done
kill -INT "$tracer_pid"
wait "$tracer_pid" || true
grep 'scanned pid' "$scratch/p.err" | sed 's/^edleak-bpf: /  /'
p_ms=$(grep -o 'frozen [0-9.]* ms' "$scratch/p.err" | awk '{print $2}')
echo "  frozen per -p scan, median of $runs: $(echo "$p_ms" | median) ms (runs: $(echo $p_ms))"

echo "== marking alone (bench_scan, in-process heap of 1 GB)"
"$build/bench/bench_scan" 1000000 1024 "$runs" | sed 's/^/  /'
