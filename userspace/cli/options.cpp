#include "cli/options.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <string_view>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "util/duration.h"
#include "util/result.h"

namespace edleak::cli {
namespace {

constexpr std::string_view kProgram = "edleak-bpf";
constexpr std::string_view kVersion = "0.1.0";

// The kernel never hands out pids above PID_MAX_LIMIT (2^22 on 64-bit).
constexpr std::uint64_t kMaxPid = 4'194'304;
// Bounds of --max-allocs / --max-stacks: below 1024 nothing real fits; above 2^26 the maps
// would pin gigabytes of kernel memory.
constexpr std::uint64_t kMinMapEntries = 1024;
constexpr std::uint64_t kMaxMapEntries = std::uint64_t{1} << 26;
// Frames the BPF side keeps per stack (EDLEAK_MAX_FRAMES).
constexpr std::uint64_t kMaxFrames = 64;

// The raw text of every option, validated after CLI11 has split the command line so that
// each bad value gets a message naming it.
struct RawArgs {
  std::vector<std::string> pids;
  std::string interval;
  std::string duration;
  std::string top;
  std::string min_leak_bytes;
  std::string min_leak_share;
  std::string format;
  std::string output;
  std::string libc;
  std::string max_allocs;
  std::string max_stacks;
  std::string unwind;
  std::string max_frames;
  std::string max_unwind_rows;
  std::string scan_every;
  std::string max_scan_pause;
  std::string zoom, max_zoom, min_heap_growth, suspect_after;
  std::vector<std::string> fail_on;
  std::string min_leak;
  std::string record, html, folded, folded_leaks, pprof, metrics;
  std::string classify_format;
  std::string replay_format, replay_input, replay_output, replay_top;
  std::string classify_input;
};

// CLI11's help, with the command in the usage line (CLI11 never sees what follows "--") and one
// blank line between option groups instead of two.
class Formatter : public CLI::Formatter {
 public:
  std::string make_usage(const CLI::App* app, std::string name) const override {
    if (app->get_parent() != nullptr) return CLI::Formatter::make_usage(app, std::move(name));
    return fmt::format("Usage: {0} [OPTIONS] [-- CMD [ARGS...]]\n       {0} classify [OPTIONS] [FILE|-]\n"
                       "       {0} report [OPTIONS] FILE\n", name);
  }

