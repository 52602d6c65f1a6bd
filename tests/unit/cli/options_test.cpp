#include "cli/options.h"

#include <initializer_list>
#include <sstream>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace edleak::cli {
namespace {

using namespace std::chrono_literals;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::StartsWith;

// Runs parse_options on {"edleak-bpf", args...} and keeps what it printed.
struct Parsed {
  ParseResult result;
  std::string out;
  std::string err;

  const TraceOptions& trace() const { return result.options.value().trace; }
  const ClassifyOptions& classify() const { return result.options.value().classify; }
};

Parsed parse(std::initializer_list<const char*> args) {
  std::vector<const char*> argv{"edleak-bpf"};
  argv.insert(argv.end(), args.begin(), args.end());
  std::ostringstream out, err;
  Parsed p;
  p.result = parse_options(static_cast<int>(argv.size()), argv.data(), out, err);
  p.out = out.str();
  p.err = err.str();
  return p;
}

// A usage error: no options, exit code 2, exactly this one line on stderr, nothing on stdout.
void expect_usage_error(const Parsed& p, const std::string& message) {
  EXPECT_FALSE(p.result.options.has_value());
  EXPECT_EQ(p.result.exit_code, 2);
  EXPECT_EQ(p.err, "edleak-bpf: " + message + "\n");
  EXPECT_EQ(p.out, "");
}

// Like expect_usage_error when the wording is CLI11's: checks the shape, not the text.
void expect_usage_error_line(const Parsed& p, const std::string& fragment) {
  EXPECT_FALSE(p.result.options.has_value());
  EXPECT_EQ(p.result.exit_code, 2);
  EXPECT_THAT(p.err, StartsWith("edleak-bpf: "));
  EXPECT_THAT(p.err, HasSubstr(fragment));
  EXPECT_EQ(std::count(p.err.begin(), p.err.end(), '\n'), 1) << p.err;
}

TEST(ParseOptions, DefaultsWatchEveryProcess) {
  Parsed p = parse({});
  ASSERT_TRUE(p.result.options) << p.err;
  EXPECT_EQ(p.result.exit_code, 0);
  EXPECT_EQ(p.result.options->mode, Options::Mode::trace);
  const TraceOptions& t = p.trace();
  EXPECT_THAT(t.pids, IsEmpty());
  EXPECT_THAT(t.command, IsEmpty());
  EXPECT_EQ(t.interval, 1s);
  EXPECT_FALSE(t.duration.has_value());
  EXPECT_EQ(t.top, 10u);
  EXPECT_EQ(t.format, report::Format::text);
  EXPECT_EQ(t.output_path, "");
  EXPECT_EQ(t.libc_path, "");
  EXPECT_EQ(t.max_allocs, 1'000'000u);
  EXPECT_EQ(t.max_stacks, 65'536u);
  EXPECT_EQ(t.verbosity, 0);
  EXPECT_FALSE(t.all_stacks);
  EXPECT_EQ(p.err, "");
  EXPECT_EQ(p.out, "");
}

TEST(ParseOptions, AllStacks) {
  EXPECT_TRUE(parse({"-a"}).trace().all_stacks);
  EXPECT_TRUE(parse({"--all-stacks", "-p", "3"}).trace().all_stacks);
  expect_usage_error_line(parse({"classify", "-a"}), "-a");
}

TEST(ParseOptions, EveryTraceOption) {
  Parsed p = parse({"-p", "42", "--interval", "500ms", "-d", "2m", "--top", "3", "--format", "json", "-o",
                    "out.jsonl", "--libc", "/lib/libc.so.6", "--max-allocs", "2048", "--max-stacks", "4096", "-v"});
  ASSERT_TRUE(p.result.options) << p.err;
  const TraceOptions& t = p.trace();
  EXPECT_THAT(t.pids, ElementsAre(42));
  EXPECT_EQ(t.interval, 500ms);
  EXPECT_EQ(t.duration, std::optional<std::chrono::nanoseconds>(2min));
  EXPECT_EQ(t.top, 3u);
  EXPECT_EQ(t.format, report::Format::json);
  EXPECT_EQ(t.output_path, "out.jsonl");
  EXPECT_EQ(t.libc_path, "/lib/libc.so.6");
  EXPECT_EQ(t.max_allocs, 2048u);
  EXPECT_EQ(t.max_stacks, 4096u);
  EXPECT_EQ(t.verbosity, 1);
}

TEST(ParseOptions, LongAndAttachedSpellings) {
  Parsed p = parse({"--pid=7", "-i2s", "--duration=1.5s", "--top=1", "--output", "x", "--verbose"});
  ASSERT_TRUE(p.result.options) << p.err;
  EXPECT_THAT(p.trace().pids, ElementsAre(7));
  EXPECT_EQ(p.trace().interval, 2s);
  EXPECT_EQ(p.trace().duration, std::optional<std::chrono::nanoseconds>(1500ms));
  EXPECT_EQ(p.trace().top, 1u);
  EXPECT_EQ(p.trace().output_path, "x");
  EXPECT_EQ(p.trace().verbosity, 1);
}

TEST(ParseOptions, DurationsInPlainSeconds) {
  Parsed p = parse({"-i", "0.25", "-d", "30"});
  ASSERT_TRUE(p.result.options) << p.err;
  EXPECT_EQ(p.trace().interval, 250ms);
  EXPECT_EQ(p.trace().duration, std::optional<std::chrono::nanoseconds>(30s));
}

TEST(ParseOptions, PidsRepeatedAndCommaSeparatedKeepOrderWithoutDuplicates) {
  Parsed p = parse({"-p", "1,2", "-p", "30", "--pid", "2,4194304"});
  ASSERT_TRUE(p.result.options) << p.err;
  EXPECT_THAT(p.trace().pids, ElementsAre(1, 2, 30, 4194304));
}

TEST(ParseOptions, InvalidPids) {
  const std::string why = ": expected a process id from 1 to 4194304";
  expect_usage_error(parse({"-p", "abc"}), "invalid pid 'abc' for -p" + why);
  expect_usage_error(parse({"-p", "0"}), "invalid pid '0' for -p" + why);
  expect_usage_error(parse({"-p", "-5"}), "invalid pid '-5' for -p" + why);
  expect_usage_error(parse({"-p", "1,,2"}), "invalid pid '' for -p" + why);
  expect_usage_error(parse({"-p", "1,"}), "invalid pid '' for -p" + why);
  expect_usage_error(parse({"-p", "12x"}), "invalid pid '12x' for -p" + why);
  expect_usage_error(parse({"-p", "+3"}), "invalid pid '+3' for -p" + why);
  expect_usage_error(parse({"-p", "4194305"}), "invalid pid '4194305' for -p" + why);
  expect_usage_error(parse({"-p", "99999999999999999999999"}), "invalid pid '99999999999999999999999' for -p" + why);
}

TEST(ParseOptions, OnePidPerOccurrence) {
  // "-p 1 2" is not a list: 2 would be a stray argument.
  expect_usage_error_line(parse({"-p", "1", "2"}), "2");
}

TEST(ParseOptions, VerbosityCounts) {
  EXPECT_EQ(parse({"-vv"}).trace().verbosity, 2);
  EXPECT_EQ(parse({"-v", "-v", "--verbose"}).trace().verbosity, 3);
  expect_usage_error_line(parse({"--verbose=5"}), "verbose");
}

TEST(ParseOptions, InvalidDurationsNameTheValueAndTheOption) {
  expect_usage_error(parse({"--interval", "abc"}),
                     "invalid duration 'abc' for --interval: expected a number such as 1s, 500ms or 2m");
  expect_usage_error(parse({"-i", "0"}), "invalid duration '0' for --interval: must be positive");
  expect_usage_error(parse({"-d", "5parsecs"}),
                     "invalid duration '5parsecs' for --duration: unknown unit 'parsecs' (use ms, s, m or h)");
  expect_usage_error(parse({"-d", "-1s"}), "invalid duration '-1s' for --duration: must be positive");
  expect_usage_error(parse({"-d", "0.1ms"}), "invalid duration '0.1ms' for --duration: shorter than 1ms");
  expect_usage_error_line(parse({"--interval="}), "--interval");
}

TEST(ParseOptions, TopMustBeAtLeastOne) {
  expect_usage_error(parse({"--top", "0"}), "invalid value '0' for --top: expected an integer of at least 1");
  expect_usage_error(parse({"--top", "ten"}), "invalid value 'ten' for --top: expected an integer of at least 1");
  expect_usage_error(parse({"--top", "-1"}), "invalid value '-1' for --top: expected an integer of at least 1");
  EXPECT_EQ(parse({"--top", "1000"}).trace().top, 1000u);
}

TEST(ParseOptions, NoiseFloor) {
  EXPECT_EQ(parse({}).trace().min_leak_bytes, 1024u);
  EXPECT_EQ(parse({}).trace().min_leak_share, 0.0001);
  EXPECT_EQ(parse({"--min-leak-bytes", "0"}).trace().min_leak_bytes, 0u);
  EXPECT_EQ(parse({"--min-leak-share", "0.25"}).trace().min_leak_share, 0.25);
  EXPECT_DOUBLE_EQ(parse({"--min-leak-share", "0.1%"}).trace().min_leak_share, 0.001);
  expect_usage_error(parse({"--min-leak-share", "2"}),
                     "invalid value '2' for --min-leak-share: expected a share from 0 to 1 (or a percentage, 0.1%)");
  expect_usage_error(parse({"--min-leak-share", "%"}),
                     "invalid value '%' for --min-leak-share: expected a share from 0 to 1 (or a percentage, 0.1%)");
  expect_usage_error(parse({"--min-leak-bytes", "-5"}),
                     "invalid value '-5' for --min-leak-bytes: expected an integer of at least 0");
}

TEST(ParseOptions, MapSizesWithinBounds) {
  EXPECT_EQ(parse({"--max-allocs", "1024"}).trace().max_allocs, 1024u);
  EXPECT_EQ(parse({"--max-stacks", "67108864"}).trace().max_stacks, 67108864u);
  expect_usage_error(parse({"--max-allocs", "1023"}),
                     "invalid value '1023' for --max-allocs: expected an integer from 1024 to 67108864");
  expect_usage_error(parse({"--max-stacks", "67108865"}),
                     "invalid value '67108865' for --max-stacks: expected an integer from 1024 to 67108864");
  expect_usage_error(parse({"--max-stacks", "1e6"}),
                     "invalid value '1e6' for --max-stacks: expected an integer from 1024 to 67108864");
}

TEST(ParseOptions, Format) {
  EXPECT_EQ(parse({"--format", "text"}).trace().format, report::Format::text);
  EXPECT_EQ(parse({"--format", "json"}).trace().format, report::Format::json);
  expect_usage_error(parse({"--format", "xml"}), "invalid format 'xml' for --format: expected text or json");
  expect_usage_error(parse({"--format", "JSON"}), "invalid format 'JSON' for --format: expected text or json");
}

TEST(ParseOptions, LastOccurrenceOfASingleValueOptionWins) {
  Parsed p = parse({"--top", "2", "--top", "5", "-i", "2s", "-i", "3s"});
  ASSERT_TRUE(p.result.options) << p.err;
  EXPECT_EQ(p.trace().top, 5u);
  EXPECT_EQ(p.trace().interval, 3s);
}

TEST(ParseOptions, OutputDashIsStdout) {
  EXPECT_EQ(parse({"-o", "-"}).trace().output_path, "");
}

TEST(ParseOptions, CommandAfterSeparatorIsNotParsed) {
  Parsed p = parse({"-i", "2s", "--", "./server", "-p", "8080", "--top", "x", "--", "-v"});
  ASSERT_TRUE(p.result.options) << p.err;
  EXPECT_THAT(p.trace().command, ElementsAre("./server", "-p", "8080", "--top", "x", "--", "-v"));
  EXPECT_THAT(p.trace().pids, IsEmpty());
  EXPECT_EQ(p.trace().top, 10u);
  EXPECT_EQ(p.trace().verbosity, 0);
  EXPECT_EQ(p.trace().interval, 2s);
}

TEST(ParseOptions, CommandNamedClassifyIsACommand) {
  Parsed p = parse({"--", "classify", "x"});
  ASSERT_TRUE(p.result.options) << p.err;
  EXPECT_EQ(p.result.options->mode, Options::Mode::trace);
  EXPECT_THAT(p.trace().command, ElementsAre("classify", "x"));
}

TEST(ParseOptions, PidsAndCommandConflict) {
  expect_usage_error(parse({"-p", "1", "--", "ls"}),
                     "-p and a command after '--' cannot be combined: trace running processes or start one");
}

TEST(ParseOptions, SeparatorWithoutCommand) {
  expect_usage_error(parse({"--"}), "missing command after '--'");
}

TEST(ParseOptions, CommandWithoutSeparatorIsRejected) {
  expect_usage_error_line(parse({"ls"}), "ls");
}

TEST(ParseOptions, UnknownOptionAndMissingValue) {
  expect_usage_error_line(parse({"--frobnicate"}), "--frobnicate");
  expect_usage_error_line(parse({"--top"}), "--top");
  expect_usage_error_line(parse({"-p"}), "pid");
}

TEST(ParseOptions, Help) {
  Parsed p = parse({"--help"});
  EXPECT_FALSE(p.result.options.has_value());
  EXPECT_EQ(p.result.exit_code, 0);
  EXPECT_EQ(p.err, "");
  EXPECT_THAT(p.out, StartsWith("Finds memory leaks"));
  EXPECT_THAT(p.out, HasSubstr("Usage: edleak-bpf [OPTIONS] [-- CMD [ARGS...]]\n"));
  EXPECT_THAT(p.out, HasSubstr("edleak-bpf classify [OPTIONS] [FILE|-]"));
  // Grouped like retsnoop's, in this order.
  std::size_t targeting = p.out.find("\nTARGETING:\n");
  std::size_t sampling = p.out.find("\nSAMPLING:\n");
  std::size_t output = p.out.find("\nOUTPUT:\n");
  std::size_t limits = p.out.find("\nLIMITS:\n");
  ASSERT_NE(targeting, std::string::npos) << p.out;
  ASSERT_NE(limits, std::string::npos) << p.out;
  EXPECT_LT(targeting, sampling);
  EXPECT_LT(sampling, output);
  EXPECT_LT(output, limits);
  EXPECT_LT(p.out.find("--pid"), sampling);
  EXPECT_GT(p.out.find("--max-stacks"), limits);
  EXPECT_THAT(p.out, HasSubstr("classify"));
  EXPECT_EQ(p.out.find("\n\n\n"), std::string::npos) << "one blank line between groups";
}

TEST(ParseOptions, ShortHelpAndHelpAfterOtherOptions) {
  EXPECT_EQ(parse({"-h"}).result.exit_code, 0);
  Parsed p = parse({"-p", "1", "--help"});
  EXPECT_EQ(p.result.exit_code, 0);
  EXPECT_FALSE(p.result.options.has_value());
  EXPECT_THAT(p.out, HasSubstr("TARGETING"));
}

TEST(ParseOptions, Version) {
  Parsed p = parse({"--version"});
  EXPECT_FALSE(p.result.options.has_value());
  EXPECT_EQ(p.result.exit_code, 0);
  EXPECT_EQ(p.out, "edleak-bpf 0.1.0\n");
  EXPECT_EQ(p.err, "");
}

TEST(ParseOptions, ClassifyDefaultsToStdinAsText) {
  Parsed p = parse({"classify"});
  ASSERT_TRUE(p.result.options) << p.err;
  EXPECT_EQ(p.result.options->mode, Options::Mode::classify);
  EXPECT_EQ(p.classify().input, "-");
  EXPECT_EQ(p.classify().format, report::Format::text);
}

TEST(ParseOptions, ClassifyFileAndFormat) {
  Parsed p = parse({"classify", "--format", "json", "series.txt"});
  ASSERT_TRUE(p.result.options) << p.err;
  EXPECT_EQ(p.result.options->mode, Options::Mode::classify);
  EXPECT_EQ(p.classify().input, "series.txt");
  EXPECT_EQ(p.classify().format, report::Format::json);
  EXPECT_EQ(parse({"classify", "-"}).classify().input, "-");
}

TEST(ParseOptions, ClassifyFileAfterSeparator) {
  Parsed p = parse({"classify", "--", "--odd-name"});
  ASSERT_TRUE(p.result.options) << p.err;
  EXPECT_EQ(p.classify().input, "--odd-name");
  expect_usage_error(parse({"classify", "--", "a", "b"}), "classify takes one input file, got 2");
  expect_usage_error(parse({"classify", "a", "--", "b"}), "classify takes one input file, got 2");
  expect_usage_error(parse({"classify", "--"}), "classify takes one input file, got 0");
}

TEST(ParseOptions, ClassifyErrors) {
  expect_usage_error(parse({"classify", "--format", "yaml"}),
                     "invalid format 'yaml' for --format: expected text or json");
  expect_usage_error_line(parse({"classify", "a", "b"}), "b");
  expect_usage_error_line(parse({"classify", "--top", "3"}), "--top");
  expect_usage_error(parse({"--top", "3", "classify"}), "--top does not apply to classify");
}

TEST(ParseOptions, ClassifyHelp) {
  Parsed p = parse({"classify", "--help"});
  EXPECT_EQ(p.result.exit_code, 0);
  EXPECT_THAT(p.out, HasSubstr("Usage: edleak-bpf classify [OPTIONS] [FILE]\n"));
  EXPECT_THAT(p.out, HasSubstr("'-' (the default) is stdin"));
  EXPECT_THAT(p.out, ::testing::Not(HasSubstr("--max-stacks")));
}

TEST(ParseOptions, EmptyArgv) {
  std::ostringstream out, err;
  ParseResult r = parse_options(0, nullptr, out, err);
  ASSERT_TRUE(r.options) << err.str();
  EXPECT_EQ(r.options->mode, Options::Mode::trace);
}

}  // namespace
}  // namespace edleak::cli

