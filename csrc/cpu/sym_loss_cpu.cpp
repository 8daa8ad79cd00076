// CPU kernels of the pair-level loss. The math is in sympo/losses.h.
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <algorithm>
#include <vector>

#include "../sym_loss_host.h"

namespace sympo {
namespace {

// Fixed-size blocks make the reduction order independent of the thread count,
// so the loss is bit-for-bit reproducible. Within a block, pairs are processed
// in tiles: each input is first converted into a contiguous buffer of the math
// type (one dtype switch per tile, not per element), then one loop with the
// loss type fixed at compile time computes every output.
constexpr int64_t kBlock = 4096;
constexpr int64_t kTile = 256;

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
      for (int64_t j = 0; j < len; ++j) dst[j] = fallback;
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

template <typename T, LossType L>
double forward_block(const SymLossForwardArgs& a, const LossParams<T>& p, int64_t i0, int64_t i1) {
  const T scale = static_cast<T>(a.reduction_scale());
  const int64_t n = a.n;
  T* loss = static_cast<T*>(a.loss);
  T* coef = static_cast<T*>(a.grad_coef);
  T* rewards = static_cast<T*>(a.rewards);
  T pc[kTile], rc[kTile], pr[kTile], rr[kTile], lab[kTile], w[kTile], tile_loss[kTile];
  double sum = 0.0;
  for (int64_t t0 = i0; t0 < i1; t0 += kTile) {
    const int64_t len = std::min(kTile, i1 - t0);
    gather_tile(a.policy_chosen, t0, len, T(0), pc);
    gather_tile(a.ref_chosen, t0, len, T(0), rc);
    gather_tile(a.policy_rejected, t0, len, T(0), pr);
    gather_tile(a.ref_rejected, t0, len, T(0), rr);
    gather_tile(a.labels, t0, len, T(1), lab);
    gather_tile(a.weights, t0, len, T(1), w);
    for (int64_t j = 0; j < len; ++j) {
      const PairResult<T> r =
          compute_pair<T, static_cast<int>(L)>(pc[j], rc[j], pr[j], rr[j], lab[j], w[j], p);
      const int64_t i = t0 + j;
      coef[i] = r.dloss_dchosen * scale;
      coef[n + i] = r.dloss_drejected * scale;
      rewards[i] = r.chosen_reward;
      rewards[n + i] = r.rejected_reward;
      rewards[2 * n + i] = r.margin;
      tile_loss[j] = r.loss;
    }
    if (a.reduction == Reduction::None) {
      std::copy(tile_loss, tile_loss + len, loss + t0);
    } else {
      for (int64_t j = 0; j < len; ++j) sum += static_cast<double>(tile_loss[j]);
    }
  }
  return sum;
}

template <typename T>
void forward_impl(const SymLossForwardArgs& a) {
  const LossParams<T> p = a.params<T>();
  const int64_t n = a.n;
  const int64_t num_blocks = (n + kBlock - 1) / kBlock;
  std::vector<double> partial(static_cast<size_t>(num_blocks), 0.0);
  with_loss_type(a.type, [&]<LossType L>() {
    at::parallel_for(0, num_blocks, 1, [&](int64_t b0, int64_t b1) {
      for (int64_t b = b0; b < b1; ++b) {
        partial[static_cast<size_t>(b)] =
            forward_block<T, L>(a, p, b * kBlock, std::min(n, (b + 1) * kBlock));
      }
    });
  });
  if (a.reduction != Reduction::None) {
    double total = 0.0;
    for (double s : partial) total += s;
    // Mean of zero pairs is NaN, like torch.mean of an empty tensor.
    *static_cast<T*>(a.loss) =
        static_cast<T>(a.reduction == Reduction::Mean ? total / static_cast<double>(n) : total);
  }
}

template <typename T>
void backward_impl(const SymLossBackwardArgs& a) {
  const T* coef = static_cast<const T*>(a.grad_coef);
  const int64_t n = a.n;
  at::parallel_for(0, n, kBlock, [&](int64_t i0, int64_t i1) {
    T g[kTile], dc[kTile], dr[kTile];
    for (int64_t t0 = i0; t0 < i1; t0 += kTile) {
      const int64_t len = std::min(kTile, i1 - t0);
      gather_tile(a.grad_loss, a.grad_loss.stride == 0 ? 0 : t0, len, T(0), g);
      if (a.grad_loss.stride == 0) std::fill(g, g + len, g[0]);  // scalar grad (mean/sum)
      for (int64_t j = 0; j < len; ++j) {
        dc[j] = coef[t0 + j] * g[j];
        dr[j] = coef[n + t0 + j] * g[j];
      }
      scatter_tile(a.grad_policy_chosen, t0, len, dc, T(1));
      scatter_tile(a.grad_ref_chosen, t0, len, dc, T(-1));
      scatter_tile(a.grad_policy_rejected, t0, len, dr, T(1));
      scatter_tile(a.grad_ref_rejected, t0, len, dr, T(-1));
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
