// edleak-bpf: find memory leaks in running processes with eBPF. Everything is in the libraries;
// this only hands over the command line.
#include "app/main_entry.h"

int main(int argc, char** argv) { return edleak::app::main_entry(argc, argv); }
