// CUDA kernels of the fused log-probs. The math is in sympo/logps_math.h,
// shared with the CPU kernels; this file only maps it onto threads.
//
// Row kernels: one block of kThreads per row (grid-stride over rows). Each
// thread walks the row in 16-byte packs (8 bf16/fp16, 4 fp32, 2 fp64) after a
// scalar head that reaches a 16-byte boundary, with a scalar tail, so any V,
// row stride and base pointer work; all offsets are int64. The forward keeps a
// per-thread online (max, sum of exp) and merges it across the block; the
// backward reads each element once and writes its gradient once (the same
// thread reads then writes, so in place is safe). No host synchronisation:
// labels outside [0, V) that are not ignore_index give NaN (logp and gradient)
// instead of a device assert.
//
// Sequence kernels: one block per sequence sums its token log-probs (fixed
// order: deterministic); one thread per row expands the per-sequence gradient.
#include <cuda_runtime.h>

#include <c10/util/BFloat16.h>
#include <c10/util/Half.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>

#include "sympo/logps_launch.h"

namespace sympo {
namespace {

constexpr int kThreads = 256;        // row kernels
constexpr int kSeqThreads = 128;     // per-sequence reduction
constexpr int kExpandThreads = 256;  // per-row expansion of the sequence gradient
constexpr int kUnroll = 4;           // 16-byte packs in flight per thread
constexpr int64_t kMaxGrid = int64_t(1) << 20;

void check_cuda(cudaError_t err, const char* what) {
  if (err != cudaSuccess) {
    throw std::runtime_error(std::string("sympo_ext CUDA error in ") + what + ": " +
                             cudaGetErrorString(err));
  }
}

unsigned int grid_for(int64_t items) {
  return static_cast<unsigned int>(std::max<int64_t>(1, std::min<int64_t>(items, kMaxGrid)));
}

// kernel<<<grid, threads>>>(args) on `stream`; a launch error names `what`.
template <typename Args>
void launch(void (*kernel)(Args), unsigned int grid, int threads, void* stream, const Args& args,
            const char* what) {
  kernel<<<grid, threads, 0, static_cast<cudaStream_t>(stream)>>>(args);
  check_cuda(cudaGetLastError(), what);
}

template <typename T>
struct alignas(16) Pack {
  static constexpr int kN = 16 / sizeof(T);
  T v[kN];
};

// Loads this thread's next kUnroll packs (those before npack), i0 the first:
// every load is in flight before any is used.
template <typename P>
__device__ __forceinline__ void load_packs(P (&p)[kUnroll], const P* xp, int64_t i0,
                                           int64_t npack) {
#pragma unroll
  for (int u = 0; u < kUnroll; ++u) {
    const int64_t i = i0 + int64_t(u) * kThreads;
    if (i < npack) p[u] = xp[i];
  }
}

template <typename T, typename Acc>
__device__ __forceinline__ Acc to_acc(T x) {
  return static_cast<Acc>(static_cast<float>(x));
}
template <>
__device__ __forceinline__ double to_acc<double, double>(double x) {
  return x;
}

// Number of leading elements before `p` reaches a 16-byte boundary (V when `p`
// is not even element-aligned, which a typed tensor never is).
template <typename T>
__device__ __forceinline__ int64_t head_elems(const void* p, int64_t vocab) {
  const uintptr_t addr = reinterpret_cast<uintptr_t>(p);
  if (addr % sizeof(T) != 0) return vocab;
  const int64_t head = static_cast<int64_t>(((16 - addr % 16) % 16) / sizeof(T));
  return head < vocab ? head : vocab;
}

template <typename Acc>
__device__ __forceinline__ MaxSum<Acc> shfl_xor(MaxSum<Acc> a, int lane_mask) {
  return {__shfl_xor_sync(0xffffffffu, a.m, lane_mask),
          __shfl_xor_sync(0xffffffffu, a.s, lane_mask)};
}

// Merge of every thread's pair; valid in all threads on return.
template <typename Acc>
__device__ MaxSum<Acc> block_max_sum(MaxSum<Acc> ms) {
  __shared__ Acc sm[kThreads / 32], ss[kThreads / 32];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) ms = max_sum_merge(ms, shfl_xor(ms, o));
  if (lane == 0) {
    sm[warp] = ms.m;
    ss[warp] = ms.s;
  }
  __syncthreads();
  ms = max_sum_empty<Acc>();
  for (int w = 0; w < kThreads / 32; ++w) ms = max_sum_merge(ms, MaxSum<Acc>{sm[w], ss[w]});
  __syncthreads();  // the next row may overwrite sm/ss
  return ms;
}

template <typename T, typename Acc>
__global__ void __launch_bounds__(kThreads) row_forward_kernel(const RowForwardArgs a) {
  using P = Pack<T>;
  constexpr int kN = P::kN;
  constexpr Acc kInf = std::numeric_limits<Acc>::infinity();
  const T* logits = static_cast<const T*>(a.logits);
  const int64_t vocab = a.vocab;
  for (int64_t r = blockIdx.x; r < a.rows; r += gridDim.x) {
    const T* x = logits + a.layout.offset(r);
    const int64_t head = head_elems<T>(x, vocab);
    const int64_t npack = (vocab - head) / kN;
    MaxSum<Acc> ms = max_sum_empty<Acc>();
    for (int64_t j = threadIdx.x; j < head; j += kThreads)
      ms = max_sum_add(ms, to_acc<T, Acc>(x[j]));

    // Packs: running max m and sum s; a pack larger than m rescales s once.
    Acc m = -kInf, s = Acc(0);
    bool bad = false;  // NaN or +inf seen
    const P* xp = reinterpret_cast<const P*>(x + head);
    for (int64_t i0 = threadIdx.x; i0 < npack; i0 += int64_t(kThreads) * kUnroll) {
      P p[kUnroll];
      load_packs(p, xp, i0, npack);
#pragma unroll
      for (int u = 0; u < kUnroll; ++u) {
        if (i0 + int64_t(u) * kThreads >= npack) break;
        Acc v[kN];
        Acc pm = -kInf;
#pragma unroll
        for (int k = 0; k < kN; ++k) {
          v[k] = to_acc<T, Acc>(p[u].v[k]);
          pm = (v[k] > pm || v[k] != v[k]) ? v[k] : pm;
        }
        if (pm != pm || pm == kInf) {
          bad = true;
        } else if (pm != -kInf) {
          if (pm > m) {
            s *= exp_acc<Acc>(m - pm);  // m = -inf: s = 0 * 0
            m = pm;
          }
#pragma unroll
          for (int k = 0; k < kN; ++k) s += exp_acc<Acc>(v[k] - m);
        }
      }
    }
    if (bad) {
      m = s = std::numeric_limits<Acc>::quiet_NaN();
    }
    ms = max_sum_merge(ms, MaxSum<Acc>{m, s});
    for (int64_t j = head + npack * kN + threadIdx.x; j < vocab; j += kThreads) {
      ms = max_sum_add(ms, to_acc<T, Acc>(x[j]));
    }

    ms = block_max_sum(ms);
    if (threadIdx.x == 0) {
      const Acc lse = max_sum_lse(ms);
      static_cast<Acc*>(a.lse)[r] = lse;
      const int64_t y = a.labels[r];
      Acc out;
      if (!label_counted(y, a.ignore_index)) {
        out = Acc(0);
      } else if (!label_in_range(y, vocab)) {
        out = std::numeric_limits<Acc>::quiet_NaN();
      } else {
        out = target_logp(to_acc<T, Acc>(x[y]), lse);
      }
      static_cast<Acc*>(a.token_logps)[r] = out;
    }
  }
}

template <typename T, typename Acc>
__device__ __forceinline__ T grad_elem(Acc g, Acc x, Acc lse, int64_t j, int64_t y) {
  return static_cast<T>(logp_grad<Acc>(g, x, lse, j == y));
}

template <typename T, typename Acc>
__global__ void __launch_bounds__(kThreads) row_backward_kernel(const RowBackwardArgs a) {
  using P = Pack<T>;
  constexpr int kN = P::kN;
  const T* logits = static_cast<const T*>(a.logits);
  T* grad = static_cast<T*>(a.grad);
  const int64_t vocab = a.vocab;
  for (int64_t r = blockIdx.x; r < a.rows; r += gridDim.x) {
    const T* x = logits + a.layout.offset(r);
    T* out = grad + a.out_layout.offset(r);
    const int64_t y = a.labels[r];
    const Acc g = static_cast<const Acc*>(a.row_grad)[r];
    const Acc lse = static_cast<const Acc*>(a.lse)[r];
    // Ignored rows get 0 and invalid labels NaN, without reading the logits.
    const bool constant = !label_counted(y, a.ignore_index) || !label_in_range(y, vocab);
    if (constant) {
      const T c = label_counted(y, a.ignore_index)
                      ? static_cast<T>(std::numeric_limits<float>::quiet_NaN())
                      : static_cast<T>(0.0f);
      const int64_t head = head_elems<T>(out, vocab);
      const int64_t npack = (vocab - head) / kN;
      for (int64_t j = threadIdx.x; j < head; j += kThreads) out[j] = c;
      P cp;
#pragma unroll
      for (int k = 0; k < kN; ++k) cp.v[k] = c;
      P* op = reinterpret_cast<P*>(out + head);
      for (int64_t i = threadIdx.x; i < npack; i += kThreads) op[i] = cp;
      for (int64_t j = head + npack * kN + threadIdx.x; j < vocab; j += kThreads) out[j] = c;
      continue;
    }
    const int64_t target = y;
    const int64_t head = head_elems<T>(x, vocab);
    // Packs only when the output is misaligned the same way as the input.
    const bool packed = head == head_elems<T>(out, vocab);
    const int64_t npack = packed ? (vocab - head) / kN : 0;
    const int64_t scalar_begin = packed ? head + npack * kN : 0;
    if (packed) {
      for (int64_t j = threadIdx.x; j < head; j += kThreads) {
        out[j] = grad_elem<T, Acc>(g, to_acc<T, Acc>(x[j]), lse, j, target);
      }
      const P* xp = reinterpret_cast<const P*>(x + head);
      P* op = reinterpret_cast<P*>(out + head);
      for (int64_t i0 = threadIdx.x; i0 < npack; i0 += int64_t(kThreads) * kUnroll) {
        P p[kUnroll];
        load_packs(p, xp, i0, npack);
#pragma unroll
        for (int u = 0; u < kUnroll; ++u) {
          const int64_t i = i0 + int64_t(u) * kThreads;
          if (i >= npack) break;
          const int64_t j0 = head + i * kN;
          P o;
#pragma unroll
          for (int k = 0; k < kN; ++k) {
            o.v[k] = grad_elem<T, Acc>(g, to_acc<T, Acc>(p[u].v[k]), lse, j0 + k, target);
          }
          op[i] = o;
        }
      }
    }
    for (int64_t j = scalar_begin + threadIdx.x; j < vocab; j += kThreads) {
      out[j] = grad_elem<T, Acc>(g, to_acc<T, Acc>(x[j]), lse, j, target);
    }
  }
}

// Sum of a double and an int64 over the block; valid in thread 0.
__device__ void block_sum2(double& v, long long& c) {
  __shared__ double sv[kSeqThreads / 32];
  __shared__ long long sc[kSeqThreads / 32];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) {
    v += __shfl_down_sync(0xffffffffu, v, o);
    c += __shfl_down_sync(0xffffffffu, c, o);
  }
  __syncthreads();
  if (lane == 0) {
    sv[warp] = v;
    sc[warp] = c;
  }
  __syncthreads();
  if (threadIdx.x == 0) {
    v = 0.0;
    c = 0;
    for (int w = 0; w < kSeqThreads / 32; ++w) {
      v += sv[w];
      c += sc[w];
    }
  }
}

