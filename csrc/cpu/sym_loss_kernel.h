// The pair-level loss CPU kernels, compiled once per instruction set:
// csrc/cpu/sym_loss_kernel_{default,avx2,avx512}.cpp include this file with
// CPU_CAPABILITY set (as ATen's kernels are), and csrc/cpu/sym_loss_register.cpp
// picks one at run time.
//
// The math is the generic code of sympo/losses.h instantiated for SIMD vectors
// (Lanes<T>, csrc/cpu/sym_loss_lanes.h, with their LaneOps specialisations).
// Pairs are processed in tiles. A contiguous input already in the math type is
// read in place; any other (another dtype, strided, integer labels) is first
// converted into a small buffer by a vector loop. One vector loop with the loss
// type fixed at compile time then computes every output and writes each once;
// the reduction is summed in the same pass, and the label / weight values the
// op must refuse are detected in that conversion, not by a separate pass.
#pragma once

#include <ATen/Parallel.h>
#include <ATen/cpu/vec/functional.h>
#include <ATen/cpu/vec/vec.h>
#include <c10/util/Exception.h>

#include <algorithm>
#include <type_traits>
#include <vector>

#include "sym_loss_lanes.h"
#include "sympo/sym_loss_launch.h"

#ifndef CPU_CAPABILITY
#error "compile through csrc/cpu/sym_loss_kernel_<isa>.cpp, which sets CPU_CAPABILITY"
#endif

namespace sympo {

namespace CPU_CAPABILITY {

using at::vec::Vectorized;

// Fixed-size blocks make the reduction order independent of the thread count,
// so the loss is bit-for-bit reproducible.
constexpr int64_t kBlock = 4096;
constexpr int64_t kTile = 256;  // a multiple of every vector width
// At least this many blocks (32768 pairs, ATen's GRAIN_SIZE) per thread: below
// that a parallel region's synchronisation costs more than it saves, the more
// so on a loaded machine.
constexpr int64_t kBlocksPerTask = 8;

// Which input values the op refuses (CPU only: reading them is free here).
enum class ValueCheck { None, Label, Weight };

template <ValueCheck C, typename S>
inline int bad_value(S v) {
  if constexpr (C == ValueCheck::Label) {
    return static_cast<int>((v != S(0)) & (v != S(1)));  // NaN is refused too
  } else if constexpr (C == ValueCheck::Weight) {
    return static_cast<int>(v < S(0));  // NaN passes on purpose: NaN inputs give NaN losses
  } else {
    return 0;
  }
}

// dst[j] = src[j * stride] as T, checked in the source dtype (so no value is
// rounded into range first); returns whether a refused value was seen.
template <ValueCheck C, typename T, typename Src>
int convert(const Src* src, int64_t stride, int64_t len, T* dst) {
  int bad = 0;
  if (stride == 1) {
    int64_t j = 0;
#if defined(CPU_CAPABILITY_AVX512)
    if constexpr (C == ValueCheck::Label && std::is_same_v<Src, int64_t> &&
                  std::is_same_v<T, float>) {
      // int64 labels (torch's default integer dtype), 8 per step: one convert, and
      // a value other than 0 / 1 is one with a bit outside bit 0.
      const __m512i high_bits = _mm512_set1_epi64(~int64_t(1));
      __mmask8 seen = 0;
      for (; j + 8 <= len; j += 8) {
        const __m512i v = _mm512_loadu_si512(src + j);
        seen |= _mm512_test_epi64_mask(v, high_bits);
        _mm256_storeu_ps(dst + j, _mm512_cvtepi64_ps(v));
      }
      bad = seen != 0;
    }
#endif
    for (; j < len; ++j) {
      dst[j] = static_cast<T>(src[j]);
      bad |= bad_value<C>(src[j]);
    }
  } else {
    for (int64_t j = 0; j < len; ++j) {
      dst[j] = static_cast<T>(src[j * stride]);
      bad |= bad_value<C>(src[j * stride]);
    }
  }
  return bad;
}

// bf16 / fp16: widened with ATen's vector conversion (exact), the check on the float value.
template <ValueCheck C, typename T, typename H>
int convert_reduced(const H* src, int64_t stride, int64_t len, T* dst) {
  using VH = Vectorized<H>;
  using VF = Vectorized<float>;
  alignas(64) float f[kTile];
  int64_t j = 0;
  if (stride == 1) {
    for (; j + VH::size() <= len; j += VH::size()) {
      auto [lo, hi] = at::vec::convert_to_float<H>(VH::loadu(src + j));
      lo.store(f + j);
      hi.store(f + j + VF::size());
    }
  }
  for (; j < len; ++j) f[j] = static_cast<float>(src[j * stride]);
  int bad = 0;
  for (j = 0; j < len; ++j) {
    dst[j] = static_cast<T>(f[j]);
    bad |= bad_value<C>(f[j]);
  }
  return bad;
}

template <ValueCheck C, typename T>
int gather_tile(const StridedIn& in, int64_t i0, int64_t len, T* dst) {
  const int64_t s = in.stride;
  const int64_t o = i0 * s;
  switch (in.kind) {
    case ElemKind::F32: return convert<C>(static_cast<const float*>(in.data) + o, s, len, dst);
    case ElemKind::F64: return convert<C>(static_cast<const double*>(in.data) + o, s, len, dst);
    case ElemKind::BF16:
      return convert_reduced<C>(static_cast<const c10::BFloat16*>(in.data) + o, s, len, dst);
    case ElemKind::F16:
      return convert_reduced<C>(static_cast<const c10::Half*>(in.data) + o, s, len, dst);
    case ElemKind::U8: return convert<C>(static_cast<const uint8_t*>(in.data) + o, s, len, dst);
    case ElemKind::I8: return convert<C>(static_cast<const int8_t*>(in.data) + o, s, len, dst);
    case ElemKind::I16: return convert<C>(static_cast<const int16_t*>(in.data) + o, s, len, dst);
    case ElemKind::I32: return convert<C>(static_cast<const int32_t*>(in.data) + o, s, len, dst);
    case ElemKind::I64: return convert<C>(static_cast<const int64_t*>(in.data) + o, s, len, dst);
    case ElemKind::Absent: return 0;  // the buffer holds the fallback (TileInput)
  }
  return 0;
}

template <typename T>
constexpr ElemKind kKindOfMath = std::is_same_v<T, double> ? ElemKind::F64 : ElemKind::F32;

// One input of the forward, a tile at a time: the tensor itself where it is
// contiguous in the math type (and needs no value check), else a converted copy;
// an absent optional input is its fallback value (ref = 0, label = 1, weight = 1).
template <typename T, ValueCheck C = ValueCheck::None>
struct TileInput {
  const StridedIn& in;
  const bool in_place;
  alignas(64) T buf[kTile];

