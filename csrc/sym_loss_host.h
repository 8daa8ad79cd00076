// Host-side planning of the pair-level loss: argument validation, output
// allocation and the launch description shared by the CPU and CUDA kernels.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/util/Optional.h>

#include <string>
#include <tuple>
#include <vector>

#include "sympo/sym_loss_launch.h"

namespace sympo {

struct SymLossForwardPlan {
  at::Tensor loss, grad_coef, rewards;
  SymLossForwardArgs args;
};

SymLossForwardPlan plan_sym_loss_forward(
    const at::Tensor& policy_chosen_logps, const at::Tensor& policy_rejected_logps,
    const std::optional<at::Tensor>& ref_chosen_logps,
    const std::optional<at::Tensor>& ref_rejected_logps, const std::optional<at::Tensor>& labels,
    const std::optional<at::Tensor>& weights, const std::vector<std::string>& loss_types,
    const std::vector<double>& loss_weights, const std::vector<double>& loss_params, double beta,
    std::optional<double> clip, const std::string& reduction);

// Value checks that need to read the data (labels in {0,1}, weights >= 0).
// Only called where reading costs no device synchronisation (CPU tensors).
void check_label_and_weight_values(const std::optional<at::Tensor>& labels,
                                   const std::optional<at::Tensor>& weights);

struct SymLossBackwardPlan {
  at::Tensor grad_policy_chosen, grad_policy_rejected, grad_ref_chosen, grad_ref_rejected,
      grad_weights;
  SymLossBackwardArgs args;
};

SymLossBackwardPlan plan_sym_loss_backward(const at::Tensor& grad_loss, const at::Tensor& grad_coef,
                                           std::optional<at::ScalarType> policy_chosen_dtype,
                                           std::optional<at::ScalarType> policy_rejected_dtype,
                                           std::optional<at::ScalarType> ref_chosen_dtype,
                                           std::optional<at::ScalarType> ref_rejected_dtype,
                                           std::optional<at::ScalarType> weights_dtype);

using SymLossForwardResult = std::tuple<at::Tensor, at::Tensor, at::Tensor>;
using SymLossBackwardResult =
    std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor>;

inline SymLossBackwardResult backward_result(const SymLossBackwardPlan& p) {
  return {p.grad_policy_chosen, p.grad_policy_rejected, p.grad_ref_chosen, p.grad_ref_rejected,
          p.grad_weights};
}

}  // namespace sympo
