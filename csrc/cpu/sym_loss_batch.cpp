// The batch (AOT) losses on the CPU (sympo_ext::sym_loss_batch_forward): argument
// checks, output allocation and dispatch to the kernel build for this machine's
// instruction set (csrc/cpu/sym_loss_batch_kernel.h). The backward is
// sympo_ext::sym_loss_backward on the returned grad_coef (sympo_ext/ops.py).
#include <ATen/ATen.h>
#include <torch/library.h>

#include <cmath>
#include <limits>
#include <string>
#include <tuple>

#include "../tensor_checks.h"
#include "cpu_isa.h"
#include "sym_loss_batch.h"

namespace sympo {
namespace {

StridedIn strided_in(const at::Tensor& t) {
  StridedIn in;
  in.data = t.const_data_ptr();
  in.stride = t.numel() > 0 ? t.stride(0) : 1;
  in.kind = elem_kind(t.scalar_type(), "sym_loss_batch_forward");
  return in;
}

std::tuple<at::Tensor, at::Tensor> batch_forward_cpu(const at::Tensor& pc, const at::Tensor& pr,
                                                     const std::optional<at::Tensor>& rc,
                                                     const std::optional<at::Tensor>& rr,
                                                     const std::optional<at::Tensor>& labels,
                                                     const std::string& loss_type,
                                                     double loss_weight, double epsilon,
                                                     double beta, const std::string& reduction) {
  const int64_t n = check_pair_tensors(pc, pr, rc, rr, labels).n;
  TORCH_CHECK(n <= std::numeric_limits<int32_t>::max(),
              "sym_loss_batch_forward: at most 2^31 - 1 pairs, got ", n);

  SymLossBatchArgs a;
  a.n = n;
  TORCH_CHECK_VALUE(loss_type == "aot" || loss_type == "aot_unpaired",
                    "sym_loss_batch_forward: loss_type must be 'aot' or 'aot_unpaired', got '",
                    loss_type, "'");
  a.loss = loss_type == "aot" ? BatchLoss::Aot : BatchLoss::AotUnpaired;
  TORCH_CHECK_VALUE(reduction == "mean" || reduction == "sum",
                    "sym_loss_batch_forward: reduction must be 'mean' or 'sum', got '", reduction,
                    "'");
  a.reduction = reduction == "mean" ? Reduction::Mean : Reduction::Sum;
  auto is_double = [](const std::optional<at::Tensor>& t) {
    return t.has_value() && t->scalar_type() == at::kDouble;
  };
  a.use_double = pc.scalar_type() == at::kDouble || pr.scalar_type() == at::kDouble ||
                 is_double(rc) || is_double(rr);
  // The numbers as the kernel uses them: in the math dtype.
  auto in_math = [&](double v) {
    return a.use_double ? v : static_cast<double>(static_cast<float>(v));
  };
  const char* math = a.use_double ? "float64" : "float32";
  TORCH_CHECK(std::isfinite(in_math(beta)) && in_math(beta) > 0,
              "sym_loss: beta must be a finite number > 0 in the ", math, " math, got ", beta);
  TORCH_CHECK(std::isfinite(in_math(loss_weight)) && in_math(loss_weight) > 0,
              "sym_loss: the loss weight must be a finite number > 0 in the ", math, " math, got ",
              loss_weight);
  TORCH_CHECK(in_math(epsilon) >= 0 && in_math(epsilon) <= 1,
              "sym_loss: epsilon must be in [0, 1] for ", loss_type, ", got ", epsilon);
  a.beta = beta;
  a.weight = loss_weight;
  a.epsilon = epsilon;
  a.policy_chosen = strided_in(pc);
  a.policy_rejected = strided_in(pr);
  if (rc.has_value()) {
    a.ref_chosen = strided_in(*rc);
    a.ref_rejected = strided_in(*rr);
  }
  if (labels.has_value()) a.labels = strided_in(*labels);

  const auto opts = pc.options().dtype(a.use_double ? at::kDouble : at::kFloat);
  at::Tensor loss = at::empty({}, opts);
  at::Tensor grad_coef = at::empty({2, n}, opts);
  a.loss_out = loss.mutable_data_ptr();
  a.grad_coef = grad_coef.mutable_data_ptr();
  for_this_cpu(&sym_loss_cpu_default, &sym_loss_cpu_avx2, &sym_loss_cpu_avx512)->batch_forward(a);
  return {loss, grad_coef};
}

}  // namespace

TORCH_LIBRARY_IMPL(sympo_ext, CPU, m) { m.impl("sym_loss_batch_forward", &batch_forward_cpu); }

}  // namespace sympo
