// The fused log-prob CPU kernels for CPU_CAPABILITY=DEFAULT (set by CMakeLists.txt,
// with the matching compiler flags); see logps_kernel.h.
#include "cpu_isa.h"
#include "logps_kernel.h"

namespace sympo {
extern const CpuKernels<RowForwardArgs, RowBackwardArgs> logps_cpu_default = {
    CPU_CAPABILITY::row_forward, CPU_CAPABILITY::row_backward};
}  // namespace sympo
