#!/usr/bin/env bash
# The overhead benchmark (issue 4), all measurements in one run so their ratios are comparable
# on a noisy machine. Run as root from the repository:
#   sudo bench/overhead.sh [RUNS]        (default 3 runs of each; medians are reported)
# It times bench/alloc_loop.c (malloc+free pairs over a 64-slot working set, sizes 16..215,
# gcc -O2) untraced, traced by edleak-bpf, traced by a bpftrace script that does what memleak
# does (bench/memleak.bt) and under heaptrack; the same loop built with frame pointers under
# edleak-bpf (its stack walk then has frames to follow); then an untraced loop while edleak-bpf
# traces another process (-p); then sqlite3 on an allocation-heavy job, traced and untraced.
# Beside each traced row, its floor: the same probes with empty programs (--empty-programs),
# the traps no uprobe tracer avoids; edleak-bpf is judged as a ratio to it. And one stack 16
# frames deep (ALLOC_LOOP_DEPTH=11 below main's libc frames), unwound from CFI (-O2 loop) and by
# frame pointers (loop built with them). Then the loop under each other allocator installed
# (jemalloc, tcmalloc, mimalloc: LD_PRELOAD), untraced, floor and traced.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
scripts/setup
scripts/build >/dev/null
build=${EDLEAK_BUILD_DIR:-build}
loop=$build/bench/alloc_loop
loop_fp=$build/bench/alloc_loop_fp
tracer=$build/edleak-bpf
libc=$(readlink -f "$(ldd "$loop" | awk '/libc.so.6/ {print $3}')")
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
sed "s|LIBC_PATH|$libc|g" bench/memleak.bt > "$scratch/memleak.bt"

untraced_pairs=2000000
traced_pairs=200000

median() { sort -g | awk '{v[NR]=$1} END {print (NR % 2) ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2}'; }
ns_of() { awk '/^ns_per_pair/ {print $2}'; }

declare -A samples
measure() {  # name, command...
  local name=$1; shift
  local value
  value=$("$@" 2>/dev/null | ns_of)
  [[ -n $value ]] || { echo "overhead.sh: '$name' printed no figure" >&2; exit 1; }
  samples[$name]+="$value "
}

for ((r = 1; r <= runs; r++)); do
  echo "run $r/$runs..." >&2
  measure untraced "$loop" $untraced_pairs
  measure floor "$tracer" --empty-programs --interval 1s -o /dev/null -- "$loop" $traced_pairs
  measure edleak-bpf "$tracer" --interval 1s -o /dev/null -- "$loop" $traced_pairs
  measure deep16-cfi env ALLOC_LOOP_DEPTH=11 "$tracer" --interval 1s -o /dev/null -- "$loop" $traced_pairs
  measure deep16-fp env ALLOC_LOOP_DEPTH=11 "$tracer" --interval 1s -o /dev/null -- "$loop_fp" $traced_pairs
  measure deep16-fp-walk env ALLOC_LOOP_DEPTH=11 "$tracer" --unwind fp --interval 1s -o /dev/null -- "$loop_fp" $traced_pairs
  measure bpftrace bpftrace -c "$loop $traced_pairs" "$scratch/memleak.bt"
  measure heaptrack heaptrack -o "$scratch/heaptrack.$r" "$loop" $traced_pairs
  measure edleak-bpf-fp-loop "$tracer" --interval 1s -o /dev/null -- "$loop_fp" $traced_pairs
  # Another process traced with -p: this loop must not pay for it.
  sleep 600 &
  other=$!
  sleep 0.5  # until it has exec'd and mapped its libc
  "$tracer" -p $other --interval 1s -o /dev/null &
  tracer_pid=$!
  sleep 1
  measure untraced-beside-p "$loop" $untraced_pairs
  kill -INT $tracer_pid 2>/dev/null || true
  wait $tracer_pid || true
  kill $other; wait $other 2>/dev/null || true
done

declare -A med
names="untraced floor edleak-bpf bpftrace heaptrack edleak-bpf-fp-loop deep16-cfi deep16-fp deep16-fp-walk untraced-beside-p"
for name in $names; do
  med[$name]=$(tr ' ' '\n' <<<"${samples[$name]}" | grep . | median)
done
printf '\n%-22s %12s %12s   %s\n' "malloc+free pair" "median ns" "x untraced" "runs (ns)"
for name in $names; do
  printf '%-22s %12.1f %12.1f   %s\n' "$name" "${med[$name]}" \
    "$(awk -v a="${med[$name]}" -v b="${med[untraced]}" 'BEGIN {print a / b}')" "${samples[$name]}"
