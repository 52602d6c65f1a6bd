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
    case Handler::realloc_owned: return "realloc_owned";
    case Handler::free_outer: return "free_outer";
    case Handler::xallocx: return "xallocx";
    case Handler::heap_realloc_owned: return "heap_realloc_owned";
    case Handler::heap_calloc: return "heap_calloc";
    case Handler::expand: return "expand";
    case Handler::heap_string: return "heap_string";
    case Handler::heap_realpath: return "heap_realpath";
  }
  return "unknown";
}

std::string_view to_string(LibraryKind kind) {
  switch (kind) {
    case LibraryKind::libc: return "glibc";
    case LibraryKind::libstdcxx: return "libstdc++";
    case LibraryKind::jemalloc: return "jemalloc";
    case LibraryKind::tcmalloc: return "tcmalloc";
    case LibraryKind::mimalloc: return "mimalloc";
  }
  return "unknown";
}

unsigned handler_arg_count(Handler h) {
  switch (h) {
    case Handler::malloc:
    case Handler::pvalloc:
    case Handler::free:
    case Handler::free_outer: return 1;
    case Handler::calloc:
    case Handler::memalign:
    case Handler::realloc:
    case Handler::realloc_owned:
    case Handler::expand:
    case Handler::heap_string: return 2;
    case Handler::posix_memalign:
    case Handler::reallocarray:
    case Handler::xallocx:
    case Handler::heap_realloc_owned:
    case Handler::heap_calloc:
    case Handler::heap_realpath: return 3;
  }
  return 0;
}

bool handler_needs_return(Handler h) { return h != Handler::free && h != Handler::free_outer; }

bool is_free_handler(Handler h) { return h == Handler::free || h == Handler::free_outer; }

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

// C++ operator new and delete as an allocator library defines them itself (jemalloc, tcmalloc
// and mimalloc do): their new does not call malloc and their sized or aligned delete does not
// call free, so each needs its own probe. A delete that only jumps to free is skipped (step 2).
#define EDLEAK_CXX_NEW_DELETE                                                 \
  {"_Znwm", Handler::malloc, false}, {"_Znam", Handler::malloc, false},       \
  {"_ZnwmRKSt9nothrow_t", Handler::malloc, false},                            \
  {"_ZnamRKSt9nothrow_t", Handler::malloc, false},                            \
  {"_ZnwmSt11align_val_t", Handler::malloc, false},                           \
  {"_ZnamSt11align_val_t", Handler::malloc, false},                           \
  {"_ZnwmSt11align_val_tRKSt9nothrow_t", Handler::malloc, false},             \
  {"_ZnamSt11align_val_tRKSt9nothrow_t", Handler::malloc, false},             \
  {"_ZdlPv", Handler::free_outer, false}, {"_ZdaPv", Handler::free_outer, false}, \
  {"_ZdlPvm", Handler::free_outer, false}, {"_ZdaPvm", Handler::free_outer, false}, \
  {"_ZdlPvRKSt9nothrow_t", Handler::free_outer, false},                       \
  {"_ZdaPvRKSt9nothrow_t", Handler::free_outer, false},                       \
  {"_ZdlPvSt11align_val_t", Handler::free_outer, false},                      \
  {"_ZdaPvSt11align_val_t", Handler::free_outer, false},                      \
  {"_ZdlPvmSt11align_val_t", Handler::free_outer, false},                     \
  {"_ZdaPvmSt11align_val_t", Handler::free_outer, false},                     \
  {"_ZdlPvSt11align_val_tRKSt9nothrow_t", Handler::free_outer, false},        \
  {"_ZdaPvSt11align_val_tRKSt9nothrow_t", Handler::free_outer, false}

