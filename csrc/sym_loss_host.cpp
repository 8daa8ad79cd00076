#include "sym_loss_host.h"

#include <ATen/ATen.h>
#include <c10/util/Exception.h>

#include <array>
#include <cmath>
#include <limits>
#include <sstream>

#include "loss_names.h"
#include "tensor_checks.h"

namespace sympo {
namespace {

// Every floating input is read through its own dtype; fp64 anywhere among the
// log-probs or weights makes the math (and the loss) fp64.
bool wants_double(std::initializer_list<const at::Tensor*> ts) {
  for (const at::Tensor* t : ts) {
    if (t != nullptr && t->defined() && t->scalar_type() == at::kDouble) return true;
  }
  return false;
}

StridedIn strided_in(const std::optional<at::Tensor>& t) {
  StridedIn in;
  if (t.has_value() && t->defined()) {
    in.data = t->const_data_ptr();
    in.stride = t->numel() > 0 ? t->stride(0) : 1;
    in.kind = elem_kind(t->scalar_type(), "tensor");
  }
  return in;
}

StridedOut strided_out(at::Tensor& t) {
  StridedOut out;
  if (t.numel() > 0) {
    out.data = t.mutable_data_ptr();
    out.kind = elem_kind(t.scalar_type(), "gradient");
  }
  return out;
}

const at::Tensor* ptr(const std::optional<at::Tensor>& t) { return t.has_value() ? &*t : nullptr; }

}  // namespace

SymLossForwardPlan plan_sym_loss_forward(const SymLossForwardInputs& in) {
  const auto& [policy_chosen_logps, policy_rejected_logps, ref_chosen_logps, ref_rejected_logps,
               labels, weights, loss_types, loss_weights, loss_params, beta, clip, reduction,
               return_rewards] = in;
  // --- tensors ---------------------------------------------------------------
  const SamePairs same_pairs = check_pair_tensors(policy_chosen_logps, policy_rejected_logps,
                                                  ref_chosen_logps, ref_rejected_logps, labels);
  const int64_t n = same_pairs.n;
  if (weights.has_value()) {
    check_vector(*weights, "weights");
    TORCH_CHECK(at::isFloatingType(weights->scalar_type()),
                "sym_loss: weights must be a floating tensor (>= 0 per pair), got ",
                weights->scalar_type());
    same_pairs(*weights, "weights");
  }

  // --- scalars ---------------------------------------------------------------
  // Every number is checked as the kernel will use it: rounded to the math dtype.
  SymLossForwardArgs a;
  a.use_double = wants_double({&policy_chosen_logps, &policy_rejected_logps, ptr(ref_chosen_logps),
                               ptr(ref_rejected_logps), ptr(weights)});
  const char* math = a.use_double ? "float64" : "float32";
  auto finite_in_math = [&](double v) {
    return a.use_double ? std::isfinite(v) : std::isfinite(static_cast<float>(v));
  };
  auto positive_in_math = [&](double v) {
    return finite_in_math(v) && (a.use_double ? v > 0 : static_cast<float>(v) > 0.0f);
  };
  a.reduction = parse_reduction(reduction);
  TORCH_CHECK(positive_in_math(beta), "sym_loss: beta must be a finite number > 0 in the ", math,
              " math, got ", beta);
  if (clip.has_value()) {
    TORCH_CHECK(positive_in_math(*clip),
                "sym_loss: clip must be None (no clipping) or a finite number > 0 in the ", math,
                " math, got ", *clip);
  }
  const size_t k = loss_types.size();
  TORCH_CHECK_VALUE(k >= 1 && k <= static_cast<size_t>(kMaxTerms),
                    "sym_loss: loss_types must name 1 to ", kMaxTerms, " losses, got ", k);
  TORCH_CHECK_VALUE(loss_weights.size() == k && loss_params.size() == k,
                    "sym_loss: loss_weights and loss_params need one entry per loss type (", k,
                    "), got ", loss_weights.size(), " and ", loss_params.size());
  a.num_terms = static_cast<int>(k);
  for (size_t i = 0; i < k; ++i) {
    LossTerm& t = a.terms[i];
    t.type = parse_loss_type(loss_types[i]);
    for (size_t j = 0; j < i; ++j) {
      TORCH_CHECK_VALUE(a.terms[j].type != t.type, "sym_loss: loss type '", loss_types[i],
                        "' appears twice in loss_types; give each loss once with its weight");
    }
    TORCH_CHECK_VALUE(positive_in_math(loss_weights[i]), "sym_loss: loss_weights[", i, "] (for '",
                      loss_types[i], "') must be a finite number > 0 in the ", math, " math, got ",
                      loss_weights[i]);
    const ParamSpec& spec = loss_info(t.type).param;
    if (spec.name == nullptr) {
      TORCH_CHECK_VALUE(loss_params[i] == 0.0, "sym_loss: loss_params[", i, "] must be 0: loss '",
                        loss_types[i], "' has no parameter, got ", loss_params[i]);
    } else {
      TORCH_CHECK(in_range(spec, loss_params[i], a.use_double), "sym_loss: ", spec.name,
                  " must be a finite number in ", range_text(spec), " for loss_type '",
                  loss_types[i], "' (checked in the ", math, " math), got ", loss_params[i]);
    }
    t.weight = loss_weights[i];
    t.param = loss_params[i];
  }

  a.n = n;
  a.beta = beta;
  a.clip = clip.value_or(std::numeric_limits<double>::infinity());
  a.policy_chosen = strided_in(policy_chosen_logps);
  a.policy_rejected = strided_in(policy_rejected_logps);
  a.ref_chosen = strided_in(ref_chosen_logps);
  a.ref_rejected = strided_in(ref_rejected_logps);
  a.labels = strided_in(labels);
  a.weights = strided_in(weights);

  const auto opts = policy_chosen_logps.options().dtype(a.use_double ? at::kDouble : at::kFloat);
  SymLossForwardPlan plan;
  plan.loss = a.reduction == Reduction::None ? at::empty({n}, opts) : at::empty({}, opts);
  plan.grad_coef = at::empty({a.has_weight_grad() ? 3 : 2, n}, opts);
  plan.rewards = at::empty({3, return_rewards ? n : 0}, opts);
  a.loss = plan.loss.mutable_data_ptr();
  a.grad_coef = plan.grad_coef.mutable_data_ptr();
  a.rewards = return_rewards ? plan.rewards.mutable_data_ptr() : nullptr;
  plan.args = a;
  return plan;
}

SymLossBackwardPlan plan_sym_loss_backward(const SymLossBackwardInputs& in) {
  const at::Tensor& grad_loss = in.grad_loss;
  const at::Tensor& grad_coef = in.grad_coef;
  TORCH_CHECK(grad_coef.dim() == 2 && (grad_coef.size(0) == 2 || grad_coef.size(0) == 3) &&
                  grad_coef.is_contiguous() &&
                  (grad_coef.scalar_type() == at::kFloat || grad_coef.scalar_type() == at::kDouble),
              "sym_loss_backward: grad_coef must be the contiguous [2, n] (or [3, n] with weights) "
              "float tensor saved by sym_loss_forward");
  TORCH_CHECK(!in.weights_dtype.has_value() || grad_coef.size(0) == 3,
              "sym_loss_backward: a weights gradient needs the [3, n] grad_coef of a forward "
              "called with weights");
  const int64_t n = grad_coef.size(1);
  TORCH_CHECK(grad_loss.dim() == 0 || (grad_loss.dim() == 1 && grad_loss.size(0) == n),
              "sym_loss_backward: grad_loss must be a scalar (mean/sum) or have ", n,
              " entries (reduction='none'), got shape ", grad_loss.sizes());
  TORCH_CHECK(grad_loss.device() == grad_coef.device(), "sym_loss_backward: grad_loss is on ",
              grad_loss.device(), " but grad_coef on ", grad_coef.device());
  TORCH_CHECK(at::isFloatingType(grad_loss.scalar_type()),
              "sym_loss_backward: grad_loss must be floating, got ", grad_loss.scalar_type());

  SymLossBackwardPlan plan;
  SymLossBackwardArgs& a = plan.args;
  a.n = n;
  a.use_double = grad_coef.scalar_type() == at::kDouble;
  a.grad_coef = grad_coef.const_data_ptr();
  a.grad_loss.data = grad_loss.const_data_ptr();
  a.grad_loss.stride = grad_loss.dim() == 0 ? 0 : grad_loss.stride(0);
  a.grad_loss.kind = elem_kind(grad_loss.scalar_type(), "grad_loss");

  auto make = [&](std::optional<at::ScalarType> dtype, at::Tensor& t, StridedOut& out,
                  const char* name) {
    if (dtype.has_value()) {
      TORCH_CHECK(at::isFloatingType(*dtype), "sym_loss_backward: ", name,
                  " dtype must be floating, got ", *dtype);
      t = at::empty({n}, grad_coef.options().dtype(*dtype));
    } else {
      t = at::empty({0}, grad_coef.options());  // not wanted
    }
    out = strided_out(t);
  };
  make(in.policy_chosen_dtype, plan.grad_policy_chosen, a.grad_policy_chosen, "policy_chosen");
  make(in.policy_rejected_dtype, plan.grad_policy_rejected, a.grad_policy_rejected,
       "policy_rejected");
  make(in.ref_chosen_dtype, plan.grad_ref_chosen, a.grad_ref_chosen, "ref_chosen");
  make(in.ref_rejected_dtype, plan.grad_ref_rejected, a.grad_ref_rejected, "ref_rejected");
  make(in.weights_dtype, plan.grad_weights, a.grad_weights, "weights");
  return plan;
}

}  // namespace sympo
