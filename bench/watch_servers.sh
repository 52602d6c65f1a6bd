#!/usr/bin/env bash
# False suspects of the watch mode on real servers: Debian's nginx, postgres and redis under
# steady load for SECONDS (default 600) while edleak-bpf watches every process. Run as root from
# the repository: bench/watch_servers.sh [SECONDS]
# Needs nginx-light, apache2-utils (ab), postgresql (pgbench), redis-server, redis-tools.
# Prints every process that was ever traced (zoomed) or listed as growing, with what its
# window found; a steady server must be in neither list, or be explained by its note.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-600}
build=${EDLEAK_BUILD_DIR:-build}
tracer=$build/edleak-bpf
for tool in nginx ab pgbench pg_ctlcluster redis-server redis-benchmark; do
  command -v $tool >/dev/null || { echo "watch_servers: $tool is not installed" >&2; exit 2; }
done
work=$(mktemp -d)
loads=()
cleanup() {
  kill "${loads[@]}" 2>/dev/null || true
  nginx -s quit 2>/dev/null || true
  redis-cli -p 6391 shutdown nosave 2>/dev/null || true
  pg_ctlcluster 15 main stop 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# The servers, started before the tracer as on a real machine.
nginx
redis-server --port 6391 --save '' --appendonly no --daemonize yes --logfile "$work/redis.log"
pg_ctlcluster 15 main start
su postgres -c "dropdb --if-exists edleak_bench; createdb edleak_bench && pgbench -q -i -s 2 edleak_bench" >/dev/null 2>&1
sleep 2
# Steady load: a fixed page, a fixed keyspace, a fixed-size database.
end=$((SECONDS + seconds + 15))
(while ((SECONDS < end)); do ab -q -k -c 4 -n 20000 http://127.0.0.1/ >/dev/null 2>&1; done) &
loads+=($!)
(while ((SECONDS < end)); do redis-benchmark -p 6391 -q -r 10000 -n 200000 -c 4 -t set,get >/dev/null 2>&1; done) &
loads+=($!)
(su postgres -c "pgbench -n -c 2 -T $((seconds + 15)) edleak_bench" >/dev/null 2>&1) &
loads+=($!)
sleep 5
echo "watching for ${seconds}s..." >&2
"$tracer" -i 1s -d "${seconds}s" --format json -o "$work/reports.json" 2>"$work/tracer.log"
python3 - "$work/reports.json" <<'PY'
import json, sys
reports = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
zoomed, growing = {}, {}
for r in reports:
    for p in r["processes"]:
        h = p.get("heap")
        key = (p["pid"], p["comm"])
        if h and h["zoomed"] or p["leakers"]:
            z = zoomed.setdefault(key, {"leaking": 0, "notes": [], "heap": None})
            z["leaking"] = max(z["leaking"], p["leaking_stacks"])
            z["notes"] = p["notes"] or z["notes"]  # the last said
            if h: z["heap"] = f'{h["bytes"]/2**20:.1f} MiB {h["leak_factor"]["class"]}'
        elif h and h["leak_factor"]["class"] in ("linear", "exponential", "logarithmic"):
            growing.setdefault(key, set()).add(h["leak_factor"]["class"])
last = reports[-1]
print(f'{len(reports)} reports; watched {last["watch"]["processes"]} processes at the end')
servers = ("nginx", "redis-server", "postgres", "pgbench", "ab", "redis-benchmark")
flagged = sorted({comm for (pid, comm) in list(zoomed) + list(growing) if comm in servers})
print(f'servers and their load generators zoomed or growing: {len(flagged)} {flagged}')
print(f'traced (zoomed): {len(zoomed)}')
for (pid, comm), z in sorted(zoomed.items()):
    print(f'  pid {pid} ({comm}): heap {z["heap"]}, leaking stacks {z["leaking"]}; ' + "; ".join(z["notes"]))
print(f'listed as growing, never traced: {len(growing)}')
for (pid, comm), classes in sorted(growing.items()):
    print(f'  pid {pid} ({comm}): {", ".join(sorted(classes))}')
PY