// The C API an allocator replacing glibc's defines, with the semantics those allocators share:
// realloc frees the old block itself, free may be nested in their own calls (see Handler).
#define EDLEAK_REPLACED_C_API                                                                  \
  {"malloc", Handler::malloc, true}, {"free", Handler::free_outer, true},                      \
  {"calloc", Handler::calloc, false}, {"realloc", Handler::realloc_owned, false},              \
  {"posix_memalign", Handler::posix_memalign, false}, {"aligned_alloc", Handler::memalign, false}, \
  {"memalign", Handler::memalign, false}, {"valloc", Handler::malloc, false},                  \
  {"pvalloc", Handler::pvalloc, false}

// jemalloc 5 (Debian's libjemalloc.so.2, redis): the standard API, its *allocx API and C++.
// rallocx is realloc without the free-on-zero; sdallocx/dallocx are frees with a size/flags.
constexpr AttachEntry kJemallocTable[] = {
    EDLEAK_REPLACED_C_API,
    {"mallocx", Handler::malloc, false},  // (size, flags): alignment and zeroing in flags
    {"rallocx", Handler::realloc_owned, false},
    {"xallocx", Handler::xallocx, false},
    {"sdallocx", Handler::free_outer, false},
    {"dallocx", Handler::free_outer, false},
    EDLEAK_CXX_NEW_DELETE,
};

// gperftools tcmalloc (libtcmalloc*.so.4): the standard names are aliases of tc_* (one probe
// each); tc_* names are listed too for builds where they are separate functions.
constexpr AttachEntry kTcmallocTable[] = {
    EDLEAK_REPLACED_C_API,
    {"tc_malloc", Handler::malloc, false},
    {"tc_malloc_skip_new_handler", Handler::malloc, false},
    {"tc_free", Handler::free_outer, false},
    {"tc_free_sized", Handler::free_outer, false},
    {"tc_calloc", Handler::calloc, false},
    {"tc_realloc", Handler::realloc_owned, false},
    {"tc_memalign", Handler::memalign, false},
    {"tc_posix_memalign", Handler::posix_memalign, false},
    {"tc_valloc", Handler::malloc, false},
    {"tc_pvalloc", Handler::pvalloc, false},
    {"tc_new", Handler::malloc, false},
    {"tc_newarray", Handler::malloc, false},
    {"tc_new_nothrow", Handler::malloc, false},
    {"tc_newarray_nothrow", Handler::malloc, false},
    {"tc_new_aligned", Handler::malloc, false},
    {"tc_newarray_aligned", Handler::malloc, false},
    {"tc_new_aligned_nothrow", Handler::malloc, false},
    {"tc_newarray_aligned_nothrow", Handler::malloc, false},
    {"tc_delete", Handler::free_outer, false},
    {"tc_deletearray", Handler::free_outer, false},
    {"tc_delete_sized", Handler::free_outer, false},
    {"tc_deletearray_sized", Handler::free_outer, false},
    {"tc_delete_nothrow", Handler::free_outer, false},
    {"tc_deletearray_nothrow", Handler::free_outer, false},
    {"tc_delete_aligned", Handler::free_outer, false},
    {"tc_deletearray_aligned", Handler::free_outer, false},
    {"tc_delete_sized_aligned", Handler::free_outer, false},
    {"tc_deletearray_sized_aligned", Handler::free_outer, false},
    {"tc_delete_aligned_nothrow", Handler::free_outer, false},
    {"tc_deletearray_aligned_nothrow", Handler::free_outer, false},
    EDLEAK_CXX_NEW_DELETE,
};

