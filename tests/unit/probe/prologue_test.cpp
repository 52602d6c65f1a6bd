// The probe-point walk on literal prologues: the real ones of glibc 2.36 / libstdc++ 6.0.30 and
// the ones that must stop it.
#include "probe/prologue.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

namespace edleak::probe {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr std::uint64_t kAddress = 0x98930;

ProbePoint choose(const std::vector<std::uint8_t>& code, unsigned argument_registers, bool skip_null_test = false) {
  auto point = choose_probe_point({code, kAddress, argument_registers, skip_null_test});
  EXPECT_TRUE(point.ok()) << (point.ok() ? "" : point.error().message);
  return point.ok() ? *point : ProbePoint{};
}

// glibc malloc: push %r12; push %rbp; push %rbx; mov %rdi,%rbx
TEST(ProloguePlacement, MallocPushAtEntry) {
  const auto point = choose({0x41, 0x54, 0x55, 0x53, 0x48, 0x89, 0xfb}, 1);
  EXPECT_EQ(point.offset, 0u);
  EXPECT_TRUE(point.emulated);
  EXPECT_EQ(point.placement, "push %r12 at +0");
  EXPECT_FALSE(point.tail_jump);
}

// glibc free: test %rdi,%rdi; je +0xbf; push %rbp; lea -0x10(%rdi),%rsi
const std::vector<std::uint8_t> kFree = {0x48, 0x85, 0xff, 0x0f, 0x84, 0xbf, 0x00, 0x00, 0x00,
                                         0x55, 0x48, 0x8d, 0x77, 0xf0};

TEST(ProloguePlacement, FreeGoesPastTheNullTest) {
  const auto point = choose(kFree, 1, /*skip_null_test=*/true);
  EXPECT_EQ(point.offset, 9u);
  EXPECT_TRUE(point.emulated);
  EXPECT_EQ(point.placement, "after the NULL test: push %rbp at +9");
}

TEST(ProloguePlacement, NullTestIsOnlySkippedWhenTheHandlerIgnoresNull) {
  // Without skip_null_test the je is an ordinary branch both of whose paths matter.
  const auto point = choose(kFree, 1, /*skip_null_test=*/false);
  EXPECT_EQ(point.offset, 3u);
  EXPECT_TRUE(point.emulated);
}

TEST(ProloguePlacement, TestOfRsiIsNotTheNullTest) {
  // test %rsi,%rsi; je; push %rbp: the je may skip calls that matter, so the walk ends there.
  const auto point = choose({0x48, 0x85, 0xf6, 0x0f, 0x84, 0xbf, 0x00, 0x00, 0x00, 0x55}, 1, true);
  EXPECT_EQ(point.offset, 3u);
  EXPECT_TRUE(point.emulated);
  EXPECT_THAT(point.placement, HasSubstr("at +3"));
}

TEST(ProloguePlacement, BackwardJeAfterNullTestIsNotSkipped) {
  // A je back to +0 is not a NULL early-out: choose it, do not walk past it.
  const auto point = choose({0x48, 0x85, 0xff, 0x74, 0xfb, 0x55}, 1, true);
  EXPECT_EQ(point.offset, 3u);
}

TEST(ProloguePlacement, NullTestWithoutEmulatedFollowerFallsBackToTheJe) {
  // test %rdi,%rdi; je; sub $0x18,%rsp: nothing emulated on the non-NULL path.
  const auto point = choose({0x48, 0x85, 0xff, 0x74, 0x10, 0x48, 0x83, 0xec, 0x18}, 1, true);
  EXPECT_EQ(point.offset, 3u);
  EXPECT_TRUE(point.emulated);
  EXPECT_THAT(point.placement, HasSubstr("the NULL test"));
  EXPECT_THAT(point.placement, HasSubstr("sub $0x18,%rsp at +5"));
}

// glibc memalign/aligned_alloc: cmpb $0,x(%rip); je +7; jmp _mid_memalign
TEST(ProloguePlacement, MemalignConditionalBranchBothPathsMatter) {
  const std::vector<std::uint8_t> code = {0x80, 0x3d, 0x71, 0x0e, 0x14, 0x00, 0x00, 0x74, 0x07,
                                          0xe9, 0x32, 0xf6, 0xff, 0xff, 0x66, 0x90};
  const auto point = choose(code, 2);
  EXPECT_EQ(point.offset, 7u);
  EXPECT_TRUE(point.emulated);
  EXPECT_THAT(point.placement, StartsWith("jz 0x98940 at +7"));
  // The fall-through path ends in jmp _mid_memalign: a tail jump, but not a pure one.
  ASSERT_TRUE(point.tail_jump);
  EXPECT_FALSE(point.tail_jump->pure);
  EXPECT_EQ(point.tail_jump->jump_offset, 9u);
  EXPECT_EQ(point.tail_jump->target, kAddress + 9 + 5 - 0x9ce);
}

// glibc posix_memalign: cmpb $0,x(%rip); push %r12; mov %rdx,%r12
TEST(ProloguePlacement, PosixMemalignPushAfterFlagTest) {
  const auto point = choose({0x80, 0x3d, 0x01, 0x02, 0x14, 0x00, 0x00, 0x41, 0x54, 0x49, 0x89, 0xd4}, 3);
  EXPECT_EQ(point.offset, 7u);
  EXPECT_EQ(point.placement, "push %r12 at +7");
}

// glibc reallocarray: mov %rsi,%rax; mul %rdx; mov %rax,%rsi; jo +5; jmp realloc@plt
const std::vector<std::uint8_t> kReallocarray = {0x48, 0x89, 0xf0, 0x48, 0xf7, 0xe2, 0x48, 0x89,
                                                 0xc6, 0x70, 0x05, 0xe9, 0x40, 0xb8, 0xf8, 0xff};

TEST(ProloguePlacement, ReallocarrayClobbersItsArgumentsThenTailCalls) {
  const auto point = choose(kReallocarray, 3);
  EXPECT_EQ(point.offset, 0u);
  EXPECT_FALSE(point.emulated);
  EXPECT_THAT(point.placement, HasSubstr("%rdx is overwritten: mul %rdx at +3"));
  ASSERT_TRUE(point.tail_jump);
  EXPECT_FALSE(point.tail_jump->pure);
  EXPECT_EQ(point.tail_jump->jump_offset, 11u);
  EXPECT_EQ(point.tail_jump->target, kAddress + 16 - 0x747c0);
}

// libstdc++ operator new: endbr64; test %rdi,%rdi; mov $1,%eax; push %rbx
TEST(ProloguePlacement, OperatorNewPushAfterEndbr) {
  const auto point = choose({0xf3, 0x0f, 0x1e, 0xfa, 0x48, 0x85, 0xff, 0xb8, 0x01, 0x00, 0x00, 0x00, 0x53}, 1);
  EXPECT_EQ(point.offset, 12u);
  EXPECT_TRUE(point.emulated);
  EXPECT_EQ(point.placement, "push %rbx at +12");
}

// libstdc++ operator new[]: endbr64; jmp _Znwm@plt
TEST(ProloguePlacement, OperatorNewArrayIsAPureTailJump) {
  const auto point = choose({0xf3, 0x0f, 0x1e, 0xfa, 0xe9, 0xf7, 0x02, 0xff, 0xff}, 1);
  ASSERT_TRUE(point.tail_jump);
  EXPECT_TRUE(point.tail_jump->pure);
  EXPECT_EQ(point.tail_jump->jump_offset, 4u);
  EXPECT_EQ(point.tail_jump->target, kAddress + 9 - 0xfd09);
  EXPECT_EQ(point.placement, fmt::format("tail jump to {:#x}", kAddress + 9 - 0xfd09));
  EXPECT_EQ(point.offset, 4u);
  EXPECT_TRUE(point.emulated);
}

// libstdc++ nothrow new: endbr64; sub $8,%rsp; call _Znwm@plt
TEST(ProloguePlacement, StackAdjustBeforeCallFallsBackToEntry) {
  const auto point = choose({0xf3, 0x0f, 0x1e, 0xfa, 0x48, 0x83, 0xec, 0x08, 0xe8, 0x13, 0x03, 0xff, 0xff}, 1);
  EXPECT_EQ(point.offset, 0u);
  EXPECT_FALSE(point.emulated);
  EXPECT_EQ(point.placement,
            "endbr64 at +0, single-stepped: no emulated instruction before the first write to rsp: "
            "sub $0x8,%rsp at +4");
  EXPECT_FALSE(point.tail_jump);
}

TEST(ProloguePlacement, SubFirstFallsBackToEntry) {
  const auto point = choose({0x48, 0x83, 0xec, 0x18, 0x55}, 1);
  EXPECT_EQ(point.offset, 0u);
  EXPECT_FALSE(point.emulated);
  EXPECT_THAT(point.placement, HasSubstr("the first write to rsp: sub $0x18,%rsp at +0"));
}

TEST(ProloguePlacement, ArgumentClobberStopsTheWalk) {
  // mov %rsi,%rdi; push %rbx: the push would see the wrong rdi.
  const auto point = choose({0x48, 0x89, 0xf7, 0x53}, 1);
  EXPECT_EQ(point.offset, 0u);
  EXPECT_FALSE(point.emulated);
  EXPECT_THAT(point.placement, HasSubstr("%rdi is overwritten: mov %rsi,%rdi at +0"));
}

TEST(ProloguePlacement, WritingARegisterTheHandlerDoesNotReadIsHarmless) {
  // mov %rdi,%rsi; push %rbx: a one-argument handler does not care about rsi.
  EXPECT_EQ(choose({0x48, 0x89, 0xfe, 0x53}, 1).offset, 3u);
  // ...but a two-argument one does.
  EXPECT_EQ(choose({0x48, 0x89, 0xfe, 0x53}, 2).offset, 0u);
}

TEST(ProloguePlacement, ThirtyTwoBitWriteClobbersTheWholeRegister) {
  // xor %edx,%edx; push %rbx: writing %edx zeroes the top of %rdx.
  const auto point = choose({0x31, 0xd2, 0x53}, 3);
  EXPECT_EQ(point.offset, 0u);
  EXPECT_THAT(point.placement, HasSubstr("%rdx is overwritten"));
}

TEST(ProloguePlacement, MemoryWriteStopsTheWalk) {
  // mov %rdi,0x10(%rax); push %rbx
  const auto point = choose({0x48, 0x89, 0x78, 0x10, 0x53}, 1);
  EXPECT_EQ(point.offset, 0u);
  EXPECT_FALSE(point.emulated);
  EXPECT_THAT(point.placement, HasSubstr("a write to memory: mov %rdi,0x10(%rax) at +0"));
}

TEST(ProloguePlacement, NonEmulatedBranchStopsTheWalk) {
  // mov $1,%eax; ret; push %rbx (never reached)
  const auto point = choose({0xb8, 0x01, 0x00, 0x00, 0x00, 0xc3, 0x53}, 1);
  EXPECT_EQ(point.offset, 0u);
  EXPECT_THAT(point.placement, HasSubstr("ret at +5"));
}

TEST(ProloguePlacement, TrapsAndSystemCallsStopTheWalk) {
  // ud2; push %rbx  and  syscall; push %rbx: the push may never run.
  EXPECT_THAT(choose({0x0f, 0x0b, 0x53}, 1).placement, HasSubstr("ud2 at +0"));
  EXPECT_THAT(choose({0x0f, 0x05, 0x53}, 1).placement, HasSubstr("syscall at +0"));
  EXPECT_THAT(choose({0xcc, 0x53}, 1).placement, HasSubstr("int3 at +0"));
  EXPECT_EQ(choose({0x0f, 0x0b, 0x53}, 1).offset, 0u);
}

TEST(ProloguePlacement, NopIsEmulated) {
  // cmp $1,%rdi; nopl 0(%rax); push %rbx
  const auto point = choose({0x48, 0x83, 0xff, 0x01, 0x0f, 0x1f, 0x40, 0x00, 0x53}, 1);
  EXPECT_EQ(point.offset, 4u);
  EXPECT_TRUE(point.emulated);
}

TEST(ProloguePlacement, PushOfMemoryIsNotEmulated) {
  // push 0x10(%rip) writes rsp and is single-stepped: fall back to +0.
  const auto point = choose({0xff, 0x35, 0x10, 0x00, 0x00, 0x00, 0x53}, 1);
  EXPECT_EQ(point.offset, 0u);
  EXPECT_FALSE(point.emulated);
  EXPECT_THAT(point.placement, HasSubstr("the first write to rsp"));
}

TEST(ProloguePlacement, WalkStopsAtItsInstructionLimit) {
  // Nine harmless `mov %rdi,%rax`, then a push the walk must not reach.
  std::vector<std::uint8_t> code;
  for (int i = 0; i < 9; ++i) code.insert(code.end(), {0x48, 0x89, 0xf8});
  code.push_back(0x53);
  const auto point = choose(code, 1);
  EXPECT_EQ(point.offset, 0u);
  EXPECT_THAT(point.placement, HasSubstr("the walk's limit at +24"));
}

TEST(ProloguePlacement, TruncatedInstructionEndsTheWalk) {
  // cmpb $0,x(%rip) cut short after a harmless instruction.
  const auto point = choose({0x48, 0x89, 0xf8, 0x80, 0x3d, 0x71}, 1);
  EXPECT_EQ(point.offset, 0u);
  EXPECT_FALSE(point.emulated);
  EXPECT_THAT(point.placement, HasSubstr("the bytes end inside the instruction at +3"));
}

TEST(ProloguePlacement, FunctionEndEndsTheWalk) {
  const auto point = choose({0x48, 0x89, 0xf8}, 1);
  EXPECT_EQ(point.offset, 0u);
  EXPECT_THAT(point.placement, HasSubstr("the function's end at +3"));
}

TEST(ProloguePlacement, UndecodableFirstInstructionIsAnError) {
  const std::vector<std::uint8_t> truncated = {0x80, 0x3d, 0x71};
  auto point = choose_probe_point({truncated, kAddress, 1, false});
  ASSERT_FALSE(point.ok());
  EXPECT_EQ(point.error().message, "cannot decode the instruction at 0x98930 (+0): the bytes end inside it");

  const std::vector<std::uint8_t> garbage = {0x06, 0x07, 0x27};  // push es etc.: invalid in 64-bit mode
  point = choose_probe_point({garbage, kAddress, 1, false});
  ASSERT_FALSE(point.ok());
  EXPECT_THAT(point.error().message, HasSubstr("invalid encoding"));

  point = choose_probe_point({{}, kAddress, 1, false});
  EXPECT_FALSE(point.ok());
}

TEST(ProloguePlacement, GarbageAfterAHarmlessInstructionFallsBack) {
  const auto point = choose({0x48, 0x89, 0xf8, 0x06, 0x53}, 1);
  EXPECT_EQ(point.offset, 0u);
  EXPECT_THAT(point.placement, HasSubstr("an undecodable instruction at +3"));
}

TEST(PltStub, FindsTheGotSlotOfEachStubForm) {
  // .plt: jmp *0x17afca(%rip) at 0x99030 -> slot 0x214000
  const std::vector<std::uint8_t> plt = {0xff, 0x25, 0xca, 0xaf, 0x17, 0x00, 0x68, 0x00, 0x00, 0x00, 0x00};
  EXPECT_EQ(plt_stub_slot(plt, 0x99030), std::optional<std::uint64_t>(0x214000));
  // .plt.sec: endbr64; bnd jmp *0x2fe2(%rip) at 0x1060 -> slot 0x1060 + 4 + 7 + 0x2fe2
  const std::vector<std::uint8_t> plt_sec = {0xf3, 0x0f, 0x1e, 0xfa, 0xf2, 0xff, 0x25, 0xe2, 0x2f, 0x00, 0x00};
  EXPECT_EQ(plt_stub_slot(plt_sec, 0x1060), std::optional<std::uint64_t>(0x1060 + 11 + 0x2fe2));
}

TEST(PltStub, RejectsOtherCode) {
  EXPECT_FALSE(plt_stub_slot(std::vector<std::uint8_t>{0x41, 0x54}, 0x1000));  // push %r12
  EXPECT_FALSE(plt_stub_slot(std::vector<std::uint8_t>{0xff, 0xe0}, 0x1000));  // jmp *%rax
  EXPECT_FALSE(plt_stub_slot(std::vector<std::uint8_t>{0xff, 0x25, 0x00}, 0x1000));  // truncated
  EXPECT_FALSE(plt_stub_slot(std::vector<std::uint8_t>{0xf3, 0x0f, 0x1e, 0xfa}, 0x1000));  // endbr64 only
  EXPECT_FALSE(plt_stub_slot({}, 0x1000));
}

}  // namespace
}  // namespace edleak::probe

