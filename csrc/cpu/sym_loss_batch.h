// Plain-data launch description of the batch (AOT) losses' CPU kernel
// (csrc/cpu/sym_loss_batch_kernel.h; host side and registration:
// csrc/cpu/sym_loss_batch.cpp).
//
// AOT sorts two per-pair values across the batch and applies cDPO to the
// sorted pairs. With s = +1 for label 1 and -1 for label 0:
//   aot:          u_i = s_i (pc_i - pr_i),        v_i = s_i (rc_i - rr_i)
//   aot_unpaired: u_i = label_i ? pc_i - rc_i : pr_i - rr_i,
//                 v_i = label_i ? pr_i - rr_i : pc_i - rc_i
//   loss = reduce_k weight * cdpo(beta sort(u)_k - beta sort(v)_k)
// (an absent reference log-prob is 0). The kernel sorts both rows itself (a
// stable radix sort: ties keep the pairs' order, as torch.sort(stable=True))
// and writes grad_coef [2, n] in the pairs' order, scaled by the reduction:
//   aot:          row 0 = d loss / d pc = -d / d pr,  row 1 = d / d rc = -d / d rr
//   aot_unpaired: row 0 = d loss / d pc = -d / d rc,  row 1 = d / d pr = -d / d rr
// so sym_loss_backward turns it into the input gradients (sympo_ext/ops.py).
#pragma once

#include <cstdint>

#include "sympo/sym_loss_launch.h"

namespace sympo {

enum class BatchLoss : int32_t { Aot, AotUnpaired };

struct SymLossBatchArgs {
  int64_t n = 0;  // pairs, < 2^31 (the sort keeps 31-bit indices)
  StridedIn policy_chosen, policy_rejected, ref_chosen, ref_rejected, labels;
  BatchLoss loss = BatchLoss::Aot;
  Reduction reduction = Reduction::Mean;  // Mean or Sum
  bool use_double = false;                // math dtype: double if any log-prob is fp64
  double beta = 0.1, weight = 1.0, epsilon = 0.0;
  void* loss_out = nullptr;   // a scalar in the math dtype
  void* grad_coef = nullptr;  // [2, n] in the math dtype
};

// The loss kernels of one instruction-set build (cpu/sym_loss_kernel_<isa>.cpp): the
// pair-level forward and backward, and the batch losses' forward.
struct SymLossCpuKernels {
  void (*forward)(const SymLossForwardArgs&);
  void (*backward)(const SymLossBackwardArgs&);
  void (*batch_forward)(const SymLossBatchArgs&);
};
extern const SymLossCpuKernels sym_loss_cpu_default, sym_loss_cpu_avx2, sym_loss_cpu_avx512;

}  // namespace sympo
