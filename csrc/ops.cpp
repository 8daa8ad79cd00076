// The schemas of the C++ ops of the sympo_ext namespace, declared once. Each
// backend registers its kernels in its own file (csrc/cpu/*_register.cpp,
// csrc/cuda/*_register.cpp); fake kernels and autograd are registered from
// Python (sympo_ext/ops.py). Two ops of the namespace are Python custom ops,
// declared in sympo_ext/fused_linear/ (torch.library.custom_op), not here:
// sympo_ext::fused_linear_logps and sympo_ext::fused_linear_logps_backward.
#include <Python.h>
#include <torch/library.h>

#include <string>
#include <vector>

#include "loss_names.h"

extern "C" {
// Importing sympo_ext._C runs the static registrations below; the module itself
// is empty. No pybind11 needed (as in pytorch/extension-cpp).
PyObject* PyInit__C(void) {
  static struct PyModuleDef module_def = {PyModuleDef_HEAD_INIT, "_C", nullptr, -1, nullptr};
  return PyModule_Create(&module_def);
}
}

TORCH_LIBRARY(sympo_ext, m) {
  // Pair-level loss: sum_k loss_weights[k] * l_k with l_k the loss loss_types[k]
  // (parameter loss_params[k]; 0 for a loss without one; each type at most once).
  // One launch computes the loss (reduced or per pair), the per-pair derivatives
  // saved for backward (grad_coef [2, B], [3, B] with weights: the third row is
  // d loss / d weight) and the detached rewards for logging (rewards [3, B]:
  // chosen, rejected, margin; [3, 0] and never written for return_rewards=False,
  // a fifth of the op's memory traffic saved when nobody reads them).
  m.def("sym_loss_forward(Tensor policy_chosen_logps, Tensor policy_rejected_logps, "
        "Tensor? ref_chosen_logps, Tensor? ref_rejected_logps, Tensor? labels, Tensor? weights, "
        "str[] loss_types, float[] loss_weights, float[] loss_params, float beta, float? clip, "
        "str reduction, bool return_rewards=True) -> (Tensor loss, Tensor grad_coef, "
        "Tensor rewards)");
  // One elementwise pass: gradients for the inputs whose dtype is given
  // (a missing dtype means "not needed"; an empty tensor is returned for it).
  m.def("sym_loss_backward(Tensor grad_loss, Tensor grad_coef, ScalarType? policy_chosen_dtype, "
        "ScalarType? policy_rejected_dtype, ScalarType? ref_chosen_dtype, "
        "ScalarType? ref_rejected_dtype, ScalarType? weights_dtype) -> "
        "(Tensor, Tensor, Tensor, Tensor, Tensor)");
  // The batch losses (aot, aot_unpaired) on the CPU: both rows of log-ratio differences are
  // sorted inside the op, then cDPO (parameter epsilon) on the sorted pairs, reduced ("mean"
  // or "sum"). grad_coef [2, B] is in the pairs' order, for sym_loss_backward (the row layout:
  // csrc/cpu/sym_loss_batch.h).
  m.def("sym_loss_batch_forward(Tensor policy_chosen_logps, Tensor policy_rejected_logps, "
        "Tensor? ref_chosen_logps, Tensor? ref_rejected_logps, Tensor? labels, str loss_type, "
        "float loss_weight, float epsilon, float beta, str reduction) -> "
        "(Tensor loss, Tensor grad_coef)");
  // The kernels' loss table (csrc/include/sympo/loss_list.h), one line per loss:
  // "name kind param range"; for the registry consistency test and tools.
  m.def("loss_table() -> str[]", [] { return sympo::loss_table_lines(); });

  // ---- Fused log-probs from LM logits (CPU: csrc/cpu/logps_*.cpp, CUDA: csrc/cuda/logps_*) ----
  // Row level: logits [R, V] (last stride 1, any row stride), labels [R] int64/int32.
  // token_logps[r] = log_softmax(logits[r])[labels[r]] (0 where labels[r] == ignore_index),
  // lse[r] = logsumexp(logits[r]); both float32 (float64 for float64 logits).
  m.def("token_logps_forward(Tensor logits, Tensor labels, int ignore_index) -> "
        "(Tensor token_logps, Tensor lse)");
  // Overwrites logits with row_grad[r] * (onehot(labels[r]) - exp(logits[r] - lse[r]))
  // (0 on ignored rows), in the logits' dtype.
  m.def("token_logps_backward_(Tensor(a!) logits, Tensor labels, Tensor lse, Tensor row_grad, "
        "int ignore_index) -> ()");
  // Sequence level: padded logits [N, T, V] + labels [N, T] (cu_seqlens None), or packed
  // logits [L, V] + labels [L] + cu_seqlens [N + 1]. logps [N] is the sum (or, with average,
  // the mean over counted tokens; 0 when none) of the token log-probs; lse [R] and counts [N]
  // are saved for the backward. inplace_backward is only read by the autograd formula
  // (sympo_ext/ops.py): it makes the backward write the gradient into the logits.
  m.def("sequence_logps_forward(Tensor logits, Tensor labels, Tensor? cu_seqlens, "
        "int ignore_index, bool average, bool inplace_backward=False) -> "
        "(Tensor logps, Tensor lse, Tensor counts)");
  // grad_logits = grad[n] * scale[n] * (onehot - softmax) from the saved lse: reads the
  // logits once, writes the gradient once. The `_` variant writes it into the logits.
  m.def("sequence_logps_backward(Tensor grad, Tensor logits, Tensor labels, Tensor lse, "
        "Tensor counts, Tensor? cu_seqlens, int ignore_index, bool average) -> Tensor");
  m.def("sequence_logps_backward_(Tensor grad, Tensor(a!) logits, Tensor labels, Tensor lse, "
        "Tensor counts, Tensor? cu_seqlens, int ignore_index, bool average) -> ()");
}