namespace edleak::probe {
namespace {

// mimalloc 2.0's mi_malloc: the size moves to rsi, the heap to rdi, then the first branch.
TEST(PrologueShift, ArgumentsFollowedOneRegisterOn) {
  const std::vector<std::uint8_t> code = {
      0x48, 0x8b, 0x05, 0x49, 0xb4, 0x00, 0x00,        // mov 0xb449(%rip),%rax
      0x48, 0x89, 0xfe,                                // mov %rdi,%rsi
      0x64, 0x48, 0x8b, 0x38,                          // mov %fs:(%rax),%rdi
      0x48, 0x81, 0xfe, 0x00, 0x04, 0x00, 0x00,        // cmp $0x400,%rsi
      0x77, 0x29,                                      // ja +0x29
  };
  PrologueQuery query{code, 0x10b70, 1, false};
  auto fixed = choose_probe_point(query);
  ASSERT_TRUE(fixed.ok());
  EXPECT_EQ(fixed->offset, 0u);  // without the shift: rdi is overwritten, single-stepped at +0
  EXPECT_FALSE(fixed->emulated);
  query.allow_shift = true;
  auto shifted = choose_probe_point(query);
  ASSERT_TRUE(shifted.ok());
  EXPECT_EQ(shifted->offset, 21u) << shifted->placement;
  EXPECT_TRUE(shifted->emulated);
  EXPECT_EQ(shifted->arg_shift, 1u);
}

// An argument copied somewhere the handler cannot read it (rax) and then overwritten: no shift.
TEST(PrologueShift, LostArgumentStopsTheWalk) {
  const std::vector<std::uint8_t> code = {
      0x48, 0x89, 0xf8,  // mov %rdi,%rax
      0x31, 0xff,        // xor %edi,%edi
      0x77, 0x10,        // ja +0x10
  };
  PrologueQuery query{code, 0x1000, 1, false};
  query.allow_shift = true;
  auto point = choose_probe_point(query);
  ASSERT_TRUE(point.ok());
  EXPECT_EQ(point->offset, 0u) << point->placement;
  EXPECT_EQ(point->arg_shift, 0u);
  EXPECT_THAT(point->placement, ::testing::HasSubstr("%rdi is overwritten"));
}

}  // namespace
}  // namespace edleak::probe
