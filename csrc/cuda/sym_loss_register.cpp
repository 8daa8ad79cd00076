// CUDA registration of the pair-level loss: the kernels of sym_loss_cuda.cu
// behind the ops of sym_loss_host.h, under a device guard, on the current
// stream, with their workspace from the caching allocator.
#include <ATen/ATen.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <torch/library.h>

#include <cmath>

#include "../sym_loss_host.h"

namespace sympo {
namespace {

struct Cuda {
  using Guard = c10::cuda::CUDAGuard;

  static void forward(SymLossForwardPlan& plan) {
    // Label and weight VALUES are not checked here: that would need a device
    // synchronisation. The kernel turns an invalid pair's loss into NaN instead.
    const SymLossForwardArgs& a = plan.args;
    if (a.n == 0) {
      if (a.reduction != Reduction::None)
        plan.loss.fill_(a.reduction == Reduction::Mean ? NAN : 0.0);
      return;
    }
    const int device = plan.loss.get_device();
    const at::Tensor workspace = at::empty({sym_loss_cuda_workspace_bytes(a.n, device)},
                                           plan.loss.options().dtype(at::kByte));
    sym_loss_forward_cuda(a, workspace.mutable_data_ptr(), device,
                          c10::cuda::getCurrentCUDAStream(device).stream());
  }

  static void backward(const SymLossBackwardPlan& plan) {
    sym_loss_backward_cuda(plan.args, c10::cuda::getCurrentCUDAStream().stream());
  }
};

}  // namespace

TORCH_LIBRARY_IMPL(sympo_ext, CUDA, m) { register_sym_loss_ops<Cuda>(m); }

}  // namespace sympo
