// Host-only input checks shared by every op, with messages that name the argument.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/util/Exception.h>

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
