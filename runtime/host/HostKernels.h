//===- HostKernels.h - The host backend's kernel library
//-------------------===//
//
// One function per catalogue kernel (docs/kernels.md). A kernel sees the call
// (S tokens from position `start`), its buffers, weights, state and params
// through KernelArgs and parallelizes over its engine's share of the worker
// pool (birkhoff/WorkerPool.h), each output computed in a fixed order.
//
//===----------------------------------------------------------------------===//
#ifndef BIRKHOFF_RUNTIME_HOST_HOSTKERNELS_H
#define BIRKHOFF_RUNTIME_HOST_HOSTKERNELS_H

#include "../Program.h"
#include "birkhoff/KernelParams.h"
#include "birkhoff/Status.h"
#include "birkhoff/WorkerPool.h"

#include <cstdint>
#include <string_view>

namespace birkhoff::rt {

/// A state buffer of one sequence: `rows` rows of `rowBytes` bytes. Rows hold
/// f32 values in the reference profile and packed entries (FP8 KV entries,
/// FP4 indexer keys) in the official one. Fixed states (window ring,
/// compressor tails) are contiguous; growing states live in pages of a pool
/// shared by all sequences: with `pageRows` > 0, row r is row r % pageRows of
/// page pages[r / pageRows].
struct StateView {
  uint8_t *data = nullptr;
  int64_t rows = 0;
  int64_t rowBytes = 0;
  int64_t pageRows = 0;          // 0: contiguous rows
  const int32_t *pages = nullptr; // paged: the sequence's pages, in order
  uint8_t *bytes(int64_t r) const {
    if (pageRows == 0)
      return data + r * rowBytes;
    return data +
           (int64_t(pages[r / pageRows]) * pageRows + r % pageRows) * rowBytes;
  }
  float *row(int64_t r) const { return reinterpret_cast<float *>(bytes(r)); }
  int64_t rowFloats() const { return rowBytes / 4; }
};

struct KernelArgs {
  int64_t tokens = 0; // S
  int64_t start = 0;  // position of the first token
  const int32_t *tokenIds = nullptr;
  const LaunchDesc *launch = nullptr;
  const Program *program = nullptr;
  float *const *buffers = nullptr; // per entry buffer, base of its rows
  const StateView *states = nullptr; // per program state
  Workers pool;                      // the engine's share of its pool

  float *in(int i) const { return buffers[launch->inputs[i]]; }
  const int32_t *inInt(int i) const {
    int b = launch->inputs[i];
    return b < 0 ? tokenIds : reinterpret_cast<const int32_t *>(buffers[b]);
  }
  float *out(int i) const { return buffers[launch->outputs[i]]; }
  int32_t *outInt(int i) const {
    return reinterpret_cast<int32_t *>(buffers[launch->outputs[i]]);
  }
  const WeightDesc &weight(int i) const {
    return program->weights[launch->weights[i]];
  }
  bool hasWeight(int i) const {
    return i < int(launch->weights.size()) && launch->weights[i] >= 0;
  }
  const WeightDesc *scaleOf(const WeightDesc &w) const {
    return w.scale >= 0 ? &program->weights[w.scale] : nullptr;
  }
  const StateView &state(int i) const { return states[launch->states[i]]; }
  /// DeepSeek's inference numerics (docs/kernels.md, "official" profile).
  bool official() const { return numericsOf(launch->params) == 1; }
};

/// Runs the launch's kernel on the params decoded at load time.
using HostKernelFn = Status (*)(const KernelArgs &);

/// The host implementation of catalogue kernel `id`.
HostKernelFn hostKernel(KernelId id);

// One entry point per catalogue kernel (Kernels.def), taking its typed params:
// `Status linearKernel(const KernelArgs &, const LinearParams &)`, ... Every
// one is called from the table of hostKernel, so a kernel without a host
// implementation does not link.
#define BK_KERNEL(Id, camel, ...)                                              \
  Status camel##Kernel(const KernelArgs &a, const Id##Params &p);
#include "birkhoff/Kernels.def"

} // namespace birkhoff::rt

#endif // BIRKHOFF_RUNTIME_HOST_HOSTKERNELS_H
