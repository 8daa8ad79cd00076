// CPU registration of the pair-level loss: the kernel build for this machine's
// instruction set (csrc/cpu/sym_loss_kernel.h; the math is in sympo/losses.h)
// behind the ops of sym_loss_host.h.
#include <torch/library.h>

#include <cstdlib>
#include <cstring>

#include "../sym_loss_host.h"
#include "cpu_isa.h"
#include "sym_loss_batch.h"

namespace sympo {

// The kernel build for this CPU (cpu/sym_loss_kernel_<isa>.cpp).
const SymLossCpuKernels& sym_loss_cpu() {
  return *for_this_cpu(&sym_loss_cpu_default, &sym_loss_cpu_avx2, &sym_loss_cpu_avx512);
}

void sym_loss_forward_cpu(const SymLossForwardArgs& a) { sym_loss_cpu().forward(a); }

void sym_loss_backward_cpu(const SymLossBackwardArgs& a) { sym_loss_cpu().backward(a); }

namespace {

struct Cpu {
  using Guard = NoDeviceGuard;
  static void forward(SymLossForwardPlan& plan) {
    // labels in {0, 1} and weights >= 0 are checked by the kernel as it reads them.
    const char* lanes = std::getenv("SYMPO_CPU_LANES");
    plan.args.scalar_lanes = lanes != nullptr && std::strcmp(lanes, "scalar") == 0;
    sym_loss_forward_cpu(plan.args);
  }
  static void backward(const SymLossBackwardPlan& plan) { sym_loss_backward_cpu(plan.args); }
};

}  // namespace

TORCH_LIBRARY_IMPL(sympo_ext, CPU, m) { register_sym_loss_ops<Cpu>(m); }

}  // namespace sympo
