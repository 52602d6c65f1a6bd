#include "probe/prologue.h"

#include <Zydis/Zydis.h>

#include <algorithm>
#include <array>
#include <string_view>

namespace edleak::probe {

namespace {

// The walk never leaves straight-line entry code (it stops at the first branch), so its limits
// (PrologueQuery) only bound the work; the bytes given bound it too.

// System V argument registers, in order.
constexpr std::array<ZydisRegister, 6> kArgumentRegisters = {
    ZYDIS_REGISTER_RDI, ZYDIS_REGISTER_RSI, ZYDIS_REGISTER_RDX,
    ZYDIS_REGISTER_RCX, ZYDIS_REGISTER_R8,  ZYDIS_REGISTER_R9,
};

struct Instruction {
  ZydisDecodedInstruction info;
  std::array<ZydisDecodedOperand, ZYDIS_MAX_OPERAND_COUNT> operands;
  std::uint64_t offset = 0;
  std::string text;  // AT&T syntax, branch targets as absolute addresses
};

// Kinds of instruction the x86 uprobe code emulates instead of single-stepping
// (arch/x86/kernel/uprobes.c: push_setup_xol_ops, branch_setup_xol_ops, NOPs).
enum class Emulated { no, push, nop, call, jmp, jcc };

class Decoder {
 public:
  Decoder() {
    ZydisDecoderInit(&decoder_, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
    ZydisFormatterInit(&formatter_, ZYDIS_FORMATTER_STYLE_ATT);
    // objdump's spelling: "sub $0x8,%rsp", "je 0x99620", not "$0x08" and 16-digit addresses.
    ZydisFormatterSetProperty(&formatter_, ZYDIS_FORMATTER_PROP_ADDR_PADDING_ABSOLUTE, ZYDIS_PADDING_DISABLED);
    ZydisFormatterSetProperty(&formatter_, ZYDIS_FORMATTER_PROP_IMM_PADDING, ZYDIS_PADDING_DISABLED);
    ZydisFormatterSetProperty(&formatter_, ZYDIS_FORMATTER_PROP_DISP_PADDING, ZYDIS_PADDING_DISABLED);
  }

  // Decodes the instruction at `offset` of `code` (whose first byte is at `address`).
  ZyanStatus decode(std::span<const std::uint8_t> code, std::uint64_t address, std::uint64_t offset,
                    Instruction& out) const {
    out.offset = offset;
    const ZyanStatus status = ZydisDecoderDecodeFull(&decoder_, code.data() + offset, code.size() - offset,
                                                     &out.info, out.operands.data());
    if (ZYAN_FAILED(status)) return status;
    std::array<char, 96> buffer{};
    if (ZYAN_SUCCESS(ZydisFormatterFormatInstruction(&formatter_, &out.info, out.operands.data(),
                                                     out.info.operand_count_visible, buffer.data(),
                                                     buffer.size(), address + offset, nullptr))) {
      // objdump writes operands without a space after the comma; so do the messages.
      out.text.clear();
      for (const char* c = buffer.data(); *c != '\0'; ++c) {
        if (!(*c == ' ' && c != buffer.data() && c[-1] == ',')) out.text.push_back(*c);
      }
    } else {
      out.text = ZydisMnemonicGetString(out.info.mnemonic);
    }
    return status;
  }

 private:
  ZydisDecoder decoder_;
  ZydisFormatter formatter_;
};

bool is_endbr64(const Instruction& in) { return in.info.mnemonic == ZYDIS_MNEMONIC_ENDBR64; }

constexpr int kNoArgument = -1;

// The argument register (index into kArgumentRegisters) `reg` is, or -1.
int argument_register_index(ZydisRegister reg) {
  const ZydisRegister full = ZydisRegisterGetLargestEnclosing(ZYDIS_MACHINE_MODE_LONG_64, reg);
  for (std::size_t i = 0; i < kArgumentRegisters.size(); ++i)
    if (kArgumentRegisters[i] == full) return static_cast<int>(i);
  return kNoArgument;
}

Emulated emulated_kind(const Instruction& in) {
  const auto& info = in.info;
  if (info.mnemonic == ZYDIS_MNEMONIC_NOP) return Emulated::nop;
  const bool one_byte_map = info.opcode_map == ZYDIS_OPCODE_MAP_DEFAULT;
  if (one_byte_map && info.opcode >= 0x50 && info.opcode <= 0x57) return Emulated::push;
  // The kernel refuses to emulate branches with an operand-size prefix (16-bit targets).
  if ((info.attributes & ZYDIS_ATTRIB_HAS_OPERANDSIZE) != 0) return Emulated::no;
  if (one_byte_map && info.opcode == 0xe8) return Emulated::call;
  if (one_byte_map && (info.opcode == 0xe9 || info.opcode == 0xeb)) return Emulated::jmp;
  if (one_byte_map && info.opcode >= 0x70 && info.opcode <= 0x7f) return Emulated::jcc;
  if (info.opcode_map == ZYDIS_OPCODE_MAP_0F && info.opcode >= 0x80 && info.opcode <= 0x8f) return Emulated::jcc;
  return Emulated::no;
}

std::uint64_t branch_target(const Instruction& in, std::uint64_t address) {
  ZyanU64 target = 0;
  ZydisCalcAbsoluteAddress(&in.info, &in.operands[0], address + in.offset, &target);
  return target;
}

// The 64-bit register a write lands in (writing %eax clears the top of %rax).
bool writes_register(const Instruction& in, ZydisRegister full_register) {
  for (std::size_t i = 0; i < in.info.operand_count; ++i) {
    const auto& operand = in.operands[i];
    if (operand.type == ZYDIS_OPERAND_TYPE_REGISTER && (operand.actions & ZYDIS_OPERAND_ACTION_MASK_WRITE) != 0 &&
        ZydisRegisterGetLargestEnclosing(ZYDIS_MACHINE_MODE_LONG_64, operand.reg.value) == full_register) {
      return true;
    }
  }
  return false;
}

bool writes_memory(const Instruction& in) {
  for (std::size_t i = 0; i < in.info.operand_count; ++i) {
    const auto& operand = in.operands[i];
    if (operand.type == ZYDIS_OPERAND_TYPE_MEMORY && operand.mem.type == ZYDIS_MEMOP_TYPE_MEM &&
        (operand.actions & ZYDIS_OPERAND_ACTION_MASK_WRITE) != 0) {
      return true;
    }
  }
  return false;
}

// Anything after which the next instruction may not run: a change of control flow (ret,
// indirect jmp/call, loop: they write rip), a trap, a system call, a halt.
bool transfers_control(const Instruction& in) {
  switch (in.info.meta.category) {
    case ZYDIS_CATEGORY_INTERRUPT:
    case ZYDIS_CATEGORY_SYSCALL:
    case ZYDIS_CATEGORY_SYSRET:
    case ZYDIS_CATEGORY_SYSTEM: return true;
    default: break;
  }
  switch (in.info.mnemonic) {
    case ZYDIS_MNEMONIC_UD0:
    case ZYDIS_MNEMONIC_UD1:
    case ZYDIS_MNEMONIC_UD2:
    case ZYDIS_MNEMONIC_HLT: return true;
    default: break;
  }
  return writes_register(in, ZYDIS_REGISTER_RIP);
}

// `test %rdi,%rdi`: the NULL check at the top of free().
bool is_rdi_null_test(const Instruction& in) {
  return in.info.mnemonic == ZYDIS_MNEMONIC_TEST && in.info.operand_count_visible == 2 &&
         in.operands[0].type == ZYDIS_OPERAND_TYPE_REGISTER && in.operands[0].reg.value == ZYDIS_REGISTER_RDI &&
         in.operands[1].type == ZYDIS_OPERAND_TYPE_REGISTER && in.operands[1].reg.value == ZYDIS_REGISTER_RDI;
}

std::string decode_failure(ZyanStatus status, std::uint64_t offset) {
  if (status == ZYDIS_STATUS_NO_MORE_DATA) return fmt::format("the bytes end inside the instruction at +{}", offset);
  return fmt::format("an undecodable instruction at +{}", offset);
}

// Follows the fall-through path to the first unconditional direct jmp, giving up at anything
// that changes the stack, memory or control flow otherwise (a call, ret, push, store).
std::optional<TailJump> find_tail_jump(const Decoder& decoder, const PrologueQuery& query) {
  bool pure = true;
  Instruction in;
  std::uint64_t offset = 0;
  for (std::size_t count = 0; count < query.max_instructions && offset < query.code.size() && offset < query.max_bytes;
       ++count, offset += in.info.length) {
    if (ZYAN_FAILED(decoder.decode(query.code, query.address, offset, in))) return std::nullopt;
    const Emulated kind = emulated_kind(in);
    if (is_endbr64(in) || kind == Emulated::nop) continue;
    if (kind == Emulated::jmp) return TailJump{offset, branch_target(in, query.address), pure};
    pure = false;
    if (kind == Emulated::jcc) continue;
    if (writes_register(in, ZYDIS_REGISTER_RSP) || writes_memory(in) || transfers_control(in)) return std::nullopt;
  }
  return std::nullopt;
}

}  // namespace

Result<ProbePoint> choose_probe_point(const PrologueQuery& query) {
  static const Decoder decoder;
  if (query.code.empty()) return make_error("no code bytes to decode at {:#x}", query.address);

  const std::size_t argument_count = std::min<std::size_t>(query.argument_registers, kArgumentRegisters.size());
  ProbePoint point;
  point.tail_jump = find_tail_jump(decoder, query);

  std::string first_text;               // the instruction at +0, for the fallback message
  std::string stop;                     // what ended the walk, for the fallback message
  std::optional<Instruction> null_test_branch;  // free's `je`, the fallback when nothing follows it
  bool previous_was_null_test = false;
  bool only_padding = true;             // nothing but endbr64 so far
  // With allow_shift: which argument each argument register holds (a copy moved there), or -1.
  std::array<int, kArgumentRegisters.size()> holds{};
  for (std::size_t i = 0; i < holds.size(); ++i) holds[i] = static_cast<int>(i);
  auto layout_is = [&](unsigned shift) {
    for (std::size_t i = 0; i < argument_count; ++i)
      if (i + shift >= holds.size() || holds[i + shift] != static_cast<int>(i)) return false;
    return true;
  };
  Instruction in;
  std::uint64_t offset = 0;
  std::size_t count = 0;
  for (; count < query.max_instructions && offset < query.code.size() && offset < query.max_bytes;
       ++count, offset += in.info.length) {
    if (const ZyanStatus status = decoder.decode(query.code, query.address, offset, in); ZYAN_FAILED(status)) {
      if (offset == 0) {
        return make_error("cannot decode the instruction at {:#x} (+0): {}", query.address,
                          status == ZYDIS_STATUS_NO_MORE_DATA ? "the bytes end inside it" : "invalid encoding");
      }
      stop = decode_failure(status, offset);
      break;
    }
    if (offset == 0) first_text = in.text;
    if (is_endbr64(in)) continue;

    const std::string_view after_null_test = null_test_branch ? "after the NULL test: " : "";
    const Emulated kind = emulated_kind(in);
    if (kind == Emulated::jcc && query.skip_null_test && previous_was_null_test &&
        in.info.mnemonic == ZYDIS_MNEMONIC_JZ &&
        branch_target(in, query.address) >= query.address + offset + in.info.length) {
      // Taken only for free(NULL), which changes nothing: follow the non-NULL path.
      null_test_branch = in;
      previous_was_null_test = false;
      only_padding = false;
      continue;
    }
    if (kind == Emulated::jmp && only_padding) {
      point.offset = offset;
      point.emulated = true;
      point.placement = fmt::format("tail jump to {:#x}", branch_target(in, query.address));
      return point;
    }
    if (kind != Emulated::no && query.allow_shift && !layout_is(0)) {
      if (!layout_is(1)) {
        stop = fmt::format("{} at +{} with the arguments moved elsewhere", in.text, offset);
        break;
      }
      point.offset = offset;
      point.emulated = true;
      point.arg_shift = 1;
      point.placement = fmt::format("{}{} at +{}, the arguments moved one register on (from %rsi)", after_null_test,
                                    in.text, offset);
      return point;
    }
    if (kind != Emulated::no) {
      point.offset = offset;
      point.emulated = true;
      point.placement = fmt::format("{}{} at +{}", after_null_test, in.text, offset);
      if (kind == Emulated::jcc) point.placement += " (a conditional branch: every call reaches it)";
      return point;
    }

    if (writes_register(in, ZYDIS_REGISTER_RSP)) {
      stop = fmt::format("the first write to rsp: {} at +{}", in.text, offset);
      break;
    }
    if (query.allow_shift) {
      // mov %src,%dst between 64-bit registers copies what src holds; any other write loses it.
      std::array<int, kArgumentRegisters.size()> next = holds;
      const bool move = in.info.mnemonic == ZYDIS_MNEMONIC_MOV && in.info.operand_count_visible == 2 &&
                        in.operands[0].type == ZYDIS_OPERAND_TYPE_REGISTER &&
                        in.operands[1].type == ZYDIS_OPERAND_TYPE_REGISTER && in.operands[0].size == 64;
      for (std::size_t r = 0; r < kArgumentRegisters.size(); ++r)
        if (writes_register(in, kArgumentRegisters[r])) next[r] = kNoArgument;
      if (move) {
        const int dst = argument_register_index(in.operands[0].reg.value);
        const int src = argument_register_index(in.operands[1].reg.value);
        if (dst != kNoArgument) next[dst] = src == kNoArgument ? kNoArgument : holds[src];
      }
      holds = next;
      for (std::size_t i = 0; i < argument_count; ++i) {
        if (std::find(holds.begin(), holds.end(), static_cast<int>(i)) == holds.end()) {
          stop = fmt::format("%{} is overwritten: {} at +{}", ZydisRegisterGetString(kArgumentRegisters[i]), in.text,
                             offset);
          break;
        }
      }
      if (!stop.empty()) break;
    }
    const auto clobbered = std::find_if(kArgumentRegisters.begin(), kArgumentRegisters.begin() + argument_count,
                                        [&](ZydisRegister reg) { return writes_register(in, reg); });
    if (!query.allow_shift && clobbered != kArgumentRegisters.begin() + argument_count) {
      stop = fmt::format("%{} is overwritten: {} at +{}", ZydisRegisterGetString(*clobbered), in.text, offset);
      break;
    }
    if (writes_memory(in)) {
      stop = fmt::format("a write to memory: {} at +{}", in.text, offset);
      break;
    }
    if (transfers_control(in)) {
      stop = fmt::format("a control transfer the kernel does not emulate: {} at +{}", in.text, offset);
      break;
    }
    // Harmless: reads arguments, sets flags, writes scratch registers; walk on.
    previous_was_null_test = is_rdi_null_test(in);
    only_padding = false;
  }
  if (stop.empty()) {
    stop = offset >= query.code.size() ? fmt::format("the function's end at +{}", offset)
                                       : fmt::format("the walk's limit at +{} ({} instructions)", offset, count);
  }

  if (null_test_branch) {
    // Still emulated and reached by every call; it also fires for free(NULL), which the handler
    // ignores.
    point.offset = null_test_branch->offset;
    point.emulated = true;
    point.placement = fmt::format("{} at +{} (the NULL test, also hit by free(NULL)): no emulated instruction "
                                  "on the non-NULL path before {}",
                                  null_test_branch->text, null_test_branch->offset, stop);
    return point;
  }
  point.offset = 0;
  point.emulated = false;
  point.placement = fmt::format("{} at +0, single-stepped: no emulated instruction before {}", first_text, stop);
  return point;
}

std::optional<std::uint64_t> plt_stub_slot(std::span<const std::uint8_t> code, std::uint64_t address) {
  static const Decoder decoder;
  Instruction in;
  std::uint64_t offset = 0;
  if (code.empty() || ZYAN_FAILED(decoder.decode(code, address, offset, in))) return std::nullopt;
  if (is_endbr64(in)) {
    offset += in.info.length;
    if (offset >= code.size() || ZYAN_FAILED(decoder.decode(code, address, offset, in))) return std::nullopt;
  }
  const auto& target = in.operands[0];
  if (in.info.mnemonic != ZYDIS_MNEMONIC_JMP || target.type != ZYDIS_OPERAND_TYPE_MEMORY ||
      target.mem.base != ZYDIS_REGISTER_RIP || target.mem.index != ZYDIS_REGISTER_NONE) {
    return std::nullopt;
  }
  ZyanU64 slot = 0;
  if (ZYAN_FAILED(ZydisCalcAbsoluteAddress(&in.info, &target, address + offset, &slot))) return std::nullopt;
  return slot;
}

}  // namespace edleak::probe
