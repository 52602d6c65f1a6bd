#include "unwind/unwind_registry.h"

#include <fcntl.h>
#include <libelf.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>

#include "symbolize/unique_fd.h"
#include "util/log.h"

namespace edleak::unwind {

FileTable build_file_table(const std::string& path) {
  FileTable out;
  elf_version(EV_CURRENT);
  symbolize::UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) {
    out.error = fmt::format("cannot open: {}", std::strerror(errno));
    return out;
  }
  Elf* elf = elf_begin(fd.get(), ELF_C_READ_MMAP, nullptr);
  if (!elf) {
    out.error = fmt::format("not an ELF file: {}", elf_errmsg(-1));
    return out;
  }
  auto segments = symbolize::read_load_segments(elf);
  if (!segments) {
    out.error = segments.error().message;
  } else {
    out.segments = std::move(*segments);
    auto table = build_unwind_table(elf);
    if (table)
      out.table = std::move(*table);
    else
      out.error = table.error().message;
  }
  elf_end(elf);
  return out;
}

UnwindRegistry::FileKey UnwindRegistry::key_of(const symbolize::Mapping& mapping) {
  return {(std::uint64_t{mapping.dev_major} << 32) | mapping.dev_minor, mapping.inode};
}

UnwindRegistry::UnwindRegistry(UnwindMaps& maps, TableBuilder builder)
    : maps_(maps), builder_(std::move(builder)), space_(maps.row_capacity()) {}

UnwindRegistry::PlacedFile& UnwindRegistry::file_for(const symbolize::Mapping& mapping,
                                                     const std::string& path) {
  const FileKey key = key_of(mapping);
  auto it = files_.find(key);
  if (it != files_.end()) return it->second;
  PlacedFile placed;
  placed.file = builder_(path);
  const auto& rows = placed.file.table.rows;
  placed.rows = rows.size();
  if (!placed.file.error.empty()) {
    log::verbose("unwind: {}: {}; its frames are found by frame pointers", mapping.path,
                 placed.file.error);
  } else if (!rows.empty()) {
    const auto count = static_cast<std::uint32_t>(rows.size());
    auto range = space_.allocate(count);
    // Tables of files no process maps any more stay placed until the room is needed (a
    // command run again and again keeps its table); then they go, and the space is retried.
    for (auto idle = files_.begin(); !range && idle != files_.end();) {
      if (idle->second.users == 0) {
        space_.release(idle->second.range);
        idle = files_.erase(idle);
        range = space_.allocate(count);
      } else {
        ++idle;
      }
    }
    if (!range) {
      log::warn("unwind: no room for the {} rows of {} ({} of {} rows in use; raise "
                "--max-unwind-rows): its frames are found by frame pointers",
                rows.size(), mapping.path, space_.used(), space_.capacity());
    } else if (auto r = maps_.write_rows(range->first, rows); !r) {
      log::warn("unwind: {}: {}", mapping.path, r.error().message);
      space_.release(*range);
    } else {
      placed.range = *range;
      log::verbose("unwind: {}: {} rows from {} FDEs at row {}", mapping.path, rows.size(),
                   placed.file.table.stats.fdes, range->first);
      // The kernel holds them now: nothing of a file's table stays here but its place.
      placed.file.table.rows = {};
    }
  }
  return files_.emplace(key, std::move(placed)).first->second;
}

Result<void> UnwindRegistry::update_process(
    pid_t pid, std::span<const symbolize::Mapping> mappings,
    const std::function<std::string(const symbolize::Mapping&)>& open_path) {
  auto list = std::make_unique<edleak_proc_mappings>();
  list->count = 0;
  std::vector<FileKey> used;
  std::size_t dropped = 0;
  for (const auto& m : mappings) {
    if (!m.executable) continue;
    if (list->count == EDLEAK_MAX_MAPPINGS) {
      ++dropped;
      continue;
    }
    edleak_mapping entry{m.start, m.end, 0, 0, 0};
    if (m.is_file() && m.inode != 0) {
      PlacedFile& file = file_for(m, open_path(m));
      const FileKey key = key_of(m);
      if (std::find(used.begin(), used.end(), key) == used.end()) {
        used.push_back(key);
        ++file.users;
      }
      // runtime address - bias = file address
      auto start_address = symbolize::file_address(file.file.segments, m.file_offset);
      if (start_address && file.range.count) {
        entry.bias = m.start - *start_address;
        entry.first_row = file.range.first;
        entry.row_count = file.range.count;
      }
    }
    // Other executable memory ([vdso], JIT code) stays listed with no rows: its frames are
    // walked by frame pointer, and its return addresses are known to be code.
    list->mappings[list->count++] = entry;
  }
  if (dropped)
    log::warn("unwind: pid {} has {} executable mappings; the last {} are not unwound", pid,
              list->count + dropped, dropped);
  // The process's previous files are released after the new ones are held, so a file it keeps
  // mapping is never rebuilt.
  if (auto old = processes_.find(pid); old != processes_.end())
    for (const auto& key : old->second) release(key);
  processes_[pid] = std::move(used);
  list->generation = ++generation_;
  return maps_.set_mappings(static_cast<std::uint32_t>(pid), *list);
}

void UnwindRegistry::release(const FileKey& key) {
  auto it = files_.find(key);
  if (it != files_.end() && it->second.users > 0) --it->second.users;
}

void UnwindRegistry::forget_process(pid_t pid) {
  auto it = processes_.find(pid);
  if (it == processes_.end()) return;
  for (const auto& key : it->second) release(key);
  processes_.erase(it);
  maps_.remove_mappings(static_cast<std::uint32_t>(pid));
}

RegistryStats UnwindRegistry::stats() const {
  RegistryStats s;
  s.row_capacity = space_.capacity();
  s.rows = space_.used();
  s.processes = processes_.size();
  for (const auto& [key, placed] : files_) {
    if (placed.range.count) ++s.files;
    if (placed.users == 0) ++s.idle_files;
    s.user_bytes += sizeof(placed) + placed.file.segments.capacity() * sizeof(symbolize::LoadSegment) +
                    placed.file.table.memory_bytes();
    if (!placed.file.error.empty() || placed.rows == 0) ++s.files_without_cfi;
    else if (!placed.range.count) ++s.files_not_placed;
  }
  return s;
}

}  // namespace edleak::unwind
