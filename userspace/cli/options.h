#pragma once
// Command-line options of edleak-bpf (CLI11). Parsing is pure: no process is looked at here.
#include <chrono>
#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <sys/types.h>
#include <utility>
#include <vector>

#include "report/renderer.h"

namespace edleak::cli {

// What makes the run fail (exit status 3) when found: --fail-on LIST, comma-separated
// (app/fail_verdict.h decides).
struct FailOn {
  bool definitely_lost = false;  // "definitely-lost": a scan found definitely lost bytes
  // "linear", "logarithmic", "exponential": a stack of that class leaking at least min_leak bytes.
  bool linear = false, logarithmic = false, exponential = false;
  std::uint64_t min_leak = 1;    // --min-leak BYTES
  bool any_leak_class() const { return linear || logarithmic || exponential; }
  bool any() const { return definitely_lost || any_leak_class(); }
};

// How callers are found: CFI where a file has it, else checked frame pointers (auto); CFI only;
// frame pointers only.
enum class UnwindMode { automatic, dwarf, frame_pointers };

// `edleak-bpf [-p PID]... [-i DUR] [-d DUR] [--top N] [-a] [--min-leak-bytes N]
//             [--min-leak-share F] [--format text|json] [-o FILE]
//             [-f|--follow-forks] [--no-follow] [--libc PATH] [--unwind auto|dwarf|fp] [--max-frames N] [--max-allocs N]
//             [--max-stacks N] [--max-unwind-rows N] [--scan-every DUR] [--max-scan-pause DUR]
//             [--no-exit-scan] [--fail-on LIST] [-v] [-- CMD [ARGS...]]`
struct TraceOptions {
  std::vector<pid_t> pids;                     // empty and no command: every process
  // Every process with probes on every allocator call (--probe-all), not the cheap watch.
  bool probe_all = false;
  // The watch mode (neither -p, a command nor --probe-all; userspace/watch): every process's
  // heap every interval; a process whose heap grows like a leak (by at least min_heap_growth)
  // is zoomed: its allocator traced per process for `zoom`, at most max_zoom at once.
  std::chrono::nanoseconds zoom = std::chrono::minutes(2);
  std::size_t max_zoom = 4;
  std::uint64_t min_heap_growth = 1 << 20;
  // A process's heap is watched growing this long before it may be zoomed: compilers and other
  // short jobs grow for seconds and exit (zooming them would slow them and fill the stack table).
  std::chrono::nanoseconds suspect_after = std::chrono::minutes(1);
  bool watch() const { return pids.empty() && command.empty() && !probe_all; }
  std::vector<std::string> command;            // after "--": start and trace it
  // Children: a command's whole tree is traced unless --no-follow; -p processes' future
  // children with -f/--follow-forks.
  bool follow = false;
  std::chrono::nanoseconds interval = std::chrono::seconds(1);
  std::optional<std::chrono::nanoseconds> duration;  // stop after this long
  std::size_t top = 10;                        // leakers per process
  bool all_stacks = false;                     // list every stack with outstanding bytes
  // The noise floor (see app/report_builder.h): a smaller leak is not reported as leaking.
  std::uint64_t min_leak_bytes = 1024;
  double min_leak_share = 0.0001;              // of the process's outstanding bytes
  report::Format format = report::Format::text;
  std::string output_path;                     // empty: stdout
  std::string libc_path;                       // empty: the libc each process maps
  std::uint32_t max_allocs = 1'000'000;        // live blocks tracked at once
  std::uint32_t max_stacks = 65'536;           // distinct (process, stack) pairs
  UnwindMode unwind = UnwindMode::automatic;
  std::uint32_t max_frames = 64;               // frames per stack (1..64)
  std::uint32_t max_unwind_rows = 1u << 21;    // unwind rows of all files (8 bytes each)
  bool empty_programs = false;                 // benchmarks: probes that do nothing (the floor)
  int verbosity = 0;                           // -v: 1, -vv: 2
  // Reachability scans (userspace/scan): of a command at its exit (unless --no-exit-scan), of -p
  // processes every --scan-every and on SIGUSR1.
  bool exit_scan = true;
  std::optional<std::chrono::nanoseconds> scan_every;
  // Longest freeze of a scan; unset: kDefaultMaxScanPause for -p, unbounded at a command's exit.
  std::optional<std::chrono::nanoseconds> max_scan_pause;
  FailOn fail_on;
  // Outputs besides the report stream (app/outputs.h), each rewritten at every report.
  std::string record_path;       // --record FILE: the capture, for `edleak-bpf report FILE`
  std::string html_path;         // --html FILE
  std::string folded_path;       // --folded FILE: outstanding bytes per stack
  std::string folded_leaks_path; // --folded-leaks FILE: leak bytes per stack
  std::string pprof_path;        // --pprof FILE
  std::string metrics_address;   // --metrics IPV4:PORT: serve /metrics (Prometheus)
};

inline constexpr std::chrono::milliseconds kDefaultMaxScanPause{300};

// Every trace option in effect, given or by default, as (long option name, value in the syntax
// the option takes; "" for an unset one), in the order of --help: what a record keeps of its run.
std::vector<std::pair<std::string, std::string>> options_in_effect(const TraceOptions& options);

// `edleak-bpf classify [--format text|json] [FILE|-]`
struct ClassifyOptions {
  report::Format format = report::Format::text;
  std::string input = "-";                     // "-" is stdin
};

// `edleak-bpf report FILE [--format text|json|html|folded|folded-leaks|pprof] [--top N] [-a] [-o FILE]`
struct ReplayOptions {
  enum class Format { text, json, html, folded, folded_leaks, pprof } format = Format::text;
  std::string input;
  std::string output_path;  // empty: stdout
  std::size_t top = 10;
  bool all_stacks = false;
};

struct Options {
  enum class Mode { trace, classify, replay } mode = Mode::trace;
  TraceOptions trace;
  ClassifyOptions classify;
  ReplayOptions replay;
};

// Either options to run with, or an exit code (0 after --help/--version, 2 after a usage
// error, whose one-line message naming the bad value has been written to `err`).
struct ParseResult {
  std::optional<Options> options;
  int exit_code = 0;
};

ParseResult parse_options(int argc, const char* const* argv, std::ostream& out, std::ostream& err);

}  // namespace edleak::cli
