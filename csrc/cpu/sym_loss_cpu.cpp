// CPU kernels of the pair-level loss. The math is in sympo/losses.h.
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <vector>

#include "../sym_loss_host.h"

namespace sympo {
namespace {

// Fixed-size blocks make the reduction order independent of the thread count,
// so the loss is bit-for-bit reproducible.
constexpr int64_t kBlock = 4096;

template <typename T>
void forward_impl(const SymLossForwardArgs& a) {
  const LossParams<T> p = a.params<T>();
  const T scale = static_cast<T>(a.reduction_scale());
  T* loss = static_cast<T*>(a.loss);
  T* coef = static_cast<T*>(a.grad_coef);
  T* rewards = static_cast<T*>(a.rewards);
  const int64_t n = a.n;
  const int64_t num_blocks = (n + kBlock - 1) / kBlock;
  std::vector<double> partial(static_cast<size_t>(num_blocks), 0.0);

  at::parallel_for(0, num_blocks, 1, [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) {
      double sum = 0.0;
      const int64_t end = std::min(n, (b + 1) * kBlock);
      for (int64_t i = b * kBlock; i < end; ++i) {
        const PairResult<T> r = compute_pair<T>(
            load<T>(a.policy_chosen, i, T(0)), load<T>(a.ref_chosen, i, T(0)),
            load<T>(a.policy_rejected, i, T(0)), load<T>(a.ref_rejected, i, T(0)),
            load<T>(a.labels, i, T(1)), load<T>(a.weights, i, T(1)), p);
        coef[i] = r.dloss_dchosen * scale;
        coef[n + i] = r.dloss_drejected * scale;
        rewards[i] = r.chosen_reward;
        rewards[n + i] = r.rejected_reward;
        rewards[2 * n + i] = r.margin;
        if (a.reduction == Reduction::None) {
          loss[i] = r.loss;
        } else {
          sum += static_cast<double>(r.loss);
        }
      }
      partial[static_cast<size_t>(b)] = sum;
    }
  });
  if (a.reduction != Reduction::None) {
    double total = 0.0;
    for (double s : partial) total += s;
    // Mean of zero pairs is NaN, like torch.mean of an empty tensor.
    *loss = static_cast<T>(a.reduction == Reduction::Mean ? total / static_cast<double>(n) : total);
  }
}

template <typename T>
void backward_impl(const SymLossBackwardArgs& a) {
  const T* coef = static_cast<const T*>(a.grad_coef);
  const int64_t n = a.n;
  at::parallel_for(0, n, kBlock, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      const T g = load<T>(a.grad_loss, i, T(0));
      const T dc = coef[i] * g;
      const T dr = coef[n + i] * g;
      store(a.grad_policy_chosen, i, dc);
      store(a.grad_ref_chosen, i, -dc);
      store(a.grad_policy_rejected, i, dr);
      store(a.grad_ref_rejected, i, -dr);
    }
  });
}

SymLossForwardResult forward_cpu(const at::Tensor& pc, const at::Tensor& pr,
                                 const std::optional<at::Tensor>& rc,
                                 const std::optional<at::Tensor>& rr,
                                 const std::optional<at::Tensor>& labels,
                                 const std::optional<at::Tensor>& weights,
                                 const std::string& loss_type, double beta,
                                 std::optional<double> clip, double temperature, double slope,
                                 double epsilon, const std::string& reduction) {
  SymLossForwardPlan plan = plan_sym_loss_forward(pc, pr, rc, rr, labels, weights, loss_type,
                                                  beta, clip, temperature, slope, epsilon,
                                                  reduction);
  check_label_and_weight_values(plan, labels, weights);
  sym_loss_forward_cpu(plan.args);
  return {plan.loss, plan.grad_coef, plan.rewards};
}

SymLossBackwardResult backward_cpu(const at::Tensor& grad_loss, const at::Tensor& grad_coef,
                                   std::optional<at::ScalarType> pc_dtype,
                                   std::optional<at::ScalarType> pr_dtype,
                                   std::optional<at::ScalarType> rc_dtype,
                                   std::optional<at::ScalarType> rr_dtype) {
  SymLossBackwardPlan plan =
      plan_sym_loss_backward(grad_loss, grad_coef, pc_dtype, pr_dtype, rc_dtype, rr_dtype);
  sym_loss_backward_cpu(plan.args);
  return backward_result(plan);
}

}  // namespace

void sym_loss_forward_cpu(const SymLossForwardArgs& a) {
  if (a.use_double) {
    forward_impl<double>(a);
  } else {
    forward_impl<float>(a);
  }
}

void sym_loss_backward_cpu(const SymLossBackwardArgs& a) {
  if (a.use_double) {
    backward_impl<double>(a);
  } else {
    backward_impl<float>(a);
  }
}

TORCH_LIBRARY_IMPL(sympo_ext, CPU, m) {
  m.impl("sym_loss_forward", &forward_cpu);
  m.impl("sym_loss_backward", &backward_cpu);
}

}  // namespace sympo
