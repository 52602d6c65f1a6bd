// Symbolizes addresses of this very test process (built -O2 -g) and of a forked child.
#include "symbolize/symbolizer.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <climits>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "symbolize/elf_module.h"
#include "symbolize/proc_maps.h"

// Where a call returns to, and the line of that call.
struct CallSite {
  std::uint64_t return_address = 0;
  int line = 0;
};

// Returns the address its caller resumes at.
extern "C" __attribute__((noinline, noipa)) std::uint64_t edleak_test_return_address() {
  return reinterpret_cast<std::uint64_t>(__builtin_return_address(0));
}

static constexpr int kCFunctionLine = __LINE__ + 1;
extern "C" __attribute__((noinline, noipa)) void edleak_test_c_function(CallSite* call) {
  call->line = __LINE__ + 1;
  call->return_address = edleak_test_return_address();  // a store after the call: no tail call
}

namespace edleak_test {
static constexpr int kNamespacedFunctionLine = __LINE__ + 1;
__attribute__((noinline, noipa)) int namespaced_function(int value) { return value * 3 + 1; }
}  // namespace edleak_test

static inline __attribute__((always_inline)) void inlined_helper(CallSite* call) {
  call->line = __LINE__ + 1;
  call->return_address = edleak_test_return_address();
}

extern "C" __attribute__((noinline, noipa)) void edleak_test_inlining_caller(CallSite* inner,
                                                                             int* inlined_at) {
  *inlined_at = __LINE__ + 1;
  inlined_helper(inner);
}

// Thrown with the address the call to throw_return_address would have returned to.
struct ReturnAddressOfNoreturnCall {
  std::uint64_t address;
};

[[noreturn]] __attribute__((noinline, noipa)) void throw_return_address() {
  throw ReturnAddressOfNoreturnCall{reinterpret_cast<std::uint64_t>(__builtin_return_address(0))};
}

// The call is the function's last instruction: its return address is past the function's end.
extern "C" __attribute__((noinline, noipa)) void edleak_test_ends_in_noreturn_call(int* line) {
  *line = __LINE__ + 1;
  throw_return_address();
}

// A call that is the last instruction of code no function symbol holds (a label, as in hand-written
// assembly or a stripped cold part), straight before a function: its return address is that
// function's first byte, and the byte before it is in no function.
extern "C" void edleak_test_after_unnamed_code();
asm(".pushsection .text\n"
    ".p2align 4\n"
    "edleak_test_unnamed_code:\n"  // a local label: not a function symbol
    "  call abort@PLT\n"
    ".globl edleak_test_after_unnamed_code\n"
    ".type edleak_test_after_unnamed_code, @function\n"
    "edleak_test_after_unnamed_code:\n"
    "  ret\n"
    ".size edleak_test_after_unnamed_code, .-edleak_test_after_unnamed_code\n"
    ".popsection\n");

