//===- EngineInternals.h - Hooks into an Engine for benchmarks ------------===//
//
// Not part of the public API: what `birkhoff bench` needs to time steps of
// many sequences at long contexts without prefilling them all, and to see
// which experts a step read.
//
//===----------------------------------------------------------------------===//
#ifndef BIRKHOFF_RUNTIME_ENGINEINTERNALS_H
#define BIRKHOFF_RUNTIME_ENGINEINTERNALS_H

#include "Backend.h"
#include "birkhoff/Runtime.h"

namespace birkhoff {

struct EngineInternals {
  /// Moves `sequence` on by `tokens` positions without running the model:
  /// its state for them stays zero (pages are taken as for real tokens).
  /// A step then moves the bytes of a real context of that length; its
  /// logits mean nothing.
  static Status skipTokens(Engine &engine, SequenceId sequence, int64_t tokens);
  static rt::EngineBackend &backend(Engine &engine);
};

} // namespace birkhoff

#endif // BIRKHOFF_RUNTIME_ENGINEINTERNALS_H