// mimalloc 2 (libmimalloc.so.2, which overrides malloc): malloc is an alias of mi_malloc, and
// valloc, reallocarray, ... only jump to their mi_* function, so the mi_* targets are listed.
// Argument order: mi_malloc_aligned(size, alignment), mi_calloc_aligned(count, size, alignment),
// mi_realloc_aligned(p, size, alignment); mi_memalign/mi_aligned_alloc(alignment, size).
constexpr AttachEntry kMimallocTable[] = {
    EDLEAK_REPLACED_C_API,
    {"mi_malloc", Handler::malloc, false},
    {"mi_zalloc", Handler::malloc, false},
    {"mi_malloc_small", Handler::malloc, false},
    {"mi_zalloc_small", Handler::malloc, false},
    {"mi_calloc", Handler::calloc, false},
    {"mi_mallocn", Handler::calloc, false},
    {"mi_realloc", Handler::realloc_owned, false},
    {"mi_free", Handler::free_outer, false},
    {"mi_free_size", Handler::free_outer, false},
    {"mi_free_aligned", Handler::free_outer, false},
    {"mi_free_size_aligned", Handler::free_outer, false},
    {"mi_malloc_aligned", Handler::malloc, false},
    {"mi_zalloc_aligned", Handler::malloc, false},
    {"mi_calloc_aligned", Handler::calloc, false},
    {"mi_realloc_aligned", Handler::realloc_owned, false},
    {"mi_posix_memalign", Handler::posix_memalign, false},
    {"mi_memalign", Handler::memalign, false},
    {"mi_aligned_alloc", Handler::memalign, false},
    {"mi_valloc", Handler::malloc, false},
    {"mi_pvalloc", Handler::pvalloc, false},
    {"mi_new", Handler::malloc, false},
    {"mi_new_nothrow", Handler::malloc, false},
    {"mi_new_aligned", Handler::malloc, false},
    {"mi_new_aligned_nothrow", Handler::malloc, false},
    {"mi_new_n", Handler::calloc, false},
    // mi_reallocf frees p when it fails (nested in it: not counted twice); the failed call's
    // block is then taken for still live, as for a failed realloc.
    {"mi_reallocf", Handler::realloc_owned, false},
    {"mi_rezalloc", Handler::realloc_owned, false},
    {"mi_expand", Handler::expand, false},
    {"mi_strdup", Handler::heap_string, false},      // each jumps to its mi_heap_* with the default heap
    {"mi_strndup", Handler::heap_string, false},
    {"mi_realpath", Handler::heap_realpath, false},
    // The heap API, (heap, arguments...): its functions are the targets the mi_* ones jump to
    // (those are then skipped: the target's probe sees their caller). mi_reallocn, mi_recalloc
    // and their mi_heap_* (p, count, size) only compute count * size and jump to a realloc or
    // rezalloc listed here: they need no entry.
    // Not mi_heap_malloc_small: mi_heap_malloc_aligned's fast path jumps there, and a probe there
    // would make the aligned one look like a pure tail call, missing its other path.
    {"mi_heap_malloc", Handler::memalign, false},
    {"mi_heap_zalloc", Handler::memalign, false},
    {"mi_heap_alloc_new", Handler::memalign, false},
    {"mi_heap_calloc", Handler::heap_calloc, false},
    {"mi_heap_mallocn", Handler::heap_calloc, false},
    {"mi_heap_alloc_new_n", Handler::heap_calloc, false},
    {"mi_heap_realloc", Handler::heap_realloc_owned, false},
    {"mi_heap_reallocf", Handler::heap_realloc_owned, false},
    {"mi_heap_rezalloc", Handler::heap_realloc_owned, false},
    {"mi_heap_malloc_aligned", Handler::memalign, false},
    {"mi_heap_malloc_aligned_at", Handler::memalign, false},
    {"mi_heap_zalloc_aligned", Handler::memalign, false},
    {"mi_heap_zalloc_aligned_at", Handler::memalign, false},
    {"mi_heap_calloc_aligned", Handler::heap_calloc, false},
    {"mi_heap_calloc_aligned_at", Handler::heap_calloc, false},
    {"mi_heap_realloc_aligned", Handler::heap_realloc_owned, false},
    {"mi_heap_realloc_aligned_at", Handler::heap_realloc_owned, false},
    {"mi_heap_rezalloc_aligned", Handler::heap_realloc_owned, false},
    {"mi_heap_rezalloc_aligned_at", Handler::heap_realloc_owned, false},
    {"mi_heap_strdup", Handler::heap_string, false},
    {"mi_heap_strndup", Handler::heap_string, false},
    {"mi_heap_realpath", Handler::heap_realpath, false},
    EDLEAK_CXX_NEW_DELETE,
};
#undef EDLEAK_CXX_NEW_DELETE
#undef EDLEAK_REPLACED_C_API

