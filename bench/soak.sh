#!/usr/bin/env bash
# Soak: edleak-bpf in all-process mode for SECONDS while a fork/exec workload starts thousands of
# short processes a minute (one in ten leaks 60 blocks of 1000 bytes from leak_in_child, the others
# allocate and exit). Prints, every SOAK_EVERY (20) ticks, what the tracer holds (histories, sites, stacks
# here and in the kernel, live blocks, map memory, its RSS) and the loop time a tick; at the end checks that:
#   - every leaking process that ran to its end has a final section with its leak_in_child site,
#   - nothing was lost (stack errors, lost allocs/sites/events: 0),
#   - the tracer's tables follow the live processes (its last state is not a pile of the dead),
#   - its RSS stayed flat (last <= 1.5 x the one at a fifth of the run, + 8 MiB).
# Exit status 0 when all hold. Usage: bench/soak.sh [SECONDS=600] [BUILD_DIR=build]
set -euo pipefail
seconds=${1:-600}
build=${2:-build}
tracer=$build/edleak-bpf
child=$build/tests/testprogs/leaky_child
[[ -x $tracer && -x $child ]] || { echo "soak: build first ($tracer, $child)" >&2; exit 2; }
if [[ $(id -u) -ne 0 ]]; then
  echo "soak: needs root (BPF)" >&2
  [[ ${CI:-} == true ]] && exit 1  # under CI a live test that cannot run fails
  exit 77                          # ctest: skipped
fi
# SOAK_KEEP=DIR keeps the tracer's log and reports there.
work=${SOAK_KEEP:-$(mktemp -d)}
mkdir -p "$work"
rm -f "$work/leaky.pids"
trap 'kill $(jobs -p) 2>/dev/null || true; [[ -n ${SOAK_KEEP:-} ]] || rm -rf "$work"' EXIT

# SOAK_TRACER_ARGS: more options (e.g. --max-stacks 262144 where other work on the machine, a
# few C++ compilers, holds more distinct stacks than the default 65,536).
# shellcheck disable=SC2086
"$tracer" --probe-all -v -i 500ms -d "${seconds}s" --format json -a --top 5 ${SOAK_TRACER_ARGS:-} \
  -o "$work/reports.json" 2>"$work/tracer.log" &
tracer_pid=$!
echo "$tracer_pid" >"$work/tracer.pid"
sleep 3  # loaded and attached

# The workload: ~50 processes a second, every tenth one leaking; leaky pids are listed.
end=$((SECONDS + seconds - 8))
started=0
while ((SECONDS < end)); do
  for i in $(seq 1 9); do /bin/true; sh -c ':' ; done
  "$child" 60 20 &
  echo $! >>"$work/leaky.pids"
  started=$((started + 19))
  sleep 0.3
done
wait $(cat "$work/leaky.pids") 2>/dev/null || true
# Processes on the machine near the tracer's last state: what its tables may hold at most.
ls /proc | grep -c '^[0-9]' >"$work/live.count"
wait "$tracer_pid" || { echo "soak: tracer failed"; tail -5 "$work/tracer.log"; exit 1; }

states=$(grep -c 'state:' "$work/tracer.log" || true)
echo "soak: ${seconds}s, ~$started processes started ($(wc -l <"$work/leaky.pids") leaking); tracer states every ${SOAK_EVERY:-20} ticks:"
awk -v every=${SOAK_EVERY:-20} '/state:/ { n++; if (n % every == 1) { sub(/.*state: /, ""); print "  " $0 } }' "$work/tracer.log"
python3 - "$work" <<'PY'
import json, os, re, sys
work = sys.argv[1]
leaky = {int(l) for l in open(f"{work}/leaky.pids") if l.strip()}
reported, stats = {}, {}
for line in open(f"{work}/reports.json"):
    r = json.loads(line)
    stats = r["stats"]
    for p in r["processes"]:
        if p["pid"] in leaky and p["comm"] == "leaky_child" and p["exited"]:
            # Its first allocation may have a stack of its own (before its tables were read).
            listed = p["leakers"] + p.get("other_stacks", [])  # -a lists the others apart
            sites = [l for l in listed if l["stack"] and l["stack"][0]["symbol"] == "leak_in_child"]
            if sites: reported[p["pid"]] = sum(l["total_allocs"] for l in sites)
