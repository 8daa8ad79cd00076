// The pair-level loss CPU kernels, compiled once per instruction set:
// csrc/cpu/sym_loss_kernel_{default,avx2,avx512}.cpp include this file with
// CPU_CAPABILITY set (as ATen's kernels are), and csrc/cpu/sym_loss_register.cpp
// picks one at run time.
//
// The math is the generic code of sympo/losses.h instantiated for SIMD vectors
// (at::vec::Vectorized): the LaneOps specialisation below is all it takes.
// Pairs are processed in tiles: each input is first converted into a contiguous
// buffer of the math type (one dtype switch per tile, not per element), then
// one vector loop with the loss type fixed at compile time computes every output.
#pragma once

#include <ATen/Parallel.h>
#include <ATen/cpu/vec/vec.h>

#include <algorithm>
#include <vector>

#include "sympo/sym_loss_launch.h"

#ifndef CPU_CAPABILITY
#error "compile through csrc/cpu/sym_loss_kernel_<isa>.cpp, which sets CPU_CAPABILITY"
#endif

namespace sympo {

template <typename S>
struct LaneOps<at::vec::Vectorized<S>> {
  using V = at::vec::Vectorized<S>;
  using Mask = V;  // all-ones lanes where true (ATen's comparison operators)
  static V select(const V& m, const V& a, const V& b) { return V::blendv(b, a, m); }
  static V exp(const V& x) { return x.exp(); }
  static V log1p(const V& x) { return x.log1p(); }
};

namespace CPU_CAPABILITY {

// Fixed-size blocks make the reduction order independent of the thread count,
// so the loss is bit-for-bit reproducible.
constexpr int64_t kBlock = 4096;
constexpr int64_t kTile = 256;  // a multiple of every vector width
// At least this many blocks (32768 pairs, ATen's GRAIN_SIZE) per thread: below
// that a parallel region's synchronisation costs more than it saves, the more
// so on a loaded machine.
constexpr int64_t kBlocksPerTask = 8;

template <typename T, typename Src>
void convert(const Src* src, int64_t stride, int64_t len, T* dst) {
  if (stride == 1) {
    for (int64_t j = 0; j < len; ++j) dst[j] = static_cast<T>(static_cast<float>(src[j]));
  } else {
    for (int64_t j = 0; j < len; ++j) dst[j] = static_cast<T>(static_cast<float>(src[j * stride]));
  }
}

template <typename T>
void convert(const double* src, int64_t stride, int64_t len, T* dst) {  // no detour through float
  for (int64_t j = 0; j < len; ++j) dst[j] = static_cast<T>(src[j * stride]);
}

// dst[j] = in[i0 + j] as T (or `fallback` for an absent optional input).
template <typename T>
void gather_tile(const StridedIn& in, int64_t i0, int64_t len, T fallback, T* dst) {
  const int64_t s = in.stride;
  switch (in.kind) {
    case ElemKind::F32: return convert(static_cast<const float*>(in.data) + i0 * s, s, len, dst);
    case ElemKind::F64: return convert(static_cast<const double*>(in.data) + i0 * s, s, len, dst);
    case ElemKind::BF16: return convert(static_cast<const c10::BFloat16*>(in.data) + i0 * s, s, len, dst);
    case ElemKind::F16: return convert(static_cast<const c10::Half*>(in.data) + i0 * s, s, len, dst);
    case ElemKind::Absent:
      std::fill(dst, dst + len, fallback);
      return;
    default:  // integer / bool labels: exact in float
      for (int64_t j = 0; j < len; ++j) dst[j] = load<T>(in, i0 + j, fallback);
      return;
  }
}

template <typename T, typename Dst>
void convert_out(const T* src, T sign, int64_t len, Dst* dst) {
  for (int64_t j = 0; j < len; ++j) dst[j] = static_cast<Dst>(static_cast<float>(sign * src[j]));
}

// out[i0 + j] = sign * src[j] in the output's dtype; nothing for an unwanted output.
template <typename T>
void scatter_tile(const StridedOut& out, int64_t i0, int64_t len, const T* src, T sign) {
  switch (out.kind) {
    case ElemKind::F32: return convert_out(src, sign, len, static_cast<float*>(out.data) + i0);
    case ElemKind::F64:
      for (int64_t j = 0; j < len; ++j) static_cast<double*>(out.data)[i0 + j] = sign * src[j];
      return;
    case ElemKind::BF16: return convert_out(src, sign, len, static_cast<c10::BFloat16*>(out.data) + i0);
    case ElemKind::F16: return convert_out(src, sign, len, static_cast<c10::Half*>(out.data) + i0);
    default: return;
  }
}

// The SIMD copy of the per-term parameters: every field broadcast to all lanes.
template <typename T>
LossParams<at::vec::Vectorized<T>> broadcast(const LossParams<T>& p) {
  using Vec = at::vec::Vectorized<T>;
  LossParams<Vec> v{Vec(p.beta), Vec(p.clip), p.num_terms, {}};
  for (int k = 0; k < p.num_terms; ++k) {
    const TermParams<T>& t = p.term[k];
    v.term[k] = {t.type, Vec(t.weight), Vec(t.beta), Vec(t.param), Vec(t.k0), Vec(t.k1)};
  }
  return v;
}

// kLoss >= 0: one loss, fixed at compile time; -1: a combination, read at run time.
template <typename T, int kLoss>
double forward_block(const SymLossForwardArgs& a, const LossParams<T>& p, int64_t i0, int64_t i1) {
  using Vec = at::vec::Vectorized<T>;
  constexpr int64_t W = Vec::size();
  const LossParams<Vec> pv = broadcast(p);
  const T scale_s = static_cast<T>(a.reduction_scale());
  const Vec scale(scale_s);
  const int64_t n = a.n;
  const bool weight_grad = a.has_weight_grad();
  T* loss = static_cast<T*>(a.loss);
  T* coef = static_cast<T*>(a.grad_coef);
  T* rewards = static_cast<T*>(a.rewards);
  alignas(64) T pc[kTile], rc[kTile], pr[kTile], rr[kTile], lab[kTile], w[kTile], tile_loss[kTile];
  double sum = 0.0;
  for (int64_t t0 = i0; t0 < i1; t0 += kTile) {
    const int64_t len = std::min(kTile, i1 - t0);
    gather_tile(a.policy_chosen, t0, len, T(0), pc);
    gather_tile(a.ref_chosen, t0, len, T(0), rc);
    gather_tile(a.policy_rejected, t0, len, T(0), pr);
    gather_tile(a.ref_rejected, t0, len, T(0), rr);
    gather_tile(a.labels, t0, len, T(1), lab);
    gather_tile(a.weights, t0, len, T(1), w);
    if (a.scalar_lanes) {
      // The exact scalar code path of the CUDA kernel (loss types read at run
      // time), so CPU tests cover it too.
      for (int64_t j = 0; j < len; ++j) {
        const PairResult<T> r = compute_pair<T>(pc[j], rc[j], pr[j], rr[j], lab[j], w[j], p);
        const int64_t i = t0 + j;
        coef[i] = r.dloss_dchosen * scale_s;
        coef[n + i] = r.dloss_drejected * scale_s;
        if (weight_grad) coef[2 * n + i] = r.unweighted_loss * scale_s;
        rewards[i] = r.chosen_reward;
        rewards[n + i] = r.rejected_reward;
        rewards[2 * n + i] = r.margin;
        tile_loss[j] = r.loss;
      }
    }
    for (int64_t j = 0; j < len && !a.scalar_lanes; j += W) {
      const int c = static_cast<int>(std::min(W, len - j));  // partial last vector
      const PairResult<Vec> r = compute_pair<Vec, kLoss>(
          Vec::loadu(pc + j, c), Vec::loadu(rc + j, c), Vec::loadu(pr + j, c),
          Vec::loadu(rr + j, c), Vec::loadu(lab + j, c), Vec::loadu(w + j, c), pv);
      const int64_t i = t0 + j;
      (r.dloss_dchosen * scale).store(coef + i, c);
      (r.dloss_drejected * scale).store(coef + n + i, c);
      if (weight_grad) (r.unweighted_loss * scale).store(coef + 2 * n + i, c);
      r.chosen_reward.store(rewards + i, c);
      r.rejected_reward.store(rewards + n + i, c);
      r.margin.store(rewards + 2 * n + i, c);
      r.loss.store(tile_loss + j, c);
    }
    if (a.reduction == Reduction::None) {
      std::copy(tile_loss, tile_loss + len, loss + t0);
    } else {
      for (int64_t j = 0; j < len; ++j) sum += static_cast<double>(tile_loss[j]);
    }
  }
  return sum;
}

template <typename T, int kLoss>
void forward_blocks(const SymLossForwardArgs& a, const LossParams<T>& p, std::vector<double>& partial) {
  const int64_t n = a.n;
  const int64_t num_blocks = static_cast<int64_t>(partial.size());
  at::parallel_for(0, num_blocks, kBlocksPerTask, [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) {
      partial[static_cast<size_t>(b)] =
          forward_block<T, kLoss>(a, p, b * kBlock, std::min(n, (b + 1) * kBlock));
    }
  });
}

template <typename T>
void forward(const SymLossForwardArgs& a) {
  const LossParams<T> p = a.params<T>();
  const int64_t n = a.n;
  const int64_t num_blocks = (n + kBlock - 1) / kBlock;
  std::vector<double> partial(static_cast<size_t>(num_blocks), 0.0);
  if (a.num_terms == 1) {  // the common case: the loss compiled in, branch-free
    with_loss_type(a.terms[0].type, [&]<LossType L>() {
      forward_blocks<T, static_cast<int>(L)>(a, p, partial);
    });
  } else {
    forward_blocks<T, -1>(a, p, partial);
  }
  if (a.reduction != Reduction::None) {
    double total = 0.0;
    for (double s : partial) total += s;
    // Mean of zero pairs is NaN, like torch.mean of an empty tensor.
    *static_cast<T*>(a.loss) =
        static_cast<T>(a.reduction == Reduction::Mean ? total / static_cast<double>(n) : total);
  }
}

template <typename T>
void backward(const SymLossBackwardArgs& a) {
  using Vec = at::vec::Vectorized<T>;
  const T* coef = static_cast<const T*>(a.grad_coef);
  const int64_t n = a.n;
  const bool scalar_grad = a.grad_loss.stride == 0;  // mean / sum
  at::parallel_for(0, n, kBlock * kBlocksPerTask, [&](int64_t i0, int64_t i1) {
    alignas(64) T g[kTile], dc[kTile], dr[kTile], dw[kTile];
    for (int64_t t0 = i0; t0 < i1; t0 += kTile) {
      const int64_t len = std::min(kTile, i1 - t0);
      if (scalar_grad) {
        std::fill(g, g + len, load<T>(a.grad_loss, 0, T(0)));
      } else {
        gather_tile(a.grad_loss, t0, len, T(0), g);
      }
      for (int64_t j = 0; j < len; j += Vec::size()) {
        const int c = static_cast<int>(std::min<int64_t>(Vec::size(), len - j));
        const Vec gv = Vec::loadu(g + j, c);
        (Vec::loadu(coef + t0 + j, c) * gv).store(dc + j, c);
        (Vec::loadu(coef + n + t0 + j, c) * gv).store(dr + j, c);
        if (a.grad_weights.kind != ElemKind::Absent) {
          (Vec::loadu(coef + 2 * n + t0 + j, c) * gv).store(dw + j, c);
        }
      }
      scatter_tile(a.grad_policy_chosen, t0, len, dc, T(1));
      scatter_tile(a.grad_ref_chosen, t0, len, dc, T(-1));
      scatter_tile(a.grad_policy_rejected, t0, len, dr, T(1));
      scatter_tile(a.grad_ref_rejected, t0, len, dr, T(-1));
      scatter_tile(a.grad_weights, t0, len, dw, T(1));
    }
  });
}

inline void sym_loss_forward(const SymLossForwardArgs& a) {
  a.use_double ? forward<double>(a) : forward<float>(a);
}

inline void sym_loss_backward(const SymLossBackwardArgs& a) {
  a.use_double ? backward<double>(a) : backward<float>(a);
}

}  // namespace CPU_CAPABILITY
}  // namespace sympo
