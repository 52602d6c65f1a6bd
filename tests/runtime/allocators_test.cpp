// Live tests: allocators other than glibc (jemalloc, tcmalloc, mimalloc from Debian's packages),
// linked, preloaded and linked statically. tests/testprogs/allocators/other_sites.cpp calls each
// entry point from its own function at a known rate: bytes and calls are checked exactly per
// site, the site is the caller (of new, for C++), nested calls count once.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fmt/format.h>
#include <csignal>
#include <fstream>
#include <iterator>
#include <thread>
#include <nlohmann/json.hpp>
#include <string>
#include <unistd.h>
#include <vector>

#include "live.h"

namespace edleak::live {
namespace {

using ::testing::EndsWith;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr int kIterations = 30;
constexpr int kPeriodMs = 50;
// Allocations the runtime makes before main (libstdc++'s emergency pool, tcmalloc's own
// registrations): a double-counted entry point would add kIterations.
constexpr int kStartupSlack = 8;

struct Site {
  const char* function;
  std::uint64_t bytes_per_call;
};

// Every build: the standard C API and C++ new (each new through the allocator's own operator
// new when it has one, else libstdc++'s, which calls its malloc).
const std::vector<Site> kStandardSites = {
    {"leak_malloc", 100},         {"leak_calloc", 120},        {"leak_realloc", 140},
    {"leak_posix_memalign", 160}, {"leak_aligned_alloc", 192}, {"sites::leak_new", 96},
    {"sites::leak_new_array", 112},
};
// Per iteration: malloc, calloc, realloc(NULL) + realloc, posix_memalign, aligned_alloc, churn's
// malloc, new, new[], churn_new's new; frees: the realloc's old block, churn's free, delete.
constexpr int kStandardAllocs = 10;
constexpr int kStandardFrees = 3;

struct Variant {
  std::string program;
  std::string allocator;          // report's "allocator"
  std::string linked;             // "shared" or "executable"
  std::string preload;            // LD_PRELOAD for the tracer (the command inherits it)
  std::vector<Site> extra_sites;  // the allocator's own API
  int allocs_per_iteration;
  int frees_per_iteration;
};

const std::vector<Site> kJemallocSites = {
    {"leak_mallocx", 200}, {"leak_rallocx", 220}, {"leak_xallocx", 16384},  // 65536 shrunk in place
};
// mallocx, rallocx's mallocx + rallocx, xallocx's mallocx, sdallocx's and dallocx's mallocx; frees:
// rallocx's old block, sdallocx, dallocx. xallocx allocates nothing.
constexpr int kJemallocAllocs = kStandardAllocs + 6, kJemallocFrees = kStandardFrees + 3;

const std::vector<Site> kTcmallocSites = {{"leak_tc_malloc", 210}, {"leak_tc_memalign", 176}};
constexpr int kTcmallocAllocs = kStandardAllocs + 3, kTcmallocFrees = kStandardFrees + 1;

const std::vector<Site> kMimallocSites = {
    {"leak_mi_malloc", 230},         {"leak_mi_zalloc", 240},         {"leak_mi_calloc", 248},
    {"leak_mi_realloc", 256},        {"leak_mi_malloc_aligned", 264}, {"leak_mi_zalloc_aligned", 272},
    {"leak_mi_calloc_aligned", 280}, {"leak_mi_realloc_aligned", 288},
    {"leak_mi_heap_malloc", 296},    {"leak_mi_heap_calloc", 304},    {"leak_mi_heap_realloc", 312},
    {"leak_mi_reallocf", 320},       {"leak_mi_expand", 1008},        {"leak_mi_strdup", 41},
    {"leak_mi_strndup", 21},         {"leak_mi_heap_strdup", 41},     {"leak_mi_realpath", 26},
};
// 8 sites, the two reallocs' first blocks, churn_mi_free's; frees: those two old blocks (mi_realloc
// frees them with mi_free inside: counted once), mi_free. Then 9 more sites, the first blocks of
// mi_heap_realloc and mi_reallocf (freed by them: 2 frees); mi_expand allocates nothing, nor a
// realpath into a buffer.
constexpr int kMimallocAllocs = kStandardAllocs + 11 + 11, kMimallocFrees = kStandardFrees + 3 + 2;

const std::string kLibDir = "/usr/lib/x86_64-linux-gnu/";

// A program of tests/testprogs/allocators, which is only built when its packages are installed.
#define REQUIRE_PROGRAM(path)                                                                     \
  do {                                                                                            \
    if (access((path).c_str(), X_OK) != 0) {                                                      \
      std::string why = (path) + " was not built (run scripts/setup: its allocator package is missing)"; \
      if (in_ci()) FAIL() << why;                                                                 \
      GTEST_SKIP() << why;                                                                        \
    }                                                                                             \
  } while (0)

#define REQUIRE_FILE(path)                                                       \
  do {                                                                           \
    if (access((path).c_str(), R_OK) != 0) {                                     \
      std::string why = (path) + " is missing (run scripts/setup)";              \
      if (in_ci()) FAIL() << why;                                                \
      GTEST_SKIP() << why;                                                       \
    }                                                                            \
  } while (0)

RunResult trace(const std::string& program, const std::string& preload) {
  std::vector<std::string> env;
  if (!preload.empty()) env.push_back("LD_PRELOAD=" + preload);
  return run({tracer_path(), "--interval", "100ms", "--format", "json", "--top", "50", "--", program,
              std::to_string(kIterations), std::to_string(kPeriodMs)},
             std::chrono::seconds(90), env);
}

// Exact calls and bytes at each of the variant's sites, in the process's section; and nothing
// attributed to a churning site or to the allocator itself.
void expect_site_counts(const nlohmann::json& process, const Variant& v, const std::string& program);

void expect_sites(const Variant& v) {
  const std::string program = testprog(v.program);
  RunResult r = trace(program, v.preload);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto& report = final_report(r);
  const auto* process = only_process(report);
  ASSERT_NE(process, nullptr) << r.out << r.err;
  EXPECT_EQ((*process)["allocator"], v.allocator) << process->dump();
  ASSERT_GE((*process)["allocators"].size(), 1u);
  const auto& allocator = (*process)["allocators"][0];
  EXPECT_EQ(allocator["linked"], v.linked);
  EXPECT_TRUE(allocator["traced"].get<bool>());
  if (v.linked == "executable") {
    EXPECT_EQ(allocator["path"], program);
  }
  EXPECT_EQ(report["stats"]["lost_allocs"], 0);
  EXPECT_EQ(report["stats"]["stack_errors"], 0);
  // Frees of blocks never seen allocated: a free nested in realloc counted on its own, or a
  // block recorded at another address.
  EXPECT_EQ(report["stats"]["unknown_frees"], 0);
  expect_site_counts(*process, v, program);
}

void expect_site_counts(const nlohmann::json& process_json, const Variant& v, const std::string& program) {
  const auto* process = &process_json;
  const int allocs = v.allocs_per_iteration * kIterations;
  const int frees = v.frees_per_iteration * kIterations;
  EXPECT_GE((*process)["total_allocs"].get<int>(), allocs);
  EXPECT_LE((*process)["total_allocs"].get<int>(), allocs + kStartupSlack);
  EXPECT_GE((*process)["total_frees"].get<int>(), frees);
  EXPECT_LE((*process)["total_frees"].get<int>(), frees + kStartupSlack);

  std::vector<Site> sites = kStandardSites;
  sites.insert(sites.end(), v.extra_sites.begin(), v.extra_sites.end());
  for (const Site& site : sites) {
    SCOPED_TRACE(site.function);
    const auto* leaker = find_leaker(*process, site.function);
    ASSERT_NE(leaker, nullptr) << "sites: " << ::testing::PrintToString(site_symbols(*process));
    EXPECT_EQ((*leaker)["total_allocs"], kIterations);  // once per call: nested calls add nothing
    EXPECT_EQ((*leaker)["outstanding_allocs"], kIterations);
    EXPECT_EQ((*leaker)["outstanding_bytes"], site.bytes_per_call * kIterations);
    EXPECT_EQ((*leaker)["leak_factor"]["class"], "linear");
    const auto& frame = (*leaker)["stack"][0];
    EXPECT_EQ(frame["module"], program);
    EXPECT_THAT(frame["file"].get<std::string>(), EndsWith("other_sites.cpp"));
  }
  for (const auto& symbol : site_symbols(*process)) {
    EXPECT_THAT(symbol, Not(HasSubstr("churn")));         // every churned block freed
    EXPECT_THAT(symbol, Not(HasSubstr("operator new")));  // new's caller, not new
    // Nor the allocator's own entry points or internals (jemalloc's are je_*, mimalloc's _mi_*).
    for (const char* entry : {"malloc", "calloc", "realloc", "mallocx", "rallocx", "tc_malloc", "mi_malloc"})
      EXPECT_NE(symbol, entry);
    EXPECT_THAT(symbol, Not(::testing::StartsWith("je_")));
    EXPECT_THAT(symbol, Not(::testing::StartsWith("_mi_")));
  }
}

// All-process mode: a jemalloc program started after the tracer is probed once its exec is
// seen, with exact counts. It runs on a private libc (--libc: the probes on it fire only in the
// test's processes, not in every process of the machine, this tracer's own allocations
// included) and a private copy of libjemalloc, which no process maps when tracing starts.
TEST(Allocators, ProbeAllTracesAJemallocProgramStartedLater) {
  EDLEAK_REQUIRE_LIVE();
  const std::string program = testprog("other_sites_jemalloc");
  REQUIRE_PROGRAM(program);
  PrivateLibc libc;
  const std::string dir = libc.dir();
  RunResult copy = run({"/bin/cp", kLibDir + "libjemalloc.so.2", dir + "/libjemalloc.so.2"});
  ASSERT_EQ(copy.exit_code, 0) << copy.err;
  const std::string output = dir + "/reports.json";
  // Its messages to a file (a pipe nobody reads could fill and stop it): "tracing ..." says the
  // probes are in.
  const std::string messages = dir + "/stderr.txt";
  Background tracer({"/bin/sh", "-c",
                     fmt::format("exec {} --probe-all --libc {} -i 200ms -d 15s --format json -a --top 50 -o {} 2>{}",
                                 tracer_path(), libc.libc_path(), output, messages)});
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  auto tracing = [&] {
    std::ifstream in(messages);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    return text.find("tracing every process") != std::string::npos;
  };
  while (!tracing() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ASSERT_TRUE(tracing()) << "no 'tracing' line in " << messages;
  // It waits 3 s before its first call (its probes go in once its exec is seen: within a
  // millisecond on a quiet machine, a second or more when the all-process loop is busy with
  // every other new process) and after its last (its stacks are read while it runs).
  Background traced({program, std::to_string(kIterations), std::to_string(kPeriodMs), "3000"}, {libc.env()});
  ASSERT_EQ(traced.wait(), 0);
  EXPECT_EQ(tracer.wait(), 0);
  // Its section with the most allocations (its final one).
  std::ifstream lines(output);
  nlohmann::json best;
  for (std::string line; std::getline(lines, line);) {
    if (line.empty()) continue;
    const auto report = nlohmann::json::parse(line, nullptr, false);
    if (report.is_discarded()) continue;
    for (const auto& p : report["processes"])
      if (p["pid"] == traced.pid() && (best.is_null() || p["total_allocs"] > best["total_allocs"])) best = p;
  }
  ASSERT_FALSE(best.is_null()) << "no section of pid " << traced.pid() << " in " << output;
  expect_site_counts(best, {"other_sites_jemalloc", "jemalloc", "shared", "", kJemallocSites, kJemallocAllocs,
                            kJemallocFrees},
                     program);
}

// All-process mode never probes another edleak-bpf: the jemalloc linked into a tracer would
// trap on every allocation of its unwinder and symbolizer (seen: a tracer's unwind tables for
// one process took 20 s instead of 0.5 s under another's --probe-all). The other tracer maps the
// private libc, so this one looks at it.
TEST(Allocators, ProbeAllLeavesAnotherTracerAlone) {
  EDLEAK_REQUIRE_LIVE();
  PrivateLibc libc;
  const std::string dir = libc.dir();
  // Alive while the second one starts (its loading takes a second or two) and looks at it.
  Background other({tracer_path(), "-i", "1s", "--", "/bin/sleep", "8"}, {libc.env()});
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  RunResult r = run({"/bin/sh", "-c",
                     fmt::format("exec {} --probe-all --libc {} -v -i 200ms -d 2s -o /dev/null", tracer_path(),
                                 libc.libc_path())});
  EXPECT_EQ(other.wait(), 0);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find(fmt::format("pid {} is another edleak-bpf: the allocator linked into", other.pid())),
            std::string::npos)
      << r.err;
  EXPECT_EQ(r.err.find(fmt::format("probing /proc/{}/root{} for", other.pid(), tracer_path())), std::string::npos)
      << r.err;
}

TEST(Allocators, JemallocLinked) {
  EDLEAK_REQUIRE_LIVE();
  REQUIRE_PROGRAM(testprog("other_sites_jemalloc"));
  expect_sites({"other_sites_jemalloc", "jemalloc", "shared", "", kJemallocSites, kJemallocAllocs, kJemallocFrees});
}

TEST(Allocators, JemallocLinkedStatically) {
  EDLEAK_REQUIRE_LIVE();
  REQUIRE_PROGRAM(testprog("other_sites_jemalloc_static"));
  expect_sites({"other_sites_jemalloc_static", "jemalloc", "executable", "", kJemallocSites, kJemallocAllocs,
                kJemallocFrees});
}

TEST(Allocators, JemallocPreloaded) {
  EDLEAK_REQUIRE_LIVE();
  REQUIRE_PROGRAM(testprog("other_sites_plain"));
  REQUIRE_FILE(kLibDir + "libjemalloc.so.2");
  expect_sites({"other_sites_plain", "jemalloc", "shared", kLibDir + "libjemalloc.so.2", {}, kStandardAllocs,
                kStandardFrees});
}

TEST(Allocators, TcmallocLinked) {
  EDLEAK_REQUIRE_LIVE();
  REQUIRE_PROGRAM(testprog("other_sites_tcmalloc"));
  expect_sites({"other_sites_tcmalloc", "tcmalloc", "shared", "", kTcmallocSites, kTcmallocAllocs, kTcmallocFrees});
}

TEST(Allocators, TcmallocPreloaded) {
  EDLEAK_REQUIRE_LIVE();
  REQUIRE_PROGRAM(testprog("other_sites_plain"));
  REQUIRE_FILE(kLibDir + "libtcmalloc_minimal.so.4");
  expect_sites({"other_sites_plain", "tcmalloc", "shared", kLibDir + "libtcmalloc_minimal.so.4", {},
                kStandardAllocs, kStandardFrees});
}

TEST(Allocators, MimallocLinked) {
  EDLEAK_REQUIRE_LIVE();
  REQUIRE_PROGRAM(testprog("other_sites_mimalloc"));
  expect_sites({"other_sites_mimalloc", "mimalloc", "shared", "", kMimallocSites, kMimallocAllocs, kMimallocFrees});
}

TEST(Allocators, MimallocPreloaded) {
  EDLEAK_REQUIRE_LIVE();
  REQUIRE_PROGRAM(testprog("other_sites_plain"));
  REQUIRE_FILE(kLibDir + "libmimalloc.so.2");
  expect_sites({"other_sites_plain", "mimalloc", "shared", kLibDir + "libmimalloc.so.2", {}, kStandardAllocs,
                kStandardFrees});
}

// glibc still says so: the report header names the allocator of every process.
TEST(Allocators, GlibcNamed) {
  EDLEAK_REQUIRE_LIVE();
  REQUIRE_PROGRAM(testprog("other_sites_plain"));
  RunResult r = trace(testprog("other_sites_plain"), "");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto* process = only_process(final_report(r));
  ASSERT_NE(process, nullptr) << r.out << r.err;
  EXPECT_EQ((*process)["allocator"], "glibc");
  EXPECT_NE(find_leaker(*process, "leak_malloc"), nullptr);
}

// An allocator we have no probes for: one clear line, not "0 stacks, 0 B outstanding".
TEST(Allocators, UnknownAllocatorSaysItIsNotTraced) {
  EDLEAK_REQUIRE_LIVE();
  const std::string bump = testprog("libbump_malloc.so");
  REQUIRE_PROGRAM(testprog("other_sites_plain"));
  REQUIRE_FILE(bump);
  RunResult json = trace(testprog("other_sites_plain"), bump);
  ASSERT_EQ(json.exit_code, 0) << json.err;
  const auto* process = only_process(final_report(json));
  ASSERT_NE(process, nullptr) << json.out << json.err;
  EXPECT_EQ((*process)["allocator"], "unknown");
  EXPECT_FALSE((*process)["allocators"][0]["traced"].get<bool>());
  EXPECT_EQ((*process)["allocators"][0]["path"], bump);
  EXPECT_THAT(json.err, HasSubstr("which edleak-bpf cannot trace"));

  RunResult text = run({tracer_path(), "--interval", "100ms", "--", testprog("other_sites_plain"), "5", "20"},
                       std::chrono::seconds(60), {"LD_PRELOAD=" + bump});
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_THAT(text.out, HasSubstr(fmt::format("not traced: its malloc is an allocator edleak-bpf does not know ({})"
                                              ", which edleak-bpf cannot trace",
                                              bump)));
  EXPECT_THAT(text.out, Not(HasSubstr("no leaks detected")));
}

}  // namespace
}  // namespace edleak::live
