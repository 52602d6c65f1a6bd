#include "record/build_id.h"

#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <unistd.h>

#include <fmt/format.h>

namespace edleak::record {

std::string read_build_id(const std::string& path) {
  if (path.empty() || elf_version(EV_CURRENT) == EV_NONE) return "";
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return "";
  std::string id;
  if (Elf* elf = elf_begin(fd, ELF_C_READ, nullptr)) {
    for (Elf_Scn* scn = nullptr; id.empty() && (scn = elf_nextscn(elf, scn)) != nullptr;) {
      GElf_Shdr shdr;
      if (!gelf_getshdr(scn, &shdr) || shdr.sh_type != SHT_NOTE) continue;
      Elf_Data* data = elf_getdata(scn, nullptr);
      if (!data) continue;
      GElf_Nhdr note;
      std::size_t name_at = 0, desc_at = 0;
      for (std::size_t at = 0; (at = gelf_getnote(data, at, &note, &name_at, &desc_at)) > 0;) {
        if (note.n_type != NT_GNU_BUILD_ID || note.n_namesz != 4 ||
            std::string_view(static_cast<const char*>(data->d_buf) + name_at, 3) != "GNU")
          continue;
        const auto* desc = static_cast<const unsigned char*>(data->d_buf) + desc_at;
        for (std::size_t i = 0; i < note.n_descsz; ++i) id += fmt::format("{:02x}", desc[i]);
        break;
      }
    }
    elf_end(elf);
  }
  close(fd);
  return id;
}

const std::string& BuildIds::of(const std::string& path) {
  auto it = cache_.find(path);
  if (it == cache_.end()) it = cache_.emplace(path, read_build_id(path)).first;
  return it->second;
}

}  // namespace edleak::record
