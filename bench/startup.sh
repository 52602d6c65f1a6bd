#!/bin/bash
# Time from start to edleak-bpf's "tracing ..." line, N runs: with -v -p PID of a sleeping process
# (MODE p, the default), or with -- /bin/sleep 0.2 (MODE cmd). Prints the -v lines that split it.
# The mmap programs need tracefs (mount -t tracefs nodev /sys/kernel/tracing).
# Usage: bench/startup.sh EDLEAK_BPF [RUNS] [p|cmd]
bin=$1; n=${2:-3}; mode=${3:-p}
sleep 1000 & target=$!
for i in $(seq "$n"); do
  start=$(date +%s%N)
  if [[ $mode == cmd ]]; then args=(-v -i 500ms -- /bin/sleep 0.2); else args=(-v -p $target -d 1s -i 500ms); fi
  "$bin" "${args[@]}" 2>&1 >/dev/null | while IFS= read -r line; do
    now=$(date +%s%N)
    case "$line" in
      *"loaded in"*|*"attached "*|*"tracing "*) echo "$(( (now - start) / 1000000 )) ms  ${line:0:100}";;
    esac
  done
  echo ---
done
kill $target