  std::string make_help(const CLI::App* app, std::string name, CLI::AppFormatMode mode) const override {
    std::string help = CLI::Formatter::make_help(app, std::move(name), mode);
    for (std::size_t at; (at = help.find("\n\n\n")) != std::string::npos;) help.erase(at, 1);
    return help;
  }
};

// Strict unsigned integer: digits only, no sign, no spaces, no overflow.
std::optional<std::uint64_t> parse_unsigned(std::string_view text) {
  std::uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

Result<std::uint64_t> parse_bounded(std::string_view text, std::string_view option, std::uint64_t min,
                                    std::uint64_t max) {
  auto value = parse_unsigned(text);
  if (value && *value >= min && *value <= max) return *value;
  if (max == UINT64_MAX)
    return make_error("invalid value '{}' for {}: expected an integer of at least {}", text, option, min);
  return make_error("invalid value '{}' for {}: expected an integer from {} to {}", text, option, min, max);
}

// Sets `out` from an option given as text (left as it is when the option was not given).
template <typename T>
Result<void> set_bounded(const std::string& text, std::string_view option, std::uint64_t min, std::uint64_t max,
                         T& out) {
  if (text.empty()) return {};
  auto value = parse_bounded(text, option, min, max);
  if (!value) return value.error();
  out = static_cast<T>(*value);
  return {};
}

// A share from 0 to 1 ("0.001"), or a percentage ("0.1%").
Result<double> parse_share(const std::string& text, std::string_view option) {
  const bool percent = !text.empty() && text.back() == '%';
  const std::string number = percent ? text.substr(0, text.size() - 1) : text;
  char* end = nullptr;
  errno = 0;
  const double value = number.empty() ? -1 : std::strtod(number.c_str(), &end);
  const double share = percent ? value / 100 : value;
  if (errno != 0 || end == nullptr || *end != '\0' || !(share >= 0 && share <= 1))
    return make_error("invalid value '{}' for {}: expected a share from 0 to 1 (or a percentage, 0.1%)", text, option);
  return share;
}

// "-p 1,2 -p 3": every pid once, in the order given.
Result<std::vector<pid_t>> parse_pids(const std::vector<std::string>& args) {
  std::vector<pid_t> pids;
  for (const std::string& arg : args) {
    std::string_view rest = arg;
    while (true) {
      std::size_t comma = rest.find(',');
      std::string_view item = rest.substr(0, comma);
      auto pid = parse_unsigned(item);
      if (!pid || *pid == 0 || *pid > kMaxPid)
        return make_error("invalid pid '{}' for -p: expected a process id from 1 to {}", item, kMaxPid);
      if (std::find(pids.begin(), pids.end(), static_cast<pid_t>(*pid)) == pids.end())
        pids.push_back(static_cast<pid_t>(*pid));
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
  }
  return pids;
}

Result<std::chrono::nanoseconds> parse_duration_of(std::string_view text, std::string_view option) {
  auto parsed = parse_duration(text);
  if (parsed) return *parsed;
  // util's message reads "invalid duration 'TEXT': why"; name the option right after the value.
  Error error = parsed.error();
  std::string prefix = fmt::format("invalid duration '{}'", text);
  if (error.message.starts_with(prefix)) error.message.insert(prefix.size(), fmt::format(" for {}", option));
  else error.message = fmt::format("{}: {}", option, error.message);
  return error;
}

Result<report::Format> parse_format(std::string_view text) {
  if (text == "text") return report::Format::text;
  if (text == "json") return report::Format::json;
  return make_error("invalid format '{}' for --format: expected text or json", text);
}

// "--fail-on definitely-lost,linear" (repeatable, or comma-separated).
Result<FailOn> parse_fail_on(const std::vector<std::string>& args) {
  FailOn fail_on;
  for (const std::string& arg : args) {
    std::string_view rest = arg;
    while (true) {
      std::size_t comma = rest.find(',');
      std::string_view item = rest.substr(0, comma);
      if (item == "definitely-lost") fail_on.definitely_lost = true;
      else if (item == "linear") fail_on.linear = true;
      else if (item == "logarithmic") fail_on.logarithmic = true;
      else if (item == "exponential") fail_on.exponential = true;
      else
        return make_error("invalid value '{}' for --fail-on: expected definitely-lost, linear, logarithmic or "
                          "exponential", item);
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
  }
  return fail_on;
}

Result<TraceOptions> validate_trace(const RawArgs& raw, int verbosity, std::vector<std::string> command,
                                    bool has_separator) {
  TraceOptions trace;
  auto pids = parse_pids(raw.pids);
  if (!pids) return pids.error();
  trace.pids = std::move(*pids);

  if (has_separator && command.empty()) return make_error("missing command after '--'");
  if (!trace.pids.empty() && !command.empty())
    return make_error("-p and a command after '--' cannot be combined: trace running processes or start one");
  trace.command = std::move(command);

  if (!raw.interval.empty()) {
    auto interval = parse_duration_of(raw.interval, "--interval");
    if (!interval) return interval.error();
    trace.interval = *interval;
  }
  if (!raw.duration.empty()) {
    auto duration = parse_duration_of(raw.duration, "--duration");
    if (!duration) return duration.error();
    trace.duration = *duration;
  }
  if (auto r = set_bounded(raw.top, "--top", 1, UINT64_MAX, trace.top); !r) return r.error();
  if (auto r = set_bounded(raw.min_leak_bytes, "--min-leak-bytes", 0, UINT64_MAX, trace.min_leak_bytes); !r)
    return r.error();
  if (!raw.min_leak_share.empty()) {
    auto share = parse_share(raw.min_leak_share, "--min-leak-share");
    if (!share) return share.error();
    trace.min_leak_share = *share;
  }
  if (!raw.format.empty()) {
    auto format = parse_format(raw.format);
    if (!format) return format.error();
    trace.format = *format;
  }
  // "-o -" is stdout, as usual.
  if (raw.output != "-") trace.output_path = raw.output;
  trace.libc_path = raw.libc;
  if (auto r = set_bounded(raw.max_allocs, "--max-allocs", kMinMapEntries, kMaxMapEntries, trace.max_allocs); !r) return r.error();
  if (auto r = set_bounded(raw.max_stacks, "--max-stacks", kMinMapEntries, kMaxMapEntries, trace.max_stacks); !r) return r.error();
  if (!raw.unwind.empty()) {
    if (raw.unwind == "auto") trace.unwind = UnwindMode::automatic;
    else if (raw.unwind == "dwarf") trace.unwind = UnwindMode::dwarf;
    else if (raw.unwind == "fp") trace.unwind = UnwindMode::frame_pointers;
    else return make_error("invalid mode '{}' for --unwind: expected auto, dwarf or fp", raw.unwind);
  }
  if (auto r = set_bounded(raw.max_frames, "--max-frames", 1, kMaxFrames, trace.max_frames); !r) return r.error();
  if (auto r = set_bounded(raw.max_unwind_rows, "--max-unwind-rows", kMinMapEntries, kMaxMapEntries, trace.max_unwind_rows); !r) return r.error();
  if (!raw.scan_every.empty()) {
    auto every = parse_duration_of(raw.scan_every, "--scan-every");
    if (!every) return every.error();
    if (trace.pids.empty())
      return make_error("--scan-every needs -p: it scans running processes (a command is scanned at its exit)");
    trace.scan_every = *every;
  }
  if (!raw.max_scan_pause.empty()) {
    auto pause = parse_duration_of(raw.max_scan_pause, "--max-scan-pause");
    if (!pause) return pause.error();
    trace.max_scan_pause = *pause;
  }
  if (!raw.zoom.empty()) {
    auto zoom = parse_duration_of(raw.zoom, "--zoom");
    if (!zoom) return zoom.error();
    trace.zoom = *zoom;
  }
  if (!raw.suspect_after.empty()) {
    auto after = parse_duration_of(raw.suspect_after, "--suspect-after");
    if (!after) return after.error();
    trace.suspect_after = *after;
  }
  if (auto r = set_bounded(raw.max_zoom, "--max-zoom", 1, 1024, trace.max_zoom); !r) return r.error();
  if (auto r = set_bounded(raw.min_heap_growth, "--min-heap-growth", 1, UINT64_MAX, trace.min_heap_growth); !r)
    return r.error();
  auto fail_on = parse_fail_on(raw.fail_on);
  if (!fail_on) return fail_on.error();
  trace.fail_on = *fail_on;
  if (!raw.min_leak.empty() && !trace.fail_on.any_leak_class())
    return make_error("--min-leak applies to --fail-on linear, logarithmic or exponential");
  if (auto r = set_bounded(raw.min_leak, "--min-leak", 1, UINT64_MAX, trace.fail_on.min_leak); !r) return r.error();
  trace.record_path = raw.record;
  trace.html_path = raw.html;
  trace.folded_path = raw.folded;
  trace.folded_leaks_path = raw.folded_leaks;
  trace.pprof_path = raw.pprof;
  if (!raw.metrics.empty()) {
    // IPV4:PORT, checked here so that a typo is a usage error rather than a failed run.
    const auto colon = raw.metrics.rfind(':');
    in_addr addr{};
    const auto port = colon == std::string::npos ? std::nullopt : parse_unsigned(std::string_view(raw.metrics).substr(colon + 1));
    if (colon == std::string::npos || inet_pton(AF_INET, raw.metrics.substr(0, colon).c_str(), &addr) != 1 || !port ||
        *port > 65535)
      return make_error("invalid address '{}' for --metrics: expected IPV4:PORT, e.g. 127.0.0.1:9464", raw.metrics);
    trace.metrics_address = raw.metrics;
  }
  trace.verbosity = verbosity;
  return trace;
}

Result<ClassifyOptions> validate_classify(const RawArgs& raw, const std::vector<std::string>& after_separator,
                                          bool has_separator) {
  ClassifyOptions classify;
  if (!raw.classify_format.empty()) {
    auto format = parse_format(raw.classify_format);
    if (!format) return format.error();
    classify.format = *format;
  }
  if (!raw.classify_input.empty()) classify.input = raw.classify_input;
  // "classify -- -odd-name": after "--" comes the file, nothing else.
  if (has_separator) {
    if (after_separator.size() != 1 || !raw.classify_input.empty())
      return make_error("classify takes one input file, got {}",
                        after_separator.size() + (raw.classify_input.empty() ? 0 : 1));
    classify.input = after_separator.front();
  }
  return classify;
}

Result<ReplayOptions> validate_replay(const RawArgs& raw, bool all_stacks) {
  ReplayOptions replay;
  using F = ReplayOptions::Format;
  static const std::pair<std::string_view, F> kFormats[] = {{"text", F::text},     {"json", F::json},
                                                            {"html", F::html},     {"folded", F::folded},
                                                            {"folded-leaks", F::folded_leaks}, {"pprof", F::pprof}};
  if (!raw.replay_format.empty()) {
    auto it = std::find_if(std::begin(kFormats), std::end(kFormats),
                           [&](const auto& f) { return f.first == raw.replay_format; });
    if (it == std::end(kFormats))
      return make_error("invalid format '{}' for report --format: expected text, json, html, folded, folded-leaks "
                        "or pprof", raw.replay_format);
    replay.format = it->second;
  }
  if (raw.replay_input.empty()) return make_error("report needs a record FILE (written by --record FILE)");
  replay.input = raw.replay_input;
  if (raw.replay_output != "-") replay.output_path = raw.replay_output;
  if (auto r = set_bounded(raw.replay_top, "--top", 1, UINT64_MAX, replay.top); !r) return r.error();
  replay.all_stacks = all_stacks;
  return replay;
}

// Exit code 2, as usual for usage errors, after one line naming what is wrong.
ParseResult usage_error(std::ostream& err, std::string_view message) {
  std::string line(message);
  std::replace(line.begin(), line.end(), '\n', ' ');  // CLI11 sometimes puts newlines in its own
  err << kProgram << ": " << line << '\n';
  return {std::nullopt, 2};
}

}  // namespace

std::vector<std::pair<std::string, std::string>> options_in_effect(const TraceOptions& o) {
  auto duration = [](const std::optional<std::chrono::nanoseconds>& d) { return d ? format_duration(*d) : ""; };
  auto flag = [](bool on) { return std::string(on ? "yes" : "no"); };
  std::string pids, fail_on;
  for (pid_t pid : o.pids) pids += (pids.empty() ? "" : ",") + std::to_string(pid);
  for (auto [on, name] : {std::pair{o.fail_on.definitely_lost, "definitely-lost"}, {o.fail_on.linear, "linear"},
                          {o.fail_on.logarithmic, "logarithmic"}, {o.fail_on.exponential, "exponential"}})
    if (on) fail_on += (fail_on.empty() ? "" : ",") + std::string(name);
  std::string command;
  for (const std::string& arg : o.command) command += (command.empty() ? "" : " ") + arg;
  const char* unwind = o.unwind == UnwindMode::dwarf ? "dwarf" : o.unwind == UnwindMode::frame_pointers ? "fp" : "auto";
  return {
      {"pid", pids},
      {"follow", flag(o.follow)},
      {"probe-all", flag(o.probe_all)},
      {"libc", o.libc_path},
      {"interval", format_duration(o.interval)},
      {"duration", duration(o.duration)},
      {"top", std::to_string(o.top)},
      {"min-leak-bytes", std::to_string(o.min_leak_bytes)},
      {"min-leak-share", fmt::format("{}", o.min_leak_share)},
      {"all-stacks", flag(o.all_stacks)},
      {"format", o.format == report::Format::json ? "json" : "text"},
      {"output", o.output_path},
      {"empty-programs", flag(o.empty_programs)},
      {"unwind", unwind},
      {"max-frames", std::to_string(o.max_frames)},
      {"max-allocs", std::to_string(o.max_allocs)},
      {"max-stacks", std::to_string(o.max_stacks)},
      {"max-unwind-rows", std::to_string(o.max_unwind_rows)},
      {"scan-every", duration(o.scan_every)},
      {"max-scan-pause", duration(o.max_scan_pause)},
      {"exit-scan", flag(o.exit_scan)},
      {"fail-on", fail_on},
      {"min-leak", fail_on.empty() ? "" : std::to_string(o.fail_on.min_leak)},
      {"record", o.record_path},
      {"html", o.html_path},
      {"folded", o.folded_path},
      {"folded-leaks", o.folded_leaks_path},
      {"pprof", o.pprof_path},
      {"metrics", o.metrics_address},
      {"command", command},
  };
}

ParseResult parse_options(int argc, const char* const* argv, std::ostream& out, std::ostream& err) {
  // Everything after the first "--" is the command to trace, never our options: split it off
  // before CLI11 sees it.
  std::vector<const char*> ours;
  std::vector<std::string> after_separator;
  bool has_separator = false;
  ours.push_back(argc > 0 && argv[0] != nullptr ? argv[0] : kProgram.data());
  for (int i = 1; i < argc; ++i) {
    if (has_separator) after_separator.emplace_back(argv[i]);
    else if (std::string_view(argv[i]) == "--") has_separator = true;
    else ours.push_back(argv[i]);
  }

  RawArgs raw;
  CLI::App app("Finds memory leaks in running processes: samples the outstanding bytes of every "
               "allocation stack and classifies their growth (constant, linear, logarithmic, exponential).",
               std::string(kProgram));
  app.formatter(std::make_shared<Formatter>());
  app.set_version_flag("--version", fmt::format("{} {}", kProgram, kVersion));
  app.footer(
      "With neither -p nor a command, every process's heap is watched (no probes) and a process whose\n"
      "heap grows like a leak has its allocator traced for --zoom; --probe-all traces every call of\n"
      "every process instead.\n"
      "Durations: 500ms, 1s, 2m, 1h or plain seconds.\n"
      "Examples:\n"
      "  edleak-bpf -p 1234 -i 2s -d 10m        trace pid 1234 for 10 minutes\n"
      "  edleak-bpf -i 5s                       watch every process; the stacks of those that leak\n"
      "  edleak-bpf -f -p $(pgrep -o nginx)     trace nginx's master and the workers it starts\n"
      "  edleak-bpf --format json -- ./server   start ./server and trace it, JSON lines on stdout\n"
      "  edleak-bpf --fail-on definitely-lost -- ./tests   fail when the tests leave unreachable blocks\n"
      "  edleak-bpf -p 1234 --scan-every 1m     also tell reachable from lost blocks every minute\n"
      "  edleak-bpf --fail-on linear -- ./run_tests   exit 3 when the tests leak steadily\n"
      "  edleak-bpf --record run.edlk --html run.html -- ./server   keep the capture, and a page with plots\n"
      "  edleak-bpf report run.edlk --format pprof -o run.pb.gz   the recorded capture as a pprof profile\n"
      "  edleak-bpf classify samples.txt        classify a series of \"t bytes\" lines");

  // The trace options, kept in a list to reject them after "classify". Defaults shown in the
  // help come from TraceOptions so they cannot drift.
  const TraceOptions defaults;
  std::vector<CLI::Option*> trace_options;
  auto add = [&](CLI::Option* option, const char* group) {
    option->group(group);
    trace_options.push_back(option);
    return option;
  };
  // One value; given twice, the last one wins.
  auto add_value = [&](const char* names, std::string& value, const std::string& help, const char* type_name,
                       const char* group) {
    return add(app.add_option(names, value, help)->type_name(type_name)->take_last(), group);
  };
  add(app.add_option("-p,--pid", raw.pids, "Trace these processes (repeat or comma-separate: -p 1,2)")
          ->type_name("PID")
          ->allow_extra_args(false)
          ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll),
      "TARGETING");
  CLI::Option* follow_forks =
      add(app.add_flag("-f,--follow-forks")
              ->description("With -p: trace the processes' future children too (forks, and what they exec)")
              ->disable_flag_override(),
          "TARGETING");
  CLI::Option* probe_all =
      add(app.add_flag("--probe-all")
              ->description("Trace every process's allocator calls (a trap per call in every process)")
              ->disable_flag_override(),
          "TARGETING");
  CLI::Option* zoom = add_value("--zoom", raw.zoom,
            fmt::format("Watch mode: how long a process whose heap grows has its allocator traced (default {})",
                        format_duration(defaults.zoom)),
            "DUR", "TARGETING");
  CLI::Option* max_zoom = add_value("--max-zoom", raw.max_zoom,
            fmt::format("Watch mode: processes traced at once (default {})", defaults.max_zoom), "N", "TARGETING");
  CLI::Option* min_heap_growth = add_value("--min-heap-growth", raw.min_heap_growth,
            fmt::format("Watch mode: least heap growth, in bytes, that gets a process traced (default {})",
                        defaults.min_heap_growth),
            "N", "TARGETING");
  CLI::Option* suspect_after = add_value("--suspect-after", raw.suspect_after,
            fmt::format("Watch mode: how long a process's heap is seen growing before it is traced (default {})",
                        format_duration(defaults.suspect_after)),
            "DUR", "TARGETING");
  CLI::Option* no_follow =
      add(app.add_flag("--no-follow")
              ->description("With a command: trace only it, not its children (traced by default)")
              ->disable_flag_override(),
          "TARGETING");
  add_value("--libc", raw.libc, "Allocator library to probe (default: the libc each process maps)", "PATH",
            "TARGETING");
  add_value("-i,--interval", raw.interval,
            fmt::format("Time between samples (default {})", format_duration(defaults.interval)), "DUR", "SAMPLING");
  add_value("-d,--duration", raw.duration, "Stop after this long (default: until Ctrl-C or the command exits)", "DUR",
            "SAMPLING");
  add_value("--top", raw.top, fmt::format("Leaking stacks shown per process (default {})", defaults.top), "N",
            "OUTPUT");
  add_value("--min-leak-bytes", raw.min_leak_bytes,
            fmt::format("Smallest leak reported, in heap bytes (default {})", defaults.min_leak_bytes), "N", "OUTPUT");
  add_value("--min-leak-share", raw.min_leak_share,
            fmt::format("Smallest leak reported, as a share of the process's outstanding bytes (default {})",
                        defaults.min_leak_share),
            "F", "OUTPUT");
  CLI::Option* all_stacks =
      add(app.add_flag("-a,--all-stacks")
              ->description("List every stack with outstanding bytes, leaking or not (up to --top)")
              ->disable_flag_override(),
          "OUTPUT");
  add_value("--format", raw.format, "Report format: text or json (one object per line)", "FMT", "OUTPUT");
  add_value("-o,--output", raw.output, "Write reports to FILE instead of stdout", "FILE", "OUTPUT");
  CLI::Option* empty_programs =
      add(app.add_flag("--empty-programs")
              ->description("Benchmarks only: attach the same probes with programs that do nothing "
                            "(the cost floor of the probes themselves); reports stay empty")
              ->disable_flag_override(),
          "LIMITS");
  CLI::Option* verbose = add(app.add_flag("-v,--verbose")
                                 ->description("More diagnostics on stderr (-vv for debugging)")
                                 ->disable_flag_override(),
                             "OUTPUT");
  add_value("--unwind", raw.unwind,
            "How callers are found: auto (CFI from .eh_frame/.debug_frame where a file has it, "
            "else checked frame pointers), dwarf (CFI only) or fp (frame pointers only)",
            "MODE", "SAMPLING");
  add_value("--max-frames", raw.max_frames,
            fmt::format("Frames kept per stack (1..{}, default {})", kMaxFrames, defaults.max_frames), "N",
            "LIMITS");
  add_value("--max-allocs", raw.max_allocs,
            fmt::format("Live blocks tracked at once ({}..{}, default {})", kMinMapEntries, kMaxMapEntries,
                        defaults.max_allocs),
            "N", "LIMITS");
  add_value("--max-stacks", raw.max_stacks,
            fmt::format("Distinct (process, stack) pairs ({}..{}, default {})", kMinMapEntries, kMaxMapEntries,
                        defaults.max_stacks),
            "N", "LIMITS");
  add_value("--max-unwind-rows", raw.max_unwind_rows,
            fmt::format("Unwind table rows of every traced file, 8 bytes each ({}..{}, default {})",
                        kMinMapEntries, kMaxMapEntries, defaults.max_unwind_rows),
            "N", "LIMITS");

  add_value("--scan-every", raw.scan_every,
            "Scan the -p processes for unreachable blocks this often (also on SIGUSR1)", "DUR", "SCAN");
  add_value("--max-scan-pause", raw.max_scan_pause,
            fmt::format("Longest a scan may keep a process stopped (default {} for -p, no limit at a "
                        "command's exit)",
                        format_duration(kDefaultMaxScanPause)),
            "DUR", "SCAN");
  CLI::Option* no_exit_scan =
      add(app.add_flag("--no-exit-scan")->description("Do not scan the command at its exit")->disable_flag_override(),
          "SCAN");
  add(app.add_option("--fail-on", raw.fail_on,
                     "Exit with status 3 when found: definitely-lost (a scan), linear, logarithmic, exponential "
                     "(a stack of that class)")
          ->type_name("LIST")
          ->allow_extra_args(false)
          ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll),
      "SCAN");

  add_value("--min-leak", raw.min_leak,
            "With --fail-on CLASS: only stacks leaking at least this many bytes fail the run (default 1)", "BYTES",
            "SCAN");
  add_value("--record", raw.record, "Save the capture to FILE during the run and at its end, for 'edleak-bpf report FILE'", "FILE",
            "OUTPUT");
  add_value("--html", raw.html, "Write an HTML report with plots to FILE at every report", "FILE", "OUTPUT");
  add_value("--folded", raw.folded, "Write outstanding bytes per stack, folded (flame graphs), to FILE", "FILE",
            "OUTPUT");
  add_value("--folded-leaks", raw.folded_leaks, "Write leak bytes per stack, folded (flame graphs), to FILE", "FILE",
            "OUTPUT");
  add_value("--metrics", raw.metrics,
            "Serve Prometheus metrics of every report at http://IPV4:PORT/metrics (e.g. 127.0.0.1:9464)",
            "IPV4:PORT", "OUTPUT");
  add_value("--pprof", raw.pprof, "Write a gzipped pprof profile (inuse_space, inuse_objects, leak_space) to FILE",
            "FILE", "OUTPUT");

  CLI::App* replay = app.add_subcommand("report", "Replay a capture saved by --record FILE");
  replay->add_option("--format", raw.replay_format, "text, json, html, folded, folded-leaks or pprof")->type_name("FMT");
  replay->add_option("--top", raw.replay_top, "Leaking stacks shown per process (default 10)")->type_name("N");
  CLI::Option* replay_all = replay->add_flag("-a,--all-stacks")->description("List every stack with outstanding bytes");
  replay->add_option("-o,--output", raw.replay_output, "Write to FILE instead of stdout")->type_name("FILE");
  replay->add_option("FILE", raw.replay_input, "A record written by --record")->type_name("");

  CLI::App* classify = app.add_subcommand("classify", "Classify one memory series read from FILE or stdin ('-')");
  classify->add_option("--format", raw.classify_format, "Output format: text or json")->type_name("FMT");
  classify->add_option("FILE", raw.classify_input, "Series of \"t bytes\" lines; '-' (the default) is stdin")
      ->type_name("");
  classify->footer("Reads one sample per line, \"t bytes\" (seconds, bytes), and prints the leak factor.");

  try {
    app.parse(static_cast<int>(ours.size()), ours.data());
  } catch (const CLI::CallForHelp&) {
    out << app.help();
    return {std::nullopt, 0};
  } catch (const CLI::CallForVersion& version) {
    out << version.what() << '\n';
    return {std::nullopt, 0};
  } catch (const CLI::ParseError& error) {
    return usage_error(err, fmt::format("{} (see --help)", error.what()));
  }

  Options options;
  if (classify->parsed()) {
    for (CLI::Option* option : trace_options) {
      if (option->count() > 0)
        return usage_error(err, fmt::format("{} does not apply to classify", option->get_name()));
    }
    auto parsed = validate_classify(raw, after_separator, has_separator);
    if (!parsed) return usage_error(err, parsed.error().message);
    options.mode = Options::Mode::classify;
    options.classify = std::move(*parsed);
    return {std::move(options), 0};
  }

  if (replay->parsed()) {
    for (CLI::Option* option : trace_options) {
      if (option->count() > 0)
        return usage_error(err, fmt::format("{} does not apply to report (give it after 'report')", option->get_name()));
    }
    if (has_separator) return usage_error(err, "report takes no command after '--'");
    auto parsed = validate_replay(raw, replay_all->count() > 0);
    if (!parsed) return usage_error(err, parsed.error().message);
    options.mode = Options::Mode::replay;
    options.replay = std::move(*parsed);
    return {std::move(options), 0};
  }

  auto parsed = validate_trace(raw, static_cast<int>(verbose->count()), std::move(after_separator), has_separator);
  if (!parsed) return usage_error(err, parsed.error().message);
  options.trace = std::move(*parsed);
  options.trace.all_stacks = all_stacks->count() > 0;
  options.trace.empty_programs = empty_programs->count() > 0;
  options.trace.exit_scan = no_exit_scan->count() == 0;
  if (follow_forks->count() && options.trace.pids.empty())
    return usage_error(err, options.trace.command.empty()
                                ? "-f/--follow-forks follows the children of -p processes: name them with -p"
                                : "-f/--follow-forks is for -p; a command's children are followed by default");
  if (no_follow->count() && options.trace.command.empty())
    return usage_error(err, "--no-follow applies to a command (-- CMD); -p processes' children are followed only with -f");
  if (probe_all->count() && (!options.trace.pids.empty() || !options.trace.command.empty()))
    return usage_error(err, "--probe-all traces every process: it cannot be combined with -p or a command");
  options.trace.probe_all = probe_all->count() > 0;
  for (const CLI::Option* watch_only : {zoom, max_zoom, min_heap_growth, suspect_after})
    if (watch_only->count() && !options.trace.watch())
      return usage_error(err, fmt::format("{} applies to the watch mode (no -p, command or --probe-all)",
                                          watch_only->get_name(false, true)));
  options.trace.follow = options.trace.command.empty() ? follow_forks->count() > 0 : no_follow->count() == 0;
  const TraceOptions& t = options.trace;
  if (t.fail_on.definitely_lost && t.pids.empty() && (t.command.empty() || !t.exit_scan))
    return usage_error(err, t.command.empty()
                                ? "--fail-on definitely-lost needs a scan: of a command (-- CMD) or of -p processes"
                                : "--fail-on definitely-lost needs the exit scan that --no-exit-scan turns off");
  return {std::move(options), 0};
}

}  // namespace edleak::cli