template <typename Acc>
__global__ void __launch_bounds__(kSeqThreads) seq_reduce_kernel(const SeqReduceArgs a) {
  const SeqArgs& s = a.seq;
  const Acc* tok = static_cast<const Acc*>(a.token_logps);
  for (int64_t n = blockIdx.x; n < s.nseq; n += gridDim.x) {
    const int64_t b = s.begin(n), e = s.end(n);
    const bool valid = b >= 0 && e >= b && e <= s.rows;  // device cu_seqlens are unchecked
    double sum = 0.0;
    long long count = 0;
    if (valid) {
      for (int64_t r = b + threadIdx.x; r < e; r += kSeqThreads) {
        sum += static_cast<double>(tok[r]);
        count += label_counted(s.labels[r], s.ignore_index) ? 1 : 0;
      }
    }
    block_sum2(sum, count);
    if (threadIdx.x == 0) {
      const Acc nan = std::numeric_limits<Acc>::quiet_NaN();
      static_cast<Acc*>(a.counts)[n] = valid ? static_cast<Acc>(count) : nan;
      static_cast<Acc*>(a.logps)[n] =
          valid ? static_cast<Acc>(sequence_result<double>(s.average, sum, double(count))) : nan;
    }
  }
}

template <typename Acc>
__global__ void seq_expand_kernel(const SeqExpandArgs a) {
  const SeqArgs& s = a.seq;
  const Acc* grad = static_cast<const Acc*>(a.grad);
  const Acc* counts = static_cast<const Acc*>(a.counts);
  Acc* row_grad = static_cast<Acc*>(a.row_grad);
  for (int64_t r = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; r < s.rows;
       r += int64_t(gridDim.x) * blockDim.x) {
    int64_t n;
    if (s.cu_seqlens == nullptr) {
      n = s.seq_len > 0 ? r / s.seq_len : -1;
    } else {  // last n with cu[n] <= r (upper bound - 1), over cu[0..nseq]
      int64_t lo = 0, hi = s.nseq + 1;
      while (lo < hi) {
        const int64_t mid = lo + (hi - lo) / 2;
        if (s.cu(mid) <= r) lo = mid + 1;
        else hi = mid;
      }
      n = lo - 1;
      if (n >= s.nseq || (n >= 0 && !(r < s.cu(n + 1)))) n = -1;
    }
    row_grad[r] =
        (n >= 0 && n < s.nseq) ? grad[n] * sequence_scale<Acc>(s.average, counts[n]) : Acc(0);
  }
}

}  // namespace

