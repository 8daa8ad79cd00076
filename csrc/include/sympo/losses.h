// The math of every pair-level loss and its derivatives, in ONE place.
//
// Everything here is a __host__ __device__ inline function so the CPU kernel
// (csrc/cpu/sym_loss_kernel.h) and the CUDA kernel (csrc/cuda/sym_loss_cuda.cu)
// compute bit-for-bit the same formulas. The list of losses is
// sympo/loss_list.h; this file gives each one its formula.
//
// Special values (documented in README.md, "## The losses"):
//  * NaN in, NaN out: every comparison is ordered, so NaN takes the "false" side
//    of each select and propagates (fminf/fmaxf would silently drop it).
//  * An infinite margin or reward gives the limit of the formula: the loss's
//    limit (possibly +-inf) and the limit of its derivative (0 where the loss
//    saturates). Products such as 0 * inf that the limit resolves to 0 are
//    written with mul0(); an undefined limit (inf - inf) gives NaN.
#pragma once

#include <cmath>
#include <cstdint>

#include "sympo/loss_list.h"

#if defined(__CUDACC__) || defined(__HIPCC__)
#define SYMPO_HD __host__ __device__ __forceinline__
#else
#define SYMPO_HD inline
#endif

namespace sympo {

// Generated from the list: the order is the index of the name table.
enum class LossType : int32_t {
#define SYMPO_ENUM(E, name, kind, param) E,
  SYMPO_LOSS_LIST(SYMPO_ENUM)
#undef SYMPO_ENUM
};

#define SYMPO_COUNT(E, name, kind, param) +1
constexpr int kNumLossTypes = 0 SYMPO_LOSS_LIST(SYMPO_COUNT);
#undef SYMPO_COUNT

// At most this many losses in one weighted combination (one launch for all).
constexpr int kMaxTerms = 8;

template <LossType L>
inline constexpr LossKind kKindOf = [] {
#define SYMPO_KIND(E, name, kind, param) \
  if (L == LossType::E) return LossKind::kind;
  SYMPO_LOSS_LIST(SYMPO_KIND)
#undef SYMPO_KIND
  return LossKind::Margin;
}();

enum class Reduction : int32_t { None = 0, Mean = 1, Sum = 2 };

// One term of the (possibly weighted, multi-loss) objective, in the math type.
// k0 / k1 are constants derived once from the parameter (see prepare_term).
template <typename T>
struct TermParams {
  LossType type;
  T weight;  // the term's weight in the combination (1 for a single loss)
  T beta;    // reward scale; IPO and SPPO also use it inside the loss
  T param;   // the loss's own parameter (temperature, slope, epsilon, ...)
  T k0, k1;
};

template <typename T>
struct LossParams {
  T beta;
  T clip;  // +inf means "no clipping" (the Python API's None)
  int num_terms;
  TermParams<T> term[kMaxTerms];
};

// Per-term constants, computed once in the math type (host side).
template <typename T>
TermParams<T> prepare_term(LossType type, double weight, double param, double beta) {
  TermParams<T> t{type, T(weight), T(beta), T(param), T(0), T(0)};
  const T e = t.param;
  switch (type) {
    case LossType::RDPO: t.k0 = T(1) / (T(1) - T(2) * e); break;
    case LossType::ROPO: {  // 4a/(a+1)^2 and 4a^2/(a+1)^2, without overflow for large a
      const T q = e / (e + T(1));
      t.k0 = T(4) * q / (e + T(1));
      t.k1 = T(4) * q * q;
      break;
    }
    case LossType::ExoPair:  // -log(1 - eps) and -log(eps)
      t.k0 = -std::log1p(-e);
      t.k1 = -std::log(e);
      break;
    case LossType::DiscoPOP:  // 1/tau, and lim_{s -> -inf} exp(-s) sigmoid(s / tau)
      t.k0 = T(1) / e;
      t.k1 = e < T(1) ? T(0) : (e == T(1) ? T(1) : T(INFINITY));
      break;
    default: break;
  }
  return t;
}

// Lane operations ---------------------------------------------------------------
//
// Every formula below is written once for a generic value type T: a scalar
// (float / double, on the host and the device) or, on the CPU, a SIMD vector
// (at::vec::Vectorized<float|double>, see csrc/cpu/sym_loss_kernel.h, which
// specialises LaneOps). Comparisons yield LaneOps<T>::Mask (bool for scalars);
// select/exp/log1p_unit go through LaneOps.

template <typename T>
struct LaneOps {
  using Mask = bool;
  static SYMPO_HD T select(bool m, T a, T b) { return m ? a : b; }
  static SYMPO_HD T exp(T x) { return std::exp(x); }
  // log1p(x) for x in [0, 1] or NaN: the only arguments the formulas give it
  // (x = exp(-|y|)), which lets the float SIMD lanes use log1p_unit_poly below.
  static SYMPO_HD T log1p_unit(T x) { return std::log1p(x); }
  // For exp_f32_poly (used by the float SIMD lanes): round to nearest, and p * 2^n.
  static SYMPO_HD T round(T x) { return std::nearbyint(x); }
  static SYMPO_HD T ldexp(T p, T n) { return std::ldexp(p, static_cast<int>(n)); }
};

template <typename T>
SYMPO_HD T select(typename LaneOps<T>::Mask m, T a, T b) {
  return LaneOps<T>::select(m, a, b);
}

template <typename T>
SYMPO_HD T abs_nan(T x) {
  return select<T>(x < T(0), -x, x);
}

// a * b, but 0 where a == 0 (so 0 * inf is the 0 the limit gives).
template <typename T>
SYMPO_HD T mul0(T a, T b) {
  return select<T>(a == T(0), T(0), a * b);
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
SYMPO_HD T softplus(T x) {  // log(1 + exp(x)) without overflow; +inf -> inf, -inf -> 0
  const T pos = select<T>(x > T(0), x, T(0));
  return pos + LaneOps<T>::log1p_unit(LaneOps<T>::exp(-abs_nan(x)));  // NaN: exp(NaN) is NaN
}

// softplus(+-x) and sigmoid(+-x) from ONE exp and ONE log1p (the same values as
// softplus() and stable_sigmoid() above: most losses need several of the four).
template <typename T>
struct Logistic {
  T sp_pos, sp_neg;    // softplus(x), softplus(-x)
  T sig_pos, sig_neg;  // sigmoid(x), sigmoid(-x)
};

template <typename T>
SYMPO_HD Logistic<T> logistic_parts(T x) {
  const T e = LaneOps<T>::exp(-abs_nan(x));
  const T l = LaneOps<T>::log1p_unit(e);
  const T inv = T(1) / (T(1) + e);
  return {select<T>(x > T(0), x, T(0)) + l, select<T>(-x > T(0), -x, T(0)) + l,
          select<T>(x >= T(0), T(1), e) * inv, select<T>(-x >= T(0), T(1), e) * inv};
}

// Clamp that keeps NaN (std::min/max and fminf/fmaxf would not).
template <typename T>
SYMPO_HD T clamp_nan(T x, T lo, T hi) {
  return select<T>(x < lo, lo, select<T>(x > hi, hi, x));
}

// log1p(e) for e in [0, 1] (NaN propagates; 0 gives 0 exactly) as e * q(e), q the
// degree-9 polynomial interpolating log1p(e) / e at the Chebyshev nodes of [0, 1].
// In float32 it is within 1.4 ulp of the exact value (Sleef's log1pf: 1 ulp) at a
// fraction of the cost: no range reduction, no division, 10 multiply-adds. The
// float SIMD lanes of the CPU kernel use it (csrc/cpu/sym_loss_kernel.h); scalars
// (the CUDA kernel, the CPU's scalar-lane path) use log1pf, and doubles keep
// their full-precision log1p.
template <typename T>
SYMPO_HD T log1p_unit_poly(T e) {
  T q = T(-0.0031760570127516985f);
  q = q * e + T(0.019542526453733444f);
  q = q * e + T(-0.056373611092567444f);
  q = q * e + T(0.10543623566627502f);
  q = q * e + T(-0.1526966691017151f);
  q = q * e + T(0.1966327428817749f);
  q = q * e + T(-0.24951615929603577f);
  q = q * e + T(0.33329710364341736f);
  q = q * e + T(-0.49999892711639404f);
  q = q * e + T(1.0f);
  return e * q;
}

// exp(x) in float32 as 2^n exp(r), x = n ln2 + r with |r| <= ln2 / 2 (Cody-Waite
// split of ln2), exp(r) by Cephes' degree-5 polynomial: within 1 ulp, NaN
// propagates, x beyond the clamp gives 0 / inf as exp does. Inline arithmetic: an
// out-of-line Sleef call makes the compiler spill every live vector register around
// it. Used by the float SIMD lanes (csrc/cpu/sym_loss_kernel.h, through LaneOps).
template <typename T>
SYMPO_HD T exp_f32_poly(T x) {
  x = clamp_nan(x, T(-104.0f), T(89.0f));  // exp(-104) rounds to 0, exp(89) to inf
  const T n = LaneOps<T>::round(x * T(1.44269504088896341f));
  const T r = (x - n * T(0.693359375f)) - n * T(-2.12194440e-4f);
  T p = T(1.9875691500e-4f);
  p = p * r + T(1.3981999507e-3f);
  p = p * r + T(8.3334519073e-3f);
  p = p * r + T(4.1665795894e-2f);
  p = p * r + T(1.6666665459e-1f);
  p = p * r + T(5.0000001201e-1f);
  return LaneOps<T>::ldexp(p * (r * r) + r + T(1.0f), n);
}

// d clamp(x, lo, hi) / dx for the losses' kinks: 1 inside, 0 outside and, AT a bound,
// 0.5 (the midpoint of the two one-sided derivatives, the one subgradient convention
// of every loss kink; the reference's clamp_midpoint in sympo_ext/reference.py is the
// same). NaN: 0 (the pair's loss is NaN anyway).
template <typename T>
SYMPO_HD T clamp_slope(T x, T lo, T hi) {
  return select<T>((x > lo) & (x < hi), T(1), select<T>((x == lo) | (x == hi), T(0.5), T(0)));
}

// The formulas --------------------------------------------------------------------

template <typename T>
struct LossAndSlope {
  T loss;
  T dloss_ds;
};

// l(s) and dl/ds of a Margin loss.
template <LossType L, typename T, typename P>
SYMPO_HD LossAndSlope<T> margin_loss(T s, const P& p) {
  if constexpr (L == LossType::Sigmoid) {  // 1 / (1 + exp(temperature * s))
    const T q = stable_sigmoid<T>(-(p.param * s));
    return {q, -(p.param * q * (T(1) - q))};
  } else if constexpr (L == LossType::SymmetricRamp) {
    const T v = T(0.5) - p.param * s;
    return {clamp_nan(v, T(0), T(1)), -(p.param * clamp_slope(v, T(0), T(1)))};
  } else if constexpr (L == LossType::Unhinged) {
    return {T(1) - s, T(-1)};
  } else if constexpr (L == LossType::Logistic) {
    const Logistic<T> g = logistic_parts(s);
    return {g.sp_neg, -g.sig_neg};
  } else if constexpr (L == LossType::Hinge) {
    const T v = T(1) - s;
    // The kink (v = 0) gets the midpoint -1/2; v = +inf (s = -inf) the limit -1.
    return {select<T>(v < T(0), T(0), v),
            select<T>(v > T(0), T(-1), select<T>(v == T(0), T(-0.5), T(0)))};
  } else if constexpr (L == LossType::Square) {
    const T v = T(1) - s;
    return {v * v, T(-2) * v};
  } else if constexpr (L == LossType::Exp) {
    const T e = LaneOps<T>::exp(-s);
    return {e, -e};
  } else if constexpr (L == LossType::Ramp) {
    const T v = T(1) - s;
    return {clamp_nan(v, T(0), T(1)), -clamp_slope(v, T(0), T(1))};
  } else if constexpr (L == LossType::CDPO) {
    const T e = p.param;
    const Logistic<T> g = logistic_parts(s);
    return {mul0(T(1) - e, g.sp_neg) + mul0(e, g.sp_pos), e * g.sig_pos - (T(1) - e) * g.sig_neg};
  } else if constexpr (L == LossType::RDPO) {
    const T e = p.param;
    const Logistic<T> g = logistic_parts(s);
    return {(mul0(T(1) - e, g.sp_neg) - mul0(e, g.sp_pos)) * p.k0,
            -(((T(1) - e) * g.sig_neg + e * g.sig_pos) * p.k0)};
  } else if constexpr (L == LossType::IPO) {  // (s/beta - 1/(2 beta))^2
    const T v = s / p.beta - T(0.5) / p.beta;
    return {v * v, T(2) * v / p.beta};
  } else if constexpr (L == LossType::ROPO) {  // k0 softplus(-s) + k1 sigmoid(-s)
    const Logistic<T> g = logistic_parts(s);
    return {mul0(p.k0, g.sp_neg) + p.k1 * g.sig_neg,
            -(p.k0 * g.sig_neg) - p.k1 * g.sig_neg * g.sig_pos};
  } else if constexpr (L == LossType::SimPO) {  // softplus(-(s - gamma))
    const Logistic<T> g = logistic_parts(s - p.param);
    return {g.sp_neg, -g.sig_neg};
  } else if constexpr (L == LossType::ExoPair) {
    // KL(Bernoulli(sigmoid(s)) || Bernoulli(1 - eps)) with k0 = -log(1-eps), k1 = -log(eps):
    // sigmoid(s) (k0 - softplus(-s)) + sigmoid(-s) (k1 - softplus(s)).
    const Logistic<T> g = logistic_parts(s);
    return {mul0(g.sig_pos, p.k0 - g.sp_neg) + mul0(g.sig_neg, p.k1 - g.sp_pos),
            mul0(g.sig_pos * g.sig_neg, s - (p.k1 - p.k0))};
  } else {
    static_assert(L == LossType::DiscoPOP, "every Margin loss needs a formula");
    // softplus(-s) (1 - m) + exp(-s) m with m = sigmoid(s / tau); exp(-s) m is
    // computed as exp(-s - softplus(-s / tau)) (no overflow), its s = -inf limit is k1.
    const Logistic<T> g = logistic_parts(s), gm = logistic_parts(s * p.k0);
    const T m = gm.sig_pos, om = gm.sig_neg, sp = g.sp_neg;
    const T e = select<T>(s == T(-INFINITY), p.k1, LaneOps<T>::exp(-s - gm.sp_neg));
    return {mul0(om, sp) + e,
            -(g.sig_neg * om) + mul0(e, p.k0 * om - T(1)) - mul0(m * om * p.k0, sp)};
  }
}

// l(c, r) of a loss, for the label-oriented rewards c (preferred response) and
// r (the other), with dl/dc and dl/dr. A Margin loss is l(c - r).
template <typename T>
struct PairLoss {
  T loss, dloss_dc, dloss_dr;
};

template <LossType L, typename T, typename P>
SYMPO_HD PairLoss<T> pair_loss(T c, T r, const P& p) {
  if constexpr (kKindOf<L> == LossKind::Margin) {
    const LossAndSlope<T> m = margin_loss<L, T>(c - r, p);
    return {m.loss, m.dloss_ds, -m.dloss_ds};
  } else if constexpr (L == LossType::NCAPair) {
    // softplus(-c) + softplus(c) / 2 + softplus(r) / 2
    const Logistic<T> gc = logistic_parts(c), gr = logistic_parts(r);
    return {gc.sp_neg + T(0.5) * gc.sp_pos + T(0.5) * gr.sp_pos, T(0.5) * gc.sig_pos - gc.sig_neg,
            T(0.5) * gr.sig_pos};
  } else if constexpr (L == LossType::BCOPair) {  // softplus(-c) + softplus(r)
    const Logistic<T> gc = logistic_parts(c), gr = logistic_parts(r);
    return {gc.sp_neg + gr.sp_pos, -gc.sig_neg, gr.sig_pos};
  } else if constexpr (L ==
                       LossType::SPPOHard) {  // (c/beta - 1/(2 beta))^2 + (r/beta + 1/(2 beta))^2
    const T a = c / p.beta - T(0.5) / p.beta, b = r / p.beta + T(0.5) / p.beta;
    return {a * a + b * b, T(2) * a / p.beta, T(2) * b / p.beta};
  } else if constexpr (L == LossType::APOZero) {  // sigmoid(-c) + sigmoid(r)
    const Logistic<T> gc = logistic_parts(c), gr = logistic_parts(r);
    return {gc.sig_neg + gr.sig_pos, -(gc.sig_neg * gc.sig_pos), gr.sig_pos * gr.sig_neg};
  } else {
    static_assert(L == LossType::APODown, "every Pair loss needs a formula");
    // sigmoid(c) + sigmoid(r - c)
    const Logistic<T> gc = logistic_parts(c), gd = logistic_parts(r - c);
    const T dd = gd.sig_pos * gd.sig_neg;
    return {gc.sig_pos + gd.sig_pos, gc.sig_pos * gc.sig_neg - dd, dd};
  }
}

// Calls f.template operator()<L>() with the loss type as a compile-time
// constant (host only).
template <typename F>
inline decltype(auto) with_loss_type(LossType type, F&& f) {
  switch (type) {
#define SYMPO_CASE(E, name, kind, param) \
  case LossType::E: return f.template operator()<LossType::E>();
    SYMPO_LOSS_LIST(SYMPO_CASE)
#undef SYMPO_CASE
  }
  return f.template operator()<LossType::Sigmoid>();  // unreachable: validated on the host
}

// The same with the loss type read at run time (a uniform branch on the GPU).
template <typename T, typename P>
SYMPO_HD PairLoss<T> pair_loss(T c, T r, const P& p) {
  switch (p.type) {
#define SYMPO_CASE(E, name, kind, param) \
  case LossType::E: return pair_loss<LossType::E, T>(c, r, p);
    SYMPO_LOSS_LIST(SYMPO_CASE)
#undef SYMPO_CASE
  }
  return {T(NAN), T(NAN), T(NAN)};  // unreachable: the type was validated on the host
}

// One preference pair ---------------------------------------------------------

template <typename T>
struct PairResult {
  T loss;             // weight * l; NaN for an invalid label or weight
  T unweighted_loss;  // l = sum_k w_k l_k (d loss / d weight); NaN for an invalid pair
  T dloss_dchosen;    // d loss / d policy_chosen_logps  (= -d loss / d ref_chosen)
  T dloss_drejected;  // d loss / d policy_rejected_logps (= -d loss / d ref_rejected)
  T chosen_reward;    // after clipping
  T rejected_reward;
  T margin;  // chosen_reward - rejected_reward (before the label flip)
};

// Reward of one response and the derivative of the (clipped) reward w.r.t. the
// policy log-prob. "No clipping" is clip = +inf, so there is no branch here
// (the CPU loop vectorises); a clamped reward has no gradient, and a reward AT
// +-clip half of it (the midpoint, as clamp_slope gives at every loss kink and the
// reference's clamp_midpoint). An infinite r has no bound to sit on: beta
// without clipping, 0 with. The slope is read off |r| (clip > 0): four comparisons,
// not the ten of clamp_slope and an infinity test, as the SIMD lanes spend most of their
// instructions on comparisons and selects.
template <typename T, typename P>
SYMPO_HD void clipped_reward(T policy, T ref, const P& p, T& reward, T& dreward) {
  const T r = p.beta * (policy - ref);
  reward = clamp_nan(r, -p.clip, p.clip);
  const T a = abs_nan(r);
  const T at_bound = select<T>(a == T(INFINITY), T(1), T(0.5));  // |r| = clip = inf: inside
  const T slope = select<T>(a < p.clip, T(1), select<T>(a == p.clip, at_bound, T(0)));
  // NaN keeps its NaN derivative (a constant-slope loss such as unhinged would
  // otherwise give a NaN pair a finite gradient).
  dreward = select<T>(r == r, p.beta * slope, r);
}

// label: 1 = the first ("chosen") response is preferred, 0 = the second (the
// two rewards swap roles). Anything else (or a negative weight) makes the
// pair's loss NaN: the host rejects such values with an error where it can
// check them without a device synchronisation, and the device never silently
// uses them. The objective is sum_k term[k].weight * l_k(c, r).
// kLoss < 0: the loss types are read from p at run time (any number of terms);
// otherwise p has one term of that type, fixed at compile time.
template <typename T, int kLoss = -1, typename P>
SYMPO_HD PairResult<T> compute_pair(T policy_chosen, T ref_chosen, T policy_rejected,
                                    T ref_rejected, T label, T weight, const P& p) {
  PairResult<T> out;
  T dchosen, drejected;
  clipped_reward(policy_chosen, ref_chosen, p, out.chosen_reward, dchosen);
  clipped_reward(policy_rejected, ref_rejected, p, out.rejected_reward, drejected);
  out.margin = out.chosen_reward - out.rejected_reward;

  const typename LaneOps<T>::Mask is_zero = label == T(0);
  const typename LaneOps<T>::Mask valid = (is_zero | (label == T(1))) & (weight >= T(0));
  const T c = select<T>(is_zero, out.rejected_reward, out.chosen_reward);  // preferred
  const T r = select<T>(is_zero, out.chosen_reward, out.rejected_reward);
  T loss, dc, dr;
  if constexpr (kLoss >= 0) {
    const PairLoss<T> l = pair_loss<static_cast<LossType>(kLoss), T>(c, r, p.term[0]);
    loss = p.term[0].weight * l.loss;
    dc = p.term[0].weight * l.dloss_dc;
    dr = p.term[0].weight * l.dloss_dr;
  } else {
    loss = dc = dr = T(0);
    for (int k = 0; k < p.num_terms; ++k) {
      const PairLoss<T> l = pair_loss<T>(c, r, p.term[k]);
      loss = loss + p.term[k].weight * l.loss;
      dc = dc + p.term[k].weight * l.dloss_dc;
      dr = dr + p.term[k].weight * l.dloss_dr;
    }
  }
  const T d_chosen = select<T>(is_zero, dr, dc);  // back to chosen / rejected order
  const T d_rejected = select<T>(is_zero, dc, dr);
  const T nan = T(NAN);
  out.unweighted_loss = select<T>(valid, loss, nan);
  out.loss = select<T>(valid, weight * loss, nan);
  out.dloss_dchosen = select<T>(valid, weight * d_chosen * dchosen, nan);
  out.dloss_drejected = select<T>(valid, weight * d_rejected * drejected, nan);
  return out;
}

}  // namespace sympo