namespace edleak::symbolize {
namespace {

using ::testing::AnyOf;
using ::testing::EndsWith;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::StartsWith;

constexpr std::string_view kThisFile = "symbolizer_test.cpp";

std::string basename_of(const std::string& path) { return path.substr(path.rfind('/') + 1); }

std::uint64_t address_of(const void* pointer) { return reinterpret_cast<std::uint64_t>(pointer); }
template <typename Function>
std::uint64_t address_of_function(Function* function) {
  return reinterpret_cast<std::uint64_t>(function);
}

std::string this_executable() {
  char path[4096] = {};
  ssize_t length = readlink("/proc/self/exe", path, sizeof path - 1);
  return length > 0 ? std::string(path, static_cast<std::size_t>(length)) : std::string();
}

Frame symbolize_one(Symbolizer& symbolizer, pid_t pid, std::uint64_t addr,
                    AddressKind kind = AddressKind::instruction) {
  std::uint64_t addrs[] = {addr};
  std::vector<Frame> frames = symbolizer.symbolize(pid, addrs, kind);
  EXPECT_EQ(frames.size(), 1u);
  return frames.empty() ? Frame{} : frames.front();
}

TEST(Symbolizer, ResolvesACFunctionEntry) {
  Symbolizer symbolizer;
  std::uint64_t entry = address_of_function(&edleak_test_c_function);
  Frame frame = symbolize_one(symbolizer, getpid(), entry);
  EXPECT_EQ(frame.addr, entry);
  EXPECT_EQ(frame.symbol, "edleak_test_c_function");
  EXPECT_EQ(frame.offset, 0u);
  EXPECT_EQ(frame.module, this_executable());
  EXPECT_EQ(basename_of(frame.file), kThisFile);
  EXPECT_EQ(frame.line, kCFunctionLine);
  EXPECT_THAT(frame.inlined, IsEmpty());
}

TEST(Symbolizer, ResolvesAReturnAddressToTheLineOfTheCall) {
  CallSite call;
  edleak_test_c_function(&call);
  Symbolizer symbolizer;
  Frame frame =
      symbolize_one(symbolizer, getpid(), call.return_address, AddressKind::return_address);
  EXPECT_EQ(frame.addr, call.return_address);
  EXPECT_EQ(frame.symbol, "edleak_test_c_function");
  // The offset is of the return address itself, as perf and gdb show it.
  EXPECT_EQ(frame.offset, call.return_address - address_of_function(&edleak_test_c_function));
  EXPECT_GT(frame.offset, 0u);
  EXPECT_EQ(basename_of(frame.file), kThisFile);
  EXPECT_EQ(frame.line, call.line);
}

TEST(Symbolizer, ResolvesAReturnAddressPastTheEndOfItsFunctionToTheCall) {
  int call_line = 0;
  std::uint64_t return_address = 0;
  try {
    edleak_test_ends_in_noreturn_call(&call_line);
  } catch (const ReturnAddressOfNoreturnCall& thrown) {
    return_address = thrown.address;
  }
  ASSERT_NE(return_address, 0u);
  Symbolizer symbolizer;
  // Taken as an instruction, the address is in whatever follows the function.
  EXPECT_NE(symbolize_one(symbolizer, getpid(), return_address).symbol,
            "edleak_test_ends_in_noreturn_call");
  Frame frame = symbolize_one(symbolizer, getpid(), return_address, AddressKind::return_address);
  EXPECT_EQ(frame.symbol, "edleak_test_ends_in_noreturn_call");
  EXPECT_EQ(frame.offset, return_address - address_of_function(&edleak_test_ends_in_noreturn_call));
  EXPECT_EQ(frame.line, call_line);
}

TEST(Symbolizer, NamesAReturnAddressAtAFunctionsFirstByteAfterUnnamedCode) {
  const std::uint64_t return_address = address_of_function(&edleak_test_after_unnamed_code);
  auto mappings = read_proc_maps(getpid());
  ASSERT_TRUE(mappings.ok()) << mappings.error().message;
  const Mapping* text = find_mapping(*mappings, return_address);
  ASSERT_NE(text, nullptr);
  auto module = ElfModule::open(text->path, UniqueFd(open(text->path.c_str(), O_RDONLY)), {"/usr/lib/debug"});
  ASSERT_TRUE(module.ok()) << module.error().message;
  auto module_addr = (*module)->module_address(*text, return_address);
  ASSERT_TRUE(module_addr.has_value());
  // What the test is about: the call's last byte is in no function.
  ASSERT_THAT((*module)->resolve(*module_addr - 1).symbol, IsEmpty());

  Symbolizer symbolizer;
  Frame frame = symbolize_one(symbolizer, getpid(), return_address, AddressKind::return_address);
  EXPECT_EQ(frame.symbol, "edleak_test_after_unnamed_code");
  EXPECT_EQ(frame.offset, 0u);
  EXPECT_EQ(frame.module_offset, module_addr);
  EXPECT_THAT(format_frame(frame), StartsWith("edleak_test_after_unnamed_code+0x0 ["));
}

TEST(Symbolizer, DemanglesANamespacedFunctionAndCountsTheOffset) {
  Symbolizer symbolizer;
  std::uint64_t entry = address_of_function(&edleak_test::namespaced_function);
  Frame at_entry = symbolize_one(symbolizer, getpid(), entry);
  EXPECT_EQ(at_entry.symbol, "edleak_test::namespaced_function(int)");
  EXPECT_EQ(at_entry.offset, 0u);
  EXPECT_EQ(basename_of(at_entry.file), kThisFile);
  EXPECT_EQ(at_entry.line, edleak_test::kNamespacedFunctionLine);

  Frame inside = symbolize_one(symbolizer, getpid(), entry + 1);
  EXPECT_EQ(inside.symbol, "edleak_test::namespaced_function(int)");
  EXPECT_EQ(inside.offset, 1u);
}

TEST(Symbolizer, ListsTheInlinedFunctionWithItsCallSite) {
  CallSite inner;
  int inlined_at = 0;
  edleak_test_inlining_caller(&inner, &inlined_at);
  Symbolizer symbolizer;
  Frame frame =
      symbolize_one(symbolizer, getpid(), inner.return_address, AddressKind::return_address);
  // The ELF symbol is the function the code is in; the line is inside the inlined function.
  EXPECT_EQ(frame.symbol, "edleak_test_inlining_caller");
  EXPECT_EQ(basename_of(frame.file), kThisFile);
  EXPECT_EQ(frame.line, inner.line);
  ASSERT_EQ(frame.inlined.size(), 1u);
  EXPECT_THAT(frame.inlined[0].symbol, StartsWith("inlined_helper"));
  EXPECT_EQ(basename_of(frame.inlined[0].file), kThisFile);
  EXPECT_EQ(frame.inlined[0].line, inlined_at);

  std::vector<std::string> lines = format_frame_with_inlined(frame);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_THAT(lines[0], HasSubstr(fmt::format("{}:{}) [inlined]", kThisFile, inner.line)));
  EXPECT_THAT(lines[1], HasSubstr(fmt::format("{}:{}) [", kThisFile, inlined_at)));
}

TEST(Symbolizer, ResolvesMallocInTheLibcThisProcessMaps) {
  void* malloc_address = dlsym(RTLD_DEFAULT, "malloc");
  ASSERT_NE(malloc_address, nullptr);
  Symbolizer symbolizer;
  Frame frame = symbolize_one(symbolizer, getpid(), address_of(malloc_address));
  EXPECT_THAT(frame.symbol, AnyOf("malloc", "__libc_malloc", "__GI___libc_malloc", "__malloc"));
  EXPECT_EQ(frame.offset, 0u);
  EXPECT_THAT(frame.module, HasSubstr("libc.so"));
  if (!frame.file.empty()) {  // libc6-dbg is installed
    EXPECT_EQ(basename_of(frame.file), "malloc.c");
  }
}

TEST(Symbolizer, KeepsTheAddressOfWhatItCannotResolve) {
  Symbolizer symbolizer;
  std::uint64_t entry = address_of_function(&edleak_test::namespaced_function);
  std::uint64_t addrs[] = {0x10, entry, UINT64_MAX};
  std::vector<Frame> frames = symbolizer.symbolize(getpid(), addrs);
  ASSERT_EQ(frames.size(), 3u);
  EXPECT_EQ(frames[0].addr, 0x10u);
  EXPECT_THAT(frames[0].symbol, IsEmpty());
  EXPECT_THAT(frames[0].module, IsEmpty());
  EXPECT_EQ(frames[0].line, 0);
  EXPECT_EQ(frames[1].symbol, "edleak_test::namespaced_function(int)");  // order is kept
  EXPECT_EQ(frames[2].addr, UINT64_MAX);
  EXPECT_THAT(frames[2].symbol, IsEmpty());
  EXPECT_EQ(format_frame(frames[0]), "0x10");
}

TEST(Symbolizer, GivesNothingForAProcessThatDoesNotExist) {
  Symbolizer symbolizer;
  Frame frame = symbolize_one(symbolizer, INT_MAX, address_of_function(&edleak_test_c_function));
  EXPECT_THAT(frame.symbol, IsEmpty());
  EXPECT_THAT(frame.module, IsEmpty());
}

// A private, read-only mapping of `length` bytes of `path` from `offset`; unmapped on scope exit.
class FileMapping {
 public:
  FileMapping(const std::string& path, std::size_t length, off_t offset) : length_(length) {
    int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    void* address = mmap(nullptr, length, PROT_READ, MAP_PRIVATE, fd, offset);
    close(fd);
    if (address != MAP_FAILED) address_ = address;
  }
  ~FileMapping() { unmap(); }
  FileMapping(const FileMapping&) = delete;
  FileMapping& operator=(const FileMapping&) = delete;
  std::uint64_t start() const { return address_of(address_); }
  bool ok() const { return address_ != nullptr; }
  void unmap() {
    if (address_ != nullptr) munmap(address_, length_);
    address_ = nullptr;
  }

