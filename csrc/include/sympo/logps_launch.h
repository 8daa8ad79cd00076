// Plain-data launch descriptions of the fused log-prob kernels.
//
// The host code (csrc/logps_host.cpp) validates tensors, allocates outputs and
// fills these structs; the CPU kernels (csrc/cpu/logps_kernel.h) and the CUDA
// kernels (csrc/cuda/logps_cuda.cu) only read them. No torch types here, so the
// .cu file needs no heavy torch headers.
//
// Rows: the logits are a set of R rows of V contiguous elements (last stride 1).
// Row r starts at element offset (r / group) * group_stride + (r % group) * row_stride,
// which covers [R, V] with any row stride and [N, T, V] with any (N, T) strides
// (e.g. the common shifted view logits[:, :-1]) without a copy.
#pragma once

#include <cstdint>
#include <stdexcept>

#include "sympo/logps_math.h"
#include "sympo/typed_access.h"  // ElemKind

namespace sympo {

struct RowLayout {
  int64_t group = 1;         // rows per group (T for [N, T, V]; R for [R, V])
  int64_t group_stride = 0;  // elements between groups
  int64_t row_stride = 0;    // elements between rows of a group

  SYMPO_HD int64_t offset(int64_t r) const {
    return (r / group) * group_stride + (r % group) * row_stride;
  }
};

// Labels [R] contiguous, int64 or int32.
struct LabelsIn {
  const void* data = nullptr;
  bool is_int32 = false;
  SYMPO_HD int64_t operator[](int64_t r) const {
    return is_int32 ? static_cast<int64_t>(static_cast<const int32_t*>(data)[r])
                    : static_cast<const int64_t*>(data)[r];
  }
};

// What every row kernel reads: R rows of V logits and their labels.
struct RowArgs {
  int64_t rows = 0, vocab = 0;
  ElemKind kind = ElemKind::F32;  // logits dtype: F32, F64, BF16 or F16
  const void* logits = nullptr;
  RowLayout layout;  // of the logits
  LabelsIn labels;
  int64_t ignore_index = -100;
};

// Forward of the row kernel: token_logps[r] = logits[r, label_r] - lse[r]
// (0 for ignored rows; NaN for labels outside [0, V) on CUDA, where the host
// cannot check them without a synchronisation), lse[r] = logsumexp(logits[r]).
struct RowForwardArgs : RowArgs {
  void* token_logps = nullptr;  // [rows] in the accumulation type (double for F64)
  void* lse = nullptr;          // [rows] in the accumulation type
};

// Backward of the row kernel: grad[r, j] = row_grad[r] * (onehot(label_r)[j] -
// exp(logits[r, j] - lse[r])), 0 on ignored rows, in the logits' dtype. `grad`
// may be the logits themselves (same layout): every element is read before it
// is written, by the same thread.
struct RowBackwardArgs : RowArgs {
  void* grad = nullptr;
  RowLayout out_layout;
  const void* lse = nullptr;       // [rows], accumulation type
  const void* row_grad = nullptr;  // [rows], accumulation type
};

// Per-sequence reduction of token log-probs. Sequence n covers rows
// [n * seq_len, (n + 1) * seq_len) (padded form, cu_seqlens == nullptr) or
// [cu[n], cu[n + 1]) (packed form). CUDA cannot check device cu_seqlens
// without a synchronisation: a sequence whose range is not inside [0, rows]
// or is decreasing gets NaN.
struct SeqArgs {
  int64_t nseq = 0, rows = 0, seq_len = 0;
  const void* cu_seqlens = nullptr;  // [nseq + 1] int64 or int32 (same device), or nullptr
  bool cu_is_int32 = false;
  bool average = false;
  bool use_double = false;  // accumulation type of the per-row / per-sequence buffers
  LabelsIn labels;
  int64_t ignore_index = -100;

  SYMPO_HD int64_t cu(int64_t i) const {
    return cu_is_int32 ? static_cast<int64_t>(static_cast<const int32_t*>(cu_seqlens)[i])
                       : static_cast<const int64_t*>(cu_seqlens)[i];
  }
  SYMPO_HD int64_t begin(int64_t n) const { return cu_seqlens ? cu(n) : n * seq_len; }
  SYMPO_HD int64_t end(int64_t n) const { return cu_seqlens ? cu(n + 1) : (n + 1) * seq_len; }
};

struct SeqReduceArgs {
  SeqArgs seq;
  const void* token_logps = nullptr;  // [rows]
  void* logps = nullptr;              // [nseq] out
  void* counts = nullptr;             // [nseq] out: number of counted tokens
};

// row_grad[r] = grad[n] * scale(n) for every row r of sequence n (0 for rows
// in no sequence).
struct SeqExpandArgs {
  SeqArgs seq;
  const void* grad = nullptr;    // [nseq]
  const void* counts = nullptr;  // [nseq] saved by the forward
  void* row_grad = nullptr;      // [rows] out
};

void logps_row_forward_cpu(const RowForwardArgs& a);
void logps_row_backward_cpu(const RowBackwardArgs& a);

#ifdef SYMPO_WITH_CUDA
void logps_row_forward_cuda(const RowForwardArgs& a, void* stream);
void logps_row_backward_cuda(const RowBackwardArgs& a, void* stream);
void logps_seq_reduce_cuda(const SeqReduceArgs& a, void* stream);
void logps_seq_expand_cuda(const SeqExpandArgs& a, void* stream);
#endif

// Calls f.template operator()<T, Acc>() with the logits' element type T and its
// accumulation type Acc (fp32 for fp32/bf16/fp16, fp64 for fp64): the one place
// that maps a logits dtype to kernel types, for the CPU and CUDA kernels alike
// (host only).
template <typename F>
inline void with_logits_types(ElemKind kind, F&& f) {
  switch (kind) {
    case ElemKind::F32: return f.template operator()<float, float>();
    case ElemKind::F64: return f.template operator()<double, double>();
    case ElemKind::BF16: return f.template operator()<c10::BFloat16, float>();
    case ElemKind::F16: return f.template operator()<c10::Half, float>();
    default: throw std::invalid_argument("sympo_ext: unsupported logits dtype");
  }
}

// Calls f.template operator()<Acc>() with the accumulation type of the
// per-row / per-sequence buffers (SeqArgs::use_double): the same mapping for
// the sequence kernels (host only).
template <typename F>
inline void with_acc_type(bool use_double, F&& f) {
  if (use_double) return f.template operator()<double>();
  return f.template operator()<float>();
}

}  // namespace sympo
