// Reading and writing 1-D tensors of any supported dtype through one pointer
// type, on the host and the device.
//
// The pair-level op accepts inputs of different dtypes (e.g. bf16 policy
// log-probs with fp32 reference log-probs, bool labels). Instantiating a
// kernel for every combination would explode compile time; instead each
// strided view carries its element kind and is converted on load. The kind is
// the same for every thread, so the switch is a uniform branch.
#pragma once

#include <c10/util/BFloat16.h>
#include <c10/util/Half.h>
#include <cstdint>

#include "sympo/losses.h"

namespace sympo {

enum class ElemKind : int32_t { F32, F64, BF16, F16, U8, I8, I16, I32, I64, Absent };

struct StridedIn {
  const void* data = nullptr;
  int64_t stride = 0;
  ElemKind kind = ElemKind::Absent;
};

struct StridedOut {
  void* data = nullptr;
  ElemKind kind = ElemKind::Absent;  // Absent: nobody asked for this output
};

// `fallback` is returned for an absent (optional) input, e.g. ref = 0, label = 1.
template <typename T>
SYMPO_HD T load(const StridedIn& in, int64_t i, T fallback) {
  const int64_t o = i * in.stride;
  switch (in.kind) {
    case ElemKind::F32: return static_cast<T>(static_cast<const float*>(in.data)[o]);
    case ElemKind::F64: return static_cast<T>(static_cast<const double*>(in.data)[o]);
    case ElemKind::BF16:
      return static_cast<T>(static_cast<float>(static_cast<const c10::BFloat16*>(in.data)[o]));
    case ElemKind::F16:
      return static_cast<T>(static_cast<float>(static_cast<const c10::Half*>(in.data)[o]));
    case ElemKind::U8: return static_cast<T>(static_cast<const uint8_t*>(in.data)[o]);
    case ElemKind::I8: return static_cast<T>(static_cast<const int8_t*>(in.data)[o]);
    case ElemKind::I16: return static_cast<T>(static_cast<const int16_t*>(in.data)[o]);
    case ElemKind::I32: return static_cast<T>(static_cast<const int32_t*>(in.data)[o]);
    case ElemKind::I64: return static_cast<T>(static_cast<const int64_t*>(in.data)[o]);
    case ElemKind::Absent: return fallback;
  }
  return fallback;
}

template <typename T>
SYMPO_HD void store(const StridedOut& out, int64_t i, T v) {
  switch (out.kind) {
    case ElemKind::F32: static_cast<float*>(out.data)[i] = static_cast<float>(v); return;
    case ElemKind::F64: static_cast<double*>(out.data)[i] = static_cast<double>(v); return;
    case ElemKind::BF16:
      static_cast<c10::BFloat16*>(out.data)[i] = c10::BFloat16(static_cast<float>(v));
      return;
    case ElemKind::F16:
      static_cast<c10::Half*>(out.data)[i] = c10::Half(static_cast<float>(v));
      return;
    default: return;  // integer outputs never happen; Absent means "not wanted"
  }
}

}  // namespace sympo