 private:
  void* address_ = nullptr;
  std::size_t length_;
};

TEST(Symbolizer, RereadsMappingsForAnAddressMappedSinceAndTranslatesThroughTheFileOffset) {
  std::uint64_t entry = address_of_function(&edleak_test_c_function);
  auto mappings = read_proc_maps(getpid());
  ASSERT_TRUE(mappings.ok()) << mappings.error().message;
  const Mapping* text = find_mapping(*mappings, entry);
  ASSERT_NE(text, nullptr);

  Symbolizer symbolizer;
  EXPECT_EQ(symbolize_one(symbolizer, getpid(), entry).symbol, "edleak_test_c_function");

  // The same code mapped again elsewhere, after the symbolizer read the mappings.
  FileMapping copy(text->path, text->end - text->start, static_cast<off_t>(text->file_offset));
  ASSERT_TRUE(copy.ok());
  std::uint64_t alias = copy.start() + (entry - text->start);
  Frame frame = symbolize_one(symbolizer, getpid(), alias);
  EXPECT_EQ(frame.addr, alias);
  EXPECT_EQ(frame.symbol, "edleak_test_c_function");
  EXPECT_EQ(frame.offset, 0u);
  EXPECT_EQ(frame.module, text->path);
  EXPECT_EQ(frame.line, kCFunctionLine);

  // Mappings stay cached until the process is forgotten.
  copy.unmap();
  EXPECT_EQ(symbolize_one(symbolizer, getpid(), alias).symbol, "edleak_test_c_function");
  symbolizer.forget_process(getpid());
  Frame after_forget = symbolize_one(symbolizer, getpid(), alias);
  EXPECT_THAT(after_forget.symbol, IsEmpty());
  EXPECT_THAT(after_forget.module, IsEmpty());
}

TEST(Symbolizer, NamesTheModuleOfAMappedFileThatIsNotElf) {
  char path[] = "/tmp/edleak_symbolize_test_XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  std::string text(8192, 'x');
  ASSERT_EQ(write(fd, text.data(), text.size()), static_cast<ssize_t>(text.size()));
  close(fd);
  {
    FileMapping data(path, text.size(), 0);
    ASSERT_TRUE(data.ok());
    Symbolizer symbolizer;
    Frame frame = symbolize_one(symbolizer, getpid(), data.start() + 100);
    EXPECT_EQ(frame.module, path);
    EXPECT_THAT(frame.symbol, IsEmpty());
    EXPECT_EQ(frame.line, 0);
  }
  unlink(path);
}

TEST(Symbolizer, ReadsADeletedFileThroughTheMappingItself) {
  std::uint64_t entry = address_of_function(&edleak_test_c_function);
  auto mappings = read_proc_maps(getpid());
  ASSERT_TRUE(mappings.ok()) << mappings.error().message;
  const Mapping* text = find_mapping(*mappings, entry);
  ASSERT_NE(text, nullptr);
  // A copy of this executable, mapped and then deleted (as a library replaced by an upgrade).
  char copy_path[] = "/tmp/edleak_symbolize_test_XXXXXX";
  int copy_fd = mkstemp(copy_path);
  ASSERT_GE(copy_fd, 0);
  {
    std::FILE* source = std::fopen(text->path.c_str(), "rb");
    ASSERT_NE(source, nullptr);
    char buffer[1 << 16];
    for (std::size_t n; (n = std::fread(buffer, 1, sizeof buffer, source)) > 0;) {
      ASSERT_EQ(write(copy_fd, buffer, n), static_cast<ssize_t>(n));
    }
    std::fclose(source);
  }
  close(copy_fd);
  FileMapping copy(copy_path, text->end - text->start, static_cast<off_t>(text->file_offset));
  unlink(copy_path);
  ASSERT_TRUE(copy.ok());
  std::string map_files = fmt::format("/proc/{}/map_files/{:x}-{:x}", getpid(), copy.start(),
                                      copy.start() + (text->end - text->start));
  if (access(map_files.c_str(), R_OK) != 0)
    GTEST_SKIP() << "needs CAP_SYS_ADMIN to open " << map_files;

  Symbolizer symbolizer;
  Frame frame = symbolize_one(symbolizer, getpid(), copy.start() + (entry - text->start));
  EXPECT_EQ(frame.module, copy_path);  // without " (deleted)"
  EXPECT_EQ(frame.symbol, "edleak_test_c_function");
  EXPECT_EQ(frame.line, kCFunctionLine);
}

// A child that only waits to be killed; killed and reaped on scope exit.
class SleepingChild {
 public:
  SleepingChild() : pid_(fork()) {
    if (pid_ == 0) {
      for (;;) pause();
    }
  }
  ~SleepingChild() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  SleepingChild(const SleepingChild&) = delete;
  SleepingChild& operator=(const SleepingChild&) = delete;
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_;
};

TEST(Symbolizer, ResolvesAddressesOfAnotherProcess) {
  SleepingChild child;  // a fork: same code at the same addresses
  ASSERT_GT(child.pid(), 0);
  void* malloc_address = dlsym(RTLD_DEFAULT, "malloc");
  ASSERT_NE(malloc_address, nullptr);

  Symbolizer symbolizer;
  std::uint64_t addrs[] = {address_of_function(&edleak_test::namespaced_function),
                           address_of(malloc_address)};
  std::vector<Frame> frames = symbolizer.symbolize(child.pid(), addrs);
  ASSERT_EQ(frames.size(), 2u);
  EXPECT_EQ(frames[0].symbol, "edleak_test::namespaced_function(int)");
  EXPECT_EQ(frames[0].module, this_executable());
  EXPECT_EQ(frames[0].line, edleak_test::kNamespacedFunctionLine);
  EXPECT_THAT(frames[1].symbol, AnyOf("malloc", "__libc_malloc", "__GI___libc_malloc", "__malloc"));
  EXPECT_THAT(frames[1].module, HasSubstr("libc.so"));
}

// The mappings of a child read while it ran; it is gone (killed and reaped) on return.
struct ExitedChild {
  pid_t pid = 0;
  std::vector<Mapping> mappings;
};
ExitedChild exited_child_with_its_mappings() {
  ExitedChild out;
  SleepingChild child;
  EXPECT_GT(child.pid(), 0);
  out.pid = child.pid();
  if (auto mappings = read_proc_maps(out.pid)) out.mappings = std::move(*mappings);
  EXPECT_FALSE(out.mappings.empty());
  return out;
}

// A short process: its mappings were read while it ran (by the mapping reader), it exited before
// any stack of it was symbolized; sealed, its history still resolves with them.
TEST(Symbolizer, ResolvesAnExitedProcessThroughItsRememberedMappings) {
  std::uint64_t addrs[] = {address_of_function(&edleak_test::namespaced_function)};
  Symbolizer symbolizer;
  auto [pid, mappings] = exited_child_with_its_mappings();
  ASSERT_FALSE(mappings.empty());
  symbolizer.remember_mappings(pid, 7, std::move(mappings));
  EXPECT_EQ(symbolizer.remembered_count(), 1u);
  symbolizer.seal(pid, 7);
  EXPECT_EQ(symbolizer.remembered_count(), 0u);  // the history has them now
  std::vector<Frame> frames = symbolizer.symbolize(pid, 7, addrs, AddressKind::instruction);
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0].symbol, "edleak_test::namespaced_function(int)");
  // Without them, the same history of a gone process resolves nothing.
  Symbolizer unprimed;
  unprimed.seal(pid, 7);
  EXPECT_THAT(unprimed.symbolize(pid, 7, addrs, AddressKind::instruction)[0].symbol, IsEmpty());
  symbolizer.forget_process(pid, 7);
  EXPECT_EQ(symbolizer.history_count(), 0u);
  // A zombie's mappings (none), read after its history was sealed, are not kept.
  symbolizer.remember_mappings(pid, 8, {});
  EXPECT_EQ(symbolizer.remembered_count(), 0u);
}

