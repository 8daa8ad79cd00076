// The batch (AOT) losses' CPU kernel (what it computes: csrc/cpu/sym_loss_batch.h),
// compiled once per instruction set with the pair-level kernels:
// csrc/cpu/sym_loss_kernel_<isa>.cpp include it after sym_loss_kernel.h, whose
// tile readers and SIMD lanes (the cDPO math of sympo/losses.h) it reuses.
//
// Three steps, each writing its outputs once:
//  1. per row (u and v, one task each): read the inputs a tile at a time, compute
//     the row's values (vector lanes) and write (key, index) items, counting the
//     radix histograms of every pass in the same loop;
//  2. per row: a stable LSD radix sort of the items (11-bit digits: 3 passes for
//     float keys, 6 for double; a pass whose digit is the same for every item is
//     skipped), so ties keep the pairs' order, as torch.sort(stable=True) does;
//  3. over the sorted positions (blocks in parallel): decode both rows' values,
//     compute cDPO with the vector lanes, sum the loss (fixed block order: the
//     same value for any thread count) and scatter each derivative to its pair's
//     row of grad_coef (the index and label sign travel with the item).
#pragma once

#include <cstring>
#include <memory>
#include <type_traits>

#include "sym_loss_batch.h"
#include "sym_loss_kernel.h"

