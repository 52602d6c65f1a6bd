#pragma once
// Resolves user addresses of live processes to functions and source lines (elfutils libdw).
#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "symbolize/frame.h"
#include "symbolize/proc_maps.h"

namespace edleak::symbolize {

// What the addresses given to Symbolizer::symbolize are.
enum class AddressKind {
  // Addresses of instructions themselves (a function's entry, a sampled instruction pointer).
  instruction,
  // Return addresses from a stack walk (every frame but the innermost): they point after the
  // call, which may be the next line or even the next function, so their function and line
  // are looked up at addr - 1, inside the call instruction. Frame::offset still uses addr.
  return_address,
};

class Symbolizer {
 public:
  Symbolizer();
  ~Symbolizer();
  Symbolizer(const Symbolizer&) = delete;
  Symbolizer& operator=(const Symbolizer&) = delete;

  // Resolves addresses of process `pid`: its mappings come from /proc/PID/maps and its files are
  // opened through /proc/PID/root (so containers work). Modules are parsed once and shared by
  // every process that maps them. An address that cannot be resolved still yields a Frame with
  // addr (and module when it is mapped).
  std::vector<Frame> symbolize(pid_t pid, std::span<const std::uint64_t> addrs);
  // The same, saying what the addresses are; the overload above takes them as instructions.
  std::vector<Frame> symbolize(pid_t pid, std::span<const std::uint64_t> addrs, AddressKind kind);
  // The same for one history of the pid (sample::ProcessKey's incarnation): each history keeps
  // the mappings it was first symbolized with, so a program's stacks still resolve after the
  // pid exec'd another.
  std::vector<Frame> symbolize(pid_t pid, std::uint32_t history, std::span<const std::uint64_t> addrs,
                               AddressKind kind);
  // Reads the history's mappings now rather than at its first symbolization: a process traced
  // with -p that allocates and exits before the first sample has no /proc/PID/maps by then.
  void read_mappings(pid_t pid, std::uint32_t history);
  // The history ended (exec, exit): its mappings are never read again (after an exec, /proc
  // shows the next program's). A history not symbolized yet keeps the mappings last given by
  // remember_mappings, so a process that exited before its first stack was symbolized still
  // resolves.
  void seal(pid_t pid, std::uint32_t history);
  // The mappings of one history of pid, just read from /proc/PID/maps by someone else (the
  // mapping reader, when the process asked): the history uses them instead of reading the file
  // (again), and they outlive the process. Given for a history already sealed but never loaded
  // (read before its exit, handed over after), they are its mappings too.
  void remember_mappings(pid_t pid, std::uint32_t history, std::vector<Mapping> mappings);

  // Drops what is cached for a process history (its mappings); modules stay cached.
  void forget_process(pid_t pid, std::uint32_t history = 0);

  // What is held (soak runs check that it follows the live processes).
  std::size_t history_count() const;
  std::size_t module_count() const;
  std::size_t remembered_count() const;  // histories with remembered mappings not yet loaded or sealed

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace edleak::symbolize