  TileInput(const StridedIn& in_, T fallback)
      : in(in_), in_place(C == ValueCheck::None && in_.kind == kKindOfMath<T> && in_.stride == 1) {
    if (in.kind == ElemKind::Absent) std::fill(buf, buf + kTile, fallback);
  }
  const T* tile(int64_t t0, int64_t len, int& bad) {
    if (in_place) return static_cast<const T*>(in.data) + t0;
    bad |= gather_tile<C>(in, t0, len, buf);
    return buf;
  }
};

// The SIMD copy of the per-term parameters: every field broadcast to all lanes.
template <typename T>
LossParams<Lanes<T>> broadcast(const LossParams<T>& p) {
  using Vec = Lanes<T>;
  LossParams<Vec> v{Vec(p.beta), Vec(p.clip), p.num_terms, {}};
  for (int k = 0; k < p.num_terms; ++k) {
    const TermParams<T>& t = p.term[k];
    v.term[k] = {t.type, Vec(t.weight), Vec(t.beta), Vec(t.param), Vec(t.k0), Vec(t.k1)};
  }
  return v;
}

struct BlockResult {
  double sum = 0.0;  // of the block's losses (a fixed order: reproducible)
  int bad_labels = 0, bad_weights = 0;
};

// kLoss >= 0: one loss, fixed at compile time; -1: a combination, read at run time.
template <typename T, int kLoss>
BlockResult forward_block(const SymLossForwardArgs& a, const LossParams<T>& p,
                          const LossParams<Lanes<T>>& pv, int64_t i0, int64_t i1) {
  using Vec = Lanes<T>;
  constexpr int64_t W = Vec::size();
  const T scale_s = static_cast<T>(a.reduction_scale());
  const Vec scale(scale_s);
  const int64_t n = a.n;
  const bool weight_grad = a.has_weight_grad();
  const bool reduce = a.reduction != Reduction::None;
  T* loss = static_cast<T*>(a.loss);
  T* coef = static_cast<T*>(a.grad_coef);
  T* rewards = static_cast<T*>(a.rewards);
  TileInput<T> pc_in(a.policy_chosen, T(0)), rc_in(a.ref_chosen, T(0)),
      pr_in(a.policy_rejected, T(0)), rr_in(a.ref_rejected, T(0));
  TileInput<T, ValueCheck::Label> lab_in(a.labels, T(1));
  TileInput<T, ValueCheck::Weight> w_in(a.weights, T(1));
  // The reduction: one double accumulator per lane (the lanes' order is fixed),
  // fed from the tile's losses (zero past the end of the last, partial vector).
  alignas(64) T tile_loss[kTile];
  alignas(64) double acc[W] = {};
  BlockResult res;
  for (int64_t t0 = i0; t0 < i1; t0 += kTile) {
    const int64_t len = std::min(kTile, i1 - t0);
    const T* pc = pc_in.tile(t0, len, res.bad_labels);  // never flags: no check
    const T* rc = rc_in.tile(t0, len, res.bad_labels);
    const T* pr = pr_in.tile(t0, len, res.bad_labels);
    const T* rr = rr_in.tile(t0, len, res.bad_labels);
    const T* lab = lab_in.tile(t0, len, res.bad_labels);
    const T* w = w_in.tile(t0, len, res.bad_weights);
    T* out_loss = reduce ? tile_loss : loss + t0;
    if (a.scalar_lanes) {
      // The exact scalar code path of the CUDA kernel (loss types read at run
      // time), so CPU tests cover it too.
      for (int64_t j = 0; j < len; ++j) {
        const PairResult<T> r = compute_pair<T>(pc[j], rc[j], pr[j], rr[j], lab[j], w[j], p);
        const int64_t i = t0 + j;
        coef[i] = r.dloss_dchosen * scale_s;
        coef[n + i] = r.dloss_drejected * scale_s;
        if (weight_grad) coef[2 * n + i] = r.unweighted_loss * scale_s;
        if (rewards != nullptr) {
          rewards[i] = r.chosen_reward;
          rewards[n + i] = r.rejected_reward;
          rewards[2 * n + i] = r.margin;
        }
        out_loss[j] = r.loss;
      }
    } else {
      for (int64_t j = 0; j < len; j += W) {
        const int c = static_cast<int>(std::min(W, len - j));  // partial last vector
        const PairResult<Vec> r = compute_pair<Vec, kLoss>(
            Vec::loadu(pc + j, c), Vec::loadu(rc + j, c), Vec::loadu(pr + j, c),
            Vec::loadu(rr + j, c), Vec::loadu(lab + j, c), Vec::loadu(w + j, c), pv);
        const int64_t i = t0 + j;
        (r.dloss_dchosen * scale).store(coef + i, c);
        (r.dloss_drejected * scale).store(coef + n + i, c);
        if (weight_grad) (r.unweighted_loss * scale).store(coef + 2 * n + i, c);
        if (rewards != nullptr) {
          r.chosen_reward.store(rewards + i, c);
          r.rejected_reward.store(rewards + n + i, c);
          r.margin.store(rewards + 2 * n + i, c);
        }
        r.loss.store(out_loss + j, c);
      }
    }
    if (reduce) {
      const int64_t padded = (len + W - 1) / W * W;
      std::fill(tile_loss + len, tile_loss + padded, T(0));
      for (int64_t j = 0; j < padded; j += W) {
        for (int64_t k = 0; k < W; ++k) acc[k] += static_cast<double>(tile_loss[j + k]);
      }
    }
  }
  for (int64_t k = 0; k < W; ++k) res.sum += acc[k];
  return res;
}

template <typename T, int kLoss>
void forward_blocks(const SymLossForwardArgs& a, const LossParams<T>& p,
                    std::vector<BlockResult>& blocks) {
  const int64_t n = a.n;
  const int64_t num_blocks = static_cast<int64_t>(blocks.size());
  const LossParams<Lanes<T>> pv = broadcast(p);
  at::parallel_for(0, num_blocks, kBlocksPerTask, [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) {
      blocks[static_cast<size_t>(b)] =
          forward_block<T, kLoss>(a, p, pv, b * kBlock, std::min(n, (b + 1) * kBlock));
    }
  });
}

template <typename T>
void forward(const SymLossForwardArgs& a) {
  const LossParams<T> p = a.params<T>();
  const int64_t n = a.n;
  const int64_t num_blocks = (n + kBlock - 1) / kBlock;
  std::vector<BlockResult> blocks(static_cast<size_t>(num_blocks));
  if (a.num_terms == 1) {  // the common case: the loss compiled in, branch-free
    with_loss_type(a.terms[0].type,
                   [&]<LossType L>() { forward_blocks<T, static_cast<int>(L)>(a, p, blocks); });
  } else {
    forward_blocks<T, -1>(a, p, blocks);
  }
  double total = 0.0;
  int bad_labels = 0, bad_weights = 0;
  for (const BlockResult& b : blocks) {
    total += b.sum;
    bad_labels |= b.bad_labels;
    bad_weights |= b.bad_weights;
  }
  TORCH_CHECK(!bad_labels,
              "sym_loss: labels must be 0 or 1 for every pair (1: the first response is "
              "preferred, 0: the second); found other values");
  TORCH_CHECK(!bad_weights, "sym_loss: weights must be >= 0 for every pair; found negative values");
  if (a.reduction != Reduction::None) {
    // Mean of zero pairs is NaN, like torch.mean of an empty tensor.
    *static_cast<T*>(a.loss) =
        static_cast<T>(a.reduction == Reduction::Mean ? total / static_cast<double>(n) : total);
  }
}

// out[i0 + j] = sign * src[j] in the output's dtype; nothing for an unwanted output.
template <typename T>
void scatter_tile(const StridedOut& out, int64_t i0, int64_t len, const T* src, T sign) {
  using Vec = Vectorized<T>;
  if (out.kind == ElemKind::Absent) return;
  if (out.kind == kKindOfMath<T>) {
    T* dst = static_cast<T*>(out.data) + i0;
    for (int64_t j = 0; j < len; j += Vec::size()) {
      const int c = static_cast<int>(std::min<int64_t>(Vec::size(), len - j));
      (Vec::loadu(src + j, c) * Vec(sign)).store(dst + j, c);
    }
    return;
  }
  alignas(
      64) float f[kTile];  // through float: bf16 / fp16 (vector conversions), or float from double
  for (int64_t j = 0; j < len; ++j) f[j] = static_cast<float>(sign * src[j]);
  auto narrow = [&](auto* dst) {
    using H = std::remove_pointer_t<decltype(dst)>;
    using VF = Vectorized<float>;
    int64_t j = 0;
    for (; j + Vectorized<H>::size() <= len; j += Vectorized<H>::size()) {
      at::vec::convert_from_float<H>(VF::loadu(f + j), VF::loadu(f + j + VF::size()))
          .store(dst + j);
    }
    for (; j < len; ++j) dst[j] = static_cast<H>(f[j]);
  };
  switch (out.kind) {
    case ElemKind::F32: std::copy(f, f + len, static_cast<float*>(out.data) + i0); return;
    case ElemKind::F64:  // float math, fp64 output: exact widening
      for (int64_t j = 0; j < len; ++j) static_cast<double*>(out.data)[i0 + j] = f[j];
      return;
    case ElemKind::BF16: return narrow(static_cast<c10::BFloat16*>(out.data) + i0);
    case ElemKind::F16: return narrow(static_cast<c10::Half*>(out.data) + i0);
    default: return;
  }
}

template <typename T>
void backward(const SymLossBackwardArgs& a) {
  using Vec = Vectorized<T>;
  const T* coef = static_cast<const T*>(a.grad_coef);
  const int64_t n = a.n;
  const bool scalar_grad = a.grad_loss.stride == 0;  // mean / sum
  const T g0 =
      scalar_grad && n > 0 ? load<T>(a.grad_loss, 0, T(0)) : T(0);  // (an empty one has no data)
  const bool weight_grad = a.grad_weights.kind != ElemKind::Absent;
  at::parallel_for(0, n, kBlock * kBlocksPerTask, [&](int64_t i0, int64_t i1) {
    TileInput<T> g_in(a.grad_loss, T(0));
    alignas(64) T dc[kTile], dr[kTile], dw[kTile];
    for (int64_t t0 = i0; t0 < i1; t0 += kTile) {
      const int64_t len = std::min(kTile, i1 - t0);
      int unused = 0;
      const T* g = scalar_grad ? nullptr : g_in.tile(t0, len, unused);
      for (int64_t j = 0; j < len; j += Vec::size()) {
        const int c = static_cast<int>(std::min<int64_t>(Vec::size(), len - j));
        const Vec gv = scalar_grad ? Vec(g0) : Vec::loadu(g + j, c);
        (Vec::loadu(coef + t0 + j, c) * gv).store(dc + j, c);
        (Vec::loadu(coef + n + t0 + j, c) * gv).store(dr + j, c);
        if (weight_grad) (Vec::loadu(coef + 2 * n + t0 + j, c) * gv).store(dw + j, c);
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