namespace edleak::cli {
namespace {

TEST(ParseScanOptions, DefaultsScanACommandAtItsExitOnly) {
  Parsed p = parse({"--", "/bin/true"});
  ASSERT_TRUE(p.result.options) << p.err;
  EXPECT_TRUE(p.trace().exit_scan);
  EXPECT_FALSE(p.trace().scan_every);
  EXPECT_FALSE(p.trace().max_scan_pause);
  EXPECT_FALSE(p.trace().fail_on.any());
}

TEST(ParseScanOptions, ScanEveryAndMaxPause) {
  Parsed p = parse({"-p", "12", "--scan-every", "30s", "--max-scan-pause", "50ms"});
  ASSERT_TRUE(p.result.options) << p.err;
  EXPECT_EQ(p.trace().scan_every, std::chrono::nanoseconds(30s));
  EXPECT_EQ(p.trace().max_scan_pause, std::chrono::nanoseconds(50ms));
}

TEST(ParseScanOptions, ScanEveryNeedsPids) {
  expect_usage_error(parse({"--scan-every", "1s", "--", "/bin/true"}),
                     "--scan-every needs -p: it scans running processes (a command is scanned at its exit)");
}

TEST(ParseScanOptions, BadScanDurationsNameTheOption) {
  Parsed p = parse({"-p", "1", "--max-scan-pause", "soon"});
  EXPECT_EQ(p.result.exit_code, 2);
  EXPECT_THAT(p.err, HasSubstr("'soon' for --max-scan-pause"));
}

TEST(ParseScanOptions, FailOnIsACommaList) {
  Parsed p = parse({"--fail-on", "definitely-lost", "--", "/bin/true"});
  ASSERT_TRUE(p.result.options) << p.err;
  EXPECT_TRUE(p.trace().fail_on.definitely_lost);
  Parsed twice = parse({"--fail-on", "definitely-lost,definitely-lost", "-p", "3"});
  ASSERT_TRUE(twice.result.options) << twice.err;
  EXPECT_TRUE(twice.trace().fail_on.definitely_lost);
}

TEST(ParseScanOptions, FailOnRejectsUnknownKinds) {
  expect_usage_error(parse({"--fail-on", "definitely-lost,leaks", "--", "/bin/true"}),
                     "invalid value 'leaks' for --fail-on: expected definitely-lost, linear, logarithmic or "
                     "exponential");
}

TEST(ParseOutputOptions, FailOnLeakClassesWithMinLeak) {
  Parsed p = parse({"--fail-on", "linear,exponential", "--min-leak", "4096", "--", "./run_tests"});
  ASSERT_TRUE(p.result.options) << p.err;
  EXPECT_TRUE(p.trace().fail_on.linear);
  EXPECT_TRUE(p.trace().fail_on.exponential);
  EXPECT_FALSE(p.trace().fail_on.logarithmic);
  EXPECT_FALSE(p.trace().fail_on.definitely_lost);
  EXPECT_EQ(p.trace().fail_on.min_leak, 4096u);
  // A leak class needs no scan: every process mode works.
  EXPECT_TRUE(parse({"--fail-on", "logarithmic"}).result.options);
  expect_usage_error(parse({"--min-leak", "10", "--", "/bin/true"}),
                     "--min-leak applies to --fail-on linear, logarithmic or exponential");
  expect_usage_error(parse({"--fail-on", "linear", "--min-leak", "0", "--", "/bin/true"}),
                     "invalid value '0' for --min-leak: expected an integer of at least 1");
}

TEST(ParseOutputOptions, FilesAndMetrics) {
  Parsed p = parse({"--record", "r.edlk", "--html", "r.html", "--folded", "r.folded", "--folded-leaks", "l.folded",
                    "--pprof", "r.pb.gz", "--metrics", "127.0.0.1:9464", "--", "/bin/true"});
  ASSERT_TRUE(p.result.options) << p.err;
  EXPECT_EQ(p.trace().record_path, "r.edlk");
  EXPECT_EQ(p.trace().html_path, "r.html");
  EXPECT_EQ(p.trace().folded_path, "r.folded");
  EXPECT_EQ(p.trace().folded_leaks_path, "l.folded");
  EXPECT_EQ(p.trace().pprof_path, "r.pb.gz");
  EXPECT_EQ(p.trace().metrics_address, "127.0.0.1:9464");
  for (const char* bad : {"9464", "localhost:9464", "127.0.0.1:70000", "127.0.0.1:"})
    expect_usage_error(parse({"--metrics", bad}),
                       std::string("invalid address '") + bad + "' for --metrics: expected IPV4:PORT, e.g. 127.0.0.1:9464");
}

TEST(ParseReportCommand, FileFormatTopAndOutput) {
  Parsed p = parse({"report", "run.edlk", "--format", "pprof", "--top", "3", "-a", "-o", "run.pb.gz"});
  ASSERT_TRUE(p.result.options) << p.err;
  ASSERT_EQ(p.result.options->mode, Options::Mode::replay);
  const ReplayOptions& r = p.result.options->replay;
  EXPECT_EQ(r.input, "run.edlk");
  EXPECT_EQ(r.format, ReplayOptions::Format::pprof);
  EXPECT_EQ(r.top, 3u);
  EXPECT_TRUE(r.all_stacks);
  EXPECT_EQ(r.output_path, "run.pb.gz");
  EXPECT_EQ(parse({"report", "x"}).result.options->replay.format, ReplayOptions::Format::text);
  expect_usage_error(parse({"report"}), "report needs a record FILE (written by --record FILE)");
  expect_usage_error(parse({"report", "x", "--format", "svg"}),
                     "invalid format 'svg' for report --format: expected text, json, html, folded, folded-leaks or pprof");
  expect_usage_error(parse({"--html", "x.html", "report", "x"}), "--html does not apply to report (give it after 'report')");
}

TEST(ParseScanOptions, FailOnNeedsAScan) {
  expect_usage_error(parse({"--fail-on", "definitely-lost"}),
                     "--fail-on definitely-lost needs a scan: of a command (-- CMD) or of -p processes");
  expect_usage_error(parse({"--fail-on", "definitely-lost", "--no-exit-scan", "--", "/bin/true"}),
                     "--fail-on definitely-lost needs the exit scan that --no-exit-scan turns off");
}

TEST(ParseScanOptions, NoExitScan) {
  Parsed p = parse({"--no-exit-scan", "--", "/bin/true"});
  ASSERT_TRUE(p.result.options) << p.err;
  EXPECT_FALSE(p.trace().exit_scan);
}

// Watch mode (the default) and --probe-all (every call of every process).
TEST(ParseOptions, WatchModeOptions) {
  Parsed p = parse({"--zoom", "30s", "--max-zoom", "2", "--min-heap-growth", "65536", "--suspect-after", "5s"});
  ASSERT_TRUE(p.result.options) << p.err;
  EXPECT_EQ(p.trace().zoom, 30s);
  EXPECT_EQ(p.trace().max_zoom, 2u);
  EXPECT_EQ(p.trace().min_heap_growth, 65536u);
  EXPECT_EQ(p.trace().suspect_after, 5s);
  EXPECT_EQ(parse({}).trace().suspect_after, 1min);
  Parsed all = parse({"--probe-all"});
  ASSERT_TRUE(all.result.options) << all.err;
  EXPECT_TRUE(all.trace().probe_all);
  EXPECT_FALSE(all.trace().watch());
  EXPECT_FALSE(parse({"-p", "1"}).trace().watch());
}

TEST(ParseOptions, WatchOptionsOutsideTheWatchModeAreUsageErrors) {
  expect_usage_error(parse({"--zoom", "1m", "-p", "1"}),
                     "--zoom applies to the watch mode (no -p, command or --probe-all)");
  expect_usage_error(parse({"--probe-all", "--max-zoom", "3"}),
                     "--max-zoom applies to the watch mode (no -p, command or --probe-all)");
  expect_usage_error(parse({"--probe-all", "-p", "1"}),
                     "--probe-all traces every process: it cannot be combined with -p or a command");
  expect_usage_error_line(parse({"--max-zoom", "0"}), "--max-zoom");
  expect_usage_error_line(parse({"--zoom", "soon"}), "--zoom");
  expect_usage_error(parse({"--suspect-after", "5s", "--", "/bin/true"}),
                     "--suspect-after applies to the watch mode (no -p, command or --probe-all)");
}

}  // namespace
}  // namespace edleak::cli

