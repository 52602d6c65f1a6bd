// Allocator discovery (which malloc a process calls) and the probe plans of Debian's jemalloc,
// tcmalloc and mimalloc.
#include "probe/allocator.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <set>
#include <unistd.h>

#include "probe/probe_plan.h"

namespace edleak::probe {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

ModuleFunctions module(std::string path, std::set<std::string> functions, bool executable = false) {
  return {path, "", executable,
          [functions = std::move(functions)](std::string_view name) { return functions.count(std::string(name)) > 0; }};
}

const std::set<std::string> kGlibc = {"malloc", "free", "__libc_malloc", "__libc_start_main"};
const std::set<std::string> kJemalloc = {"malloc", "free", "mallocx", "rallocx"};
const std::set<std::string> kTcmalloc = {"malloc", "free", "tc_malloc", "__libc_malloc"};
const std::set<std::string> kMimalloc = {"malloc", "free", "mi_malloc", "__libc_malloc"};

TEST(IdentifyAllocator, FromItsOwnApiBeforeGlibcLookalikes) {
  // mimalloc and tcmalloc define __libc_malloc too: their own API decides.
  EXPECT_EQ(identify_allocator(module("/x/libmimalloc.so.2", kMimalloc)).kind, AllocatorKind::mimalloc);
  EXPECT_EQ(identify_allocator(module("/x/libtcmalloc_minimal.so.4", kTcmalloc)).kind, AllocatorKind::tcmalloc);
  EXPECT_EQ(identify_allocator(module("/x/libjemalloc.so.2", kJemalloc)).kind, AllocatorKind::jemalloc);
  EXPECT_EQ(identify_allocator(module("/lib/x86_64-linux-gnu/libc.so.6", kGlibc)).kind, AllocatorKind::glibc);
  // By API alone, whatever the file is called (a renamed copy, a static link).
  EXPECT_EQ(identify_allocator(module("/opt/app/bin/server", kJemalloc, true)).kind, AllocatorKind::jemalloc);
  EXPECT_EQ(identify_allocator(module("/opt/lib/liballoc.so", kTcmalloc)).kind, AllocatorKind::tcmalloc);
  // By name alone (a build without its extended API exported).
  EXPECT_EQ(identify_allocator(module("/x/libjemalloc.so.1", {"malloc", "free"})).kind, AllocatorKind::jemalloc);
  EXPECT_EQ(identify_allocator(module("/x/libtcmalloc.so.4.5.10", {"malloc", "free"})).kind, AllocatorKind::tcmalloc);
}

TEST(IdentifyAllocator, PrefixedJemallocAndUnknownOnes) {
  Allocator je = identify_allocator(module("/srv/redis", {"je_malloc", "je_free", "je_mallocx", "main"}, true));
  EXPECT_EQ(je.kind, AllocatorKind::jemalloc);
  EXPECT_EQ(je.symbol_prefix, "je_");
  EXPECT_TRUE(je.in_executable);
  EXPECT_FALSE(je.replaces_malloc);
  Allocator asan = identify_allocator(module("/usr/lib/x86_64-linux-gnu/libasan.so.8", {"malloc", "free"}));
  EXPECT_EQ(asan.kind, AllocatorKind::unknown);
  EXPECT_FALSE(asan.traced());
  EXPECT_EQ(asan.describe(), "an allocator edleak-bpf does not know (/usr/lib/x86_64-linux-gnu/libasan.so.8)");
  // "libc" is a name boundary: libcrypt is not glibc.
  EXPECT_EQ(identify_allocator(module("/x/libcrypt.so.1", {"malloc"})).kind, AllocatorKind::unknown);
}

TEST(FindAllocators, TheFirstMallocInLookupOrderWins) {
  auto exe = module("/usr/bin/app", {"main"}, true);
  auto libc = module("/lib/libc.so.6", kGlibc);
  auto je = module("/lib/libjemalloc.so.2", kJemalloc);
  auto tc = module("/lib/libtcmalloc.so.4", kTcmalloc);
  // Linked (DT_NEEDED before libc), or preloaded (before everything but the executable).
  auto found = find_allocators({exe, je, libc});
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].kind, AllocatorKind::jemalloc);
  EXPECT_EQ(found[0].path, "/lib/libjemalloc.so.2");
  EXPECT_EQ(found[0].describe(), "jemalloc (/lib/libjemalloc.so.2)");
  EXPECT_EQ(find_allocators({exe, tc, je, libc})[0].kind, AllocatorKind::tcmalloc);
  EXPECT_EQ(find_allocators({exe, libc, je})[0].kind, AllocatorKind::glibc);  // je after libc: shadowed
  // Linked into the executable: the executable comes first.
  auto static_exe = module("/usr/bin/app", {"main", "malloc", "free", "mallocx"}, true);
  found = find_allocators({static_exe, libc});
  EXPECT_EQ(found[0].kind, AllocatorKind::jemalloc);
  EXPECT_TRUE(found[0].in_executable);
  EXPECT_EQ(found[0].describe(), "jemalloc (linked into the executable /usr/bin/app)");
  EXPECT_TRUE(find_allocators({exe}).empty());  // no malloc anywhere (not a C program we can read)
}

