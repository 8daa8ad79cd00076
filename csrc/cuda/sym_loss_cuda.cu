// CUDA kernels of the pair-level loss. The math is in sympo/losses.h, shared
// with the CPU kernel; this file only maps it onto threads.
//
// Forward is one launch: every thread computes its pairs' losses, gradient
// coefficients and rewards; for mean/sum each block writes a partial sum and
// the last block to finish (found with an atomic ticket) adds the partials in
// a fixed order. No atomics on floats, so the loss is deterministic; no host
// synchronisation anywhere.
#include <cuda_runtime.h>

#include <algorithm>
#include <stdexcept>
#include <string>

#include "sympo/sym_loss_launch.h"

namespace sympo {
namespace {

constexpr int kThreads = 256;
constexpr int kBlocksPerSM = 8;

void check_cuda(cudaError_t err, const char* what) {
  if (err != cudaSuccess) {
    throw std::runtime_error(std::string("sympo_ext CUDA error in ") + what + ": " +
                             cudaGetErrorString(err));
  }
}

int max_blocks(int device) {
  int sms = 0;
  check_cuda(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device),
             "cudaDeviceGetAttribute");
  return sms * kBlocksPerSM;
}

int64_t grid_for(int64_t n, int device) {
  return std::max<int64_t>(1, std::min<int64_t>((n + kThreads - 1) / kThreads, max_blocks(device)));
}

__device__ __forceinline__ double warp_sum(double v) {
#pragma unroll
  for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_down_sync(0xffffffffu, v, offset);
  return v;
}

// Sum of `v` over the block; the result is valid in thread 0.
__device__ double block_sum(double v) {
  __shared__ double warp_partials[kThreads / 32];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  __syncthreads();  // a previous call may still be reading warp_partials
  v = warp_sum(v);
  if (lane == 0) warp_partials[warp] = v;
  __syncthreads();
  v = threadIdx.x < kThreads / 32 ? warp_partials[threadIdx.x] : 0.0;
  if (warp == 0) v = warp_sum(v);
  return v;
}

template <typename T>
__global__ void __launch_bounds__(kThreads)
    sym_loss_forward_kernel(const SymLossForwardArgs a, const LossParams<T> p, double* partials,
                            unsigned int* ticket) {
  const int64_t n = a.n;
  const T scale = static_cast<T>(a.reduction_scale());
  T* loss = static_cast<T*>(a.loss);
  T* coef = static_cast<T*>(a.grad_coef);
  T* rewards = static_cast<T*>(a.rewards);
  const bool weight_grad = a.weights.kind != ElemKind::Absent;
  double sum = 0.0;
  for (int64_t i = blockIdx.x * int64_t(kThreads) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * kThreads) {
    const PairResult<T> r =
        compute_pair<T>(load<T>(a.policy_chosen, i, T(0)), load<T>(a.ref_chosen, i, T(0)),
                        load<T>(a.policy_rejected, i, T(0)), load<T>(a.ref_rejected, i, T(0)),
                        load<T>(a.labels, i, T(1)), load<T>(a.weights, i, T(1)), p);
    coef[i] = r.dloss_dchosen * scale;
    coef[n + i] = r.dloss_drejected * scale;
    if (weight_grad) coef[2 * n + i] = r.unweighted_loss * scale;
    if (rewards != nullptr) {  // null: return_rewards=False
      rewards[i] = r.chosen_reward;
      rewards[n + i] = r.rejected_reward;
      rewards[2 * n + i] = r.margin;
    }
    if (a.reduction == Reduction::None) {
      loss[i] = r.loss;
    } else {
      sum += static_cast<double>(r.loss);
    }
  }
  if (a.reduction == Reduction::None) return;

  sum = block_sum(sum);
  __shared__ bool is_last;
  if (threadIdx.x == 0) {
    partials[blockIdx.x] = sum;
    __threadfence();  // publish the partial before taking a ticket
    is_last = atomicAdd(ticket, 1u) == gridDim.x - 1;
  }
  __syncthreads();
  if (!is_last) return;
  __threadfence();  // see every other block's partial
  double total = 0.0;
  for (int b = threadIdx.x; b < gridDim.x; b += kThreads) total += partials[b];
  total = block_sum(total);
  if (threadIdx.x == 0) {
    *loss = static_cast<T>(a.reduction == Reduction::Mean ? total / static_cast<double>(n) : total);
  }
}

template <typename T>
__global__ void __launch_bounds__(kThreads) sym_loss_backward_kernel(const SymLossBackwardArgs a) {
  const int64_t n = a.n;
  const T* coef = static_cast<const T*>(a.grad_coef);
  for (int64_t i = blockIdx.x * int64_t(kThreads) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * kThreads) {
    const T g = load<T>(a.grad_loss, i, T(0));
    const T dc = coef[i] * g;
    const T dr = coef[n + i] * g;
    store(a.grad_policy_chosen, i, dc);
    store(a.grad_ref_chosen, i, -dc);
    store(a.grad_policy_rejected, i, dr);
    store(a.grad_ref_rejected, i, -dr);
    if (a.grad_weights.kind != ElemKind::Absent) store(a.grad_weights, i, coef[2 * n + i] * g);
  }
}

// Workspace layout: [grid doubles of partial sums][one unsigned ticket].
int64_t ticket_offset(int64_t grid) { return grid * int64_t(sizeof(double)); }

}  // namespace

int64_t sym_loss_cuda_workspace_bytes(int64_t n, int device) {
  return ticket_offset(grid_for(n, device)) + int64_t(sizeof(unsigned int));
}

void sym_loss_forward_cuda(const SymLossForwardArgs& a, void* workspace, int device, void* stream) {
  if (a.n == 0) return;  // the host filled the (empty or constant) outputs
  const auto s = static_cast<cudaStream_t>(stream);
  const int64_t grid = grid_for(a.n, device);
  auto* partials = static_cast<double*>(workspace);
  auto* ticket =
      reinterpret_cast<unsigned int*>(static_cast<char*>(workspace) + ticket_offset(grid));
  if (a.reduction != Reduction::None) {
    check_cuda(cudaMemsetAsync(ticket, 0, sizeof(unsigned int), s), "cudaMemsetAsync");
  }
  if (a.use_double) {
    sym_loss_forward_kernel<double>
        <<<grid, kThreads, 0, s>>>(a, a.params<double>(), partials, ticket);
  } else {
    sym_loss_forward_kernel<float>
        <<<grid, kThreads, 0, s>>>(a, a.params<float>(), partials, ticket);
  }
  check_cuda(cudaGetLastError(), "sym_loss_forward_kernel launch");
}

void sym_loss_backward_cuda(const SymLossBackwardArgs& a, void* stream) {
  if (a.n == 0) return;
  const auto s = static_cast<cudaStream_t>(stream);
  int device = 0;
  check_cuda(cudaGetDevice(&device), "cudaGetDevice");
  const int64_t grid = grid_for(a.n, device);
  if (a.use_double) {
    sym_loss_backward_kernel<double><<<grid, kThreads, 0, s>>>(a);
  } else {
    sym_loss_backward_kernel<float><<<grid, kThreads, 0, s>>>(a);
  }
  check_cuda(cudaGetLastError(), "sym_loss_backward_kernel launch");
}

}  // namespace sympo
