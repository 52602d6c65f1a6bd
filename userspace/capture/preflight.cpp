#include "capture/preflight.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <cerrno>
#include <fstream>
#include <linux/bpf.h>
#include <string>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

namespace edleak::capture {
namespace {

bool exists(const char* path) {
  struct stat st {};
  return stat(path, &st) == 0;
}

// As libbpf probes it: a program loaded for uprobe_multi, linked to "/", fails with EBADF
// only where the kernel has uprobe_multi links (elsewhere EINVAL at load or link).
bool has_uprobe_multi() {
  const bpf_insn insns[] = {
      {BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 0},  // r0 = 0
      {BPF_JMP | BPF_EXIT, 0, 0, 0, 0},
  };
  LIBBPF_OPTS(bpf_prog_load_opts, load_opts, .expected_attach_type = BPF_TRACE_UPROBE_MULTI);
  int prog = bpf_prog_load(BPF_PROG_TYPE_KPROBE, nullptr, "GPL", insns, 2, &load_opts);
  if (prog < 0) return false;
  unsigned long offset = 0;
  LIBBPF_OPTS(bpf_link_create_opts, link_opts);
  link_opts.uprobe_multi.path = "/";
  link_opts.uprobe_multi.offsets = &offset;
  link_opts.uprobe_multi.cnt = 1;
  int link = bpf_link_create(prog, -1, BPF_TRACE_UPROBE_MULTI, &link_opts);
  const int err = errno;
  if (link >= 0) close(link);
  close(prog);
  return link < 0 && err == EBADF;
}

}  // namespace

Result<void> check_privileges() {
  // From the effective set in /proc/self/status: CAP_BPF (39) and CAP_PERFMON (38), or
  // CAP_SYS_ADMIN (21).
  std::ifstream status("/proc/self/status");
  std::uint64_t effective = 0;
  for (std::string line; std::getline(status, line);)
    if (line.rfind("CapEff:", 0) == 0) effective = std::stoull(line.substr(7), nullptr, 16);
  auto has = [&](int cap) { return (effective >> cap) & 1; };
  if ((has(39) && has(38)) || has(21)) return {};
  return make_error("needs root, or the capabilities CAP_BPF and CAP_PERFMON (this process has neither): "
                    "run it with sudo");
}

Result<void> check_kernel_features() {
  std::vector<std::string> missing;
  if (!exists("/sys/kernel/btf/vmlinux"))
    missing.push_back("BTF (/sys/kernel/btf/vmlinux is missing: CONFIG_DEBUG_INFO_BTF)");
  if (!exists("/sys/bus/event_source/devices/uprobe"))
    missing.push_back("uprobes (/sys/bus/event_source/devices/uprobe is missing: CONFIG_UPROBE_EVENTS)");
  if (libbpf_probe_bpf_map_type(BPF_MAP_TYPE_TASK_STORAGE, nullptr) != 1)
    missing.push_back("BPF task storage (per-thread allocator state: Linux 5.11+)");
  if (libbpf_probe_bpf_map_type(BPF_MAP_TYPE_RINGBUF, nullptr) != 1)
    missing.push_back("BPF ring buffers (Linux 5.8+)");
  if (!has_uprobe_multi())
    missing.push_back("uprobe_multi links (one link per program and file: Linux 6.6+, CONFIG_UPROBES)");
  if (missing.empty()) return {};
  std::string message = "this kernel lacks what edleak-bpf needs:";
  for (const auto& m : missing) message += "\n  - " + m;
  return make_error("{}", message);
}

}  // namespace edleak::capture