namespace edleak::cli {
namespace {

// What a record keeps of the run: every option, given or defaulted, in the syntax it takes.
TEST(OptionsInEffect, GivenAndDefaultValues) {
  Parsed p = parse({"-i", "2s", "--top", "5", "-a", "--fail-on", "linear", "--min-leak", "4096", "--", "./server",
                    "--port", "80"});
  ASSERT_TRUE(p.result.options) << p.err;
  const auto options = options_in_effect(p.trace());
  auto value = [&](const std::string& name) -> std::string {
    for (const auto& [n, v] : options)
      if (n == name) return v;
    return "(absent)";
  };
  EXPECT_EQ(value("interval"), "2s");
  EXPECT_EQ(value("top"), "5");
  EXPECT_EQ(value("all-stacks"), "yes");
  EXPECT_EQ(value("fail-on"), "linear");
  EXPECT_EQ(value("min-leak"), "4096");
  EXPECT_EQ(value("command"), "./server --port 80");
  EXPECT_EQ(value("min-leak-bytes"), "1024");  // defaults too
  EXPECT_EQ(value("unwind"), "auto");
  EXPECT_EQ(value("duration"), "");  // unset
  EXPECT_EQ(value("pid"), "");
  EXPECT_EQ(options.front().first, "pid");  // --help's order
}

}  // namespace
}  // namespace edleak::cli
