// Host side of the pair-level loss: argument validation, output allocation and
// the launch description shared by the CPU and CUDA kernels, and the ops built
// on them for any backend (SymLossOps).
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/util/Optional.h>
#include <torch/library.h>

#include <string>
#include <tuple>
#include <vector>

#include "sympo/sym_loss_launch.h"

namespace sympo {

// The arguments of sym_loss_forward, in the order of its schema (csrc/ops.cpp).
struct SymLossForwardInputs {
  const at::Tensor& policy_chosen_logps;
  const at::Tensor& policy_rejected_logps;
  const std::optional<at::Tensor>& ref_chosen_logps;
  const std::optional<at::Tensor>& ref_rejected_logps;
  const std::optional<at::Tensor>& labels;
  const std::optional<at::Tensor>& weights;
  const std::vector<std::string>& loss_types;
  const std::vector<double>& loss_weights;
  const std::vector<double>& loss_params;
  double beta;
  std::optional<double> clip;
  const std::string& reduction;
  bool return_rewards;
};

struct SymLossForwardPlan {
  at::Tensor loss, grad_coef, rewards;
  SymLossForwardArgs args;
};

SymLossForwardPlan plan_sym_loss_forward(const SymLossForwardInputs& in);

// The arguments of sym_loss_backward: a dtype for each gradient wanted.
struct SymLossBackwardInputs {
  const at::Tensor& grad_loss;
  const at::Tensor& grad_coef;
  std::optional<at::ScalarType> policy_chosen_dtype, policy_rejected_dtype, ref_chosen_dtype,
      ref_rejected_dtype, weights_dtype;
};

struct SymLossBackwardPlan {
  at::Tensor grad_policy_chosen, grad_policy_rejected, grad_ref_chosen, grad_ref_rejected,
      grad_weights;
  SymLossBackwardArgs args;
};

SymLossBackwardPlan plan_sym_loss_backward(const SymLossBackwardInputs& in);

using SymLossForwardResult = std::tuple<at::Tensor, at::Tensor, at::Tensor>;
using SymLossBackwardResult =
    std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor>;

// The sym_loss ops on one backend: every check and output above, under the
// backend's device guard, then its launches. `Backend` (cpu/sym_loss_register.cpp,
// cuda/sym_loss_register.cpp) supplies `Guard` (built from the inputs' device)
// and `forward(SymLossForwardPlan&)`, `backward(const SymLossBackwardPlan&)`.
template <typename Backend>
struct SymLossOps {
  static SymLossForwardResult forward(
      const at::Tensor& policy_chosen_logps, const at::Tensor& policy_rejected_logps,
      const std::optional<at::Tensor>& ref_chosen_logps,
      const std::optional<at::Tensor>& ref_rejected_logps, const std::optional<at::Tensor>& labels,
      const std::optional<at::Tensor>& weights, const std::vector<std::string>& loss_types,
      const std::vector<double>& loss_weights, const std::vector<double>& loss_params, double beta,
      std::optional<double> clip, const std::string& reduction, bool return_rewards) {
    const typename Backend::Guard guard(policy_chosen_logps.device());
    SymLossForwardPlan plan = plan_sym_loss_forward(
        {policy_chosen_logps, policy_rejected_logps, ref_chosen_logps, ref_rejected_logps, labels,
         weights, loss_types, loss_weights, loss_params, beta, clip, reduction, return_rewards});
    Backend::forward(plan);
    return {plan.loss, plan.grad_coef, plan.rewards};
  }

  static SymLossBackwardResult backward(const at::Tensor& grad_loss, const at::Tensor& grad_coef,
                                        std::optional<at::ScalarType> policy_chosen_dtype,
                                        std::optional<at::ScalarType> policy_rejected_dtype,
                                        std::optional<at::ScalarType> ref_chosen_dtype,
                                        std::optional<at::ScalarType> ref_rejected_dtype,
                                        std::optional<at::ScalarType> weights_dtype) {
    const typename Backend::Guard guard(grad_coef.device());
    const SymLossBackwardPlan plan =
        plan_sym_loss_backward({grad_loss, grad_coef, policy_chosen_dtype, policy_rejected_dtype,
                                ref_chosen_dtype, ref_rejected_dtype, weights_dtype});
    Backend::backward(plan);
    return {plan.grad_policy_chosen, plan.grad_policy_rejected, plan.grad_ref_chosen,
            plan.grad_ref_rejected, plan.grad_weights};
  }
};

// In TORCH_LIBRARY_IMPL(sympo_ext, <dispatch key>, m) of a backend.
template <typename Backend>
void register_sym_loss_ops(torch::Library& m) {
  m.impl("sym_loss_forward", &SymLossOps<Backend>::forward);
  m.impl("sym_loss_backward", &SymLossOps<Backend>::backward);
}

}  // namespace sympo
