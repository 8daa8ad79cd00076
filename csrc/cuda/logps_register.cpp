// CUDA registration of the fused log-prob ops: the kernels of logps_cuda.cu
// behind the ops of logps_host.h, under a device guard, on the current stream,
// with no host synchronisation.
//
// What the CUDA path does not check (it would need a device synchronisation):
// label VALUES (a label outside [0, V) that is not ignore_index gives a NaN
// token log-prob, hence a NaN sequence result and NaN gradient for that row)
// and the values of cu_seqlens given on the GPU (a sequence whose range is not
// inside [0, L] gets NaN). cu_seqlens given on the CPU is checked on the host,
// then copied to the GPU asynchronously.
#include <ATen/ATen.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <torch/library.h>

#include "../logps_host.h"

namespace sympo {
namespace {

// Launches on the current stream of the device the op's guard made current.
struct Cuda {
  using Guard = c10::cuda::CUDAGuard;
  static void* stream() { return c10::cuda::getCurrentCUDAStream().stream(); }
  static void row_forward(const RowForwardArgs& a) { logps_row_forward_cuda(a, stream()); }
  static void row_backward(const RowBackwardArgs& a) { logps_row_backward_cuda(a, stream()); }
  static void seq_reduce(const SeqReduceArgs& a) { logps_seq_reduce_cuda(a, stream()); }
  static void seq_expand(const SeqExpandArgs& a) { logps_seq_expand_cuda(a, stream()); }
};

}  // namespace

TORCH_LIBRARY_IMPL(sympo_ext, CUDA, m) { register_logps_ops<Cuda>(m); }

}  // namespace sympo
