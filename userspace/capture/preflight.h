#pragma once
// Checks, before anything is loaded, that this process and this kernel can trace: privileges,
// then each kernel feature the BPF side uses, probed (not guessed from a version), so that the
// user reads every missing one, one line each, instead of a verifier log.
#include "util/result.h"

namespace edleak::capture {

// Root, or CAP_BPF and CAP_PERFMON (or CAP_SYS_ADMIN on older kernels).
Result<void> check_privileges();
// BTF (also what the fork/exec/exit tracepoints need), uprobes, BPF task storage, ring buffers
// and uprobe_multi links.
Result<void> check_kernel_features();

}  // namespace edleak::capture
