// CUDA registration of the fused log-prob ops: device guard, current stream,
// no host synchronisation. The kernels are in logps_cuda.cu.
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

void* current_stream(const at::Tensor& t) {
  return c10::cuda::getCurrentCUDAStream(t.get_device()).stream();
}

RowForwardResult token_logps_forward_cuda(const at::Tensor& logits, const at::Tensor& labels,
                                          int64_t ignore_index) {
  const c10::cuda::CUDAGuard guard(logits.device());
  RowForwardPlan plan = plan_row_forward(logits, labels, ignore_index);
  logps_row_forward_cuda(plan.args, current_stream(logits));
  return {plan.token_logps, plan.lse};
}

void token_logps_backward_inplace_cuda(const at::Tensor& logits, const at::Tensor& labels,
                                       const at::Tensor& lse, const at::Tensor& row_grad,
                                       int64_t ignore_index) {
  const c10::cuda::CUDAGuard guard(logits.device());
  at::Tensor grad = logits;
  RowBackwardPlan plan =
      plan_row_backward(logits, labels, lse, row_grad, ignore_index, grad, "token_logps_backward_");
  logps_row_backward_cuda(plan.args, current_stream(logits));
}

SeqForwardResult sequence_logps_forward_cuda(const at::Tensor& logits, const at::Tensor& labels,
                                             const std::optional<at::Tensor>& cu_seqlens,
                                             int64_t ignore_index, bool average,
                                             bool /*inplace_backward: autograd only*/) {
  const c10::cuda::CUDAGuard guard(logits.device());
  SeqForwardPlan plan = plan_seq_forward(logits, labels, cu_seqlens, ignore_index, average);
  void* stream = current_stream(logits);
  logps_row_forward_cuda(plan.row, stream);
  logps_seq_reduce_cuda(plan.reduce, stream);
  return {plan.logps, plan.lse, plan.counts};
}

at::Tensor run_seq_backward(SeqBackwardPlan& plan, const at::Tensor& logits) {
  void* stream = current_stream(logits);
  logps_seq_expand_cuda(plan.expand, stream);
  logps_row_backward_cuda(plan.row, stream);
  return plan.grad_logits;
}

at::Tensor sequence_logps_backward_cuda(const at::Tensor& grad, const at::Tensor& logits,
                                        const at::Tensor& labels, const at::Tensor& lse,
                                        const at::Tensor& counts,
                                        const std::optional<at::Tensor>& cu_seqlens,
                                        int64_t ignore_index, bool average) {
  const c10::cuda::CUDAGuard guard(logits.device());
  SeqBackwardPlan plan = plan_seq_backward(grad, logits, labels, lse, counts, cu_seqlens,
                                           ignore_index, average, /*inplace=*/false);
  return run_seq_backward(plan, logits);
}

void sequence_logps_backward_inplace_cuda(const at::Tensor& grad, const at::Tensor& logits,
                                          const at::Tensor& labels, const at::Tensor& lse,
                                          const at::Tensor& counts,
                                          const std::optional<at::Tensor>& cu_seqlens,
                                          int64_t ignore_index, bool average) {
  const c10::cuda::CUDAGuard guard(logits.device());
  SeqBackwardPlan plan = plan_seq_backward(grad, logits, labels, lse, counts, cu_seqlens,
                                           ignore_index, average, /*inplace=*/true);
  run_seq_backward(plan, logits);
}

}  // namespace

TORCH_LIBRARY_IMPL(sympo_ext, CUDA, m) {
  m.impl("token_logps_forward", &token_logps_forward_cuda);
  m.impl("token_logps_backward_", &token_logps_backward_inplace_cuda);
  m.impl("sequence_logps_forward", &sequence_logps_forward_cuda);
  m.impl("sequence_logps_backward", &sequence_logps_backward_cuda);
  m.impl("sequence_logps_backward_", &sequence_logps_backward_inplace_cuda);
}

}  // namespace sympo
