// edleak-bpf: find memory leaks in running processes with eBPF. Everything is in the libraries;
// this only hands over the command line.
#include "app/main_entry.h"

// Marks this executable as a tracer (probe::kTracerMarker): another edleak-bpf, in all-process
// or watch mode, never probes the allocator linked into it (two tracers' probes in one tracer
// slow it by orders of magnitude, and its traced commands with it).
extern "C" __attribute__((used, noinline)) void edleak_bpf_tracer_marker() { __asm__ volatile(""); }

int main(int argc, char** argv) { return edleak::app::main_entry(argc, argv); }
