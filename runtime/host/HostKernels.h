//===- HostKernels.h - The host backend's kernel library -------------------===//
//
// One function per catalogue kernel (docs/kernels.md). A kernel sees the call
// (S tokens from position `start`), its buffers, weights, state and params
// through KernelArgs and parallelizes over the session's thread pool.
//
//===----------------------------------------------------------------------===//
#ifndef BIRKHOFF_RUNTIME_HOST_HOSTKERNELS_H
#define BIRKHOFF_RUNTIME_HOST_HOSTKERNELS_H

#include "../Program.h"
#include "ThreadPool.h"
#include "birkhoff/Status.h"

#include <cstdint>
#include <string_view>

namespace birkhoff::rt {

/// A state buffer of one session: `rows` rows of `rowBytes` bytes. Rows hold
/// f32 values in the reference profile and packed entries (FP8 KV entries,
/// FP4 indexer keys) in the official one.
struct StateView {
  uint8_t *data = nullptr;
  int64_t rows = 0;
  int64_t rowBytes = 0;
  uint8_t *bytes(int64_t r) const { return data + r * rowBytes; }
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
  ThreadPool *pool = nullptr;

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
  int64_t pi(const char *key) const { return launch->params.i(key); }
  /// DeepSeek's inference numerics (docs/kernels.md, "official" profile).
  bool official() const { return launch->params.i("numerics") == 1; }
  double pf(const char *key) const { return launch->params.f(key); }
};

using HostKernelFn = Status (*)(const KernelArgs &);

/// The implementation of a catalogue kernel, or nullptr.
HostKernelFn findHostKernel(std::string_view name);

// Kernel entry points, grouped by file.
Status embedKernel(const KernelArgs &a);
Status mhcPreKernel(const KernelArgs &a);
Status mhcPreNormKernel(const KernelArgs &a);
Status mhcPostKernel(const KernelArgs &a);
Status mhcHeadKernel(const KernelArgs &a);
Status mhcHeadNormKernel(const KernelArgs &a);
Status rmsNormKernel(const KernelArgs &a);
Status headRmsNormKernel(const KernelArgs &a);
Status ropeKernel(const KernelArgs &a);
Status headRmsNormRopeKernel(const KernelArgs &a);
Status linearKernel(const KernelArgs &a);
Status linearRmsNormKernel(const KernelArgs &a);
Status groupedLinearKernel(const KernelArgs &a);
Status compressorKernel(const KernelArgs &a);
Status indexerTopkKernel(const KernelArgs &a);
Status sparseAttentionKernel(const KernelArgs &a);
Status windowWriteKernel(const KernelArgs &a);
Status routerScoresKernel(const KernelArgs &a);
Status routeSelectKernel(const KernelArgs &a);
Status routerKernel(const KernelArgs &a);
Status moeKernel(const KernelArgs &a);

} // namespace birkhoff::rt

#endif // BIRKHOFF_RUNTIME_HOST_HOSTKERNELS_H
