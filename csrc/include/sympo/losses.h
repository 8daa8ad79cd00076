// The math of every pair-level loss and its derivative, in ONE place.
//
// Everything here is a __host__ __device__ inline function so the CPU kernel
// (csrc/cpu/sym_loss_cpu.cpp) and the CUDA kernel (csrc/cuda/sym_loss_cuda.cu)
// compute bit-for-bit the same formulas. Comparisons are written so that NaN
// propagates (fminf/fmaxf would silently drop it).
#pragma once

#include <cmath>
#include <cstdint>

#if defined(__CUDACC__) || defined(__HIPCC__)
#define SYMPO_HD __host__ __device__ __forceinline__
#else
#define SYMPO_HD inline
#endif

namespace sympo {

// Order matters: it is the index used by the string table in loss_names.h.
enum class LossType : int32_t {
  Sigmoid = 0,        // symmetric: 1 / (1 + exp(temperature * s))
  SymmetricRamp = 1,  // symmetric: clamp(0.5 - slope * s, 0, 1)
  Unhinged = 2,       // symmetric: 1 - s
  Logistic = 3,       // DPO: log(1 + exp(-s))
  Hinge = 4,          // max(0, 1 - s)
  Square = 5,         // (1 - s)^2
  Exp = 6,            // exp(-s)
  Ramp = 7,           // clamp(1 - s, 0, 1)  (NOT symmetric)
  CDPO = 8,           // (1-eps) log(1+e^-s) + eps log(1+e^s)
  RDPO = 9,           // ((1-eps) log(1+e^-s) - eps log(1+e^s)) / (1 - 2 eps)
  IPO = 10,           // (s/beta - 1/(2 beta))^2
};
constexpr int kNumLossTypes = 11;

enum class Reduction : int32_t { None = 0, Mean = 1, Sum = 2 };

template <typename T>
struct LossParams {
  LossType type;
  T beta;         // reward scale; IPO also uses it inside the loss
  T clip;         // +inf means "no clipping" (the Python API's None)
  T temperature;  // sigmoid
  T slope;        // symmetric_ramp
  T epsilon;      // cdpo / rdpo
};

// Lane operations ---------------------------------------------------------------
//
// Every formula below is written once for a generic value type T: a scalar
// (float / double, on the host and the device) or, on the CPU, a SIMD vector
// (at::vec::Vectorized<float|double>, see csrc/cpu/sym_loss_kernel.h, which
// specialises LaneOps). Comparisons yield LaneOps<T>::Mask (bool for scalars);
// select/exp/log1p go through LaneOps. All comparisons are ordered, so NaN
// takes the "false" side of each select and propagates through the arithmetic.

template <typename T>
struct LaneOps {
  using Mask = bool;
  static SYMPO_HD T select(bool m, T a, T b) { return m ? a : b; }
  static SYMPO_HD T exp(T x) { return std::exp(x); }
  static SYMPO_HD T log1p(T x) { return std::log1p(x); }
};

template <typename T>
SYMPO_HD T select(typename LaneOps<T>::Mask m, T a, T b) {
  return LaneOps<T>::select(m, a, b);
}

template <typename T>
SYMPO_HD T abs_nan(T x) {
  return select<T>(x < T(0), -x, x);
}

// Numerically stable helpers -----------------------------------------------------

template <typename T>
SYMPO_HD T stable_sigmoid(T x) {
  // One exp of a non-positive number, then a select: never overflows, has no
  // branch (no warp divergence; CPU loops vectorise), and NaN propagates.
  const T e = LaneOps<T>::exp(-abs_nan(x));
  return select<T>(x >= T(0), T(1), e) / (T(1) + e);
}

template <typename T>
SYMPO_HD T softplus(T x) {  // log(1 + exp(x)) without overflow
  const T pos = select<T>(x > T(0), x, T(0));
  return pos + LaneOps<T>::log1p(LaneOps<T>::exp(-abs_nan(x))) + (x - x);  // (x - x) keeps NaN
}

// Clamp that keeps NaN (std::min/max and fminf/fmaxf would not).
template <typename T>
SYMPO_HD T clamp_nan(T x, T lo, T hi) {
  return select<T>(x < lo, lo, select<T>(x > hi, hi, x));
}

// Same convention as torch.clamp's backward: gradient passes on [lo, hi].
template <typename T>
SYMPO_HD typename LaneOps<T>::Mask inside(T x, T lo, T hi) {
  return (x >= lo) & (x <= hi);  // '&', not '&&': no branch
}

// l(s) and dl/ds ------------------------------------------------------------------

template <typename T>
struct LossAndSlope {
  T loss;
  T dloss_ds;
};

// The loss type is a template parameter so a CPU loop over many pairs is
// compiled branch-free for one loss; loss_and_slope(s, p) below picks it at
// run time (a uniform branch on the GPU).
template <LossType L, typename T>
SYMPO_HD LossAndSlope<T> loss_and_slope(T s, const LossParams<T>& p) {
  if constexpr (L == LossType::Sigmoid) {
    const T q = stable_sigmoid<T>(-(p.temperature * s));
    return {q, -(p.temperature * q * (T(1) - q))};
  } else if constexpr (L == LossType::SymmetricRamp) {
    const T v = T(0.5) - p.slope * s;
    return {clamp_nan(v, T(0), T(1)), select<T>(inside(v, T(0), T(1)), -p.slope, T(0))};
  } else if constexpr (L == LossType::Unhinged) {
    return {T(1) - s, T(-1)};
  } else if constexpr (L == LossType::Logistic) {
    return {softplus<T>(-s), -stable_sigmoid<T>(-s)};
  } else if constexpr (L == LossType::Hinge) {
    const T v = T(1) - s;
    return {select<T>(v < T(0), T(0), v), select<T>(v >= T(0), T(-1), T(0))};
  } else if constexpr (L == LossType::Square) {
    const T v = T(1) - s;
    return {v * v, T(-2) * v};
  } else if constexpr (L == LossType::Exp) {
    const T e = LaneOps<T>::exp(-s);
    return {e, -e};
  } else if constexpr (L == LossType::Ramp) {
    const T v = T(1) - s;
    return {clamp_nan(v, T(0), T(1)), select<T>(inside(v, T(0), T(1)), T(-1), T(0))};
  } else if constexpr (L == LossType::CDPO) {
    const T e = p.epsilon;
    return {(T(1) - e) * softplus<T>(-s) + e * softplus<T>(s),
            e * stable_sigmoid<T>(s) - (T(1) - e) * stable_sigmoid<T>(-s)};
  } else if constexpr (L == LossType::RDPO) {
    const T e = p.epsilon;
    const T inv = T(1) / (T(1) - T(2) * e);
    return {((T(1) - e) * softplus<T>(-s) - e * softplus<T>(s)) * inv,
            -(((T(1) - e) * stable_sigmoid<T>(-s) + e * stable_sigmoid<T>(s)) * inv)};
  } else {
    static_assert(L == LossType::IPO, "every LossType needs a formula");
    const T v = s / p.beta - T(0.5) / p.beta;
    return {v * v, T(2) * v / p.beta};
  }
}

// Calls f.template operator()<L>() with the loss type as a compile-time
// constant (host only).
template <typename F>
inline decltype(auto) with_loss_type(LossType type, F&& f) {
  switch (type) {
    case LossType::Sigmoid: return f.template operator()<LossType::Sigmoid>();
    case LossType::SymmetricRamp: return f.template operator()<LossType::SymmetricRamp>();
    case LossType::Unhinged: return f.template operator()<LossType::Unhinged>();
    case LossType::Logistic: return f.template operator()<LossType::Logistic>();
    case LossType::Hinge: return f.template operator()<LossType::Hinge>();
    case LossType::Square: return f.template operator()<LossType::Square>();
    case LossType::Exp: return f.template operator()<LossType::Exp>();
    case LossType::Ramp: return f.template operator()<LossType::Ramp>();
    case LossType::CDPO: return f.template operator()<LossType::CDPO>();
    case LossType::RDPO: return f.template operator()<LossType::RDPO>();
    case LossType::IPO: break;
  }
  return f.template operator()<LossType::IPO>();  // the type was validated on the host
}

template <typename T>
SYMPO_HD LossAndSlope<T> loss_and_slope(T s, const LossParams<T>& p) {
  switch (p.type) {
    case LossType::Sigmoid: return loss_and_slope<LossType::Sigmoid>(s, p);
    case LossType::SymmetricRamp: return loss_and_slope<LossType::SymmetricRamp>(s, p);
    case LossType::Unhinged: return loss_and_slope<LossType::Unhinged>(s, p);
    case LossType::Logistic: return loss_and_slope<LossType::Logistic>(s, p);
    case LossType::Hinge: return loss_and_slope<LossType::Hinge>(s, p);
    case LossType::Square: return loss_and_slope<LossType::Square>(s, p);
    case LossType::Exp: return loss_and_slope<LossType::Exp>(s, p);
    case LossType::Ramp: return loss_and_slope<LossType::Ramp>(s, p);
    case LossType::CDPO: return loss_and_slope<LossType::CDPO>(s, p);
    case LossType::RDPO: return loss_and_slope<LossType::RDPO>(s, p);
    case LossType::IPO: return loss_and_slope<LossType::IPO>(s, p);
  }
  return {T(NAN), T(NAN)};  // unreachable: the type was validated on the host
}

// One preference pair ---------------------------------------------------------

template <typename T>
struct PairResult {
  T loss;             // weight * l(s); NaN for an invalid label or weight
  T dloss_dchosen;    // d loss / d policy_chosen_logps  (= -d loss / d ref_chosen)
  T dloss_drejected;  // d loss / d policy_rejected_logps (= -d loss / d ref_rejected)
  T chosen_reward;    // after clipping
  T rejected_reward;
  T margin;           // chosen_reward - rejected_reward (before the label flip)
};

// Reward of one response and the derivative of the (clipped) reward w.r.t. the
// policy log-prob. "No clipping" is clip = +inf, so there is no branch here
// (the CPU loop vectorises); a clamped reward has no gradient.
template <typename T>
SYMPO_HD void clipped_reward(T policy, T ref, const LossParams<T>& p, T& reward, T& dreward) {
  const T r = p.beta * (policy - ref);
  reward = clamp_nan(r, -p.clip, p.clip);
  dreward = select<T>(inside(r, -p.clip, p.clip), p.beta, T(0));
}

// label: 1 = the first ("chosen") response is preferred, 0 = the second.
// Anything else (or a negative weight) makes the pair's loss NaN: the host
// rejects such values with an error where it can check them without a
// device synchronisation, and the device never silently uses them.
// kLoss < 0: the loss type is read from p at run time; otherwise it is fixed.
template <typename T, int kLoss = -1>
SYMPO_HD PairResult<T> compute_pair(T policy_chosen, T ref_chosen, T policy_rejected,
                                    T ref_rejected, T label, T weight,
                                    const LossParams<T>& p) {
  PairResult<T> out;
  T dchosen, drejected;
  clipped_reward(policy_chosen, ref_chosen, p, out.chosen_reward, dchosen);
  clipped_reward(policy_rejected, ref_rejected, p, out.rejected_reward, drejected);
  out.margin = out.chosen_reward - out.rejected_reward;

  const typename LaneOps<T>::Mask is_zero = label == T(0);
  const typename LaneOps<T>::Mask valid = (is_zero | (label == T(1))) & (weight >= T(0));
  const T sign = select<T>(is_zero, T(-1), T(1));
  LossAndSlope<T> l;
  if constexpr (kLoss < 0) {
    l = loss_and_slope(sign * out.margin, p);
  } else {
    l = loss_and_slope<static_cast<LossType>(kLoss)>(sign * out.margin, p);
  }
  const T g = weight * l.dloss_ds * sign;  // d loss / d margin
  const T nan = T(NAN);
  out.loss = select<T>(valid, weight * l.loss, nan);
  out.dloss_dchosen = select<T>(valid, g * dchosen, nan);
  out.dloss_drejected = select<T>(valid, -(g * drejected), nan);
  return out;
}

}  // namespace sympo
