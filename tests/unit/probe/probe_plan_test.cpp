// The probe plan for the system libc and libstdc++: properties that hold for any build of them,
// plus the placements glibc 2.36 / libstdc++ 6.0.30 are known to give, checked against the bytes.
#include "probe/probe_plan.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "probe/elf_symbols.h"
#include "probe/prologue.h"
#include "temp_file.h"

namespace edleak::probe {
namespace {

using ::testing::HasSubstr;
using testing::read_whole_file;
using testing::TempFile;

constexpr const char* kLibc = "/lib/x86_64-linux-gnu/libc.so.6";
constexpr const char* kLibstdcxx = "/usr/lib/x86_64-linux-gnu/libstdc++.so.6";

const ProbeSite* site_named(const ProbePlan& plan, std::string_view name) {
  for (const auto& site : plan.sites) {
    if (site.symbol == name || std::find(site.aliases.begin(), site.aliases.end(), name) != site.aliases.end()) {
      return &site;
    }
  }
  return nullptr;
}

const SkippedSymbol* skipped_named(const ProbePlan& plan, std::string_view name) {
  for (const auto& skipped : plan.skipped) {
    if (skipped.symbol == name) return &skipped;
  }
  return nullptr;
}

std::vector<std::uint8_t> bytes_at(const std::vector<std::uint8_t>& image, std::uint64_t offset, std::size_t n) {
  return {image.begin() + static_cast<std::ptrdiff_t>(offset), image.begin() + static_cast<std::ptrdiff_t>(offset + n)};
}

// push %reg, with or without REX.B.
bool is_push_register(const std::vector<std::uint8_t>& image, std::uint64_t offset) {
  if (image[offset] >= 0x50 && image[offset] <= 0x57) return true;
  return image[offset] == 0x41 && image[offset + 1] >= 0x50 && image[offset + 1] <= 0x57;
}

void expect_well_formed(const ProbePlan& plan) {
  std::set<std::uint64_t> probe_offsets;
  std::set<std::uint64_t> function_offsets;
  std::set<std::string> names;
  for (const auto& site : plan.sites) {
    EXPECT_TRUE(probe_offsets.insert(site.probe_offset).second) << site.symbol << ": a second probe at an offset";
    EXPECT_TRUE(function_offsets.insert(site.function_offset).second) << site.symbol;
    EXPECT_GE(site.probe_offset, site.function_offset) << site.symbol;
    EXPECT_LT(site.probe_offset, site.function_offset + 32) << site.symbol;
    EXPECT_FALSE(site.placement.empty()) << site.symbol;
    EXPECT_TRUE(names.insert(site.symbol).second) << site.symbol;
    for (const auto& alias : site.aliases) EXPECT_TRUE(names.insert(alias).second) << alias << " named twice";
  }
  for (const auto& skipped : plan.skipped) {
    EXPECT_EQ(names.count(skipped.symbol), 0u) << skipped.symbol << " both probed and skipped";
    EXPECT_FALSE(skipped.reason.empty());
  }
}

class LibcPlan : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto plan = plan_probes(kLibc, LibraryKind::libc);
    ASSERT_TRUE(plan.ok()) << plan.error().message;
    plan_ = new ProbePlan(std::move(*plan));
    image_ = new std::vector<std::uint8_t>(read_whole_file(kLibc));
  }
  static void TearDownTestSuite() {
    delete plan_;
    delete image_;
  }
  static ProbePlan* plan_;
  static std::vector<std::uint8_t>* image_;
};
ProbePlan* LibcPlan::plan_ = nullptr;
std::vector<std::uint8_t>* LibcPlan::image_ = nullptr;

TEST_F(LibcPlan, RequiredFunctionsAreProbedWithTheirHandlers) {
  EXPECT_EQ(plan_->library_path, kLibc);
  EXPECT_EQ(plan_->kind, LibraryKind::libc);
  for (auto [name, handler] : {std::pair{"malloc", Handler::malloc}, std::pair{"free", Handler::free},
                               std::pair{"calloc", Handler::calloc}, std::pair{"realloc", Handler::realloc}}) {
    const ProbeSite* site = site_named(*plan_, name);
    ASSERT_NE(site, nullptr) << name;
    EXPECT_EQ(site->symbol, name);
    EXPECT_EQ(site->handler, handler) << name;
  }
}

