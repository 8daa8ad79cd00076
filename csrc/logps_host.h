// Host-side planning of the fused log-prob ops: argument validation, output
// allocation and the launch descriptions shared by the CPU and CUDA kernels.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/util/Optional.h>

#include <tuple>

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

}  // namespace sympo