std::span<const AttachEntry> attach_table(LibraryKind kind) {
  switch (kind) {
    case LibraryKind::libc: return kLibcTable;
    case LibraryKind::libstdcxx: return kLibstdcxxTable;
    case LibraryKind::jemalloc: return kJemallocTable;
    case LibraryKind::tcmalloc: return kTcmallocTable;
    case LibraryKind::mimalloc: return kMimallocTable;
  }
  return {};
}

// Enough for every prologue rule and for a PLT stub. Other allocators get a longer walk:
// jemalloc's free reaches its first branch at +48, its 10th instruction.
constexpr std::size_t kPrologueBytes = 64;
bool long_walk(LibraryKind kind) { return kind != LibraryKind::libc && kind != LibraryKind::libstdcxx; }

// The handler reading the same arguments one register on, where there is one (see Handler).
std::optional<Handler> shifted_handler(Handler h) {
  switch (h) {
    case Handler::malloc: return Handler::memalign;
    case Handler::calloc: return Handler::heap_calloc;
    case Handler::realloc_owned: return Handler::heap_realloc_owned;
    default: return std::nullopt;
  }
}

// One address to probe, with the table entries and symbols found there.
struct Candidate {
  const AttachEntry* entry;  // the first table entry at this address
  Handler handler;           // entry->handler, or its shifted variant (ProbePoint::arg_shift)
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

// Where a jump lands: the file offset, and the symbol whose GOT slot a PLT stub there jumps through.
struct JumpTarget {
  std::optional<std::uint64_t> offset;
  std::optional<std::string> slot_name;

  JumpTarget(const ElfFile& elf, std::uint64_t target) {
    if (auto o = elf.file_offset(target)) offset = *o;
    if (auto code = elf.code_at(target, kPrologueBytes)) {
      if (auto slot = plt_stub_slot(*code, target)) slot_name = elf.got_slot_symbol(*slot);
    }
  }
  // Whether it is the function at `function_offset` named `symbol` or one of `aliases`: at its
  // first byte, or through a PLT stub whose GOT slot names it.
  bool is(std::uint64_t function_offset, std::string_view symbol, const std::vector<std::string>& aliases) const {
    if (offset && *offset == function_offset) return true;
    if (!slot_name) return false;
    return symbol == *slot_name || std::find(aliases.begin(), aliases.end(), *slot_name) != aliases.end();
  }
};

ProbeSite make_site(Candidate&& candidate) {
  return {std::string(candidate.entry->symbol), std::move(candidate.aliases), candidate.handler,
          candidate.function_offset, candidate.function_offset + candidate.point.offset,
          candidate.point.emulated, std::move(candidate.point.placement)};
}

}  // namespace

