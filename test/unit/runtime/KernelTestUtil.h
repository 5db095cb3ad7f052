//===- KernelTestUtil.h - Building kernel launches by hand for unit tests --===//
#ifndef BIRKHOFF_TEST_UNIT_RUNTIME_KERNELTESTUTIL_H
#define BIRKHOFF_TEST_UNIT_RUNTIME_KERNELTESTUTIL_H

#include "host/HostKernels.h"

#include <functional>
#include <string>
#include <vector>

namespace birkhoff::test {

/// A host kernel entry point (`rt::linearKernel`, ...) with the kernel its
/// params struct belongs to.
struct HostKernelRef {
  KernelId id;
  std::function<Status(const rt::KernelArgs &)> call;

  template <typename P>
  HostKernelRef(Status (*fn)(const rt::KernelArgs &, const P &))
      : id(P::kId), call([fn](const rt::KernelArgs &a) {
          return fn(a, std::get<P>(a.launch->params));
        }) {}
};

/// Owns everything a KernelArgs points to: weights (as f32 or raw bytes),
/// buffers, states, params (as the artifact's (key, value) pairs, decoded
/// into launch.params by run()).
struct KernelHarness {
  rt::Program program;
  rt::LaunchDesc launch;
  std::vector<std::vector<uint8_t>> weightBytes;
  std::vector<std::vector<float>> buffers;
  std::vector<float *> bufferPtrs;
  std::vector<std::vector<float>> stateData;
  std::vector<rt::StateView> states;
  std::vector<std::pair<int64_t, int64_t>> stateShapes; // rows, bytes per row
  std::vector<int32_t> tokenIds;
  WorkerPool pool{2};
  /// Tokens per call of the entry the CUDA generator assumes for this launch
  /// (CudaLaunchSpec::maxTokens; 0: unknown, the one-token kernels).
  int64_t entryMaxTokens = 0;

  int addWeightF32(const std::string &name, std::vector<int64_t> shape,
                   const std::vector<float> &values);
  int addWeightRaw(const std::string &name, DType dtype, std::vector<int64_t> shape,
                   std::vector<uint8_t> bytes, int scale = -1);
  int addBuffer(int64_t elems);
  /// A state of `rows` rows (f32 or raw bytes), also described in
  /// program.states: fixed (tokensPerRow 0: window ring, compressor tail) or
  /// growing one row per `tokensPerRow` tokens (compressed entries, indexer
  /// keys; the GPU tests page those).
  int addState(int64_t rows, int64_t rowFloats, int64_t tokensPerRow = 0);
  int addStateBytes(int64_t rows, int64_t rowBytes, int64_t tokensPerRow = 0);
  uint8_t *stateBytes(int s, int64_t row) {
    return reinterpret_cast<uint8_t *>(stateData[size_t(s)].data()) + row * stateShapes[size_t(s)].second;
  }
  std::vector<ParamPair> params;
  /// Sets param `key` (again: replaces its value).
  void param(const std::string &key, double v);
  /// Decodes `params` for `fn`'s kernel (a bad param is the error) and runs
  /// the launch on `tokens` tokens from position `start`.
  Status run(const HostKernelRef &fn, int64_t tokens, int64_t start);
};

} // namespace birkhoff::test

#endif
