// CPU kernels of the fused log-probs, compiled once per instruction set:
// csrc/cpu/logps_kernel_{default,avx2,avx512}.cpp include this file with
// CPU_CAPABILITY set (as ATen does), which selects at::vec's implementation;
// csrc/cpu/logps_register.cpp picks one at run time.
//
// Rows are split over threads with at::parallel_for. Each row is read in blocks
// that fit L1: the block's max, then the sum of exp(x - block max), merged into
// the row's running (max, sum) -- one pass over memory per row in the forward.
// The backward reads each block once and writes it once (possibly in place).
#pragma once

#ifndef CPU_CAPABILITY
#error "define CPU_CAPABILITY (DEFAULT, AVX2 or AVX512) before including logps_kernel.h"
#endif

#include <ATen/Parallel.h>
#include <ATen/cpu/vec/functional.h>
#include <ATen/cpu/vec/vec.h>
#include <c10/util/BFloat16.h>
#include <c10/util/Half.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>

#include "sympo/logps_launch.h"

namespace sympo {
namespace CPU_CAPABILITY {

using at::vec::Vectorized;

constexpr int64_t kBlock = 2048;  // elements per block: 8 KiB of fp32 scratch

template <typename T>
constexpr bool kNeedsConvert = !std::is_same_v<T, float> && !std::is_same_v<T, double>;

// n elements converted bf16 / fp16 -> float or float -> bf16 / fp16 (round
// to nearest even): vectors of Src, then a scalar tail.
template <typename Src, typename Dst>
inline void convert_n(const Src* src, Dst* dst, int64_t n) {
  constexpr bool kToFloat = std::is_same_v<Dst, float>;
  using T = std::conditional_t<kToFloat, Src, Dst>;  // the 16-bit type
  using VT = Vectorized<T>;
  using VF = Vectorized<float>;
  int64_t i = 0;
  for (; i + VT::size() <= n; i += VT::size()) {
    if constexpr (kToFloat) {
      auto [a, b] = at::vec::convert_to_float<T>(VT::loadu(src + i));
      a.store(dst + i);
      b.store(dst + i + VF::size());
    } else {
      at::vec::convert_from_float<T>(VF::loadu(src + i), VF::loadu(src + i + VF::size()))
          .store(dst + i);
    }
  }
  for (; i < n; ++i) dst[i] = static_cast<Dst>(src[i]);
}

template <typename Acc>
inline Vectorized<Acc> vexp(const Vectorized<Acc>& x) {
  if constexpr (std::is_same_v<Acc, float>) {
    return x.exp_u20();  // ~20 ulp; exp(-inf) = 0
  } else {
    return x.exp();
  }
}

// NaN-propagating max of a scalar into a running max.
template <typename Acc>
inline Acc nan_max(Acc m, Acc v) {
  return (v > m || v != v) ? v : m;
}

// (max, sum of exp(x - max)) of one block of n values.
template <typename Acc>
inline MaxSum<Acc> block_max_sum(const Acc* x, int64_t n) {
  using V = Vectorized<Acc>;
  constexpr Acc kNegInf = -std::numeric_limits<Acc>::infinity();
  int64_t i = 0;
  Acc m = kNegInf;
  if (n >= V::size()) {
    V vmax(kNegInf);
    for (; i + V::size() <= n; i += V::size()) vmax = at::vec::maximum(vmax, V::loadu(x + i));
    alignas(64) Acc lanes[V::size()];
    vmax.store(lanes);
    for (int64_t k = 0; k < V::size(); ++k) m = nan_max(m, lanes[k]);
  }
  for (int64_t k = i; k < n; ++k) m = nan_max(m, x[k]);
  if (m != m || m == -kNegInf) {  // NaN or +inf: log-softmax is NaN
    const Acc nan = std::numeric_limits<Acc>::quiet_NaN();
    return {nan, nan};
  }
  if (m == kNegInf) return max_sum_empty<Acc>();
  const V vm(m);
  V vsum(Acc(0));
  i = 0;
  for (; i + V::size() <= n; i += V::size()) vsum = vsum + vexp(V::loadu(x + i) - vm);
  alignas(64) Acc lanes[V::size()];
  vsum.store(lanes);
  Acc s = 0;
  for (int64_t k = 0; k < V::size(); ++k) s += lanes[k];
  for (; i < n; ++i) s += std::exp(x[i] - m);
  return {m, s};
}

// out[i] = -g * exp(x[i] - lse); out may be x.
template <typename Acc>
inline void block_neg_softmax(const Acc* x, Acc* out, int64_t n, Acc g, Acc lse) {
  using V = Vectorized<Acc>;
  const V vl(lse), vg(-g);
  int64_t i = 0;
  for (; i + V::size() <= n; i += V::size()) (vexp(V::loadu(x + i) - vl) * vg).store(out + i);
  for (; i < n; ++i) out[i] = -g * std::exp(x[i] - lse);
}

template <typename T, typename Acc>
inline Acc load_acc(const T* p) {
  return static_cast<Acc>(static_cast<float>(*p));
}
template <>
inline double load_acc<double, double>(const double* p) {
  return *p;
}

// Calls row(r, x, buf) for every row r, x its V logits; the rows are split
// over threads, buf is each thread's scratch block for 16-bit logits.
template <typename T, typename RowFn>
inline void for_each_row(const RowArgs& a, const RowFn& row) {
  const T* logits = static_cast<const T*>(a.logits);
  const int64_t grain = std::max<int64_t>(1, (int64_t(1) << 15) / a.vocab);
  at::parallel_for(0, a.rows, grain, [&](int64_t r0, int64_t r1) {
    alignas(64) float buf[kNeedsConvert<T> ? kBlock : 1];
    for (int64_t r = r0; r < r1; ++r) row(r, logits + a.layout.offset(r), buf);
  });
}

template <typename T, typename Acc>
void row_forward_impl(const RowForwardArgs& a) {
  Acc* token_logps = static_cast<Acc*>(a.token_logps);
  Acc* lse_out = static_cast<Acc*>(a.lse);
  const int64_t vocab = a.vocab;
  for_each_row<T>(a, [&](int64_t r, const T* x, float* buf) {
    MaxSum<Acc> ms = max_sum_empty<Acc>();
    for (int64_t j = 0; j < vocab; j += kBlock) {
      const int64_t n = std::min(kBlock, vocab - j);
      const Acc* xb;
      if constexpr (kNeedsConvert<T>) {
        convert_n(x + j, buf, n);
        xb = buf;
      } else {
        xb = x + j;
      }
      ms = max_sum_merge(ms, block_max_sum<Acc>(xb, n));
    }
    const Acc lse = max_sum_lse(ms);
    lse_out[r] = lse;
    const int64_t y = a.labels[r];
    if (!label_counted(y, a.ignore_index)) {
      token_logps[r] = Acc(0);
    } else if (!label_in_range(y, vocab)) {  // the host checked; never read out of bounds
      token_logps[r] = std::numeric_limits<Acc>::quiet_NaN();
    } else {
      token_logps[r] = target_logp(load_acc<T, Acc>(x + y), lse);
    }
  });
}

template <typename T, typename Acc>
void row_backward_impl(const RowBackwardArgs& a) {
  T* grad = static_cast<T*>(a.grad);
  const Acc* lse_in = static_cast<const Acc*>(a.lse);
  const Acc* row_grad = static_cast<const Acc*>(a.row_grad);
  const int64_t vocab = a.vocab;
  for_each_row<T>(a, [&](int64_t r, const T* x, float* buf) {
    T* out = grad + a.out_layout.offset(r);
    const int64_t y = a.labels[r];
    if (!label_counted(y, a.ignore_index)) {
      std::fill(out, out + vocab, T(0));
      return;
    }
    const Acc g = row_grad[r];
    const Acc lse = lse_in[r];
    if (!label_in_range(y, vocab) || lse != lse) {  // invalid label or NaN row: NaN gradient
      std::fill(out, out + vocab, static_cast<T>(std::numeric_limits<float>::quiet_NaN()));
      return;
    }
    // Read the target before the row is (possibly) overwritten in place.
    const Acc g_target = logp_grad<Acc>(g, load_acc<T, Acc>(x + y), lse, true);
    for (int64_t j = 0; j < vocab; j += kBlock) {
      const int64_t n = std::min(kBlock, vocab - j);
      if constexpr (kNeedsConvert<T>) {
        convert_n(x + j, buf, n);
        block_neg_softmax<float>(buf, buf, n, g, lse);
        convert_n(buf, out + j, n);
      } else {
        block_neg_softmax<Acc>(x + j, out + j, n, g, lse);
      }
    }
    out[y] = static_cast<T>(g_target);
  });
}

inline void row_forward(const RowForwardArgs& a) {
  with_logits_types(a.kind, [&]<typename T, typename Acc>() { row_forward_impl<T, Acc>(a); });
}

inline void row_backward(const RowBackwardArgs& a) {
  with_logits_types(a.kind, [&]<typename T, typename Acc>() { row_backward_impl<T, Acc>(a); });
}

}  // namespace CPU_CAPABILITY
}  // namespace sympo