namespace sympo {
namespace CPU_CAPABILITY {

template <typename T>
using KeyBits = std::conditional_t<std::is_same_v<T, double>, uint64_t, uint32_t>;

template <typename B>
struct SortItem {
  B key;             // sort_key of the value
  uint32_t payload;  // the pair's index, | kLabelZero for a pair with label 0
};

constexpr uint32_t kLabelZero = 0x80000000u;
constexpr int kRadixBits = 8;
constexpr int kBuckets = 1 << kRadixBits;
template <typename T>
constexpr int kRadixPasses = (8 * static_cast<int>(sizeof(T)) + kRadixBits - 1) / kRadixBits;
// Below this many pairs both rows are sorted on the calling thread.
constexpr int64_t kParallelSortMin = 4096;

// An order-preserving map to unsigned integers, in torch.sort's order: -0 and +0
// get one key (they compare equal, so they tie) and every NaN the largest (last).
template <typename T>
inline KeyBits<T> sort_key(T x) {
  using B = KeyBits<T>;
  constexpr B sign = B(1) << (8 * sizeof(B) - 1);
  const T y = x == T(0) ? T(0) : x;
  B b;
  std::memcpy(&b, &y, sizeof b);
  const B k = (b & sign) ? ~b : (b | sign);
  return x != x ? ~B(0) : k;
}

// The value of a key (-0 comes back as +0, a NaN as a NaN).
template <typename T>
inline T key_value(KeyBits<T> k) {
  using B = KeyBits<T>;
  constexpr B sign = B(1) << (8 * sizeof(B) - 1);
  const B b = (k & sign) ? (k & ~sign) : ~k;
  T x;
  std::memcpy(&x, &b, sizeof x);
  return x;
}

template <typename B>
inline uint32_t digit(B key, int pass) {
  return static_cast<uint32_t>(key >> (pass * kRadixBits)) & (kBuckets - 1);
}

// Step 1 for one row (0: u, 1: v): items[i] = (key of the row's value, i), and the
// histograms of every radix pass. Returns whether a label outside {0, 1} was read.
template <typename T>
int build_row(const SymLossBatchArgs& a, int row, SortItem<KeyBits<T>>* items,
              uint32_t (*hist)[kBuckets]) {
  using Vec = Vectorized<T>;
  constexpr int64_t W = Vec::size();
  const bool paired = a.loss == BatchLoss::Aot;
  // aot: row 0 = pc - pr, row 1 = rc - rr (times the label sign);
  // aot_unpaired: pc - rc and pr - rr, swapped for label 0.
  const StridedIn& x0 = paired ? (row == 0 ? a.policy_chosen : a.ref_chosen) : a.policy_chosen;
  const StridedIn& y0 = paired ? (row == 0 ? a.policy_rejected : a.ref_rejected) : a.ref_chosen;
  const StridedIn& x1 = a.policy_rejected;
  const StridedIn& y1 = a.ref_rejected;
  TileInput<T> x0_in(x0, T(0)), y0_in(y0, T(0)), x1_in(x1, T(0)), y1_in(y1, T(0));
  TileInput<T, ValueCheck::Label> lab_in(a.labels, T(1));
  alignas(64) T val[kTile];
  int bad = 0, unused = 0;
  for (int64_t t0 = 0; t0 < a.n; t0 += kTile) {
    const int64_t len = std::min(kTile, a.n - t0);
    const T* lab = lab_in.tile(t0, len, bad);
    const T* xa = x0_in.tile(t0, len, unused);
    const T* ya = y0_in.tile(t0, len, unused);
    const T* xb = paired ? nullptr : x1_in.tile(t0, len, unused);
    const T* yb = paired ? nullptr : y1_in.tile(t0, len, unused);
    for (int64_t j = 0; j < len; j += W) {
      const int c = static_cast<int>(std::min(W, len - j));
      const Vec zero = Vec::loadu(lab + j, c) == Vec(T(0));  // label 0: all-ones lanes
      const Vec da = Vec::loadu(xa + j, c) - Vec::loadu(ya + j, c);
      Vec v;
      if (paired) {
        v = Vec::blendv(da, -da, zero);  // times the sign of the label (exact)
      } else {
        const Vec db = Vec::loadu(xb + j, c) - Vec::loadu(yb + j, c);
        v = row == 0 ? Vec::blendv(da, db, zero) : Vec::blendv(db, da, zero);
      }
      v.store(val + j, c);
    }
    for (int64_t j = 0; j < len; ++j) {
      const KeyBits<T> key = sort_key(val[j]);
      const uint32_t flag = lab[j] == T(0) ? kLabelZero : 0u;
      items[t0 + j] = {key, static_cast<uint32_t>(t0 + j) | flag};
      for (int p = 0; p < kRadixPasses<T>; ++p) ++hist[p][digit(key, p)];
    }
  }
  return bad;
}

// Step 2: a stable LSD radix sort of a[0, n) (b: scratch of the same size);
// returns the buffer that holds the sorted items.
template <typename T>
SortItem<KeyBits<T>>* radix_sort(SortItem<KeyBits<T>>* a, SortItem<KeyBits<T>>* b, int64_t n,
                                 uint32_t (*hist)[kBuckets]) {
  for (int p = 0; p < kRadixPasses<T>; ++p) {
    uint32_t* h = hist[p];
    if (n == 0 || h[digit(a[0].key, p)] == static_cast<uint32_t>(n)) continue;  // moves nothing
    uint32_t sum = 0;
    for (int d = 0; d < kBuckets; ++d) {
      const uint32_t count = h[d];
      h[d] = sum;
      sum += count;
    }
    for (int64_t i = 0; i < n; ++i) {
      const SortItem<KeyBits<T>> item = a[i];
      b[h[digit(item.key, p)]++] = item;
    }
    std::swap(a, b);
  }
  return a;
}

// Step 3 over the sorted positions [i0, i1): the block's loss sum (lane-wise fp64
// accumulators, as forward_block), grad_coef scattered to the pairs.
template <typename T, bool kPaired>
double loss_block(const SymLossBatchArgs& a, const LossParams<Lanes<T>>& pv,
                  const SortItem<KeyBits<T>>* su, const SortItem<KeyBits<T>>* sv, int64_t i0,
                  int64_t i1) {
  using Vec = Lanes<T>;
  constexpr int64_t W = Vec::size();
  constexpr int kCdpo = static_cast<int>(LossType::CDPO);
  const int64_t n = a.n;
  const Vec scale(
      static_cast<T>(a.reduction == Reduction::Mean ? 1.0 / static_cast<double>(n) : 1.0));
  T* coef = static_cast<T*>(a.grad_coef);
  alignas(64) T u[kTile], v[kTile], du[kTile], dv[kTile], tile_loss[kTile];
  alignas(64) double acc[W] = {};
  for (int64_t t0 = i0; t0 < i1; t0 += kTile) {
    const int64_t len = std::min(kTile, i1 - t0);
    for (int64_t j = 0; j < len; ++j) {
      u[j] = key_value<T>(su[t0 + j].key);
      v[j] = key_value<T>(sv[t0 + j].key);
    }
    for (int64_t j = 0; j < len; j += W) {
      const int c = static_cast<int>(std::min(W, len - j));
      // cDPO of the sorted pair, as the pair-level kernel computes it for
      // (policy_chosen, policy_rejected) = (u, v) without references.
      const PairResult<Vec> r =
          compute_pair<Vec, kCdpo>(Vec::loadu(u + j, c), Vec(T(0)), Vec::loadu(v + j, c), Vec(T(0)),
                                   Vec(T(1)), Vec(T(1)), pv);
      (r.dloss_dchosen * scale).store(du + j, c);
      (r.dloss_drejected * scale).store(dv + j, c);
      r.loss.store(tile_loss + j, c);
    }
    for (int64_t j = 0; j < len; ++j) {
      const uint32_t pu = su[t0 + j].payload, pw = sv[t0 + j].payload;
      const int64_t iu = pu & ~kLabelZero, iv = pw & ~kLabelZero;
      const bool zu = (pu & kLabelZero) != 0, zv = (pw & kLabelZero) != 0;
      if constexpr (kPaired) {  // d/d(pc - pr) and d/d(rc - rr): the label sign again
        coef[iu] = zu ? -du[j] : du[j];
        coef[n + iv] = zv ? -dv[j] : dv[j];
      } else {  // label 0 took u from the rejected response and v from the chosen one
        coef[(zu ? n : 0) + iu] = du[j];
        coef[(zv ? 0 : n) + iv] = dv[j];
      }
    }
    const int64_t padded = (len + W - 1) / W * W;
    std::fill(tile_loss + len, tile_loss + padded, T(0));
    for (int64_t j = 0; j < padded; j += W) {
      for (int64_t k = 0; k < W; ++k) acc[k] += static_cast<double>(tile_loss[j + k]);
    }
  }
  double sum = 0.0;
  for (int64_t k = 0; k < W; ++k) sum += acc[k];
  return sum;
}

template <typename T>
void batch_forward(const SymLossBatchArgs& a) {
  using Item = SortItem<KeyBits<T>>;
  const int64_t n = a.n;
  T* loss = static_cast<T*>(a.loss_out);
  if (n == 0) {  // mean of nothing: NaN (torch.mean of an empty tensor); sum: 0
    *loss = a.reduction == Reduction::Mean ? T(NAN) : T(0);
    return;
  }
  // Per row: the items, a scratch buffer, the histograms of every pass.
  std::unique_ptr<Item[]> buf(new Item[static_cast<size_t>(4 * n)]);
  std::unique_ptr<uint32_t[][kBuckets]> hist(new uint32_t[2 * kRadixPasses<T>][kBuckets]());
  Item* sorted[2] = {nullptr, nullptr};
  int bad[2] = {0, 0};
  at::parallel_for(0, 2, n >= kParallelSortMin ? 1 : 2, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      Item* items = buf.get() + 2 * r * n;
      uint32_t (*h)[kBuckets] = hist.get() + r * kRadixPasses<T>;
      bad[r] = build_row<T>(a, static_cast<int>(r), items, h);
      sorted[r] = radix_sort<T>(items, items + n, n, h);
    }
  });
  TORCH_CHECK(!bad[0] && !bad[1],
              "sym_loss: labels must be 0 or 1 for every pair (1: the first response is "
              "preferred, 0: the second); found other values");
  LossParams<T> p{T(a.beta), T(INFINITY), 1, {}};
  p.term[0] = prepare_term<T>(LossType::CDPO, a.weight, a.epsilon, a.beta);
  const LossParams<Lanes<T>> pv = broadcast(p);
  const int64_t num_blocks = (n + kBlock - 1) / kBlock;
  std::vector<double> sums(static_cast<size_t>(num_blocks));
  const bool paired = a.loss == BatchLoss::Aot;
  at::parallel_for(0, num_blocks, kBlocksPerTask, [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) {
      const int64_t i0 = b * kBlock, i1 = std::min(n, (b + 1) * kBlock);
      sums[static_cast<size_t>(b)] =
          paired ? loss_block<T, true>(a, pv, sorted[0], sorted[1], i0, i1)
                 : loss_block<T, false>(a, pv, sorted[0], sorted[1], i0, i1);
    }
  });
  double total = 0.0;
  for (double s : sums) total += s;
  *loss = static_cast<T>(a.reduction == Reduction::Mean ? total / static_cast<double>(n) : total);
}

inline void sym_loss_batch_forward(const SymLossBatchArgs& a) {
  a.use_double ? batch_forward<double>(a) : batch_forward<float>(a);
}

}  // namespace CPU_CAPABILITY
}  // namespace sympo
