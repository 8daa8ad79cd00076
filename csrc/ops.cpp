// The schemas of every sympo_ext op, declared once. Each backend registers its
// kernels in its own file (csrc/cpu/*.cpp, csrc/cuda/*_register.cpp); fake
// kernels and autograd are registered from Python (sympo_ext/ops.py).
#include <Python.h>
#include <torch/library.h>

extern "C" {
// Importing sympo_ext._C runs the static registrations below; the module itself
// is empty. No pybind11 needed (as in pytorch/extension-cpp).
PyObject* PyInit__C(void) {
  static struct PyModuleDef module_def = {PyModuleDef_HEAD_INIT, "_C", nullptr, -1, nullptr};
  return PyModule_Create(&module_def);
}
}

TORCH_LIBRARY(sympo_ext, m) {
  // Pair-level loss. One launch computes the loss (reduced or per pair), the
  // per-pair derivatives saved for backward (grad_coef [2, B]) and the detached
  // rewards for logging (rewards [3, B]: chosen, rejected, margin).
  m.def(
      "sym_loss_forward(Tensor policy_chosen_logps, Tensor policy_rejected_logps, "
      "Tensor? ref_chosen_logps, Tensor? ref_rejected_logps, Tensor? labels, Tensor? weights, "
      "str loss_type, float beta, float? clip, float temperature, float slope, float epsilon, "
      "str reduction) -> (Tensor loss, Tensor grad_coef, Tensor rewards)");
  // One elementwise pass: gradients for the inputs whose dtype is given
  // (a missing dtype means "not needed"; an empty tensor is returned for it).
  m.def(
      "sym_loss_backward(Tensor grad_loss, Tensor grad_coef, ScalarType? policy_chosen_dtype, "
      "ScalarType? policy_rejected_dtype, ScalarType? ref_chosen_dtype, "
      "ScalarType? ref_rejected_dtype) -> (Tensor, Tensor, Tensor, Tensor)");
}