Result<ProbePlan> plan_probes(const std::string& path, LibraryKind kind, std::string_view symbol_prefix) {
  auto elf = ElfFile::open(path);
  if (!elf) return elf.error();

  ProbePlan plan{path, kind, {}, {}};
  // A library without operator new is not a C++ runtime (or not one we know): nothing to probe.
  if (kind == LibraryKind::libstdcxx && elf->find_function("_Znwm") == nullptr) return plan;
  // Probes stay within the code glibc's rule was measured on: 32 bytes for glibc, libstdc++.
  const std::size_t prologue_bytes = long_walk(kind) ? kPrologueBytes : 32;

  auto fail_or_skip = [&](const AttachEntry& entry, std::string reason) -> Result<void> {
    if (entry.required) return make_error("{}: cannot probe {}: {}", path, entry.symbol, reason);
    plan.skipped.push_back({std::string(entry.symbol), std::move(reason)});
    return {};
  };

  // 1. Resolve the table to one candidate per address.
  std::vector<Candidate> candidates;
  // With a prefix, the table's names are rewritten once and kept alive for the plan's entries.
  std::vector<std::string> prefixed_names;
  std::vector<AttachEntry> table(attach_table(kind).begin(), attach_table(kind).end());
  if (!symbol_prefix.empty()) {
    prefixed_names.reserve(table.size());
    for (AttachEntry& entry : table) {
      // C++ operators keep their mangled names (a prefixed build does not replace them).
      if (entry.symbol.rfind("_Z", 0) == 0) continue;
      prefixed_names.push_back(std::string(symbol_prefix) + std::string(entry.symbol));
      entry.symbol = prefixed_names.back();
    }
  }
  for (const AttachEntry& entry : table) {
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
    Candidate candidate{&entry, entry.handler, function, {}, 0, {}};
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
    auto code = elf->code_at(candidate.function->address, size != 0 ? std::min(size, prologue_bytes) : prologue_bytes);
    if (!code) {
      if (auto r = fail_or_skip(entry, code.error().message); !r) return r.error();
      continue;
    }
    PrologueQuery query{*code, candidate.function->address, handler_arg_count(entry.handler),
                        is_free_handler(entry.handler)};
    if (long_walk(kind)) {
      query.max_instructions = 16;
      query.max_bytes = kPrologueBytes;
      // Only mimalloc passes its arguments on to a heap-taking function this way.
      query.allow_shift = kind == LibraryKind::mimalloc && shifted_handler(entry.handler).has_value();
    }
    auto point = choose_probe_point(query);
    if (!point) {
      if (auto r = fail_or_skip(entry, point.error().message); !r) return r.error();
      continue;
    }
    candidate.point = std::move(*point);
    if (candidate.point.arg_shift == 1) candidate.handler = *shifted_handler(entry.handler);
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
  // A target may be such a function itself (mimalloc: mi_realloc sets its heap and jumps to
  // mi_heap_realloc, which sets a flag and jumps to an internal function): targets are decided
  // first, and a function waits while its target is undecided (a cycle: every one probed).
  // Functions skipped as tail calls pass their caller on to a probe: a jump to one reaches it.
  struct PassedOn {
    std::uint64_t function_offset;
    std::string symbol;
    std::vector<std::string> aliases;
  };
  std::vector<PassedOn> passed_on;
  while (!tail_calls.empty()) {
    // Decided from this round's state: a function whose target is still undecided waits.
    std::vector<bool> waits(tail_calls.size());
    for (std::size_t i = 0; i < tail_calls.size(); ++i) {
      const JumpTarget target(*elf, tail_calls[i].point.tail_jump->target);
      for (std::size_t j = 0; j < tail_calls.size(); ++j)
        if (j != i && target.is(tail_calls[j].function_offset, tail_calls[j].entry->symbol, tail_calls[j].aliases))
          waits[i] = true;
    }
    const bool cycle = std::all_of(waits.begin(), waits.end(), [](bool w) { return w; });
    std::vector<Candidate> undecided;
    for (std::size_t i = 0; i < tail_calls.size(); ++i) {
      Candidate& candidate = tail_calls[i];
      if (waits[i] && !cycle) {
        undecided.push_back(std::move(candidate));
        continue;
      }
      const std::uint64_t address = candidate.point.tail_jump->target;
      const JumpTarget target(*elf, address);
      const bool reaches_probe =
          std::any_of(plan.sites.begin(), plan.sites.end(),
                      [&](const ProbeSite& site) { return target.is(site.function_offset, site.symbol, site.aliases); }) ||
          std::any_of(passed_on.begin(), passed_on.end(),
                      [&](const PassedOn& f) { return target.is(f.function_offset, f.symbol, f.aliases); });
      if (reaches_probe) {
        plan.skipped.push_back({std::string(candidate.entry->symbol),
                                fmt::format("tail call to {} once its arguments are set (its target's probe sees the caller)",
                                            describe_target(*elf, address))});
        passed_on.push_back({candidate.function_offset, std::string(candidate.entry->symbol), candidate.aliases});
        continue;
      }
      plan.sites.push_back(make_site(std::move(candidate)));
    }
    tail_calls = std::move(undecided);
  }
  return plan;
}

}  // namespace edleak::probe
