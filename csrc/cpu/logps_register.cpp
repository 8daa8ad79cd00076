// CPU registration of the fused log-prob ops: the row kernel build for this
// machine's instruction set (logps_kernel.h) and the small per-sequence loops,
// behind the ops of logps_host.h.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <algorithm>

#include "../logps_host.h"
#include "cpu_isa.h"

namespace sympo {

// The kernel builds of cpu/logps_kernel_<isa>.cpp.
extern const CpuKernels<RowForwardArgs, RowBackwardArgs> logps_cpu_default, logps_cpu_avx2,
    logps_cpu_avx512;

void logps_row_forward_cpu(const RowForwardArgs& a) {
  if (a.rows == 0) return;
  for_this_cpu(&logps_cpu_default, &logps_cpu_avx2, &logps_cpu_avx512)->forward(a);
}

void logps_row_backward_cpu(const RowBackwardArgs& a) {
  if (a.rows == 0) return;
  for_this_cpu(&logps_cpu_default, &logps_cpu_avx2, &logps_cpu_avx512)->backward(a);
}

namespace {

// Per-sequence sums (in Acc, then the sequence result) over R token log-probs.
template <typename Acc>
void reduce_sequences(const SeqReduceArgs& a) {
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
void expand_sequences(const SeqExpandArgs& a) {
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

struct Cpu {
  using Guard = NoDeviceGuard;
  static void row_forward(const RowForwardArgs& a) { logps_row_forward_cpu(a); }
  static void row_backward(const RowBackwardArgs& a) { logps_row_backward_cpu(a); }
  static void seq_reduce(const SeqReduceArgs& a) {
    with_acc_type(a.seq.use_double, [&]<typename Acc>() { reduce_sequences<Acc>(a); });
  }
  static void seq_expand(const SeqExpandArgs& a) {
    with_acc_type(a.seq.use_double, [&]<typename Acc>() { expand_sequences<Acc>(a); });
  }
};

}  // namespace

TORCH_LIBRARY_IMPL(sympo_ext, CPU, m) { register_logps_ops<Cpu>(m); }

}  // namespace sympo
