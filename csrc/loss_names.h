// Host-only: the names of the loss types and reductions, as the Python API
// spells them. sympo_ext/losses.py describes the same losses for users; a test
// checks the two lists agree.
#pragma once

#include <c10/util/Exception.h>

#include <array>
#include <string>
#include <string_view>

#include "sympo/losses.h"

namespace sympo {

inline constexpr std::array<std::string_view, kNumLossTypes> kLossNames = {
    "sigmoid", "symmetric_ramp", "unhinged", "logistic", "hinge", "square",
    "exp",     "ramp",           "cdpo",     "rdpo",     "ipo"};

inline std::string joined_loss_names() {
  std::string all;
  for (std::string_view name : kLossNames) {
    if (!all.empty()) all += ", ";
    all += name;
  }
  return all;
}

inline LossType parse_loss_type(const std::string& name) {
  for (size_t i = 0; i < kLossNames.size(); ++i) {
    if (kLossNames[i] == name) return static_cast<LossType>(i);
  }
  TORCH_CHECK_VALUE(false, "sym_loss: unknown loss_type '", name, "'; valid: ", joined_loss_names());
}

inline Reduction parse_reduction(const std::string& name) {
  if (name == "none") return Reduction::None;
  if (name == "mean") return Reduction::Mean;
  if (name == "sum") return Reduction::Sum;
  TORCH_CHECK_VALUE(false, "sym_loss: unknown reduction '", name, "'; valid: mean, sum, none");
}

}  // namespace sympo
