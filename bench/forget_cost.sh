#!/usr/bin/env bash
# The all-process loop's cost with a full blocks map: one process holds HOLD live blocks (the
# map is sized for 1 M) while short processes that leave blocks behind exit all the time, so
# that every report forgets a few histories. Prints the tracer's tick lines (-v "tick:": sample,
# symbolize, report, forget) as medians and maxima over the run.
# Usage: bench/forget_cost.sh [BUILD_DIR=build] [SECONDS=30] [HOLD=900000]
#   FORGET_LINE: a regex for builds without the "tick:" line (another log line with "forget N ms").
set -euo pipefail
build=${1:-build}
seconds=${2:-30}
hold=${3:-900000}
tracer=${TRACER:-$build/edleak-bpf}  # TRACER: another build of it, to compare
holder=$build/bench/alloc_loop
child=$build/tests/testprogs/leaky_child
[[ -x $tracer && -x $holder && -x $child ]] || { echo "forget_cost: build first" >&2; exit 2; }
[[ $(id -u) -eq 0 ]] || { echo "forget_cost: needs root (BPF)" >&2; exit 2; }
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

"$tracer" --probe-all -v -i 500ms -d "${seconds}s" --format json --top 5 -o /dev/null 2>"$work/tracer.log" &
tracer_pid=$!
until grep -q "tracing every process" "$work/tracer.log"; do sleep 0.1; done
"$holder" 0 1 "$hold" $((seconds + 5)) >"$work/holder.out" &
until grep -q holding "$work/holder.out"; do sleep 0.1; done
echo "forget_cost: $hold blocks held by pid $!"
end=$((SECONDS + seconds - 3))
while ((SECONDS < end)); do  # ~5 short processes a second, each leaving 20 blocks
  "$child" 20 5 &
  sleep 0.2
done
wait "$tracer_pid" || true
python3 - "$work/tracer.log" <<'PY'
import re, statistics, sys
lines = open(sys.argv[1]).read().splitlines()
fields = {}
for l in lines:
    m = re.search(r"tick: sample ([\d.]+) ms, symbolize ([\d.]+) ms .*report ([\d.]+) ms, forget ([\d.]+) ms \((\d+) histories\)", l)
    if m:
        s, y, r, f, n = map(float, m.groups())
        if n == 0: continue  # nothing forgotten this tick
        for k, v in (("sample", s), ("symbolize", y), ("report", r), ("forget", f), ("tick", s + y + r + f)):
            fields.setdefault(k, []).append(v)
    m = re.search(r"forget ([\d.]+) ms \((\d+) histories\)$", l)
    if m and "tick:" not in l and int(m.group(2)) > 0:
        fields.setdefault("forget", []).append(float(m.group(1)))
live = [int(m.group(1)) for l in lines for m in [re.search(r"(\d+) live blocks", l)] if m]
ticks = sum(1 for l in lines if "state:" in l)
print(f"forget_cost: {ticks} ticks, {len(fields.get('forget', []))} of them forgot histories; "
      f"live blocks at most {max(live) if live else '?'}")
for k, v in fields.items():
    print(f"forget_cost: {k:9} median {statistics.median(v):8.1f} ms, max {max(v):8.1f} ms")
PY