TEST_F(LibcPlan, SitesAreDistinctAndInsideTheirFunctions) { expect_well_formed(*plan_); }

TEST_F(LibcPlan, EverySiteIsAtAnEmulatedInstruction) {
  for (const auto& site : plan_->sites) {
    EXPECT_TRUE(site.emulated) << site.symbol << ": " << site.placement;
  }
}

TEST_F(LibcPlan, AliasesShareOneProbe) {
  const ProbeSite* memalign = site_named(*plan_, "memalign");
  const ProbeSite* aligned_alloc = site_named(*plan_, "aligned_alloc");
  ASSERT_NE(memalign, nullptr);
  EXPECT_EQ(memalign, aligned_alloc) << "memalign and aligned_alloc are one address in glibc";
  EXPECT_EQ(memalign->symbol, "memalign");  // first in the table
  EXPECT_EQ(memalign->handler, Handler::memalign);
  const auto both = std::count_if(plan_->sites.begin(), plan_->sites.end(), [](const ProbeSite& s) {
    return s.symbol == "memalign" || s.symbol == "aligned_alloc";
  });
  EXPECT_EQ(both, 1);
  // glibc's internal names for malloc/free are aliases, not second probes.
  EXPECT_EQ(site_named(*plan_, "__libc_malloc"), site_named(*plan_, "malloc"));
  EXPECT_EQ(site_named(*plan_, "cfree"), site_named(*plan_, "free"));
}

TEST_F(LibcPlan, FreeIsProbedAfterItsNullTest) {
  const ProbeSite* free_site = site_named(*plan_, "free");
  ASSERT_NE(free_site, nullptr);
  const auto entry = bytes_at(*image_, free_site->function_offset, 9);
  // test %rdi,%rdi; je rel32 -> the instruction after them.
  if (entry[0] == 0x48 && entry[1] == 0x85 && entry[2] == 0xff && entry[3] == 0x0f && entry[4] == 0x84) {
    EXPECT_EQ(free_site->probe_offset, free_site->function_offset + 9);
    EXPECT_TRUE(is_push_register(*image_, free_site->probe_offset));
    EXPECT_THAT(free_site->placement, HasSubstr("after the NULL test"));
  } else {
    GTEST_SKIP() << "this libc's free does not start with the NULL test";
  }
}

TEST_F(LibcPlan, ReallocarrayTailCallsRealloc) {
  const SkippedSymbol* skipped = skipped_named(*plan_, "reallocarray");
  if (skipped == nullptr) {
    const ProbeSite* site = site_named(*plan_, "reallocarray");
    ASSERT_NE(site, nullptr);
    EXPECT_EQ(site->handler, Handler::reallocarray);
    GTEST_SKIP() << "this libc's reallocarray is not a tail call";
  }
  EXPECT_THAT(skipped->reason, HasSubstr("tail call to realloc@plt"));
  EXPECT_EQ(site_named(*plan_, "reallocarray"), nullptr);
}

TEST(LibstdcxxPlan, OperatorNewVariants) {
  auto plan = plan_probes(kLibstdcxx, LibraryKind::libstdcxx);
  ASSERT_TRUE(plan.ok()) << plan.error().message;
  expect_well_formed(*plan);
  const auto image = read_whole_file(kLibstdcxx);

  const ProbeSite* new_site = site_named(*plan, "_Znwm");
  ASSERT_NE(new_site, nullptr);
  EXPECT_TRUE(new_site->emulated);
  EXPECT_TRUE(is_push_register(image, new_site->probe_offset)) << new_site->placement;

  const SkippedSymbol* new_array = skipped_named(*plan, "_Znam");
  ASSERT_NE(new_array, nullptr);
  EXPECT_EQ(new_array->reason, "tail jump to _Znwm@plt (its target's probe sees the caller)");

  // nothrow new adjusts rsp before calling new: only its entry (endbr64) is safe.
  const ProbeSite* nothrow = site_named(*plan, "_ZnwmRKSt9nothrow_t");
  ASSERT_NE(nothrow, nullptr);
  EXPECT_EQ(nothrow->probe_offset, nothrow->function_offset);
  EXPECT_FALSE(nothrow->emulated);
  EXPECT_THAT(nothrow->placement, HasSubstr("write to rsp"));

  for (const auto& site : plan->sites) {
    EXPECT_EQ(site.handler, Handler::malloc) << site.symbol;
    EXPECT_TRUE(site.symbol.starts_with("_Znwm") || site.symbol.starts_with("_Znam")) << site.symbol;
  }
}

