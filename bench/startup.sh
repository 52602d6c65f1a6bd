#!/bin/bash
# Time from start to edleak-bpf's "tracing ..." line (-v -p PID of a sleeping process), N runs.
# The mmap programs need tracefs (mount -t tracefs nodev /sys/kernel/tracing).
# Usage: bench/startup.sh EDLEAK_BPF [RUNS]
bin=$1; n=${2:-3}
sleep 1000 & target=$!
for i in $(seq $n); do
  start=$(date +%s%N)
  "$bin" -v -p $target -d 1s -i 500ms 2>&1 >/dev/null | while IFS= read -r line; do
    now=$(date +%s%N)
    case "$line" in
      *"loaded in"*|*"attached "*|*"tracing "*) echo "$(( (now - start) / 1000000 )) ms  ${line:0:100}";;
    esac
  done
  echo ---
done
kill $target
