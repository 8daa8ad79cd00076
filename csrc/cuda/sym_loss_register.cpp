// CUDA registration of the pair-level loss: device guard, current stream,
// workspace from the caching allocator. The kernels are in sym_loss_cuda.cu.
#include <ATen/ATen.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <torch/library.h>

#include <cmath>
#include <string>
#include <vector>

#include "../sym_loss_host.h"

namespace sympo {
namespace {

SymLossForwardResult forward_cuda(
    const at::Tensor& pc, const at::Tensor& pr, const std::optional<at::Tensor>& rc,
    const std::optional<at::Tensor>& rr, const std::optional<at::Tensor>& labels,
    const std::optional<at::Tensor>& weights, const std::vector<std::string>& loss_types,
    const std::vector<double>& loss_weights, const std::vector<double>& loss_params, double beta,
    std::optional<double> clip, const std::string& reduction) {
  const c10::cuda::CUDAGuard guard(pc.device());
  SymLossForwardPlan plan = plan_sym_loss_forward(pc, pr, rc, rr, labels, weights, loss_types,
                                                  loss_weights, loss_params, beta, clip, reduction);
  // Label and weight VALUES are not checked here: that would need a device
  // synchronisation. The kernel turns an invalid pair's loss into NaN instead.
  const SymLossForwardArgs& a = plan.args;
  if (a.n == 0) {
    if (a.reduction != Reduction::None) plan.loss.fill_(a.reduction == Reduction::Mean ? NAN : 0.0);
    return {plan.loss, plan.grad_coef, plan.rewards};
  }
  const int device = pc.get_device();
  const at::Tensor workspace =
      at::empty({sym_loss_cuda_workspace_bytes(a.n, device)}, pc.options().dtype(at::kByte));
  sym_loss_forward_cuda(a, workspace.mutable_data_ptr(), device,
                        c10::cuda::getCurrentCUDAStream(device).stream());
  return {plan.loss, plan.grad_coef, plan.rewards};
}

SymLossBackwardResult backward_cuda(const at::Tensor& grad_loss, const at::Tensor& grad_coef,
                                    std::optional<at::ScalarType> pc_dtype,
                                    std::optional<at::ScalarType> pr_dtype,
                                    std::optional<at::ScalarType> rc_dtype,
                                    std::optional<at::ScalarType> rr_dtype,
                                    std::optional<at::ScalarType> w_dtype) {
  const c10::cuda::CUDAGuard guard(grad_coef.device());
  SymLossBackwardPlan plan =
      plan_sym_loss_backward(grad_loss, grad_coef, pc_dtype, pr_dtype, rc_dtype, rr_dtype, w_dtype);
  sym_loss_backward_cuda(plan.args,
                         c10::cuda::getCurrentCUDAStream(grad_coef.get_device()).stream());
  return backward_result(plan);
}

}  // namespace

TORCH_LIBRARY_IMPL(sympo_ext, CUDA, m) {
  m.impl("sym_loss_forward", &forward_cuda);
  m.impl("sym_loss_backward", &backward_cuda);
}

}  // namespace sympo
