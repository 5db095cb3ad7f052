//===- LogitsCheck.h - Refuse non-finite logits from a step -----*- C++ -*-===//
//
// A NaN or an infinity in a logits row means the computation broke: the
// compiler refuses non-finite weights (docs/artifact.md), so activations
// overflowed or a kernel misbehaved. Sampling from such a row would pick a
// token silently; Engine::step refuses it instead, on the host copy of the
// logits that both backends return.
//
//===----------------------------------------------------------------------===//
#ifndef BIRKHOFF_RUNTIME_LOGITSCHECK_H
#define BIRKHOFF_RUNTIME_LOGITSCHECK_H

#include "birkhoff/Runtime.h"

namespace birkhoff::rt {

/// Lists in result.failed each sequence of `batch` one of whose logits rows
/// holds a non-finite value (Internal, naming the sequence, the position and
/// the vocabulary index) and drops that sequence's rows from result.rows and
/// result.logits; the other sequences keep theirs.
void refuseNonFiniteLogits(const Batch &batch, StepResult &result);

} // namespace birkhoff::rt

#endif // BIRKHOFF_RUNTIME_LOGITSCHECK_H
