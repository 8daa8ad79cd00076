// The fused log-prob CPU kernels for CPU_CAPABILITY=AVX2 (set by CMakeLists.txt,
// with the matching compiler flags); see logps_kernel.h.
#include "logps_kernel.h"

namespace sympo {
void logps_row_forward_avx2(const RowForwardArgs& a) { CPU_CAPABILITY::row_forward(a); }
void logps_row_backward_avx2(const RowBackwardArgs& a) { CPU_CAPABILITY::row_backward(a); }
}  // namespace sympo
