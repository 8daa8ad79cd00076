// CPU registration of the pair-level loss: validation, the value checks that
// are free on the CPU, and dispatch to the kernel build for this machine's
// instruction set (csrc/cpu/sym_loss_kernel.h; the math is in sympo/losses.h).
#include <torch/library.h>

#include "../sym_loss_host.h"
#include "cpu_isa.h"

#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace sympo {

void sym_loss_forward_default(const SymLossForwardArgs& a);
void sym_loss_backward_default(const SymLossBackwardArgs& a);
void sym_loss_forward_avx2(const SymLossForwardArgs& a);
void sym_loss_backward_avx2(const SymLossBackwardArgs& a);
void sym_loss_forward_avx512(const SymLossForwardArgs& a);
void sym_loss_backward_avx512(const SymLossBackwardArgs& a);

namespace {

SymLossForwardResult forward_cpu(
    const at::Tensor& pc, const at::Tensor& pr, const std::optional<at::Tensor>& rc,
    const std::optional<at::Tensor>& rr, const std::optional<at::Tensor>& labels,
    const std::optional<at::Tensor>& weights, const std::vector<std::string>& loss_types,
    const std::vector<double>& loss_weights, const std::vector<double>& loss_params, double beta,
    std::optional<double> clip, const std::string& reduction) {
  SymLossForwardPlan plan = plan_sym_loss_forward(pc, pr, rc, rr, labels, weights, loss_types,
                                                  loss_weights, loss_params, beta, clip, reduction);
  // labels in {0, 1} and weights >= 0 are checked by the kernel as it reads them.
  const char* lanes = std::getenv("SYMPO_CPU_LANES");
  plan.args.scalar_lanes = lanes != nullptr && std::strcmp(lanes, "scalar") == 0;
  sym_loss_forward_cpu(plan.args);
  return {plan.loss, plan.grad_coef, plan.rewards};
}

SymLossBackwardResult backward_cpu(const at::Tensor& grad_loss, const at::Tensor& grad_coef,
                                   std::optional<at::ScalarType> pc_dtype,
                                   std::optional<at::ScalarType> pr_dtype,
                                   std::optional<at::ScalarType> rc_dtype,
                                   std::optional<at::ScalarType> rr_dtype,
                                   std::optional<at::ScalarType> w_dtype) {
  SymLossBackwardPlan plan =
      plan_sym_loss_backward(grad_loss, grad_coef, pc_dtype, pr_dtype, rc_dtype, rr_dtype, w_dtype);
  sym_loss_backward_cpu(plan.args);
  return backward_result(plan);
}

}  // namespace

void sym_loss_forward_cpu(const SymLossForwardArgs& a) {
  switch (cpu_isa()) {
    case Isa::Avx512: return sym_loss_forward_avx512(a);
    case Isa::Avx2: return sym_loss_forward_avx2(a);
    default: return sym_loss_forward_default(a);
  }
}

void sym_loss_backward_cpu(const SymLossBackwardArgs& a) {
  switch (cpu_isa()) {
    case Isa::Avx512: return sym_loss_backward_avx512(a);
    case Isa::Avx2: return sym_loss_backward_avx2(a);
    default: return sym_loss_backward_default(a);
  }
}

TORCH_LIBRARY_IMPL(sympo_ext, CPU, m) {
  m.impl("sym_loss_forward", &forward_cpu);
  m.impl("sym_loss_backward", &backward_cpu);
}

}  // namespace sympo
