//===- GpuTimingTest.cpp - Launch times of the catalogue at V4-Flash shapes
//
// Not a correctness test: prints milliseconds per launch of the generated
// kernels at V4-Flash shapes for a decode step (S = 1) and a prefill chunk,
// on random weights and inputs. Disabled by default; run with
//   gpu_kernel_tests --gtest_also_run_disabled_tests --gtest_filter='*Timing*'
// It fails only when a launch fails.
//
//===----------------------------------------------------------------------===//
#include "GpuTestUtil.h"

#include <cstdio>
#include <functional>
#include <string>

namespace birkhoff::cuda {
namespace {

using namespace gputest;

/// A launch of `kernel` whose buffers are sized for `tokens` tokens.
using Builder = std::function<void(KernelHarness &, int64_t tokens)>;

void fp8Linear(KernelHarness &h, int64_t S, const char *kernel, int64_t in,
               int64_t out) {
  h.launch.kernel = kernel;
  h.launch.inputs = {h.addBuffer(S * in)};
  h.buffers[size_t(h.launch.inputs[0])] = randomFloats(size_t(S * in));
  h.launch.outputs = {h.addBuffer(S * out)};
  h.launch.weights = {addFp8Weight(h, "w", out, in)};
  h.param("in_features", double(in));
  h.param("out_features", double(out));
  if (std::string(kernel) == "linear_rms_norm") {
    h.launch.weights.push_back(
        h.addWeightF32("norm", {out}, randomFloats(size_t(out))));
    h.param("eps", 1e-6);
  }
}

void yarn(KernelHarness &h) {
  for (auto [k, v] : std::initializer_list<std::pair<const char *, double>>{
           {"rope_dim", 64},
           {"theta", 160000},
           {"yarn", 1},
           {"rope_factor", 16},
           {"original_seq_len", 65536},
           {"beta_fast", 32},
           {"beta_slow", 1}})
    h.param(k, v);
}

TEST(GpuTiming, DISABLED_FlashShapes) {
  REQUIRE_GPU();
  const int64_t kContext = 4096; // position of the decode step
  std::vector<std::pair<std::string, Builder>> cases = {
      {"linear fp8 4096->1024",
       [](KernelHarness &h, int64_t S) {
         fp8Linear(h, S, "linear", 4096, 1024);
       }},
      {"linear fp4 4096->2048",
       [](KernelHarness &h, int64_t S) {
         h.launch.kernel = "linear";
         h.launch.inputs = {h.addBuffer(S * 4096)};
         h.buffers[0] = randomFloats(size_t(S * 4096));
         h.launch.outputs = {h.addBuffer(S * 2048)};
         h.launch.weights = {addFp4Weight(h, "w", 2048, 4096)};
         h.param("in_features", 4096);
         h.param("out_features", 2048);
       }},
      {"linear_rms_norm fp8 4096->1024",
       [](KernelHarness &h, int64_t S) {
         fp8Linear(h, S, "linear_rms_norm", 4096, 1024);
       }},
      {"grouped_linear fp8 8x4096->1024",
       [](KernelHarness &h, int64_t S) {
         h.launch.kernel = "grouped_linear";
         h.launch.inputs = {h.addBuffer(S * 8 * 4096)};
         h.launch.outputs = {h.addBuffer(S * 8 * 1024)};
         h.launch.weights = {addFp8Weight(h, "wo_a", 8 * 1024, 4096)};
         h.param("groups", 8);
         h.param("in_per_group", 4096);
         h.param("out_per_group", 1024);
       }},
      {"router bf16 256 experts top-6",
       [](KernelHarness &h, int64_t S) {
         h.launch.kernel = "router";
         h.launch.inputs = {h.addBuffer(S * 4096), -1};
         h.buffers[0] = randomFloats(size_t(S * 4096));
         h.tokenIds.assign(size_t(S), 1);
         h.launch.outputs = {h.addBuffer(S * 6), h.addBuffer(S * 6)};
         h.launch.weights = {
             h.addWeightRaw("gate", DType::BF16, {256, 4096},
                            bf16Bytes(randomFloats(256 * 4096, 0.02f))),
             h.addWeightF32("bias", {256}, randomFloats(256, 0.1f))};
         for (auto [k, v] :
              std::initializer_list<std::pair<const char *, double>>{
                  {"dim", 4096},
                  {"experts", 256},
                  {"topk", 6},
                  {"route_scale", 1.5},
                  {"hash", 0}})
           h.param(k, v);
       }},
      {"moe fp4 16 experts (6 routed) + fp8 shared",
       [](KernelHarness &h, int64_t S) {
         h.launch.kernel = "moe";
         int64_t E = 16, K = 6;
         h.launch.inputs = {h.addBuffer(S * 4096), h.addBuffer(S * K),
                            h.addBuffer(S * K)};
         h.buffers[0] = randomFloats(size_t(S * 4096));
         std::vector<int32_t> ids(size_t(S * K));
         for (size_t i = 0; i < ids.size(); ++i)
           ids[i] = int32_t((i % K) * 2 + (i / K) % 2);
         h.buffers[1] = intWords(ids);
         h.buffers[2].assign(size_t(S * K), 0.2f);
         h.launch.outputs = {h.addBuffer(S * 4096)};
         for (int64_t e = 0; e <= E; ++e) {
           auto add = e == E ? addFp8Weight : addFp4Weight;
           h.launch.weights.push_back(add(h, "w1", 2048, 4096));
           h.launch.weights.push_back(add(h, "w2", 4096, 2048));
           h.launch.weights.push_back(add(h, "w3", 2048, 4096));
         }
         for (auto [k, v] :
              std::initializer_list<std::pair<const char *, double>>{
                  {"dim", 4096},
                  {"inter", 2048},
                  {"experts", double(E)},
                  {"topk", double(K)},
                  {"swiglu_limit", 10},
                  {"shared_clamp", 1}})
           h.param(k, v);
       }},
      {"compressor csa 512 (bf16 4096->2x1024)",
       [](KernelHarness &h, int64_t S) {
         h.launch.kernel = "compressor";
         h.launch.inputs = {h.addBuffer(S * 4096)};
         h.buffers[0] = randomFloats(size_t(S * 4096));
         h.launch.weights = {
             h.addWeightRaw("wkv", DType::BF16, {1024, 4096},
                            bf16Bytes(randomFloats(1024 * 4096, 0.02f))),
             h.addWeightRaw("wgate", DType::BF16, {1024, 4096},
                            bf16Bytes(randomFloats(1024 * 4096, 0.02f))),
             h.addWeightF32("ape", {4, 1024}, randomFloats(4 * 1024)),
             h.addWeightF32("norm", {512}, randomFloats(512))};
         h.launch.states = {h.addState(8, 2 * 1024), h.addState(8192, 512, 4)};
         for (auto [k, v] :
              std::initializer_list<std::pair<const char *, double>>{
                  {"dim", 4096},
                  {"head_dim", 512},
                  {"ratio", 4},
                  {"overlap", 1},
                  {"eps", 1e-6}})
           h.param(k, v);
         yarn(h);
       }},
      {"indexer_topk 64x128 top-512 (1K entries)",
       [=](KernelHarness &h, int64_t S) {
         h.launch.kernel = "indexer_topk";
         h.launch.inputs = {h.addBuffer(S * 64 * 128), h.addBuffer(S * 64)};
         h.buffers[0] = randomFloats(size_t(S * 64 * 128));
         h.buffers[1] = randomFloats(size_t(S * 64));
         h.launch.outputs = {h.addBuffer(S * 512)};
         int keys = h.addState(kContext / 4 + 64, 128, 4);
         h.stateData[size_t(keys)] =
             randomFloats(size_t((kContext / 4 + 64) * 128));
         h.launch.states = {keys};
         h.param("heads", 64);
         h.param("head_dim", 128);
         h.param("topk", 512);
         h.param("ratio", 4);
       }},
      {"sparse_attention csa 64x512 window 128 top-512",
       [=](KernelHarness &h, int64_t S) {
         h.launch.kernel = "sparse_attention";
         h.launch.inputs = {h.addBuffer(S * 64 * 512), h.addBuffer(S * 512),
                            h.addBuffer(S * 512)};
         h.buffers[0] = randomFloats(size_t(S * 64 * 512), 0.1f);
         h.buffers[1] = randomFloats(size_t(S * 512));
         std::vector<int32_t> ids(size_t(S * 512));
         for (size_t i = 0; i < ids.size(); ++i)
           ids[i] = int32_t(i % 512);
         h.buffers[2] = intWords(ids);
         h.launch.outputs = {h.addBuffer(S * 64 * 512)};
         h.launch.states = {h.addState(128, 512),
                            h.addState(kContext / 4 + 64, 512, 4)};
         h.launch.weights = {h.addWeightF32("sink", {64}, randomFloats(64))};
         for (auto [k, v] :
              std::initializer_list<std::pair<const char *, double>>{
                  {"heads", 64},
                  {"head_dim", 512},
                  {"window", 128},
                  {"mode", 1},
                  {"ratio", 4},
                  {"topk", 512}})
           h.param(k, v);
       }},
  };
  for (int64_t S : {int64_t(1), int64_t(128)}) {
    for (auto &[name, build] : cases) {
      KernelHarness h;
      build(h, S);
      for (size_t i = 0; i < h.program.weights.size(); ++i) {
        h.program.weights[i].data = h.weightBytes[i].data();
        h.program.weights[i].size = h.weightBytes[i].size();
      }
      auto ms = timeLaunchOnGpu(G, h, S, kContext, 10);
      ASSERT_TRUE(ms.isOk()) << name << ": " << ms.status().toString();
      std::printf("[timing] S=%-4lld %-48s %9.3f ms\n", (long long)S,
                  name.c_str(), *ms);
    }
  }
}

// The official FP8 linear at prefill shapes: the one-token GEMV kernel vs
// the tensor-core kernel of many-token entries, in TFLOP/s (2·S·N·K).
TEST(GpuTiming, DISABLED_OfficialFp8Linear) {
  REQUIRE_GPU();
  struct Shape {
    const char *name;
    int64_t in, out;
  };
  for (Shape shape :
       {Shape{"wq_b 1024->32768", 1024, 32768},
        Shape{"wo_b 8192->4096", 8192, 4096}, Shape{"4096->1024", 4096, 1024}})
    for (int64_t entryTokens : {int64_t(0), int64_t(512)}) {
      const int64_t S = 512;
      KernelHarness h;
      h.entryMaxTokens = entryTokens;
      fp8Linear(h, S, "linear", shape.in, shape.out);
      h.param("numerics", 1);
      h.param("round_output", 1);
      for (size_t i = 0; i < h.program.weights.size(); ++i) {
        h.program.weights[i].data = h.weightBytes[i].data();
        h.program.weights[i].size = h.weightBytes[i].size();
      }
      auto ms = timeLaunchOnGpu(G, h, S, 0, 20);
      ASSERT_TRUE(ms.isOk()) << shape.name << ": " << ms.status().toString();
      double tflops = 2.0 * double(S * shape.in * shape.out) / (*ms * 1e9);
      std::printf("[timing] official fp8 linear %-18s S=%lld %-12s %8.3f ms "
                  "%7.1f TFLOP/s\n",
                  shape.name, (long long)S,
                  entryTokens ? "tensor-core" : "gemv", *ms, tflops);
    }
}

// The official moe at V4-Flash widths (16 experts of the 256, FP4, top-6,
// FP8 shared expert): one cluster walking the experts per 128-token slice vs
// a cluster per expert (moe_grouped.cuh), at a decode step and a prefill
// chunk.
TEST(GpuTiming, DISABLED_OfficialMoe) {
  REQUIRE_GPU();
  for (int64_t S : {int64_t(1), int64_t(128), int64_t(512)})
    for (bool grouped : {false, true}) {
      KernelHarness h;
      h.entryMaxTokens = grouped ? (S == 1 ? 1 : 512) : 0;
      h.launch.kernel = "moe";
      const int64_t E = 16, K = 6;
      h.launch.inputs = {h.addBuffer(S * 4096), h.addBuffer(S * K),
                         h.addBuffer(S * K)};
      h.buffers[0] = randomFloats(size_t(S * 4096));
      std::vector<int32_t> ids(size_t(S * K));
      for (size_t i = 0; i < ids.size(); ++i)
        ids[i] = int32_t((i % K) * 2 + (i / K) % 2);
      h.buffers[1] = intWords(ids);
      h.buffers[2].assign(size_t(S * K), 0.2f);
      h.launch.outputs = {h.addBuffer(S * 4096)};
      for (int64_t e = 0; e <= E; ++e) {
        auto add = e == E ? addFp8Weight : addFp4Weight;
        h.launch.weights.push_back(add(h, "w1", 2048, 4096));
        h.launch.weights.push_back(add(h, "w2", 4096, 2048));
        h.launch.weights.push_back(add(h, "w3", 2048, 4096));
      }
      for (auto [k, v] : std::initializer_list<std::pair<const char *, double>>{
               {"dim", 4096},
               {"inter", 2048},
               {"experts", double(E)},
               {"topk", double(K)},
               {"swiglu_limit", 10},
               {"shared_clamp", 1},
               {"numerics", 1}})
        h.param(k, v);
      for (size_t i = 0; i < h.program.weights.size(); ++i) {
        h.program.weights[i].data = h.weightBytes[i].data();
        h.program.weights[i].size = h.weightBytes[i].size();
      }
      auto ms = timeLaunchOnGpu(G, h, S, 0, 10);
      ASSERT_TRUE(ms.isOk()) << ms.status().toString();
      std::printf("[timing] official moe S=%-4lld %-8s %9.3f ms\n",
                  (long long)S, grouped ? "grouped" : "sliced", *ms);
    }
}

} // namespace
} // namespace birkhoff::cuda
