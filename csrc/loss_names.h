// Host-only: the names, kinds and parameter ranges of the loss types, generated
// from sympo/loss_list.h, and the parsing / range checks built on them.
// sympo_ext/losses/formulas.py describes the same losses for users; the op
// sympo_ext::loss_table exposes this table so a test can check the two agree.
#pragma once

#include <c10/util/Exception.h>

#include <array>
#include <cmath>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "sympo/losses.h"

namespace sympo {

struct LossInfo {
  std::string_view name;
  LossKind kind;
  ParamSpec param;
};

inline constexpr std::array<LossInfo, kNumLossTypes> kLossInfo = {{
#define SYMPO_INFO(E, name, kind, param) {name, LossKind::kind, param},
    SYMPO_LOSS_LIST(SYMPO_INFO)
#undef SYMPO_INFO
}};

inline const LossInfo& loss_info(LossType t) { return kLossInfo[static_cast<size_t>(t)]; }

inline std::string joined_loss_names() {
  std::string all;
  for (const LossInfo& info : kLossInfo) {
    if (!all.empty()) all += ", ";
    all += info.name;
  }
  return all;
}

inline LossType parse_loss_type(const std::string& name) {
  for (size_t i = 0; i < kLossInfo.size(); ++i) {
    if (kLossInfo[i].name == name) return static_cast<LossType>(i);
  }
  TORCH_CHECK_VALUE(false, "sym_loss: unknown loss_type '", name,
                    "'; valid: ", joined_loss_names());
}

inline Reduction parse_reduction(const std::string& name) {
  if (name == "none") return Reduction::None;
  if (name == "mean") return Reduction::Mean;
  if (name == "sum") return Reduction::Sum;
  TORCH_CHECK_VALUE(false, "sym_loss: unknown reduction '", name, "'; valid: mean, sum, none");
}

inline std::string range_text(const ParamSpec& s) {
  auto bound = [](double v) {
    std::ostringstream o;
    if (std::isinf(v)) o << (v > 0 ? "inf" : "-inf");
    else o << v;
    return o.str();
  };
  return std::string(s.lo_closed ? "[" : "(") + bound(s.lo) + ", " + bound(s.hi) +
         (s.hi_closed ? "]" : ")");
}

// Whether `value`, rounded to the math dtype, is finite and inside the range:
// the kernel computes with the rounded value (e.g. 0.49999999 is 0.5 in float32).
inline bool in_range(const ParamSpec& s, double value, bool use_double) {
  const double v = use_double ? value : static_cast<double>(static_cast<float>(value));
  if (!std::isfinite(v)) return false;
  const bool lo_ok = s.lo_closed ? v >= s.lo : v > s.lo;
  const bool hi_ok = s.hi_closed ? v <= s.hi : v < s.hi;
  return lo_ok && hi_ok;
}

// One line per loss, "name kind param range" (param "-" when none): what
// sympo_ext::loss_table returns, for the registry consistency test.
inline std::vector<std::string> loss_table_lines() {
  std::vector<std::string> lines;
  for (const LossInfo& info : kLossInfo) {
    std::string line(info.name);
    line += info.kind == LossKind::Margin ? " margin" : " pair";
    if (info.param.name == nullptr) {
      line += " - -";
    } else {
      line += std::string(" ") + info.param.name + " " + range_text(info.param);
    }
    lines.push_back(line);
  }
  return lines;
}

}  // namespace sympo