TEST(FindAllocators, PrefixedJemallocBesideTheProcessMalloc) {
  // Redis built from source: its jemalloc, with a je_ prefix, is linked in; malloc stays glibc's.
  auto exe = module("/usr/local/bin/redis-server", {"main", "je_malloc", "je_free", "je_mallocx"}, true);
  auto libc = module("/lib/libc.so.6", kGlibc);
  auto found = find_allocators({exe, libc});
  ASSERT_EQ(found.size(), 2u);
  EXPECT_EQ(found[0].kind, AllocatorKind::glibc);
  EXPECT_EQ(found[1].kind, AllocatorKind::jemalloc);
  EXPECT_EQ(found[1].symbol_prefix, "je_");
  EXPECT_EQ(found[1].describe(), "jemalloc, je_ prefix (linked into the executable /usr/local/bin/redis-server)");
}

TEST(SymbolLookupOrder, ExecutableThenPreloadThenBreadthFirst) {
  // app needs liba and libc; liba needs libb and libc; the preload needs libc.
  std::map<std::string, std::vector<std::string>> needed = {
      {"/app", {"liba.so", "libc.so.6"}},
      {"/lib/liba.so", {"libb.so", "libc.so.6"}},
      {"/lib/libb.so", {}},
      {"/lib/libc.so.6", {}},
      {"/lib/libpre.so", {"libc.so.6", "libmissing.so"}},
  };
  auto order = symbol_lookup_order(
      {"/app", "/lib/libpre.so"}, [&](const std::string& path) { return needed[path]; },
      [&](const std::string& name, const std::string&) -> std::optional<std::string> {
        if (name == "libmissing.so") return std::nullopt;
        return "/lib/" + name;
      });
  EXPECT_THAT(order, ElementsAre("/app", "/lib/libpre.so", "/lib/liba.so", "/lib/libc.so.6", "/lib/libb.so"));
}

// ---- Debian's packages -------------------------------------------------------------------

const std::string kLibDir = "/usr/lib/x86_64-linux-gnu/";

#define REQUIRE_FILE(path)                                                                 \
  do {                                                                                     \
    if (access((path).c_str(), R_OK) != 0) {                                               \
      const char* ci = std::getenv("CI");                                                  \
      if (ci && std::string(ci) == "true") FAIL() << (path) << " missing (run scripts/setup)"; \
      GTEST_SKIP() << (path) << " missing (run scripts/setup)";                            \
    }                                                                                      \
  } while (0)

std::vector<std::string> skipped_reasons(const ProbePlan& plan) {
  std::vector<std::string> out;
  for (const auto& s : plan.skipped) out.push_back(s.symbol + ": " + s.reason);
  return out;
}

const ProbeSite* site_named(const ProbePlan& plan, std::string_view name) {
  for (const auto& site : plan.sites)
    if (site.symbol == name || std::find(site.aliases.begin(), site.aliases.end(), name) != site.aliases.end())
      return &site;
  return nullptr;
}

void expect_one_probe_per_address(const ProbePlan& plan) {
  std::set<std::uint64_t> offsets, functions;
  for (const auto& site : plan.sites) {
    EXPECT_TRUE(offsets.insert(site.probe_offset).second) << site.symbol;
    EXPECT_TRUE(functions.insert(site.function_offset).second) << site.symbol;
  }
}