// Mappings are kept for the history they were read for: a program's mappings, read before its
// exec and handed over after it, are the old history's, never the new program's.
TEST(Symbolizer, RememberedMappingsBelongToTheHistoryTheyWereReadFor) {
  std::uint64_t addrs[] = {address_of_function(&edleak_test::namespaced_function)};
  Symbolizer symbolizer;
  auto [pid, mappings] = exited_child_with_its_mappings();
  ASSERT_FALSE(mappings.empty());
  symbolizer.remember_mappings(pid, 1, std::move(mappings));
  symbolizer.seal(pid, 2);  // the next program's history: nothing read for it
  EXPECT_EQ(symbolizer.remembered_count(), 1u);
  EXPECT_THAT(symbolizer.symbolize(pid, 2, addrs, AddressKind::instruction)[0].symbol, IsEmpty());
  symbolizer.seal(pid, 1);
  EXPECT_EQ(symbolizer.symbolize(pid, 1, addrs, AddressKind::instruction)[0].symbol,
            "edleak_test::namespaced_function(int)");
}

// The reader may hand a history's mappings over after its exit was seen (read while it ran,
// taken by the loop later): a history sealed before it was ever loaded takes them.
TEST(Symbolizer, MappingsHandedOverAfterTheExitStillResolveTheHistory) {
  std::uint64_t addrs[] = {address_of_function(&edleak_test::namespaced_function)};
  Symbolizer symbolizer;
  auto [pid, read_while_alive] = exited_child_with_its_mappings();
  ASSERT_FALSE(read_while_alive.empty());
  symbolizer.seal(pid, 3);
  symbolizer.remember_mappings(pid, 3, std::move(read_while_alive));
  EXPECT_EQ(symbolizer.remembered_count(), 0u);
  EXPECT_EQ(symbolizer.symbolize(pid, 3, addrs, AddressKind::instruction)[0].symbol,
            "edleak_test::namespaced_function(int)");
}