missing = sorted(leaky - reported.keys())
exact = sum(1 for v in reported.values() if v == 60)
print(f"soak: leaking processes {len(leaky)}, with a final section {len(reported)}, exactly 60 allocs {exact}")
print(f"soak: final stats {stats}")
states = [l for l in open(f"{work}/tracer.log") if "state:" in l]
def rss(l): return int(re.search(r"rss\s+(\d+) kB", l).group(1))
def hist(l): return int(re.search(r"(\d+) process histories", l).group(1))
early, last = states[len(states) // 5], states[-1]
print(f"soak: rss {rss(early)} kB at a fifth of the run, {rss(last)} kB at the end; histories {hist(last)} at the end")
# The kernel sites map over the run (the tracer's own tables follow it): how often it was full.
ksites = sorted(int(re.search(r"kernel: (\d+) sites", l).group(1)) for l in states)
capacity = int(os.environ.get("SOAK_MAX_STACKS", "65536"))
print(f"soak: kernel sites over {len(ksites)} ticks: median {ksites[len(ksites) // 2]}, max {ksites[-1]} of {capacity}; "
      f"ticks with the map full: {sum(1 for k in ksites if k >= capacity)}; rss max {max(rss(l) for l in states)} kB")
room = [l for l in open(f"{work}/tracer.log") if "room:" in l and "idle sites evicted" in l]
if room: print(f"soak: {len(room)} ticks made room; the last: {room[-1].split('room: ', 1)[1].strip()}")
# SOAK_STRICT=0 (the CI run): what holds today must hold (nothing lost, tables that follow the
# live processes); what does not yet on a shared machine (every leaking process's final section,
# flat RSS: see BENCHMARKS.md) is printed, not failed.
strict = os.environ.get("SOAK_STRICT", "1") != "0"
ok = True
def check(failed, message, always=False):
    global ok
    if not failed: return
    if strict or always:
        print(f"soak: FAIL: {message}"); ok = False
    else:
        print(f"soak: not yet: {message}")
ticks = [sum(map(float, m.groups())) for l in open(f"{work}/tracer.log")
         for m in [re.search(r"tick: sample ([\d.]+) ms, symbolize ([\d.]+) ms .*report ([\d.]+) ms, forget ([\d.]+) ms", l)] if m]
if ticks:
    ticks.sort()
    print(f"soak: {len(ticks)} ticks (one a 500 ms interval at best): loop time median {ticks[len(ticks) // 2]:.0f} ms, "
          f"90th percentile {ticks[len(ticks) * 9 // 10]:.0f} ms, max {ticks[-1]:.0f} ms")
check(len(missing) > len(leaky) // 2, f"{len(missing)} of {len(leaky)} leaking processes without a final section", always=True)
check(bool(missing), f"{len(missing)} leaking processes without a final section: {missing[:10]}")
for k in ("stack_errors", "lost_allocs", "lost_sites", "lost_events"):
    check(stats.get(k, 0) != 0, f"{k} = {stats.get(k)}", always=True)
check(rss(last) > rss(early) * 1.5 + 8192, "tracer RSS grew")
# What it holds per process follows the live ones: at most the processes alive at the end, and
# one tick's ended histories (~25 here), whatever the run's length.
live = int(open(f"{work}/live.count").read()) + 64
def held(l):
    return {k: int(re.search(p, l).group(1)) for k, p in (
        ("process histories", r"(\d+) process histories"), ("symbolizer histories", r"symbolizer (\d+) histories"),
        ("remembered mappings", r"\((\d+) remembered\)"), ("noted forks", r"noted forks (\d+)"))}
print(f"soak: at the end {held(last)}, processes alive {live - 64}")
for what, n in held(last).items():  # holds in the CI run too: a table that grows with the dead fails it
    check(n > live, f"the tracer holds {n} {what}, more than the {live - 64} processes alive (+64)", always=True)
sys.exit(0 if ok else 1)
PY
