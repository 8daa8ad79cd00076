// Host side of the fused log-prob ops: argument validation, output allocation
// and the launch descriptions shared by the CPU and CUDA kernels, and the ops
// built on them for any backend (LogpsOps).
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/util/Optional.h>
#include <torch/library.h>

#include <tuple>
#include <type_traits>

#include "sympo/logps_launch.h"

namespace sympo {

// ---- row level: logits [R, V], labels [R] ------------------------------------

struct RowForwardPlan {
  at::Tensor token_logps, lse;
  at::Tensor labels;  // contiguous [R] (kept alive for the launch)
  RowForwardArgs args;
};
RowForwardPlan plan_row_forward(const at::Tensor& logits, const at::Tensor& labels,
                                int64_t ignore_index);

// `grad` is where the gradient goes: a fresh tensor or the logits themselves.
struct RowBackwardPlan {
  at::Tensor labels, lse, row_grad;  // contiguous, accumulation type (kept alive for the launch)
  RowBackwardArgs args;
};
RowBackwardPlan plan_row_backward(const at::Tensor& logits, const at::Tensor& labels,
                                  const at::Tensor& lse, const at::Tensor& row_grad,
                                  int64_t ignore_index, at::Tensor& grad, const char* op);

// ---- sequence level: padded [N, T, V] + [N, T], or packed [L, V] + [L] + cu_seqlens ----

struct SeqForwardPlan {
  at::Tensor logps, lse, counts;  // outputs
  at::Tensor token_logps;         // [R] scratch
  at::Tensor labels, cu_seqlens;  // normalised inputs (contiguous, on the logits' device)
  RowForwardArgs row;
  SeqReduceArgs reduce;
};
SeqForwardPlan plan_seq_forward(const at::Tensor& logits, const at::Tensor& labels,
                                const std::optional<at::Tensor>& cu_seqlens, int64_t ignore_index,
                                bool average);

struct SeqBackwardPlan {
  at::Tensor grad_logits;  // the result (fresh, or the logits for in-place)
  at::Tensor grad, counts, lse, labels, cu_seqlens, row_grad;  // normalised inputs / scratch
  SeqExpandArgs expand;
  RowBackwardArgs row;
};
SeqBackwardPlan plan_seq_backward(const at::Tensor& grad, const at::Tensor& logits,
                                  const at::Tensor& labels, const at::Tensor& lse,
                                  const at::Tensor& counts,
                                  const std::optional<at::Tensor>& cu_seqlens, int64_t ignore_index,
                                  bool average, bool inplace);

// Value checks that read the data; only called for CPU tensors (on CUDA they
// would need a device synchronisation).
void check_labels_in_range(const at::Tensor& labels, int64_t vocab, int64_t ignore_index,
                           const char* op);
void check_cu_seqlens_values(const at::Tensor& cu_seqlens, int64_t rows, const char* op);

using SeqForwardResult = std::tuple<at::Tensor, at::Tensor, at::Tensor>;
using RowForwardResult = std::tuple<at::Tensor, at::Tensor>;

// The log-prob ops on one backend: every check and output above, under the
// backend's device guard, then its launches. `Backend` (cpu/logps_register.cpp,
// cuda/logps_register.cpp) supplies `Guard` (built from the logits' device) and
// row_forward, row_backward, seq_reduce and seq_expand, each taking the launch
// struct of that kernel (sympo/logps_launch.h).
template <typename Backend>
struct LogpsOps {
  static RowForwardResult token_forward(const at::Tensor& logits, const at::Tensor& labels,
                                        int64_t ignore_index) {
    const typename Backend::Guard guard(logits.device());
    const RowForwardPlan plan = plan_row_forward(logits, labels, ignore_index);
    Backend::row_forward(plan.args);
    return {plan.token_logps, plan.lse};
  }

  // token_logps_backward_: the gradient overwrites the logits.
  static void token_backward_inplace(const at::Tensor& logits, const at::Tensor& labels,
                                     const at::Tensor& lse, const at::Tensor& row_grad,
                                     int64_t ignore_index) {
    const typename Backend::Guard guard(logits.device());
    at::Tensor grad = logits;
    const RowBackwardPlan plan = plan_row_backward(logits, labels, lse, row_grad, ignore_index,
                                                   grad, "token_logps_backward_");
    Backend::row_backward(plan.args);
  }

  static SeqForwardResult sequence_forward(const at::Tensor& logits, const at::Tensor& labels,
                                           const std::optional<at::Tensor>& cu_seqlens,
                                           int64_t ignore_index, bool average,
                                           bool /*inplace_backward: autograd only*/) {
    const typename Backend::Guard guard(logits.device());
    const SeqForwardPlan plan = plan_seq_forward(logits, labels, cu_seqlens, ignore_index, average);
    Backend::row_forward(plan.row);
    Backend::seq_reduce(plan.reduce);
    return {plan.logps, plan.lse, plan.counts};
  }

  // sequence_logps_backward returns a fresh gradient; sequence_logps_backward_
  // (kInPlace) writes it into the logits and returns nothing.
  template <bool kInPlace>
  static std::conditional_t<kInPlace, void, at::Tensor> sequence_backward(
      const at::Tensor& grad, const at::Tensor& logits, const at::Tensor& labels,
      const at::Tensor& lse, const at::Tensor& counts, const std::optional<at::Tensor>& cu_seqlens,
      int64_t ignore_index, bool average) {
    const typename Backend::Guard guard(logits.device());
    const SeqBackwardPlan plan = plan_seq_backward(grad, logits, labels, lse, counts, cu_seqlens,
                                                   ignore_index, average, kInPlace);
    Backend::seq_expand(plan.expand);
    Backend::row_backward(plan.row);
    if constexpr (!kInPlace) return plan.grad_logits;
  }
};

// In TORCH_LIBRARY_IMPL(sympo_ext, <dispatch key>, m) of a backend.
template <typename Backend>
void register_logps_ops(torch::Library& m) {
  using Ops = LogpsOps<Backend>;
  m.impl("token_logps_forward", &Ops::token_forward);
  m.impl("token_logps_backward_", &Ops::token_backward_inplace);
  m.impl("sequence_logps_forward", &Ops::sequence_forward);
  m.impl("sequence_logps_backward", &Ops::template sequence_backward<false>);
  m.impl("sequence_logps_backward_", &Ops::template sequence_backward<true>);
}

}  // namespace sympo
