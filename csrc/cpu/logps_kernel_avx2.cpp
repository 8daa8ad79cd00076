// The fused log-prob CPU kernels for CPU_CAPABILITY=AVX2 (set by CMakeLists.txt,
// with the matching compiler flags); see logps_kernel.h.
#include "cpu_isa.h"
#include "logps_kernel.h"

namespace sympo {
extern const CpuKernels<RowForwardArgs, RowBackwardArgs> logps_cpu_avx2 = {
    CPU_CAPABILITY::row_forward, CPU_CAPABILITY::row_backward};
}  // namespace sympo
