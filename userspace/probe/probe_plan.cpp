#include "probe/probe_plan.h"

#include <algorithm>
#include <span>

#include "probe/elf_symbols.h"
#include "probe/prologue.h"

namespace edleak::probe {

std::string_view to_string(Handler h) {
  switch (h) {
    case Handler::malloc: return "malloc";
    case Handler::calloc: return "calloc";
    case Handler::memalign: return "memalign";
    case Handler::pvalloc: return "pvalloc";
    case Handler::posix_memalign: return "posix_memalign";
    case Handler::realloc: return "realloc";
    case Handler::reallocarray: return "reallocarray";
    case Handler::free: return "free";
  }
  return "unknown";
}

unsigned handler_arg_count(Handler h) {
  switch (h) {
    case Handler::malloc:
    case Handler::pvalloc:
    case Handler::free: return 1;
    case Handler::calloc:
    case Handler::memalign:
    case Handler::realloc: return 2;
    case Handler::posix_memalign:
    case Handler::reallocarray: return 3;
  }
  return 0;
}

bool handler_needs_return(Handler h) { return h != Handler::free; }

namespace {

// What to attach in a library, in the manner of libbpf-tools memleak's required/optional
// attach, as data. The first entry at an address names the probe and sets its handler; later
// entries at the same address (aligned_alloc after memalign) become aliases.
struct AttachEntry {
  std::string_view symbol;
  Handler handler;
  bool required;
};

constexpr AttachEntry kLibcTable[] = {
    {"malloc", Handler::malloc, true},
    {"free", Handler::free, true},
    {"calloc", Handler::calloc, true},
    {"realloc", Handler::realloc, true},
    {"reallocarray", Handler::reallocarray, false},
    {"posix_memalign", Handler::posix_memalign, false},
    {"memalign", Handler::memalign, false},
    {"aligned_alloc", Handler::memalign, false},
    {"valloc", Handler::malloc, false},
    {"pvalloc", Handler::pvalloc, false},
};

// Only operator new: every operator delete ends in free(), whose probe records the free
// whoever called it. Every variant passes the size in rdi (aligned ones pass the alignment in rsi).
constexpr AttachEntry kLibstdcxxTable[] = {
    {"_Znwm", Handler::malloc, false},                               // new(size_t)
    {"_Znam", Handler::malloc, false},                               // new[](size_t)
    {"_ZnwmRKSt9nothrow_t", Handler::malloc, false},                 // new(size_t, nothrow_t)
    {"_ZnamRKSt9nothrow_t", Handler::malloc, false},                 // new[](size_t, nothrow_t)
    {"_ZnwmSt11align_val_t", Handler::malloc, false},                // new(size_t, align_val_t)
    {"_ZnamSt11align_val_t", Handler::malloc, false},                // new[](size_t, align_val_t)
    {"_ZnwmSt11align_val_tRKSt9nothrow_t", Handler::malloc, false},  // new(size_t, align_val_t, nothrow_t)
    {"_ZnamSt11align_val_tRKSt9nothrow_t", Handler::malloc, false},  // new[](size_t, align_val_t, nothrow_t)
};

std::span<const AttachEntry> attach_table(LibraryKind kind) {
  if (kind == LibraryKind::libc) return kLibcTable;
  return kLibstdcxxTable;
}

// Enough for every prologue rule (the walk stops at 32 bytes) and for a PLT stub.
constexpr std::size_t kPrologueBytes = 32;

// One address to probe, with the table entries and symbols found there.
struct Candidate {
  const AttachEntry* entry;  // the first table entry at this address
  const ElfFunction* function;
  std::vector<std::string> aliases;
  std::uint64_t function_offset = 0;
  ProbePoint point;
};

void add_alias(Candidate& candidate, std::string_view name) {
  if (name == candidate.entry->symbol) return;
  if (std::find(candidate.aliases.begin(), candidate.aliases.end(), name) != candidate.aliases.end()) return;
  candidate.aliases.emplace_back(name);
}

// A name for a jump target: the function there, or "name@plt" for a PLT stub, or the address.
std::string describe_target(const ElfFile& elf, std::uint64_t target) {
  if (auto here = elf.functions_at(target); !here.empty()) return here.front()->name;
  if (auto code = elf.code_at(target, kPrologueBytes)) {
    if (auto slot = plt_stub_slot(*code, target)) {
      if (auto name = elf.got_slot_symbol(*slot)) return *name + "@plt";
    }
  }
  return fmt::format("{:#x}", target);
}

// Whether a jump to `target` lands on a function this plan probes: at its first byte, or
// through a PLT stub whose GOT slot names it or one of its aliases.
bool reaches_probed_site(const ElfFile& elf, std::uint64_t target, const std::vector<ProbeSite>& sites) {
  const auto target_offset = elf.file_offset(target);
  std::optional<std::string> slot_name;
  if (auto code = elf.code_at(target, kPrologueBytes)) {
    if (auto slot = plt_stub_slot(*code, target)) slot_name = elf.got_slot_symbol(*slot);
  }
  return std::any_of(sites.begin(), sites.end(), [&](const ProbeSite& site) {
    if (target_offset && *target_offset == site.function_offset) return true;
    if (!slot_name) return false;
    return site.symbol == *slot_name ||
           std::find(site.aliases.begin(), site.aliases.end(), *slot_name) != site.aliases.end();
  });
}

ProbeSite make_site(Candidate&& candidate) {
  return {std::string(candidate.entry->symbol), std::move(candidate.aliases), candidate.entry->handler,
          candidate.function_offset, candidate.function_offset + candidate.point.offset,
          candidate.point.emulated, std::move(candidate.point.placement)};
}

}  // namespace

Result<ProbePlan> plan_probes(const std::string& path, LibraryKind kind) {
  auto elf = ElfFile::open(path);
  if (!elf) return elf.error();

  ProbePlan plan{path, kind, {}, {}};
  // A library without operator new is not a C++ runtime (or not one we know): nothing to probe.
  if (kind == LibraryKind::libstdcxx && elf->find_function("_Znwm") == nullptr) return plan;

  auto fail_or_skip = [&](const AttachEntry& entry, std::string reason) -> Result<void> {
    if (entry.required) return make_error("{}: cannot probe {}: {}", path, entry.symbol, reason);
    plan.skipped.push_back({std::string(entry.symbol), std::move(reason)});
    return {};
  };

  // 1. Resolve the table to one candidate per address.
  std::vector<Candidate> candidates;
  for (const AttachEntry& entry : attach_table(kind)) {
    const ElfFunction* function = elf->find_function(entry.symbol);
    if (function == nullptr) {
      if (auto r = fail_or_skip(entry, "no such function in .dynsym or .symtab"); !r) return r.error();
      continue;
    }
    if (function->ifunc) {
      if (auto r = fail_or_skip(entry, "a GNU indirect function (its address is the resolver's)"); !r) {
        return r.error();
      }
      continue;
    }
    auto same_address = std::find_if(candidates.begin(), candidates.end(), [&](const Candidate& c) {
      return c.function->address == function->address;
    });
    if (same_address != candidates.end()) {
      add_alias(*same_address, entry.symbol);
      continue;
    }
    Candidate candidate{&entry, function, {}, 0, {}};
    // Other names at the address (__libc_malloc, cfree, ...): a second probe there would fire too.
    for (const ElfFunction* alias : elf->functions_at(function->address)) add_alias(candidate, alias->name);
    candidates.push_back(std::move(candidate));
  }

  // 2. Decode each prologue; pure tail jumps need no probe of their own.
  //
  // A function that only jumps (no call) leaves its caller's return address at *rsp, so the
  // target's entry probe and uretprobe see that caller as their caller and account the block to
  // it: operator new[] -> operator new is then recorded once, under new[]'s caller.
  std::vector<Candidate> tail_calls;  // compute arguments, then jump: decided once sites are known
  for (Candidate& candidate : candidates) {
    const AttachEntry& entry = *candidate.entry;
    auto offset = elf->file_offset(candidate.function->address);
    if (!offset) {
      if (auto r = fail_or_skip(entry, offset.error().message); !r) return r.error();
      continue;
    }
    candidate.function_offset = *offset;
    // Never decode past the function's end: the next function's bytes say nothing about this one.
    const std::size_t size = candidate.function->size;
    auto code = elf->code_at(candidate.function->address, size != 0 ? std::min(size, kPrologueBytes) : kPrologueBytes);
    if (!code) {
      if (auto r = fail_or_skip(entry, code.error().message); !r) return r.error();
      continue;
    }
    auto point = choose_probe_point({*code, candidate.function->address, handler_arg_count(entry.handler),
                                     entry.handler == Handler::free});
    if (!point) {
      if (auto r = fail_or_skip(entry, point.error().message); !r) return r.error();
      continue;
    }
    candidate.point = std::move(*point);
    if (candidate.point.tail_jump && candidate.point.tail_jump->pure) {
      plan.skipped.push_back({std::string(entry.symbol),
                              fmt::format("tail jump to {} (its target's probe sees the caller)",
                                          describe_target(*elf, candidate.point.tail_jump->target))});
      continue;
    }
    if (candidate.point.tail_jump) {
      tail_calls.push_back(std::move(candidate));
      continue;
    }
    plan.sites.push_back(make_site(std::move(candidate)));
  }

  // 3. A function that computes its arguments and then jumps to another probed function
  // (glibc's reallocarray: rsi = rsi * rdx, jmp realloc@plt) is seen whole by the target's
  // probe, with the same caller; probing it too would count the block twice. Only the
  // fall-through path is followed: a conditional branch off it (reallocarray's overflow check)
  // is an error path that allocates nothing, or calls a probed function itself.
  for (Candidate& candidate : tail_calls) {
    const std::uint64_t target = candidate.point.tail_jump->target;
    if (reaches_probed_site(*elf, target, plan.sites)) {
      plan.skipped.push_back({std::string(candidate.entry->symbol),
                              fmt::format("tail call to {} once its arguments are set (its target's probe sees the caller)",
                                          describe_target(*elf, target))});
      continue;
    }
    plan.sites.push_back(make_site(std::move(candidate)));
  }
  return plan;
}

}  // namespace edleak::probe
