// What the CPU registrations (csrc/cpu/*_register.cpp) share: the instruction
// set whose kernel build runs on this CPU, and the (absent) device guard.
// Kernels with heavy inner loops (csrc/cpu/*_kernel.h) are compiled once per
// instruction set, as ATen does, and dispatched at run time (for_this_cpu).
#pragma once

#include <cstdlib>
#include <cstring>

namespace sympo {

enum class Isa { Default, Avx2, Avx512 };

// The best instruction set this CPU supports (detected once), capped like ATen by
// the ATEN_CPU_CAPABILITY environment variable (default / avx2 / avx512). The
// variable is read at every call (a getenv per op is negligible), so tests can
// compare the builds in one process.
inline Isa cpu_isa() {
#if (defined(__GNUC__) || defined(__clang__)) && defined(__x86_64__)
  static const Isa best = [] {
    __builtin_cpu_init();
    const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    const bool avx512 = avx2 && __builtin_cpu_supports("avx512f") &&
                        __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
                        __builtin_cpu_supports("avx512dq");
    return avx512 ? Isa::Avx512 : avx2 ? Isa::Avx2 : Isa::Default;
  }();
  if (const char* env = std::getenv("ATEN_CPU_CAPABILITY")) {
    if (std::strcmp(env, "default") == 0) return Isa::Default;
    if (std::strcmp(env, "avx2") == 0 && best == Isa::Avx512) return Isa::Avx2;
  }
  return best;
#else
  return Isa::Default;
#endif
}

// One instruction-set build of an op's forward and backward CPU kernels, as
// csrc/cpu/<op>_kernel_<isa>.cpp defines it.
template <typename ForwardArgs, typename BackwardArgs>
struct CpuKernels {
  void (*forward)(const ForwardArgs&);
  void (*backward)(const BackwardArgs&);
};

// The build for this CPU among an op's builds for each instruction set (kernel
// tables or single functions): the one ISA dispatch.
template <typename Build>
Build* for_this_cpu(Build* default_build, Build* avx2_build, Build* avx512_build) {
  switch (cpu_isa()) {
    case Isa::Avx512: return avx512_build;
    case Isa::Avx2: return avx2_build;
    default: return default_build;
  }
}

// CPU ops need no device guard; the op templates of csrc/<op>_host.h take one.
struct NoDeviceGuard {
  template <typename Device>
  explicit NoDeviceGuard(const Device&) {}
};

}  // namespace sympo
