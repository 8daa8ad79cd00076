// Host-only input checks shared by every op, with messages that name the argument.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/util/Exception.h>

#include <optional>

#include "sympo/typed_access.h"

namespace sympo {

inline void check_vector(const at::Tensor& t, const char* name) {
  TORCH_CHECK(t.defined(), name, " is undefined");
  TORCH_CHECK(t.dim() == 1, name, " must be 1-D (one entry per preference pair), got shape ",
              t.sizes());
}

inline bool is_supported_float(at::ScalarType t) {
  return t == at::kFloat || t == at::kDouble || t == at::kBFloat16 || t == at::kHalf;
}

inline void check_logps_vector(const at::Tensor& t, const char* name) {
  check_vector(t, name);
  TORCH_CHECK(is_supported_float(t.scalar_type()), name,
              " must hold log-probabilities as float32, float64, bfloat16 or float16, got ",
              t.scalar_type());
}

// Checks a per-pair tensor against policy_chosen_logps: one entry per pair, on its device.
struct SamePairs {
  int64_t n;
  at::Device device;
  void operator()(const at::Tensor& t, const char* name) const {
    TORCH_CHECK(t.size(0) == n, "sym_loss: ", name, " has ", t.size(0),
                " entries but policy_chosen_logps has ", n,
                "; every per-pair tensor needs one entry per preference pair");
    TORCH_CHECK(t.device() == device, "sym_loss: ", name, " is on ", t.device(),
                " but policy_chosen_logps is on ", device, "; all tensors must be on one device");
  }
};

// The per-pair tensors every sym_loss op takes: four 1-D floating log-prob vectors (both
// reference ones or neither) and optional labels (bool, integer or floating), one entry per
// pair on one device. Returns the check for any further per-pair tensor (its n = the pairs).
inline SamePairs check_pair_tensors(const at::Tensor& pc, const at::Tensor& pr,
                                    const std::optional<at::Tensor>& rc,
                                    const std::optional<at::Tensor>& rr,
                                    const std::optional<at::Tensor>& labels) {
  check_logps_vector(pc, "policy_chosen_logps");
  const SamePairs same_pairs{pc.size(0), pc.device()};
  check_logps_vector(pr, "policy_rejected_logps");
  same_pairs(pr, "policy_rejected_logps");
  TORCH_CHECK(rc.has_value() == rr.has_value(),
              "sym_loss: give both ref_chosen_logps and ref_rejected_logps, or neither "
              "(reference-free)");
  if (rc.has_value()) {
    check_logps_vector(*rc, "ref_chosen_logps");
    same_pairs(*rc, "ref_chosen_logps");
    check_logps_vector(*rr, "ref_rejected_logps");
    same_pairs(*rr, "ref_rejected_logps");
  }
  if (labels.has_value()) {
    check_vector(*labels, "labels");
    TORCH_CHECK(!labels->is_complex(),
                "sym_loss: labels must be bool, integer or floating with values in {0, 1}, got ",
                labels->scalar_type());
    same_pairs(*labels, "labels");
  }
  return same_pairs;
}

inline ElemKind elem_kind(at::ScalarType t, const char* name) {
  switch (t) {
    case at::kFloat: return ElemKind::F32;
    case at::kDouble: return ElemKind::F64;
    case at::kBFloat16: return ElemKind::BF16;
    case at::kHalf: return ElemKind::F16;
    case at::kBool:
    case at::kByte: return ElemKind::U8;
    case at::kChar: return ElemKind::I8;
    case at::kShort: return ElemKind::I16;
    case at::kInt: return ElemKind::I32;
    case at::kLong: return ElemKind::I64;
    default: TORCH_CHECK(false, name, ": unsupported dtype ", t);
  }
}

}  // namespace sympo
