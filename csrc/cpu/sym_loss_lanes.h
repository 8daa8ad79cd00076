// The SIMD lane types of the pair-level loss CPU kernels (csrc/cpu/sym_loss_kernel.h):
// Lanes<T> is the value type the generic math of sympo/losses.h is instantiated for.
//
// Mostly ATen's at::vec::Vectorized<T>. The exception is float with AVX-512, where
// Vectorized's comparisons return a vector (the AVX2 convention) that every blendv
// converts back to a mask register: two extra port-5 instructions per comparison and
// per select, most of the losses' instruction count (they are selects over clamps
// and limits). F32x16 keeps comparisons in the AVX-512 mask registers instead; its
// arithmetic is the same instructions as Vectorized<float>'s, so results are the same.
#pragma once

#include <ATen/cpu/vec/vec.h>

#include <cmath>
#include <cstdint>
#include <type_traits>

#include "sympo/losses.h"

#ifndef CPU_CAPABILITY
#error "compile through csrc/cpu/sym_loss_kernel_<isa>.cpp, which sets CPU_CAPABILITY"
#endif

namespace sympo {

#if defined(CPU_CAPABILITY_AVX512) || defined(CPU_CAPABILITY_AVX2)
constexpr bool kInlineFloatMath = true;  // float exp / log1p as inline polynomials (sympo/losses.h)
#else
constexpr bool kInlineFloatMath = false;  // the generic build: ATen's per-element std:: functions
#endif

template <typename S>
struct LaneOps<at::vec::Vectorized<S>> {
  using V = at::vec::Vectorized<S>;
  using Mask = V;  // all-ones lanes where true (ATen's comparison operators)
  static constexpr bool kPoly = kInlineFloatMath && std::is_same_v<S, float>;
  static V select(const V& m, const V& a, const V& b) { return V::blendv(b, a, m); }
  // Doubles keep Sleef's full-precision functions (the tests' float64 tolerance).
  static V exp(const V& x) {
    if constexpr (kPoly) return exp_f32_poly(x);
    else return x.exp();
  }
  static V log1p_unit(const V& x) {
    if constexpr (kPoly)
      return log1p_unit_poly(x);  // Sleef's general log1pf costs several times more
    else return x.log1p();
  }
  static V round(const V& x) { return x.round(); }  // to nearest even
  // p * 2^n for integral n in [-150, 128] (exp_f32_poly's range).
  static V ldexp(const V& p, const V& n) {
#if defined(CPU_CAPABILITY_AVX512)
    if constexpr (std::is_same_v<S, float>) return V(_mm512_scalef_ps(p, n));
#elif defined(CPU_CAPABILITY_AVX2)
    if constexpr (std::is_same_v<S, float>) {
      // 2^n as two factors 2^n1 2^n2, each a normal float (n1, n2 in [-75, 64]), so
      // results in the subnormal range round once, like exp's.
      const __m256 n1 = _mm256_floor_ps(_mm256_mul_ps(n, _mm256_set1_ps(0.5f)));
      const __m256 n2 = _mm256_sub_ps(n, n1);
      auto pow2 = [](__m256 k) {
        const __m256i e = _mm256_add_epi32(_mm256_cvtps_epi32(k), _mm256_set1_epi32(127));
        return _mm256_castsi256_ps(_mm256_slli_epi32(e, 23));
      };
      return V(_mm256_mul_ps(_mm256_mul_ps(p, pow2(n1)), pow2(n2)));
    }
#endif
    alignas(64) S ps[V::size()], ns[V::size()];
    p.store(ps);
    n.store(ns);
    for (int64_t k = 0; k < V::size(); ++k) ps[k] = std::ldexp(ps[k], static_cast<int>(ns[k]));
    return V::loadu(ps);
  }
};

#if defined(CPU_CAPABILITY_AVX512)

// 16 float lanes whose comparisons give a mask register (the predicates are
// Vectorized<float>'s: ordered, so NaN compares false, except !=).
struct F32x16 {
  struct Mask {
    __mmask16 k;
    friend Mask operator&(Mask a, Mask b) { return {static_cast<__mmask16>(a.k & b.k)}; }
    friend Mask operator|(Mask a, Mask b) { return {static_cast<__mmask16>(a.k | b.k)}; }
  };
  using value_type = float;
  __m512 v;

  static constexpr int64_t size() { return 16; }
  F32x16() = default;
  F32x16(__m512 x) : v(x) {}
  F32x16(float s) : v(_mm512_set1_ps(s)) {}
  operator __m512() const { return v; }
  // The first `count` lanes (the rest are 0 / untouched); no access past them.
  static __mmask16 first(int64_t count) {
    return count >= 16 ? __mmask16(0xFFFF) : static_cast<__mmask16>((1u << count) - 1u);
  }
  static F32x16 loadu(const float* p, int64_t count = 16) {
    return _mm512_maskz_loadu_ps(first(count), p);
  }
  void store(float* p, int64_t count = 16) const { _mm512_mask_storeu_ps(p, first(count), v); }

  friend F32x16 operator+(F32x16 a, F32x16 b) { return _mm512_add_ps(a, b); }
  friend F32x16 operator-(F32x16 a, F32x16 b) { return _mm512_sub_ps(a, b); }
  friend F32x16 operator*(F32x16 a, F32x16 b) { return _mm512_mul_ps(a, b); }
  friend F32x16 operator/(F32x16 a, F32x16 b) { return _mm512_div_ps(a, b); }
  friend F32x16 operator-(F32x16 a) {  // flips the sign bit (NaN stays NaN), as Vectorized's
    return _mm512_castsi512_ps(
        _mm512_xor_si512(_mm512_castps_si512(a), _mm512_set1_epi32(static_cast<int>(0x80000000u))));
  }
  friend Mask operator<(F32x16 a, F32x16 b) { return {_mm512_cmp_ps_mask(a, b, _CMP_LT_OQ)}; }
  friend Mask operator<=(F32x16 a, F32x16 b) { return {_mm512_cmp_ps_mask(a, b, _CMP_LE_OQ)}; }
  friend Mask operator>(F32x16 a, F32x16 b) { return {_mm512_cmp_ps_mask(a, b, _CMP_GT_OQ)}; }
  friend Mask operator>=(F32x16 a, F32x16 b) { return {_mm512_cmp_ps_mask(a, b, _CMP_GE_OQ)}; }
  friend Mask operator==(F32x16 a, F32x16 b) { return {_mm512_cmp_ps_mask(a, b, _CMP_EQ_OQ)}; }
  friend Mask operator!=(F32x16 a, F32x16 b) { return {_mm512_cmp_ps_mask(a, b, _CMP_NEQ_UQ)}; }
};

template <>
struct LaneOps<F32x16> {
  using V = F32x16;
  using Mask = F32x16::Mask;
  static V select(Mask m, V a, V b) { return _mm512_mask_blend_ps(m.k, b, a); }
  static V exp(V x) { return exp_f32_poly(x); }
  static V log1p_unit(V x) { return log1p_unit_poly(x); }
  static V round(V x) {
    return _mm512_roundscale_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  }
  static V ldexp(V p, V n) { return _mm512_scalef_ps(p, n); }
};

template <typename T>
using Lanes = std::conditional_t<std::is_same_v<T, float>, F32x16, at::vec::Vectorized<T>>;

#else

template <typename T>
using Lanes = at::vec::Vectorized<T>;

#endif

}  // namespace sympo
