// Plain-data launch descriptions for the pair-level loss kernels.
//
// The host code (csrc/sym_loss_host.cpp) validates tensors, allocates outputs and
// fills these structs; the CPU and CUDA kernels only read them. Keeping torch
// types out of this header keeps the .cu files free of heavy torch headers.
#pragma once

#include <cstdint>

#include "sympo/losses.h"
#include "sympo/typed_access.h"

namespace sympo {

// One loss of the objective, as given (the math-type constants come from prepare_term).
struct LossTerm {
  LossType type = LossType::Sigmoid;
  double weight = 1.0;
  double param = 0.0;  // the loss's own parameter; unused when it has none
};

struct SymLossForwardArgs {
  int64_t n = 0;  // number of pairs
  StridedIn policy_chosen, policy_rejected, ref_chosen, ref_rejected, labels, weights;
  Reduction reduction = Reduction::Mean;
  bool use_double = false;  // math dtype: double if any input is fp64, else float
  double beta = 0.1, clip = HUGE_VAL;
  int num_terms = 1;
  LossTerm terms[kMaxTerms];
  // CPU only: run the scalar lane code (the CUDA kernel's) instead of SIMD
  // vectors; set from the SYMPO_CPU_LANES=scalar environment variable for tests.
  bool scalar_lanes = false;
  // Outputs, all contiguous, in the math dtype.
  void* loss = nullptr;  // [n] for Reduction::None, a scalar otherwise
  // [2, n] (+1 row with weights): d loss / d policy_chosen, d loss / d policy_rejected
  // (and d loss / d weight: the pair's unweighted loss times the reduction's scale)
  void* grad_coef = nullptr;
  void* rewards = nullptr;  // [3, n]: chosen reward, rejected reward, margin; null: not wanted

  template <typename T>
  LossParams<T> params() const {
    LossParams<T> p{T(beta), T(clip), num_terms, {}};
    for (int k = 0; k < num_terms; ++k) {
      p.term[k] = prepare_term<T>(terms[k].type, terms[k].weight, terms[k].param, beta);
    }
    return p;
  }
  bool has_weight_grad() const { return weights.kind != ElemKind::Absent; }
  // Factor applied to every per-pair gradient: the derivative of the reduction.
  SYMPO_HD double reduction_scale() const {
    return reduction == Reduction::Mean ? 1.0 / static_cast<double>(n) : 1.0;
  }
};

struct SymLossBackwardArgs {
  int64_t n = 0;
  bool use_double = false;
  StridedIn grad_loss;              // [n] for Reduction::None, else a scalar (stride 0)
  const void* grad_coef = nullptr;  // [2 or 3, n] in the math dtype
  // Gradients for policy_chosen, policy_rejected, ref_chosen, ref_rejected,
  // weights; kind Absent for those nobody asked for.
  StridedOut grad_policy_chosen, grad_policy_rejected, grad_ref_chosen, grad_ref_rejected,
      grad_weights;
};

void sym_loss_forward_cpu(const SymLossForwardArgs& args);
void sym_loss_backward_cpu(const SymLossBackwardArgs& args);

#ifdef SYMPO_WITH_CUDA
// `workspace` holds one double per block plus a 4-byte ticket (see the .cu);
// its size comes from sym_loss_cuda_workspace_bytes.
int64_t sym_loss_cuda_workspace_bytes(int64_t n, int device);
void sym_loss_forward_cuda(const SymLossForwardArgs& args, void* workspace, int device,
                           void* stream);
void sym_loss_backward_cuda(const SymLossBackwardArgs& args, void* stream);
#endif

}  // namespace sympo
