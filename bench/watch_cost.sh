#!/usr/bin/env bash
# What the watch mode (edleak-bpf with neither -p nor a command) costs, as root from the repository:
#   bench/watch_cost.sh [RUNS] [PROCESSES]     (defaults: 5 runs, 1000 processes)
# 1. The churn loop (bench/alloc_loop.c: malloc+free pairs) untraced, then untraced while the
#    watch mode runs (the loop is not a suspect: its heap is flat), interleaved RUNS times in
#    ABBA order;
#    medians and their ratio (the issue's target: <= 1.05x).
# 2. The watcher's own CPU per interval with PROCESSES more processes on the machine (sleepers):
#    its user+system time between 10 s and 30 s of a run at -i 1s, per interval.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
processes=${2:-1000}
build=${EDLEAK_BUILD_DIR:-build}
loop=$build/bench/alloc_loop
tracer=$build/edleak-bpf
[[ -x $loop && -x $tracer ]] || { echo "watch_cost: build first ($loop, $tracer)" >&2; exit 2; }
pairs=${WATCH_COST_PAIRS:-100000000}  # ~1.5 s a run: each run spans at least one watcher tick
median() { sort -g | awk '{v[NR]=$1} END {print (NR % 2) ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2}'; }
ns_of() { awk '/^ns_per_pair/ {print $2}'; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }  # utime + stime, in clock ticks
log=$(mktemp)
# Until the tracer says it is watching (loading takes seconds, more on a loaded machine).
wait_watching() { until grep -q "watching every" "$log"; do sleep 0.2; done; }

untraced=() watched=()
measure_watched() {
  "$tracer" -i 1s -o /dev/null 2>"$log" &
  tracer_pid=$!
  wait_watching
  sleep 3  # a few intervals in
  watched+=("$("$loop" $pairs | ns_of)")
  kill -INT $tracer_pid; wait $tracer_pid || true
}
# ABBA order: the run that goes second in a round tends to be faster (caches, clocks), so the
# order alternates between rounds instead of favouring one side.
for ((r = 1; r <= runs; r++)); do
  echo "run $r/$runs..." >&2
  if ((r % 2)); then
    untraced+=("$("$loop" $pairs | ns_of)")
    measure_watched
  else
    measure_watched
    untraced+=("$("$loop" $pairs | ns_of)")
  fi
done
echo "untraced: ${untraced[*]}" >&2
echo "watched:  ${watched[*]}" >&2
u=$(printf '%s\n' "${untraced[@]}" | median)
w=$(printf '%s\n' "${watched[@]}" | median)
printf '%-34s %10s\n' "churn loop" "ns/pair (median of $runs)"
printf '%-34s %10.1f\n' "untraced" "$u"
printf '%-34s %10.1f   %.3fx\n' "untraced, watch mode running" "$w" "$(echo "$w / $u" | bc -l)"

echo "starting $processes sleepers..." >&2
sleepers=()
for ((i = 0; i < processes; i++)); do sleep 300 & sleepers+=($!); done
trap 'kill "${sleepers[@]}" 2>/dev/null || true; rm -f "$log"' EXIT
total=$(ls -d /proc/[0-9]* | wc -l)
"$tracer" -i 1s -d 40s -o /dev/null 2>"$log" &
tracer_pid=$!
wait_watching
sleep 5
before=$(cpu_ticks $tracer_pid)
sleep 20
after=$(cpu_ticks $tracer_pid)
wait $tracer_pid || true
hz=$(getconf CLK_TCK)
printf 'watcher CPU per 1 s interval with %d processes on the machine: %.1f ms\n' "$total" \
  "$(echo "($after - $before) * 1000 / $hz / 20" | bc -l)"