done
printf 'edleak-bpf / bpftrace: %.3f; edleak-bpf / floor: %.3f (target <= 1.15); edleak-bpf per pair: %.2f us\n' \
  "$(awk -v a="${med[edleak-bpf]}" -v b="${med[bpftrace]}" 'BEGIN {print a / b}')" \
  "$(awk -v a="${med[edleak-bpf]}" -v b="${med[floor]}" 'BEGIN {print a / b}')" \
  "$(awk -v a="${med[edleak-bpf]}" 'BEGIN {print a / 1000}')"
printf '16-frame stack: CFI on the -O2 loop - frame-pointer walk on the loop built with them: %+.0f ns per pair (target <= 1000); CFI on the frame-pointer build: %+.0f ns\n' \
  "$(awk -v a="${med[deep16-cfi]}" -v b="${med[deep16-fp-walk]}" 'BEGIN {print a - b}')" \
  "$(awk -v a="${med[deep16-fp]}" -v b="${med[deep16-fp-walk]}" 'BEGIN {print a - b}')"

# Other allocators (issue 9): the same loop with each of Debian's jemalloc, tcmalloc and mimalloc
# preloaded, untraced (its own speed), with empty programs at its probe placements (its floor)
# and traced. The tracer is started under the same LD_PRELOAD: that is how the command inherits it
# (and how edleak-bpf finds which allocator the command will use).
libdir=/usr/lib/x86_64-linux-gnu
allocators=()
for lib in libjemalloc.so.2 libtcmalloc_minimal.so.4 libmimalloc.so.2; do
  [[ -r $libdir/$lib ]] && allocators+=("$lib")
done
if ((${#allocators[@]} > 0)); then
  declare -A alloc_samples
  for ((r = 1; r <= runs; r++)); do
    echo "allocators, run $r/$runs..." >&2
    for lib in "${allocators[@]}"; do
      pre="LD_PRELOAD=$libdir/$lib"
      for kind in untraced floor traced; do
        case $kind in
          untraced) value=$(env "$pre" "$loop" $untraced_pairs 2>/dev/null | ns_of) ;;
          floor) value=$(env "$pre" "$tracer" --empty-programs --interval 1s -o /dev/null -- "$loop" $traced_pairs 2>/dev/null | ns_of) ;;
          traced) value=$(env "$pre" "$tracer" --interval 1s -o /dev/null -- "$loop" $traced_pairs 2>/dev/null | ns_of) ;;
        esac
        [[ -n $value ]] || { echo "overhead.sh: $lib $kind printed no figure" >&2; exit 1; }
        alloc_samples[$lib.$kind]+="$value "
      done
    done
  done
  printf '\n%-26s %12s %12s %12s %10s   %s\n' "allocator (malloc+free)" "untraced ns" "floor ns" "traced ns" \
    "/ floor" "traced runs (ns)"
  printf '%-26s %12.1f %12.1f %12.1f %10.3f   %s\n' "glibc" "${med[untraced]}" "${med[floor]}" "${med[edleak-bpf]}" \
    "$(awk -v a="${med[edleak-bpf]}" -v b="${med[floor]}" 'BEGIN {print a / b}')" "${samples[edleak-bpf]}"
  for lib in "${allocators[@]}"; do
    declare -A m=()
    for kind in untraced floor traced; do
      m[$kind]=$(tr ' ' '\n' <<<"${alloc_samples[$lib.$kind]}" | grep . | median)
    done
    printf '%-26s %12.1f %12.1f %12.1f %10.3f   %s\n' "$lib" "${m[untraced]}" "${m[floor]}" "${m[traced]}" \
      "$(awk -v a="${m[traced]}" -v b="${m[floor]}" 'BEGIN {print a / b}')" "${alloc_samples[$lib.traced]}"
  done
fi

# A real program doing real work: wall time of sqlite3 on bench/sqlite_workload.sql.
wall() {  # command... -> seconds
  local start end
  start=$(date +%s%N)
  "$@" >/dev/null 2>&1
  end=$(date +%s%N)
  awk -v s="$start" -v e="$end" 'BEGIN {printf "%.3f", (e - s) / 1e9}'
}
plain=() traced=()
for ((r = 1; r <= runs; r++)); do
  plain+=("$(wall sqlite3 :memory: -init bench/sqlite_workload.sql .quit)")
  traced+=("$(wall "$tracer" --interval 1s -o /dev/null -- sqlite3 :memory: -init bench/sqlite_workload.sql .quit)")
done
p=$(printf '%s\n' "${plain[@]}" | median)
t=$(printf '%s\n' "${traced[@]}" | median)
printf '\nsqlite3 workload wall time: untraced %.3f s, edleak-bpf %.3f s, ratio %.2f (runs: %s | %s)\n' \
  "$p" "$t" "$(awk -v a="$t" -v b="$p" 'BEGIN {print a / b}')" "${plain[*]}" "${traced[*]}"
