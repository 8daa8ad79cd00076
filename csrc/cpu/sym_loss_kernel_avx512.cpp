// The loss CPU kernels for CPU_CAPABILITY=AVX512 (set by CMakeLists.txt, with the
// matching compiler flags); see sym_loss_kernel.h and sym_loss_batch_kernel.h.
#include "sym_loss_batch_kernel.h"
#include "sym_loss_kernel.h"

namespace sympo {
extern const SymLossCpuKernels sym_loss_cpu_avx512 = {CPU_CAPABILITY::sym_loss_forward,
                                                      CPU_CAPABILITY::sym_loss_backward,
                                                      CPU_CAPABILITY::sym_loss_batch_forward};
}  // namespace sympo
