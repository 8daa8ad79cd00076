// Plain-data launch descriptions for the pair-level loss kernels.
//
// The host code (csrc/sym_loss.cpp) validates tensors, allocates outputs and
// fills these structs; the CPU and CUDA kernels only read them. Keeping torch
// types out of this header keeps the .cu files free of heavy torch headers.
#pragma once

#include <cstdint>

#include "sympo/losses.h"
#include "sympo/typed_access.h"

namespace sympo {

struct SymLossForwardArgs {
  int64_t n = 0;  // number of pairs
  StridedIn policy_chosen, policy_rejected, ref_chosen, ref_rejected, labels, weights;
  Reduction reduction = Reduction::Mean;
  bool use_double = false;  // math dtype: double if any input is fp64, else float
  double beta = 0.1, clip = HUGE_VAL, temperature = 1.0, slope = 0.5, epsilon = 0.0;
  LossType type = LossType::Sigmoid;
  // CPU only: run the scalar lane code (the CUDA kernel's) instead of SIMD
  // vectors; set from the SYMPO_CPU_LANES=scalar environment variable for tests.
  bool scalar_lanes = false;
  // Outputs, all contiguous, in the math dtype.
  void* loss = nullptr;        // [n] for Reduction::None, a scalar otherwise
  void* grad_coef = nullptr;   // [2, n]: d loss / d policy_chosen, d loss / d policy_rejected
  void* rewards = nullptr;     // [3, n]: chosen reward, rejected reward, margin

  template <typename T>
  SYMPO_HD LossParams<T> params() const {
    return {type, T(beta), T(clip), T(temperature), T(slope), T(epsilon)};
  }
  // Factor applied to every per-pair gradient: the derivative of the reduction.
  SYMPO_HD double reduction_scale() const {
    return reduction == Reduction::Mean ? 1.0 / static_cast<double>(n) : 1.0;
  }
};

struct SymLossBackwardArgs {
  int64_t n = 0;
  bool use_double = false;
  StridedIn grad_loss;        // [n] for Reduction::None, else a scalar (stride 0)
  const void* grad_coef = nullptr;  // [2, n] in the math dtype
  // Gradients for policy_chosen, policy_rejected, ref_chosen, ref_rejected;
  // kind Absent for those nobody asked for.
  StridedOut grad_policy_chosen, grad_policy_rejected, grad_ref_chosen, grad_ref_rejected;
};

void sym_loss_forward_cpu(const SymLossForwardArgs& args);
void sym_loss_backward_cpu(const SymLossBackwardArgs& args);

#ifdef SYMPO_WITH_CUDA
// `workspace` holds one double per block plus a 4-byte ticket (see the .cu);
// its size comes from sym_loss_cuda_workspace_bytes.
int64_t sym_loss_cuda_workspace_bytes(int64_t n, int device);
void sym_loss_forward_cuda(const SymLossForwardArgs& args, void* workspace, int device, void* stream);
void sym_loss_backward_cuda(const SymLossBackwardArgs& args, void* stream);
#endif

}  // namespace sympo