TEST(AllocatorPlans, Jemalloc) {
  const std::string path = kLibDir + "libjemalloc.so.2";
  REQUIRE_FILE(path);
  auto plan = plan_probes(path, LibraryKind::jemalloc);
  ASSERT_TRUE(plan.ok()) << plan.error().message;
  expect_one_probe_per_address(*plan);
  const std::map<std::string, Handler> handlers = {
      {"malloc", Handler::malloc},          {"free", Handler::free_outer},     {"calloc", Handler::calloc},
      {"realloc", Handler::realloc_owned},  {"mallocx", Handler::malloc},      {"rallocx", Handler::realloc_owned},
      {"xallocx", Handler::xallocx},        {"sdallocx", Handler::free_outer}, {"dallocx", Handler::free_outer},
      {"_Znwm", Handler::malloc},           {"_ZdlPvm", Handler::free_outer},
  };
  for (const auto& [name, handler] : handlers) {
    const ProbeSite* site = site_named(*plan, name);
    ASSERT_NE(site, nullptr) << name;
    EXPECT_EQ(site->handler, handler) << name;
    EXPECT_TRUE(site->emulated) << name << ": " << site->placement;
  }
  // free has no emulated instruction in its first 32 bytes: the longer walk finds its first branch,
  // reached by every call with rdi untouched.
  const ProbeSite* free_site = site_named(*plan, "free");
  EXPECT_GT(free_site->probe_offset - free_site->function_offset, 32u) << free_site->placement;
  // operator delete only jumps to free: free's probe sees its caller.
  EXPECT_EQ(site_named(*plan, "_ZdlPv"), nullptr);
}

TEST(AllocatorPlans, Tcmalloc) {
  const std::string path = kLibDir + "libtcmalloc_minimal.so.4";
  REQUIRE_FILE(path);
  auto plan = plan_probes(path, LibraryKind::tcmalloc);
  ASSERT_TRUE(plan.ok()) << plan.error().message;
  expect_one_probe_per_address(*plan);
  // malloc, tc_malloc and __libc_malloc are one function: one probe.
  const ProbeSite* malloc_site = site_named(*plan, "malloc");
  ASSERT_NE(malloc_site, nullptr);
  EXPECT_EQ(malloc_site, site_named(*plan, "tc_malloc"));
  EXPECT_EQ(site_named(*plan, "free"), site_named(*plan, "tc_delete"));
  ASSERT_NE(site_named(*plan, "tc_free_sized"), nullptr);
  EXPECT_EQ(site_named(*plan, "tc_free_sized")->handler, Handler::free_outer);
  for (const char* name : {"malloc", "free", "tc_free_sized", "_Znwm", "posix_memalign"}) {
    ASSERT_NE(site_named(*plan, name), nullptr) << name;
    EXPECT_TRUE(site_named(*plan, name)->emulated) << name << ": " << site_named(*plan, name)->placement;
  }
}