void logps_row_forward_cuda(const RowForwardArgs& a, void* stream) {
  if (a.rows == 0) return;
  with_logits_types(a.kind, [&]<typename T, typename Acc>() {
    launch(row_forward_kernel<T, Acc>, grid_for(a.rows), kThreads, stream, a,
           "row_forward_kernel launch");
  });
}

void logps_row_backward_cuda(const RowBackwardArgs& a, void* stream) {
  if (a.rows == 0) return;
  with_logits_types(a.kind, [&]<typename T, typename Acc>() {
    launch(row_backward_kernel<T, Acc>, grid_for(a.rows), kThreads, stream, a,
           "row_backward_kernel launch");
  });
}

void logps_seq_reduce_cuda(const SeqReduceArgs& a, void* stream) {
  if (a.seq.nseq == 0) return;
  with_acc_type(a.seq.use_double, [&]<typename Acc>() {
    launch(seq_reduce_kernel<Acc>, grid_for(a.seq.nseq), kSeqThreads, stream, a,
           "seq_reduce_kernel launch");
  });
}

void logps_seq_expand_cuda(const SeqExpandArgs& a, void* stream) {
  if (a.seq.rows == 0) return;
  with_acc_type(a.seq.use_double, [&]<typename Acc>() {
    launch(seq_expand_kernel<Acc>, grid_for((a.seq.rows + kExpandThreads - 1) / kExpandThreads),
           kExpandThreads, stream, a, "seq_expand_kernel launch");
  });
}

}  // namespace sympo
