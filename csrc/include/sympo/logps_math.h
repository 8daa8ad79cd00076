// The math of the fused log-prob kernels, in ONE place, shared by the CPU
// kernels (csrc/cpu/logps_kernel.h) and the CUDA kernels (csrc/cuda/logps_cuda.cu).
//
// A row x[0..V) of logits with target label y gives
//     lse  = log sum_j exp(x_j)          (computed online: running max m, sum s)
//     logp = x_y - lse                   (0 when y == ignore_index)
//     d logp / d x_j = onehot_y(j) - exp(x_j - lse)
// Everything is accumulated in `Acc` (float for fp32/bf16/fp16 logits, double
// for fp64). -inf logits (masked vocabulary) contribute exp(-inf) = 0; a row of
// only -inf has lse = -inf and gives NaN; a -inf target gives logp = -inf;
// NaN or +inf logits make the row's lse and logp NaN.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>

#include "sympo/losses.h"  // SYMPO_HD

namespace sympo {

// Running (max, sum of exp(x - max)) of a set of logits. The empty set is
// (-inf, 0). NaN anywhere makes the pair NaN.
template <typename Acc>
struct MaxSum {
  Acc m;
  Acc s;
};

template <typename Acc>
SYMPO_HD MaxSum<Acc> max_sum_empty() {
  return {-std::numeric_limits<Acc>::infinity(), Acc(0)};
}

// exp in the accumulation type. On the device, float uses exp(x) = exp2(x * log2 e)
// (one FMUL + MUFU.EX2, a few ulp for the x <= 0 used here).
template <typename Acc>
SYMPO_HD Acc exp_acc(Acc x) {
#if defined(__CUDA_ARCH__)
  if constexpr (std::is_same_v<Acc, float>) return exp2f(x * 1.4426950408889634f);
#endif
  return std::exp(x);
}

// Merge two partial (max, sum) pairs. A side whose max is -inf is empty.
template <typename Acc>
SYMPO_HD MaxSum<Acc> max_sum_merge(MaxSum<Acc> a, MaxSum<Acc> b) {
  if (a.m != a.m || b.m != b.m) {  // NaN propagates
    const Acc nan = std::numeric_limits<Acc>::quiet_NaN();
    return {nan, nan};
  }
  if (b.m == -std::numeric_limits<Acc>::infinity()) return a;
  if (a.m == -std::numeric_limits<Acc>::infinity()) return b;
  if (a.m >= b.m) return {a.m, a.s + b.s * exp_acc<Acc>(b.m - a.m)};
  return {b.m, b.s + a.s * exp_acc<Acc>(a.m - b.m)};
}

// Add one logit to a running pair (online softmax).
template <typename Acc>
SYMPO_HD MaxSum<Acc> max_sum_add(MaxSum<Acc> a, Acc x) {
  if (x != x) {
    const Acc nan = std::numeric_limits<Acc>::quiet_NaN();
    return {nan, nan};
  }
  if (x == -std::numeric_limits<Acc>::infinity()) return a;
  if (x == std::numeric_limits<Acc>::infinity()) {  // log-softmax of a +inf row is NaN
    const Acc nan = std::numeric_limits<Acc>::quiet_NaN();
    return {nan, nan};
  }
  if (x <= a.m) return {a.m, a.s + exp_acc<Acc>(x - a.m)};
  // a.m == -inf (empty) gives a.s * exp(-inf) = 0 * 0 = 0.
  return {x, a.s * exp_acc<Acc>(a.m - x) + Acc(1)};
}

// log sum exp of the set; -inf for the empty (all -inf) set, NaN for NaN.
template <typename Acc>
SYMPO_HD Acc max_sum_lse(MaxSum<Acc> a) {
  if (a.m == -std::numeric_limits<Acc>::infinity()) return a.m;
  return a.m + std::log(a.s);
}

// Whether a label is counted, and whether it is a valid class index.
SYMPO_HD bool label_counted(int64_t label, int64_t ignore_index) { return label != ignore_index; }
SYMPO_HD bool label_in_range(int64_t label, int64_t vocab) { return label >= 0 && label < vocab; }

// logp of the target; the caller handles ignored / invalid labels.
// A -inf target gives -inf (not NaN) whenever lse is finite.
template <typename Acc>
SYMPO_HD Acc target_logp(Acc x_target, Acc lse) {
  return x_target - lse;
}

// Gradient of g * logp(row) with respect to one logit x_j: g * (onehot - p_j),
// p_j = exp(x_j - lse). `is_target` is j == label.
template <typename Acc>
SYMPO_HD Acc logp_grad(Acc g, Acc x, Acc lse, bool is_target) {
  const Acc p = exp_acc<Acc>(x - lse);
  return g * ((is_target ? Acc(1) : Acc(0)) - p);
}

// Per-sequence gradient scale: 1 for sums, 1 / count for averages (0 when
// nothing is counted, matching the forward's 0 result).
template <typename Acc>
SYMPO_HD Acc sequence_scale(bool average, Acc count) {
  if (!average) return Acc(1);
  return count > Acc(0) ? Acc(1) / count : Acc(0);
}

template <typename Acc>
SYMPO_HD Acc sequence_result(bool average, Acc sum, Acc count) {
  if (!average) return sum;
  return count > Acc(0) ? sum / count : Acc(0);
}

}  // namespace sympo
