#pragma once
// Which unwind tables the BPF side holds, and which process points at which: each file's table
// is built once (by device and inode, whatever path or process reaches it), placed once in the
// shared row array, and shared by every process that maps the file. Pure C++: the kernel maps
// sit behind UnwindMaps, so tests run it with a fake.
#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "edleak_abi.h"
#include "symbolize/proc_maps.h"
#include "symbolize/load_segments.h"
#include "unwind/row_space.h"
#include "unwind/unwind_table.h"
#include "util/result.h"

namespace edleak::unwind {

// The kernel side: the shared row array and the per-process mapping lists.
class UnwindMaps {
 public:
  virtual ~UnwindMaps() = default;
  virtual std::uint32_t row_capacity() const = 0;
  virtual Result<void> write_rows(std::uint32_t first, std::span<const edleak_unwind_row> rows) = 0;
  virtual Result<void> set_mappings(std::uint32_t tgid, const edleak_proc_mappings& mappings) = 0;
  virtual void remove_mappings(std::uint32_t tgid) = 0;
};

// A file's table and how its addresses relate to the file's offsets.
struct FileTable {
  UnwindTable table;
  std::vector<symbolize::LoadSegment> segments;
  std::string error;  // why the file has no table ("" when it has one)
};

// Builds the table of the file at `path` (a path this process can open).
using TableBuilder = std::function<FileTable(const std::string& path)>;
FileTable build_file_table(const std::string& path);

struct RegistryStats {
  std::size_t files = 0;       // files with a table in the kernel
  std::size_t rows = 0;        // rows in the kernel, all files
  std::size_t row_capacity = 0;
  std::size_t user_bytes = 0;  // what is kept here per file (its place, segments), not its rows
  std::size_t processes = 0;
  std::size_t files_without_cfi = 0;  // unwound by frame pointers only
  std::size_t files_not_placed = 0;   // the row array was full
  std::size_t idle_files = 0;         // placed, mapped by no traced process
};

class UnwindRegistry {
 public:
  explicit UnwindRegistry(UnwindMaps& maps, TableBuilder builder = build_file_table);

  // Points process `pid` at the tables of its executable mappings (`mappings` as in
  // /proc/PID/maps), building and placing the tables of files not seen before. Files are
  // opened through `open_path(mapping)` (e.g. /proc/PID/map_files/..., which reaches the very
  // file mapped, in any mount namespace).
  Result<void> update_process(
      pid_t pid, std::span<const symbolize::Mapping> mappings,
      const std::function<std::string(const symbolize::Mapping&)>& open_path);

  // The process is gone: its mapping list leaves the kernel; the tables of files no process
  // maps any more stay placed (idle) until their rows are needed for another file.
  void forget_process(pid_t pid);

  bool knows_process(pid_t pid) const { return processes_.count(pid) != 0; }
  RegistryStats stats() const;

 private:
  struct FileKey {
    std::uint64_t dev, inode;
    bool operator<(const FileKey& o) const { return dev != o.dev ? dev < o.dev : inode < o.inode; }
    bool operator==(const FileKey& o) const { return dev == o.dev && inode == o.inode; }
  };
  struct PlacedFile {
    FileTable file;
    RowRange range;       // where its rows are; empty when none (no CFI, or no room)
    std::size_t rows = 0;  // in its table (which is dropped here once in the kernel)
    std::size_t users = 0;  // processes mapping it
  };

  static FileKey key_of(const symbolize::Mapping& mapping);  // the file's device and inode
  PlacedFile& file_for(const symbolize::Mapping& mapping, const std::string& path);
  void release(const FileKey& key);

  UnwindMaps& maps_;
  TableBuilder builder_;
  RowSpace space_;
  std::map<FileKey, PlacedFile> files_;
  std::unordered_map<pid_t, std::vector<FileKey>> processes_;  // the files each one maps
  std::uint32_t generation_ = 0;  // of the mapping lists written
};

}  // namespace edleak::unwind
