#!/usr/bin/env bash
# A real program's test suite, traced: a subset of CPython's regression tests (Debian's
# libpython3.11-testsuite) run untraced, then again while edleak-bpf traces every process
# (--probe-all). Compares the result of every test case (JUnit XML from regrtest), prints the
# slowdown and the tracer's own figures (lost allocations, sites, events, stack errors).
# Exit status 0 when every test case has the same result both times.
# Usage: bench/cpython_suite.sh [BUILD_DIR=build] [TEST...]
#   CPYTHON_KEEP=DIR keeps the logs, XML and reports there.
set -euo pipefail
build=${1:-build}
shift || true
tests=("$@")
((${#tests[@]})) || tests=(test_json test_re test_collections test_functools test_itertools test_dict test_set
                           test_string test_textwrap test_datetime test_subprocess test_pickle test_statistics
                           test_enum test_dataclasses test_typing)
python=python3.11
tracer=$build/edleak-bpf
[[ -x $tracer ]] || { echo "cpython_suite: build first ($tracer)" >&2; exit 2; }
[[ -f /usr/lib/python3.11/test/test_json/__init__.py ]] ||
  { echo "cpython_suite: apt-get install libpython3.11-testsuite" >&2; exit 2; }
[[ $(id -u) -eq 0 ]] || { echo "cpython_suite: needs root (BPF)" >&2; exit 2; }
work=${CPYTHON_KEEP:-$(mktemp -d)}
mkdir -p "$work"
trap 'kill $(jobs -p) 2>/dev/null || true; [[ -n ${CPYTHON_KEEP:-} ]] || rm -rf "$work"' EXIT

# One run of the suite; prints its wall time in seconds. Its own status is not ours: the
# comparison is of the results per test case.
run_suite() {
  local name=$1 start end
  start=$(date +%s.%N)
  (cd "$work" && "$python" -m test --junit-xml "$work/$name.xml" "${tests[@]}" >"$work/$name.out" 2>&1) || true
  end=$(date +%s.%N)
  echo "$end - $start" | bc
}

echo "cpython_suite: ${#tests[@]} test files: ${tests[*]}"
echo "cpython_suite: load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
untraced=$(run_suite untraced)
echo "cpython_suite: untraced ${untraced} s"

"$tracer" --probe-all -v -i 2s --format json --top 5 -o "$work/reports.json" 2>"$work/tracer.log" &
tracer_pid=$!
for _ in $(seq 1 300); do  # loaded and attached
  grep -q "tracing every process" "$work/tracer.log" 2>/dev/null && break
  sleep 0.1
done
grep -q "tracing every process" "$work/tracer.log" || { echo "cpython_suite: tracer did not start"; tail -5 "$work/tracer.log"; exit 1; }
traced=$(run_suite traced)
kill -INT "$tracer_pid"
wait "$tracer_pid" || { echo "cpython_suite: tracer failed"; tail -5 "$work/tracer.log"; exit 1; }
echo "cpython_suite: traced ${traced} s (x$(echo "scale=2; $traced / $untraced" | bc))"
echo "cpython_suite: load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

python3 - "$work" <<'PY'
import json, sys
import xml.etree.ElementTree as ET
work = sys.argv[1]
def results(name):
    out = {}
    for case in ET.parse(f"{work}/{name}.xml").iter("testcase"):
        status = "passed"
        for child in case:
            if child.tag in ("failure", "error", "skipped"):
                status = child.tag
        out[f"{case.get('classname')}.{case.get('name')}"] = status
    return out
a, b = results("untraced"), results("traced")
def counts(r):
    c = {}
    for s in r.values(): c[s] = c.get(s, 0) + 1
    return dict(sorted(c.items()))
print(f"cpython_suite: untraced {len(a)} test cases {counts(a)}")
print(f"cpython_suite: traced   {len(b)} test cases {counts(b)}")
differ = sorted(k for k in a.keys() | b.keys() if a.get(k) != b.get(k))
for k in differ[:20]:
    print(f"cpython_suite: differs: {k}: untraced {a.get(k, 'absent')}, traced {b.get(k, 'absent')}")
last = None
for line in open(f"{work}/reports.json"):
    last = json.loads(line)
stats = last["stats"] if last else {}
print(f"cpython_suite: tracer's final stats {stats}")
pythons = [p for p in (last or {}).get("processes", []) if p.get("comm", "").startswith("python")]
print(f"cpython_suite: the last report lists {len((last or {}).get('processes', []))} processes, {len(pythons)} python")
print(f"cpython_suite: {'same results' if not differ else f'{len(differ)} test cases differ'}")
sys.exit(1 if differ else 0)
PY
