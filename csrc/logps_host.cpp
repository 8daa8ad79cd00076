#include "logps_host.h"

#include <ATen/ATen.h>
#include <c10/util/Exception.h>

#include "tensor_checks.h"

#if defined(__linux__)
#include <sys/mman.h>

#include <cstdlib>
#endif

namespace sympo {
namespace {

at::ScalarType acc_dtype(const at::Tensor& logits) {
  return logits.scalar_type() == at::kDouble ? at::kDouble : at::kFloat;
}

void check_logits_dtype(const at::Tensor& logits, const char* op) {
  TORCH_CHECK(logits.defined(), op, ": logits is undefined");
  TORCH_CHECK(is_supported_float(logits.scalar_type()), op,
              ": logits must be float32, bfloat16, float16 or float64, got ", logits.scalar_type());
}

// Rows of V contiguous elements, addressed as described in logps_launch.h.
struct LogitsView {
  int64_t rows = 0, vocab = 0;
  RowLayout layout;
  ElemKind kind = ElemKind::F32;
};

LogitsView view_logits(const at::Tensor& logits, const char* op) {
  check_logits_dtype(logits, op);
  TORCH_CHECK(logits.dim() == 2 || logits.dim() == 3, op,
              ": logits must be [N, T, V] (padded) or [L, V] (packed), got shape ", logits.sizes());
  LogitsView v;
  v.vocab = logits.size(-1);
  TORCH_CHECK(v.vocab >= 1, op, ": logits must have a vocabulary dimension V >= 1, got shape ",
              logits.sizes());
  TORCH_CHECK(logits.stride(-1) == 1 || v.vocab == 1, op,
              ": logits must be contiguous in the last (vocabulary) dimension, got strides ",
              logits.strides(), " (the Python wrappers copy such inputs)");
  v.kind = elem_kind(logits.scalar_type(), "logits");
  if (logits.dim() == 2) {
    v.rows = logits.size(0);
    v.layout.group = std::max<int64_t>(v.rows, 1);
    v.layout.group_stride = 0;
    v.layout.row_stride = logits.stride(0);
  } else {
    v.rows = logits.size(0) * logits.size(1);
    v.layout.group = std::max<int64_t>(logits.size(1), 1);
    v.layout.group_stride = logits.stride(0);
    v.layout.row_stride = logits.stride(1);
  }
  return v;
}

// Labels of the expected shape, integer, on the logits' device -> contiguous [R].
at::Tensor normalise_labels(const at::Tensor& labels, const at::Tensor& logits,
                            at::IntArrayRef expected, const char* op) {
  TORCH_CHECK(labels.defined(), op, ": labels is undefined");
  TORCH_CHECK(labels.scalar_type() == at::kLong || labels.scalar_type() == at::kInt, op,
              ": labels must be int64 or int32 token ids, got ", labels.scalar_type());
  TORCH_CHECK(labels.sizes() == expected, op, ": labels must have shape ", expected,
              " to match logits of shape ", logits.sizes(), ", got ", labels.sizes());
  TORCH_CHECK(labels.device() == logits.device(), op, ": labels is on ", labels.device(),
              " but logits is on ", logits.device());
  return labels.contiguous().reshape({-1});
}

LabelsIn labels_in(const at::Tensor& flat) {
  LabelsIn l;
  l.data = flat.const_data_ptr();
  l.is_int32 = flat.scalar_type() == at::kInt;
  return l;
}

// A vector in the accumulation type, contiguous, on the logits' device.
at::Tensor normalise_vector(const at::Tensor& t, int64_t n, const at::Tensor& logits,
                            const char* op, const char* name) {
  TORCH_CHECK(t.defined(), op, ": ", name, " is undefined");
  TORCH_CHECK(t.dim() == 1 && t.size(0) == n, op, ": ", name, " must have shape [", n, "], got ",
              t.sizes());
  TORCH_CHECK(at::isFloatingType(t.scalar_type()), op, ": ", name, " must be floating, got ",
              t.scalar_type());
  TORCH_CHECK(t.device() == logits.device(), op, ": ", name, " is on ", t.device(),
              " but logits is on ", logits.device());
  return t.to(acc_dtype(logits)).contiguous();
}

// Shape, dtype and device of cu_seqlens; values are checked when it is on the
// CPU. Returns it contiguous on the logits' device.
at::Tensor normalise_cu_seqlens(const at::Tensor& cu, const at::Tensor& logits, int64_t rows,
                                const char* op) {
  TORCH_CHECK(cu.defined(), op, ": cu_seqlens is undefined");
  TORCH_CHECK(
      cu.dim() == 1 && cu.size(0) >= 1, op,
      ": cu_seqlens must be 1-D [N + 1] offsets (0, len_0, len_0 + len_1, ..., L), got shape ",
      cu.sizes());
  TORCH_CHECK(cu.scalar_type() == at::kLong || cu.scalar_type() == at::kInt, op,
              ": cu_seqlens must be int64 or int32, got ", cu.scalar_type());
  TORCH_CHECK(cu.device().is_cpu() || cu.device() == logits.device(), op,
              ": cu_seqlens must be on the CPU (recommended: checked, then copied) or on the "
              "logits' device ",
              logits.device(), ", got ", cu.device());
  at::Tensor c = cu.contiguous();
  if (c.device().is_cpu()) {
    check_cu_seqlens_values(c, rows, op);
    if (!logits.device().is_cpu()) c = c.to(logits.device(), /*non_blocking=*/true);
  }
  return c;
}

// A fresh gradient buffer shaped like the logits. On Linux CPUs a large one is
// 2 MiB-aligned and advised to use transparent huge pages: the buffer is first
// touched by the backward kernel and page faults dominate otherwise (512x
// fewer faults; ~3x faster first touch measured on the 2-core dev VM).
at::Tensor empty_gradient(const at::Tensor& logits) {
#if defined(__linux__)
  constexpr size_t kHuge = size_t(2) << 20;
  const size_t nbytes = static_cast<size_t>(logits.numel()) * logits.element_size();
  if (logits.device().is_cpu() && nbytes >= 4 * kHuge) {
    void* p = nullptr;
    const size_t size = (nbytes + kHuge - 1) / kHuge * kHuge;
    if (posix_memalign(&p, kHuge, size) == 0) {
      (void)madvise(p, size, MADV_HUGEPAGE);  // advisory: ignore failure
      return at::from_blob(p, logits.sizes(), [](void* q) { std::free(q); }, logits.options());
    }
  }
#endif
  return at::empty(logits.sizes(), logits.options());
}

// The rows of the logits seen as `v`, with contiguous labels [R].
RowArgs row_args(const LogitsView& v, const at::Tensor& logits, const at::Tensor& labels,
                 int64_t ignore_index) {
  RowArgs a;
  a.rows = v.rows;
  a.vocab = v.vocab;
  a.kind = v.kind;
  a.logits = logits.const_data_ptr();
  a.layout = v.layout;
  a.labels = labels_in(labels);
  a.ignore_index = ignore_index;
  return a;
}

// The row backward into `grad` (shaped like the logits), from lse and row_grad
// [R] (contiguous, accumulation type).
RowBackwardArgs row_backward_args(const RowArgs& rows, at::Tensor& grad, const at::Tensor& lse,
                                  const at::Tensor& row_grad, const char* op) {
  return {rows, grad.mutable_data_ptr(), view_logits(grad, op).layout, lse.const_data_ptr(),
          row_grad.const_data_ptr()};
}

// Logits [R, V] and labels [R] of the row ops, checked (label values too, on
// the CPU), labels made contiguous.
struct RowInputs {
  LogitsView view;
  at::Tensor labels;
};

RowInputs row_inputs(const at::Tensor& logits, const at::Tensor& labels, int64_t ignore_index,
                     const char* op) {
  TORCH_CHECK(logits.defined() && logits.dim() == 2, op, ": logits must be 2-D [R, V], got shape ",
              logits.sizes());
  RowInputs in;
  in.view = view_logits(logits, op);
  in.labels = normalise_labels(labels, logits, {in.view.rows}, op);
  if (in.labels.device().is_cpu()) {
    check_labels_in_range(in.labels, in.view.vocab, ignore_index, op);
  }
  return in;
}

}  // namespace

void check_labels_in_range(const at::Tensor& labels, int64_t vocab, int64_t ignore_index,
                           const char* op) {
  TORCH_INTERNAL_ASSERT(labels.device().is_cpu() && labels.is_contiguous());
  const LabelsIn l = labels_in(labels);
  const int64_t n = labels.numel();
  for (int64_t i = 0; i < n; ++i) {
    const int64_t y = l[i];
    if (!label_counted(y, ignore_index) || label_in_range(y, vocab)) continue;
    TORCH_CHECK(false, op, ": labels must be token ids in [0, V) = [0, ", vocab,
                ") or ignore_index (", ignore_index, "); found ", y, " at flattened position ", i);
  }
}

void check_cu_seqlens_values(const at::Tensor& cu, int64_t rows, const char* op) {
  TORCH_INTERNAL_ASSERT(cu.device().is_cpu() && cu.is_contiguous());
  SeqArgs s;
  s.cu_seqlens = cu.const_data_ptr();
  s.cu_is_int32 = cu.scalar_type() == at::kInt;
  const int64_t n = cu.numel();
  TORCH_CHECK(s.cu(0) == 0, op, ": cu_seqlens must start at 0, got ", s.cu(0));
  for (int64_t i = 1; i < n; ++i) {
    TORCH_CHECK(s.cu(i) >= s.cu(i - 1), op, ": cu_seqlens must be non-decreasing, got ",
                s.cu(i - 1), " then ", s.cu(i), " at index ", i);
  }
  TORCH_CHECK(s.cu(n - 1) == rows, op,
              ": cu_seqlens must end at the number of packed tokens L = ", rows,
              " (logits.size(0)), got ", s.cu(n - 1));
}

RowForwardPlan plan_row_forward(const at::Tensor& logits, const at::Tensor& labels,
                                int64_t ignore_index) {
  const char* op = "token_logps_forward";
  const RowInputs in = row_inputs(logits, labels, ignore_index, op);
  RowForwardPlan plan;
  const auto opts = logits.options().dtype(acc_dtype(logits));
  plan.token_logps = at::empty({in.view.rows}, opts);
  plan.lse = at::empty({in.view.rows}, opts);
  plan.labels = in.labels;
  plan.args = {row_args(in.view, logits, in.labels, ignore_index),
               plan.token_logps.mutable_data_ptr(), plan.lse.mutable_data_ptr()};
  return plan;
}

RowBackwardPlan plan_row_backward(const at::Tensor& logits, const at::Tensor& labels,
                                  const at::Tensor& lse, const at::Tensor& row_grad,
                                  int64_t ignore_index, at::Tensor& grad, const char* op) {
  const RowInputs in = row_inputs(logits, labels, ignore_index, op);
  RowBackwardPlan plan;
  plan.labels = in.labels;
  plan.lse = normalise_vector(lse, in.view.rows, logits, op, "lse");
  plan.row_grad = normalise_vector(row_grad, in.view.rows, logits, op, "row_grad");
  TORCH_CHECK(grad.sizes() == logits.sizes() && grad.scalar_type() == logits.scalar_type() &&
                  (grad.stride(-1) == 1 || in.view.vocab == 1),
              op, ": internal: gradient buffer does not match the logits");
  plan.args = row_backward_args(row_args(in.view, logits, in.labels, ignore_index), grad, plan.lse,
                                plan.row_grad, op);
  return plan;
}

namespace {

// Shared by the sequence forward and backward: shapes, labels, cu_seqlens.
struct SeqInputs {
  LogitsView view;
  int64_t nseq = 0, seq_len = 0;
  at::Tensor labels, cu_seqlens;
};

SeqInputs seq_inputs(const at::Tensor& logits, const at::Tensor& labels,
                     const std::optional<at::Tensor>& cu_seqlens, const char* op) {
  SeqInputs in;
  in.view = view_logits(logits, op);
  if (logits.dim() == 3) {
    TORCH_CHECK(!cu_seqlens.has_value(), op,
                ": cu_seqlens is only for the packed form (logits [L, V], labels [L]); got padded "
                "logits of shape ",
                logits.sizes());
    in.nseq = logits.size(0);
    in.seq_len = logits.size(1);
    in.labels = normalise_labels(labels, logits, {logits.size(0), logits.size(1)}, op);
  } else {
    TORCH_CHECK(cu_seqlens.has_value(), op,
                ": 2-D logits [L, V] are the packed form and need cu_seqlens [N + 1]; for padded "
                "batches pass logits [N, T, V] and labels [N, T]");
    in.labels = normalise_labels(labels, logits, {logits.size(0)}, op);
    in.cu_seqlens = normalise_cu_seqlens(*cu_seqlens, logits, in.view.rows, op);
    in.nseq = in.cu_seqlens.size(0) - 1;
  }
  return in;
}

SeqArgs seq_args(const SeqInputs& in, const at::Tensor& logits, int64_t ignore_index,
                 bool average) {
  SeqArgs s;
  s.nseq = in.nseq;
  s.rows = in.view.rows;
  s.seq_len = in.seq_len;
  if (in.cu_seqlens.defined()) {
    s.cu_seqlens = in.cu_seqlens.const_data_ptr();
    s.cu_is_int32 = in.cu_seqlens.scalar_type() == at::kInt;
  }
  s.average = average;
  s.use_double = acc_dtype(logits) == at::kDouble;
  s.labels = labels_in(in.labels);
  s.ignore_index = ignore_index;
  return s;
}

}  // namespace

SeqForwardPlan plan_seq_forward(const at::Tensor& logits, const at::Tensor& labels,
                                const std::optional<at::Tensor>& cu_seqlens, int64_t ignore_index,
                                bool average) {
  const char* op = "sequence_logps";
  SeqInputs in = seq_inputs(logits, labels, cu_seqlens, op);
  if (in.labels.device().is_cpu())
    check_labels_in_range(in.labels, in.view.vocab, ignore_index, op);
  SeqForwardPlan plan;
  const auto opts = logits.options().dtype(acc_dtype(logits));
  plan.logps = at::empty({in.nseq}, opts);
  plan.counts = at::empty({in.nseq}, opts);
  plan.lse = at::empty({in.view.rows}, opts);
  plan.token_logps = at::empty({in.view.rows}, opts);
  plan.labels = in.labels;
  plan.cu_seqlens = in.cu_seqlens;

  plan.row = {row_args(in.view, logits, in.labels, ignore_index),
              plan.token_logps.mutable_data_ptr(), plan.lse.mutable_data_ptr()};

  SeqReduceArgs& s = plan.reduce;
  s.seq = seq_args(in, logits, ignore_index, average);
  s.token_logps = plan.token_logps.const_data_ptr();
  s.logps = plan.logps.mutable_data_ptr();
  s.counts = plan.counts.mutable_data_ptr();
  return plan;
}

SeqBackwardPlan plan_seq_backward(const at::Tensor& grad, const at::Tensor& logits,
                                  const at::Tensor& labels, const at::Tensor& lse,
                                  const at::Tensor& counts,
                                  const std::optional<at::Tensor>& cu_seqlens, int64_t ignore_index,
                                  bool average, bool inplace) {
  const char* op = "sequence_logps_backward";
  SeqInputs in = seq_inputs(logits, labels, cu_seqlens, op);
  SeqBackwardPlan plan;
  plan.labels = in.labels;
  plan.cu_seqlens = in.cu_seqlens;
  plan.grad = normalise_vector(grad, in.nseq, logits, op, "grad");
  plan.counts = normalise_vector(counts, in.nseq, logits, op, "counts");
  plan.lse = normalise_vector(lse, in.view.rows, logits, op, "lse");
  plan.row_grad = at::empty({in.view.rows}, logits.options().dtype(acc_dtype(logits)));
  plan.grad_logits = inplace ? logits : empty_gradient(logits);

  SeqExpandArgs& e = plan.expand;
  e.seq = seq_args(in, logits, ignore_index, average);
  e.grad = plan.grad.const_data_ptr();
  e.counts = plan.counts.const_data_ptr();
  e.row_grad = plan.row_grad.mutable_data_ptr();

  plan.row = row_backward_args(row_args(in.view, logits, in.labels, ignore_index), plan.grad_logits,
                               plan.lse, plan.row_grad, op);
  return plan;
}

}  // namespace sympo
