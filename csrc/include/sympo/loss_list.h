// THE list of pair-level losses the kernels implement: one line per loss.
//
// Everything else in C++ is generated from it: the LossType enum and the loss
// count (sympo/losses.h), the name table and the parameter checks
// (csrc/loss_names.h), and every dispatch switch. sympo_ext/losses/formulas.py holds the
// matching Python registry entry (defaults, formula text, reference); a test
// (tests/test_losses_registry.py) fails if the two disagree.
//
// X(Enum, "name", kind, param)
//   kind:  Margin - a function l(s) of the signed margin s = c - r,
//          Pair   - a function l(c, r) of both (label-oriented) rewards.
//   param: the loss's own parameter (ParamSpec below), or kNoParam.
#pragma once

#define SYMPO_LOSS_LIST(X)                           \
  X(Sigmoid, "sigmoid", Margin, kTemperature)        \
  X(SymmetricRamp, "symmetric_ramp", Margin, kSlope) \
  X(Unhinged, "unhinged", Margin, kNoParam)          \
  X(Logistic, "logistic", Margin, kNoParam)          \
  X(Hinge, "hinge", Margin, kNoParam)                \
  X(Square, "square", Margin, kNoParam)              \
  X(Exp, "exp", Margin, kNoParam)                    \
  X(Ramp, "ramp", Margin, kNoParam)                  \
  X(CDPO, "cdpo", Margin, kEpsilonUnit)              \
  X(RDPO, "rdpo", Margin, kEpsilonBelowHalf)         \
  X(IPO, "ipo", Margin, kNoParam)                    \
  X(ROPO, "ropo", Margin, kAlpha)                    \
  X(SimPO, "simpo", Margin, kGamma)                  \
  X(ExoPair, "exo_pair", Margin, kEpsilonOpenUnit)   \
  X(DiscoPOP, "discopop", Margin, kTau)              \
  X(NCAPair, "nca_pair", Pair, kNoParam)             \
  X(BCOPair, "bco_pair", Pair, kNoParam)             \
  X(SPPOHard, "sppo_hard", Pair, kNoParam)           \
  X(APOZero, "apo_zero", Pair, kNoParam)             \
  X(APODown, "apo_down", Pair, kNoParam)

namespace sympo {

enum class LossKind : int { Margin, Pair };

// The valid range of one loss parameter: lo < or <= value < or <= hi.
struct ParamSpec {
  const char* name;  // nullptr: the loss has no parameter
  double lo;
  bool lo_closed;
  double hi;
  bool hi_closed;
};

inline constexpr double kInf = __builtin_huge_val();
inline constexpr ParamSpec kNoParam{nullptr, 0, false, 0, false};
inline constexpr ParamSpec kTemperature{"temperature", 0, false, kInf, false};
inline constexpr ParamSpec kSlope{"slope", 0, false, kInf, false};
inline constexpr ParamSpec kEpsilonUnit{"epsilon", 0, true, 1, true};
inline constexpr ParamSpec kEpsilonBelowHalf{"epsilon", 0, true, 0.5, false};
inline constexpr ParamSpec kEpsilonOpenUnit{"epsilon", 0, false, 1, false};
inline constexpr ParamSpec kAlpha{"alpha", 0, false, kInf, false};
inline constexpr ParamSpec kGamma{"gamma", -kInf, false, kInf, false};
inline constexpr ParamSpec kTau{"tau", 0, false, kInf, false};

}  // namespace sympo
