//===- AttentionTest.cpp - Indexer top-k and sparse attention -------------===//
#include "KernelTestUtil.h"

#include <gtest/gtest.h>

#include <array>
#include <cmath>

namespace birkhoff::test {
namespace {

// Scores Σ_h relu(q_h·k)·Di^-½·w_h·Hi^-½ over visible entries only; ties keep
// the lower index; unused slots are -1.
TEST(Indexer, TopkOfVisibleEntriesWithTies) {
  KernelHarness h;
  int q = h.addBuffer(2 * 1 * 2), w = h.addBuffer(2 * 1), out = h.addBuffer(2 * 3);
  int keys = h.addState(4, 2);
  h.stateData[keys] = {1, 0, /**/ 0, 1, /**/ 1, 0, /**/ 5, 5};
  h.buffers[q] = {2, 1, /**/ 2, 1};
  h.buffers[w] = {1, 1};
  h.launch.inputs = {q, w};
  h.launch.outputs = {out};
  h.launch.states = {keys};
  h.param("heads", 1);
  h.param("head_dim", 2);
  h.param("topk", 3);
  h.param("ratio", 4);
  // Positions 7 and 8: (7+1)/4 = 2 visible entries, (8+1)/4 = 2.
  ASSERT_TRUE(h.run(rt::indexerTopkKernel, 2, 7).isOk());
  auto *o = reinterpret_cast<int32_t *>(h.buffers[out].data());
  EXPECT_EQ(o[0], 0);
  EXPECT_EQ(o[1], 1);
  EXPECT_EQ(o[2], -1);
  // Position 15: 4 visible; scores 2, 1, 2, 15 -> 3, then the tie 0 before 2.
  ASSERT_TRUE(h.run(rt::indexerTopkKernel, 1, 15).isOk());
  EXPECT_EQ(o[0], 3);
  EXPECT_EQ(o[1], 0);
  EXPECT_EQ(o[2], 2);
}

// One head, window 2, HCA entries: softmax over window ∪ visible entries plus
// the sink in the denominator; values are the keys.
TEST(SparseAttention, WindowEntriesAndSink) {
  KernelHarness h;
  int q = h.addBuffer(1 * 2), kv = h.addBuffer(1 * 2), o = h.addBuffer(1 * 2);
  int ring = h.addState(2, 2), entries = h.addState(2, 2);
  h.buffers[q] = {1.0f, 0.5f};
  h.buffers[kv] = {0.2f, -0.4f};               // position 3 (this call)
  h.stateData[ring] = {0.3f, 0.1f, 9, 9};      // p2 lives in slot 2 % 2 = 0
  h.stateData[entries] = {1.0f, 1.0f, -1.0f, 2.0f};
  int sink = h.addWeightF32("sink", {1}, {0.25f});
  h.launch.inputs = {q, kv};
  h.launch.outputs = {o};
  h.launch.weights = {sink};
  h.launch.states = {ring, entries};
  h.param("heads", 1);
  h.param("head_dim", 2);
  h.param("window", 2);
  h.param("mode", 2);
  h.param("ratio", 2);
  h.param("topk", 0);
  ASSERT_TRUE(h.run(rt::sparseAttentionKernel, 1, 3).isOk());
  // Keys: p2 (ring), p3 (call), entries 0 and 1 ((3+1)/2 = 2 visible).
  std::vector<std::array<float, 2>> keys = {{0.3f, 0.1f}, {0.2f, -0.4f}, {1, 1}, {-1, 2}};
  float scale = 1.0f / std::sqrt(2.0f), den = std::exp(0.25f), num0 = 0, num1 = 0;
  for (auto &k : keys) {
    float e = std::exp((k[0] * 1.0f + k[1] * 0.5f) * scale);
    den += e;
    num0 += e * k[0];
    num1 += e * k[1];
  }
  EXPECT_NEAR(h.buffers[o][0], num0 / den, 1e-6);
  EXPECT_NEAR(h.buffers[o][1], num1 / den, 1e-6);
}

} // namespace
} // namespace birkhoff::test
