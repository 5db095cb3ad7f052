//===- WeightGeneration.h - Filling an artifact's generated weights -------===//
//
// An artifact may say of a weight "not stored: generate it at load time from
// this recipe" (docs/artifact.md). After loading, those weights are
// materialized here into host memory that the LoadedArtifact owns, so the
// backends see ordinary WeightDesc::data pointers.
//
//===----------------------------------------------------------------------===//
#ifndef BIRKHOFF_RUNTIME_WEIGHTGENERATION_H
#define BIRKHOFF_RUNTIME_WEIGHTGENERATION_H

#include "ArtifactLoader.h"
#include "birkhoff/Runtime.h"
#include "birkhoff/Status.h"
#include "birkhoff/WorkerPool.h"

namespace birkhoff::rt {

/// Allocates one block for every generated weight of `artifact` (each
/// 64-byte aligned, in table order; the gaps are zero), fills the weights and
/// their block scales on `workers`, points their `data` into it
/// (allocation 1) and hands the block to `artifact.generated`. The recipes
/// were checked by the loader. Does nothing for an artifact without
/// generated weights.
/// `progress` (ModelOptions::progress), when set, hears "generating
/// weights".
Status materializeGeneratedWeights(LoadedArtifact &artifact, Workers workers,
                                   const ModelOptions::Progress &progress = {});

} // namespace birkhoff::rt

#endif // BIRKHOFF_RUNTIME_WEIGHTGENERATION_H
