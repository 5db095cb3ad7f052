//===- Rope.h - Rotary position embedding of DeepSeek-V4 (V4_SPEC P3)
//------===//
#ifndef BIRKHOFF_RUNTIME_HOST_ROPE_H
#define BIRKHOFF_RUNTIME_HOST_ROPE_H

#include "HostKernels.h"

#include <vector>

namespace birkhoff::rt {

/// The per-pair inverse frequencies of one layer's RoPE, with YaRN when asked
/// (ramp between `beta_fast` and `beta_slow`, no magnitude correction).
struct RopeTable {
  int64_t ropeDim = 0;
  std::vector<float> invFreq; // ropeDim / 2 entries

  static RopeTable fromParams(const RopeSpec &r);
  /// Rotates the interleaved pairs of x[0..ropeDim) by position p (or by -p).
  void apply(float *x, int64_t position, bool inverse) const;
};

} // namespace birkhoff::rt

#endif // BIRKHOFF_RUNTIME_HOST_ROPE_H
