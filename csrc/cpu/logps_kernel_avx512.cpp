// The fused log-prob CPU kernels for CPU_CAPABILITY=AVX512 (set by CMakeLists.txt,
// with the matching compiler flags); see logps_kernel.h.
#include "logps_kernel.h"

namespace sympo {
void logps_row_forward_avx512(const RowForwardArgs& a) { CPU_CAPABILITY::row_forward(a); }
void logps_row_backward_avx512(const RowBackwardArgs& a) { CPU_CAPABILITY::row_backward(a); }
}  // namespace sympo