TEST(LibstdcxxPlan, PltStubOfTheTailJumpNamesOperatorNew) {
  // The path the plan takes to name _Znam's target, step by step.
  auto elf = ElfFile::open(kLibstdcxx);
  ASSERT_TRUE(elf.ok()) << elf.error().message;
  const ElfFunction* new_array = elf->find_function("_Znam");
  ASSERT_NE(new_array, nullptr);
  auto code = elf->code_at(new_array->address, new_array->size);
  ASSERT_TRUE(code.ok());
  auto point = choose_probe_point({*code, new_array->address, 1, false});
  ASSERT_TRUE(point.ok()) << point.error().message;
  ASSERT_TRUE(point->tail_jump);
  EXPECT_TRUE(point->tail_jump->pure);
  auto stub = elf->code_at(point->tail_jump->target, 16);
  ASSERT_TRUE(stub.ok());
  const auto slot = plt_stub_slot(*stub, point->tail_jump->target);
  ASSERT_TRUE(slot);
  EXPECT_EQ(elf->got_slot_symbol(*slot), std::optional<std::string>("_Znwm"));
}

TEST(PlanErrors, LibcWithoutOperatorNewIsAnEmptyCxxPlan) {
  auto plan = plan_probes(kLibc, LibraryKind::libstdcxx);
  ASSERT_TRUE(plan.ok()) << plan.error().message;
  EXPECT_TRUE(plan->sites.empty());
  EXPECT_TRUE(plan->skipped.empty());
}

TEST(PlanErrors, MissingRequiredSymbol) {
  // libstdc++ imports malloc but does not define it.
  auto plan = plan_probes(kLibstdcxx, LibraryKind::libc);
  ASSERT_FALSE(plan.ok());
  EXPECT_EQ(plan.error().message,
            std::string(kLibstdcxx) + ": cannot probe malloc: no such function in .dynsym or .symtab");
}

TEST(PlanErrors, NotAnElfFile) {
  const std::string text = "not an ELF file at all";
  TempFile file(std::vector<std::uint8_t>(text.begin(), text.end()));
  auto plan = plan_probes(file.path(), LibraryKind::libc);
  ASSERT_FALSE(plan.ok());
  EXPECT_EQ(plan.error().message, file.path() + ": not an ELF file");
}

TEST(Handlers, ArgumentsAndReturn) {
  EXPECT_EQ(handler_arg_count(Handler::malloc), 1u);
  EXPECT_EQ(handler_arg_count(Handler::free), 1u);
  EXPECT_EQ(handler_arg_count(Handler::pvalloc), 1u);
  EXPECT_EQ(handler_arg_count(Handler::calloc), 2u);
  EXPECT_EQ(handler_arg_count(Handler::memalign), 2u);
  EXPECT_EQ(handler_arg_count(Handler::realloc), 2u);
  EXPECT_EQ(handler_arg_count(Handler::posix_memalign), 3u);
  EXPECT_EQ(handler_arg_count(Handler::reallocarray), 3u);
  EXPECT_FALSE(handler_needs_return(Handler::free));
  EXPECT_TRUE(handler_needs_return(Handler::malloc));
  EXPECT_TRUE(handler_needs_return(Handler::posix_memalign));
  EXPECT_EQ(to_string(Handler::posix_memalign), "posix_memalign");
  EXPECT_EQ(to_string(Handler::free), "free");
  EXPECT_EQ(to_string(Handler::reallocarray), "reallocarray");
}

}  // namespace
}  // namespace edleak::probe