TEST(ElfModule, RejectsAFileThatIsNotElf) {
  char path[] = "/tmp/edleak_symbolize_test_XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(write(fd, "#!/bin/sh\n", 10), 10);
  unlink(path);
  auto module = ElfModule::open(path, UniqueFd(fd), {"/usr/lib/debug"});
  ASSERT_FALSE(module.ok());
  EXPECT_THAT(module.error().message, HasSubstr(path));
  EXPECT_THAT(module.error().message, StartsWith("cannot read ELF file"));
}

TEST(ElfModule, TranslatesRuntimeAddressesThroughTheMappingOfEachSegment) {
  std::uint64_t entry = address_of_function(&edleak_test_c_function);
  auto mappings = read_proc_maps(getpid());
  ASSERT_TRUE(mappings.ok()) << mappings.error().message;
  const Mapping* text = find_mapping(*mappings, entry);
  ASSERT_NE(text, nullptr);
  auto module =
      ElfModule::open(text->path, UniqueFd(open(text->path.c_str(), O_RDONLY)), {"/usr/lib/debug"});
  ASSERT_TRUE(module.ok()) << module.error().message;

  auto module_addr = (*module)->module_address(*text, entry);
  ASSERT_TRUE(module_addr.has_value());
  // A PIE is linked at 0: the module address is below the load address, and the same for any
  // load address of the same file offset.
  EXPECT_LT(*module_addr, entry);
  Mapping moved = *text;
  moved.start = 0x10000000;
  moved.end = moved.start + (text->end - text->start);
  EXPECT_EQ((*module)->module_address(moved, moved.start + (entry - text->start)), module_addr);
  EXPECT_EQ((*module)->resolve(*module_addr).symbol, "edleak_test_c_function");
  EXPECT_EQ((*module)->module_address(moved, moved.end), std::nullopt);  // outside the mapping

  // A file offset no loadable segment holds.
  Mapping beyond = moved;
  beyond.file_offset = 0x7fff00000000;
  EXPECT_EQ((*module)->module_address(beyond, beyond.start), std::nullopt);
}

}  // namespace
}  // namespace edleak::symbolize
