#!/usr/bin/env bash
# How long a process mapping N shared objects takes to get its unwind tables (issue 7: "a
# process mapping 300 shared objects must still start tracing within a few seconds").
# Builds N small libraries and a program that loads them all, traces it with -v and prints
# the time edleak-bpf took to build and load the tables of every file it maps.
#   sudo bench/many_libraries.sh [N]      (default 300)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-300}
build=${EDLEAK_BUILD_DIR:-build}
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
for ((i = 0; i < n; i++)); do
  printf 'int lib%d_work(int x) { return x * %d + 1; }\n' "$i" "$i" > "$scratch/lib$i.c"
done
( cd "$scratch" && for ((i = 0; i < n; i++)); do echo "lib$i.so: lib$i.c"; done > Makefile &&
  printf '%%.so: %%.c\n\tgcc -O2 -shared -fPIC -o $@ $<\n' >> Makefile &&
  make -s -j"$(nproc)" $(for ((i = 0; i < n; i++)); do echo "lib$i.so"; done) )
cat > "$scratch/main.c" <<'C'
#include <stdlib.h>
#include <unistd.h>
void* volatile sink;  /* or gcc drops the malloc+free pair */
int main(int argc, char** argv) {
  for (int i = 0; i < atoi(argv[1]); i++) { sink = malloc(64); free(sink); usleep(1000); }
  return 0;
}
C
# Linked against every library: all are mapped before its first allocation, when the tracer
# reads its mappings (the command is held there until its tables are in).
gcc -O2 -o "$scratch/main" "$scratch/main.c" -L"$scratch" -Wl,--no-as-needed -Wl,-rpath,"$scratch" \
  $(for ((i = 0; i < n; i++)); do echo "-l$i"; done)
echo "$(grep -c '\.so' <(ldd "$scratch/main")) shared objects mapped"
"$build/edleak-bpf" -v -i 1s -o /dev/null -- "$scratch/main" 200 2>&1 | grep -E "unwind: pid [0-9]+ mapped in|warn|error" || true
