// The pair-level loss CPU kernels for CPU_CAPABILITY=AVX2 (set by CMakeLists.txt,
// with the matching compiler flags); see sym_loss_kernel.h
// and sym_loss_batch_kernel.h.
#include "sym_loss_batch_kernel.h"
#include "sym_loss_kernel.h"

namespace sympo {
void sym_loss_forward_avx2(const SymLossForwardArgs& a) { CPU_CAPABILITY::sym_loss_forward(a); }
void sym_loss_backward_avx2(const SymLossBackwardArgs& a) { CPU_CAPABILITY::sym_loss_backward(a); }
void sym_loss_batch_forward_avx2(const SymLossBatchArgs& a) {
  CPU_CAPABILITY::sym_loss_batch_forward(a);
}
}  // namespace sympo
