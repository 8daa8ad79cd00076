// CPU registration of the fused log-prob ops: picks the kernel build for the
// machine's instruction set, runs the small per-sequence loops, and registers
// the kernels. The heavy row kernels are in logps_kernel.h.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <cstdlib>
#include <cstring>
#include <string>

#include "../logps_host.h"
#include "cpu_isa.h"

namespace sympo {

void logps_row_forward_default(const RowForwardArgs& a);
void logps_row_backward_default(const RowBackwardArgs& a);
void logps_row_forward_avx2(const RowForwardArgs& a);
void logps_row_backward_avx2(const RowBackwardArgs& a);
void logps_row_forward_avx512(const RowForwardArgs& a);
void logps_row_backward_avx512(const RowBackwardArgs& a);

namespace {

void row_forward(const RowForwardArgs& a) {
  if (a.rows == 0) return;
  switch (cpu_isa()) {
    case Isa::Avx512: return logps_row_forward_avx512(a);
    case Isa::Avx2: return logps_row_forward_avx2(a);
    default: return logps_row_forward_default(a);
  }
}

void row_backward(const RowBackwardArgs& a) {
  if (a.rows == 0) return;
  switch (cpu_isa()) {
    case Isa::Avx512: return logps_row_backward_avx512(a);
    case Isa::Avx2: return logps_row_backward_avx2(a);
    default: return logps_row_backward_default(a);
  }
}

// Per-sequence sums (in Acc, then the sequence result) over R token log-probs.
template <typename Acc>
void seq_reduce(const SeqReduceArgs& a) {
  const SeqArgs& s = a.seq;
  const Acc* tok = static_cast<const Acc*>(a.token_logps);
  Acc* logps = static_cast<Acc*>(a.logps);
  Acc* counts = static_cast<Acc*>(a.counts);
  at::parallel_for(0, s.nseq, 64, [&](int64_t n0, int64_t n1) {
    for (int64_t n = n0; n < n1; ++n) {
      double sum = 0.0;
      int64_t count = 0;
      for (int64_t r = s.begin(n); r < s.end(n); ++r) {
        sum += static_cast<double>(tok[r]);
        count += label_counted(s.labels[r], s.ignore_index) ? 1 : 0;
      }
      counts[n] = static_cast<Acc>(count);
      logps[n] =
          static_cast<Acc>(sequence_result<double>(s.average, sum, static_cast<double>(count)));
    }
  });
}

template <typename Acc>
void seq_expand(const SeqExpandArgs& a) {
  const SeqArgs& s = a.seq;
  const Acc* grad = static_cast<const Acc*>(a.grad);
  const Acc* counts = static_cast<const Acc*>(a.counts);
  Acc* row_grad = static_cast<Acc*>(a.row_grad);
  std::fill(row_grad, row_grad + s.rows, Acc(0));
  at::parallel_for(0, s.nseq, 64, [&](int64_t n0, int64_t n1) {
    for (int64_t n = n0; n < n1; ++n) {
      const Acc g = grad[n] * sequence_scale<Acc>(s.average, counts[n]);
      for (int64_t r = s.begin(n); r < s.end(n); ++r) row_grad[r] = g;
    }
  });
}

RowForwardResult token_logps_forward_cpu(const at::Tensor& logits, const at::Tensor& labels,
                                         int64_t ignore_index) {
  RowForwardPlan plan = plan_row_forward(logits, labels, ignore_index);
  row_forward(plan.args);
  return {plan.token_logps, plan.lse};
}

void token_logps_backward_inplace_cpu(const at::Tensor& logits, const at::Tensor& labels,
                                      const at::Tensor& lse, const at::Tensor& row_grad,
                                      int64_t ignore_index) {
  at::Tensor grad = logits;
  RowBackwardPlan plan =
      plan_row_backward(logits, labels, lse, row_grad, ignore_index, grad, "token_logps_backward_");
  row_backward(plan.args);
}

SeqForwardResult sequence_logps_forward_cpu(const at::Tensor& logits, const at::Tensor& labels,
                                            const std::optional<at::Tensor>& cu_seqlens,
                                            int64_t ignore_index, bool average,
                                            bool /*inplace_backward: autograd only*/) {
  SeqForwardPlan plan = plan_seq_forward(logits, labels, cu_seqlens, ignore_index, average);
  row_forward(plan.row);
  if (plan.reduce.seq.use_double) {
    seq_reduce<double>(plan.reduce);
  } else {
    seq_reduce<float>(plan.reduce);
  }
  return {plan.logps, plan.lse, plan.counts};
}

at::Tensor run_seq_backward(SeqBackwardPlan& plan) {
  if (plan.expand.seq.use_double) {
    seq_expand<double>(plan.expand);
  } else {
    seq_expand<float>(plan.expand);
  }
  row_backward(plan.row);
  return plan.grad_logits;
}

at::Tensor sequence_logps_backward_cpu(const at::Tensor& grad, const at::Tensor& logits,
                                       const at::Tensor& labels, const at::Tensor& lse,
                                       const at::Tensor& counts,
                                       const std::optional<at::Tensor>& cu_seqlens,
                                       int64_t ignore_index, bool average) {
  SeqBackwardPlan plan = plan_seq_backward(grad, logits, labels, lse, counts, cu_seqlens,
                                           ignore_index, average, /*inplace=*/false);
  return run_seq_backward(plan);
}

void sequence_logps_backward_inplace_cpu(const at::Tensor& grad, const at::Tensor& logits,
                                         const at::Tensor& labels, const at::Tensor& lse,
                                         const at::Tensor& counts,
                                         const std::optional<at::Tensor>& cu_seqlens,
                                         int64_t ignore_index, bool average) {
  SeqBackwardPlan plan = plan_seq_backward(grad, logits, labels, lse, counts, cu_seqlens,
                                           ignore_index, average, /*inplace=*/true);
  run_seq_backward(plan);
}

}  // namespace

void logps_row_forward_cpu(const RowForwardArgs& a) { row_forward(a); }
void logps_row_backward_cpu(const RowBackwardArgs& a) { row_backward(a); }

TORCH_LIBRARY_IMPL(sympo_ext, CPU, m) {
  m.impl("token_logps_forward", &token_logps_forward_cpu);
  m.impl("token_logps_backward_", &token_logps_backward_inplace_cpu);
  m.impl("sequence_logps_forward", &sequence_logps_forward_cpu);
  m.impl("sequence_logps_backward", &sequence_logps_backward_cpu);
  m.impl("sequence_logps_backward_", &sequence_logps_backward_inplace_cpu);
}

}  // namespace sympo