TEST(AllocatorPlans, Mimalloc) {
  const std::string path = kLibDir + "libmimalloc.so.2";
  REQUIRE_FILE(path);
  auto plan = plan_probes(path, LibraryKind::mimalloc);
  ASSERT_TRUE(plan.ok()) << plan.error().message;
  expect_one_probe_per_address(*plan);
  EXPECT_EQ(site_named(*plan, "malloc"), site_named(*plan, "mi_malloc"));
  EXPECT_EQ(site_named(*plan, "free"), site_named(*plan, "mi_free"));
  EXPECT_EQ(site_named(*plan, "mi_free")->handler, Handler::free_outer);
  // mi_malloc moves size to rsi (its heap to rdi) before its first branch: probed there, read
  // from rsi (memalign's handler), rather than single-stepped at +0.
  const ProbeSite* malloc_site = site_named(*plan, "mi_malloc");
  EXPECT_EQ(malloc_site->handler, Handler::memalign) << malloc_site->placement;
  EXPECT_TRUE(malloc_site->emulated);
  EXPECT_GT(malloc_site->probe_offset, malloc_site->function_offset);
  // mi_realloc(p, n) sets its heap and jumps to mi_heap_realloc(heap, p, n), probed for the heap
  // API at its own jump: mi_realloc needs no probe (the target's sees its caller).
  EXPECT_EQ(site_named(*plan, "mi_realloc"), nullptr);
  ASSERT_NE(site_named(*plan, "mi_heap_realloc"), nullptr) << ::testing::PrintToString(skipped_reasons(*plan));
  EXPECT_EQ(site_named(*plan, "mi_heap_realloc")->handler, Handler::heap_realloc_owned);
  EXPECT_TRUE(site_named(*plan, "mi_heap_realloc")->emulated);
  // The same for (size, alignment) and (count, size, alignment): read where mi_heap_* has them.
  EXPECT_EQ(site_named(*plan, "mi_malloc_aligned"), nullptr);
  EXPECT_EQ(site_named(*plan, "mi_calloc_aligned"), nullptr);
  // The rest of the heap API, mi_expand and the string copies.
  for (const char* name : {"mi_heap_malloc", "mi_heap_calloc", "mi_heap_reallocf", "mi_expand", "mi_heap_strdup",
                           "mi_heap_strndup", "mi_heap_realpath", "mi_heap_zalloc_aligned_at", "mi_heap_malloc_aligned"})
    ASSERT_NE(site_named(*plan, name), nullptr) << name << ": " << ::testing::PrintToString(skipped_reasons(*plan));
  EXPECT_EQ(site_named(*plan, "mi_heap_malloc")->handler, Handler::memalign);
  EXPECT_EQ(site_named(*plan, "mi_heap_malloc_aligned")->handler, Handler::memalign);
  // mi_calloc_aligned -> mi_heap_calloc_aligned -> mi_heap_calloc_aligned_at, which computes
  // count * size and jumps to mi_heap_zalloc_aligned_at(heap, size, ...): one probe, there.
  EXPECT_EQ(site_named(*plan, "mi_heap_zalloc_aligned_at")->handler, Handler::memalign);
  for (const char* passes_on : {"mi_heap_calloc_aligned", "mi_heap_calloc_aligned_at", "mi_heap_zalloc_aligned"})
    EXPECT_EQ(site_named(*plan, passes_on), nullptr) << passes_on;
  EXPECT_EQ(site_named(*plan, "mi_heap_calloc")->handler, Handler::heap_calloc);
  EXPECT_EQ(site_named(*plan, "mi_heap_reallocf")->handler, Handler::heap_realloc_owned);
  EXPECT_EQ(site_named(*plan, "mi_expand")->handler, Handler::expand);
  EXPECT_EQ(site_named(*plan, "mi_heap_strdup")->handler, Handler::heap_string);
  EXPECT_EQ(site_named(*plan, "mi_heap_strndup")->handler, Handler::heap_string);
  EXPECT_EQ(site_named(*plan, "mi_heap_realpath")->handler, Handler::heap_realpath);
  for (const char* jumps : {"mi_strdup", "mi_strndup", "mi_realpath", "mi_reallocf"})
    EXPECT_EQ(site_named(*plan, jumps), nullptr) << jumps << " only jumps to its mi_heap_* function";
  // mi_calloc keeps its count in rax: single-stepped at +0 with its own arguments.
  EXPECT_EQ(site_named(*plan, "mi_calloc")->handler, Handler::calloc);
  EXPECT_EQ(site_named(*plan, "mi_calloc")->probe_offset, site_named(*plan, "mi_calloc")->function_offset);
  // valloc only jumps to mi_valloc, which is probed.
  EXPECT_EQ(site_named(*plan, "valloc"), nullptr);
  EXPECT_NE(site_named(*plan, "mi_valloc"), nullptr);
}

TEST(DiscoverCommand, RedisServerUsesJemalloc) {
  REQUIRE_FILE(std::string("/usr/bin/redis-server"));
  auto found = discover_command_allocators("redis-server");  // through PATH
  ASSERT_TRUE(found.ok()) << found.error().message;
  ASSERT_FALSE(found->empty());
  EXPECT_EQ((*found)[0].kind, AllocatorKind::jemalloc);
  EXPECT_EQ((*found)[0].path, kLibDir + "libjemalloc.so.2");
  EXPECT_FALSE((*found)[0].in_executable);
}

TEST(DiscoverCommand, PlainProgramUsesGlibc) {
  auto found = discover_command_allocators("/bin/true");
  ASSERT_TRUE(found.ok()) << found.error().message;
  ASSERT_FALSE(found->empty());
  EXPECT_EQ((*found)[0].kind, AllocatorKind::glibc);
  EXPECT_THAT((*found)[0].path, HasSubstr("libc.so.6"));
}

TEST(DiscoverCommand, MissingProgramIsAnError) {
  auto found = discover_command_allocators("edleak-no-such-program");
  ASSERT_FALSE(found.ok());
  EXPECT_THAT(found.error().message, HasSubstr("cannot find 'edleak-no-such-program' in PATH"));
}

}  // namespace
}  // namespace edleak::probe
