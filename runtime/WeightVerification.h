//===- WeightVerification.h - Checking stored weights against their CRCs --===//
//
// Each stored weight of an artifact carries the CRC-32C of its bytes
// (docs/artifact.md). The CUDA backend reads every weight to upload it, so
// its load always checks them; the host backend reads weights in place, on
// demand, so it checks them only when asked (ModelOptions::verifyWeights,
// `--verify`). Either way a flipped byte is an error naming the weight, not
// a different answer.
//
//===----------------------------------------------------------------------===//
#ifndef BIRKHOFF_RUNTIME_WEIGHTVERIFICATION_H
#define BIRKHOFF_RUNTIME_WEIGHTVERIFICATION_H

#include "Program.h"
#include "birkhoff/Runtime.h"
#include "birkhoff/Status.h"
#include "birkhoff/WorkerPool.h"

#include <cstdint>
#include <string>

namespace birkhoff::rt {

struct WeightVerificationStats {
  uint64_t weights = 0; // stored weights checked
  uint64_t bytes = 0;   // their bytes
};

/// Checks the CRC-32C of every stored weight of `prog` (generated weights
/// have none). Large weights are split into pieces so that all of `workers`'
/// threads share the work whatever the sizes; the pieces' CRCs are combined.
/// Fails with Corrupt naming `origin` and the first weight (in table order)
/// whose bytes do not match.
/// `progress` (ModelOptions::progress), when set, hears "verifying weights".
Expected<WeightVerificationStats>
verifyWeights(const Program &prog, const Workers &workers,
              const std::string &origin,
              const ModelOptions::Progress &progress = {});

} // namespace birkhoff::rt

#endif // BIRKHOFF_RUNTIME_WEIGHTVERIFICATION_H
