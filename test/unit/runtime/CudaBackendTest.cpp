//===- CudaBackendTest.cpp - CUDA backend pieces that need no GPU ---------===//
//
// The aligned device arena (cuda/ArenaLayout.h) checked against the plan it
// stretches, on random plans: aligned starts, the plan's overlaps and
// separations kept, monotone size. The kernel scratch's regions
// (cuda/ScratchLayout.h). The cubin architecture rules. The driver absent: a
// clean error.
//
//===----------------------------------------------------------------------===//
#include "cuda/CudaBackend.h"
#include "cuda/ArenaLayout.h"
#include "cuda/ScratchLayout.h"

#include "birkhoff/Runtime.h"
#include "cuda/CudaDriverApi.h"

#include <gtest/gtest.h>

#include <random>

namespace birkhoff::rt {
namespace {

/// A random first-fit-like plan: buffers of random widths, some sharing
/// offsets (reuse), some overlapping partially (distinct live ranges).
EntryDesc randomPlan(std::mt19937 &rng) {
  EntryDesc e;
  std::uniform_int_distribution<int> count(1, 40), width(1, 300), pick(0, 3);
  int n = count(rng);
  int64_t end = 0;
  for (int i = 0; i < n; ++i) {
    BufferDesc b;
    b.name = "b" + std::to_string(i);
    b.elemsPerToken = width(rng);
    switch (pick(rng)) {
    case 0: // appended
      b.offsetPerToken = end;
      break;
    case 1: // reuses an earlier buffer's start
      b.offsetPerToken = i ? e.buffers[size_t(rng() % i)].offsetPerToken : 0;
      break;
    default: // anywhere in what exists
      b.offsetPerToken = end ? int64_t(rng() % uint64_t(end)) : 0;
    }
    end = std::max(end, b.offsetPerToken + b.elemsPerToken);
    e.buffers.push_back(b);
  }
  e.arenaElemsPerToken = end;
  e.maxTokens = 64;
  return e;
}

TEST(ArenaLayout, AlignsEveryBufferAndKeepsThePlansRelations) {
  std::mt19937 rng(99);
  for (int trial = 0; trial < 300; ++trial) {
    EntryDesc e = randomPlan(rng);
    int64_t prev = 0;
    for (int64_t s : {1, 2, 3, 5, 7, 16, 33, 64}) {
      ArenaLayout l = alignedArenaLayout(e, s);
      ASSERT_EQ(l.offsets.size(), e.buffers.size());
      EXPECT_GE(l.elems, prev) << "arena shrank as tokens grew";
      prev = l.elems;
      int64_t boundaries = 2 * int64_t(e.buffers.size()) + 1;
      EXPECT_LE(l.elems, e.arenaElemsPerToken * s + 3 * boundaries);
      for (size_t i = 0; i < e.buffers.size(); ++i) {
        const BufferDesc &a = e.buffers[i];
        EXPECT_EQ(l.offsets[i] % kArenaAlignElems, 0);
        EXPECT_LE(l.offsets[i] + a.elemsPerToken * s, l.elems);
        for (size_t j = 0; j < e.buffers.size(); ++j) {
          const BufferDesc &b = e.buffers[j];
          bool planApart =
              a.offsetPerToken + a.elemsPerToken <= b.offsetPerToken ||
              b.offsetPerToken + b.elemsPerToken <= a.offsetPerToken;
          bool apart = l.offsets[i] + a.elemsPerToken * s <= l.offsets[j] ||
                       l.offsets[j] + b.elemsPerToken * s <= l.offsets[i];
          if (planApart)
            EXPECT_TRUE(apart) << "buffers " << i << " and " << j
                               << " overlap on the device, not in the plan";
          if (a.offsetPerToken == b.offsetPerToken)
            EXPECT_EQ(l.offsets[i], l.offsets[j]);
        }
      }
    }
  }
}

TEST(ArenaLayout, SmallPlansByHand) {
  EntryDesc e;
  e.buffers = {
      {"logits", 8, 0, false}, {"a", 4, 8, false}, {"b", 12, 4, false}};
  ArenaLayout l = alignedArenaLayout(e, 3);
  EXPECT_EQ(l.offsets, (std::vector<int64_t>{0, 24, 12}));
  EXPECT_EQ(l.elems, 48);
  // A 1-wide buffer between two others at S = 1 pushes the next one to 4.
  e.buffers = {{"tok", 1, 0, true}, {"x", 8, 1, false}};
  l = alignedArenaLayout(e, 1);
  EXPECT_EQ(l.offsets, (std::vector<int64_t>{0, 4}));
  EXPECT_EQ(l.elems, 12);
}

LaunchDesc launchOf(std::vector<int> kernels) {
  LaunchDesc l;
  l.cudaKernel = kernels.front();
  l.cudaThen.assign(kernels.begin() + 1, kernels.end());
  return l;
}

// Two entries share kernel 0 (its source does not depend on the entry's
// tokens) while the later entry's launch needs more of it, through the kernel
// it runs next: the shared region is sized for the larger need, not the
// first one met.
TEST(ScratchLayout, SharedRegionsFitTheirLargestLaunch) {
  Program p;
  for (uint64_t bytes : {1000, 0, 40, 5000})
    p.cudaKernels.emplace_back().scratchBytes = bytes;
  EntryDesc decode, batch;
  decode.launches = {launchOf({1}), launchOf({0}), launchOf({2})};
  batch.launches = {launchOf({0, 3}), launchOf({2}), launchOf({0})};
  p.entries = {decode, batch};
  ScratchLayout s = layoutScratch(p);
  ASSERT_EQ(s.launches.size(), 2u);
  EXPECT_EQ(s.launches[0][0].bytes, 0u); // no scratch
  EXPECT_EQ(s.launches[0][1].bytes, 1000u);
  EXPECT_EQ(s.launches[1][0].bytes, 5000u);
  EXPECT_EQ(s.launches[1][2].bytes, 1000u);
  // Kernel 0's launches share a region as large as 5000 bytes.
  EXPECT_EQ(s.launches[0][1].offset, s.launches[1][0].offset);
  EXPECT_EQ(s.launches[1][2].offset, s.launches[1][0].offset);
  // Kernel 2's region lies after it, aligned.
  EXPECT_EQ(s.launches[0][2].offset, s.launches[1][1].offset);
  EXPECT_GE(s.launches[0][2].offset, s.launches[0][1].offset + 5000);
  EXPECT_EQ(s.launches[0][2].offset % kScratchAlign, 0u);
  EXPECT_GE(s.bytes, s.launches[0][2].offset + 40);
  EXPECT_EQ(s.bytes % kScratchAlign, 0u);
}

TEST(ScratchLayout, NoScratchNoBytes) {
  Program p;
  p.cudaKernels.emplace_back();
  EntryDesc e;
  e.launches = {launchOf({0}), launchOf({7})}; // 7: out of range, needs none
  p.entries = {e};
  ScratchLayout s = layoutScratch(p);
  EXPECT_EQ(s.bytes, 0u);
  EXPECT_EQ(s.launches[0][1].bytes, 0u);
}

TEST(CudaArch, ParsesAndMatchesDevices) {
  auto a = parseCudaArch("sm_90a");
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->capability, 90);
  EXPECT_TRUE(a->specific);
  EXPECT_TRUE(cubinRunsOn(*a, 9, 0));
  EXPECT_FALSE(cubinRunsOn(*a, 10, 0));
  EXPECT_FALSE(cubinRunsOn(*a, 8, 9));
  auto b = parseCudaArch("sm_86");
  ASSERT_TRUE(b.has_value());
  EXPECT_FALSE(b->specific);
  EXPECT_TRUE(cubinRunsOn(*b, 8, 6));
  EXPECT_TRUE(cubinRunsOn(*b, 8, 9));
  EXPECT_FALSE(cubinRunsOn(*b, 8, 0));
  EXPECT_FALSE(cubinRunsOn(*b, 9, 0));
  EXPECT_EQ(parseCudaArch("sm_100a")->capability, 100);
  for (const char *bad :
       {"", "sm_", "sm_9", "compute_90", "sm_90ab", "sm_90x", "gfx90a"})
    EXPECT_FALSE(parseCudaArch(bad).has_value()) << bad;
}

TEST(CudaBackend, DeviceNamesAreChecked) {
  ModelOptions o;
  o.device = "cuda:x";
  auto m = Model::load("/nonexistent.bkart", o);
  ASSERT_FALSE(m.isOk());
  EXPECT_EQ(m.status().code(), StatusCode::InvalidArgument);
  EXPECT_NE(m.status().message().find("unknown device 'cuda:x'"),
            std::string::npos);
}

TEST(CudaBackend, MissingDriverIsACleanError) {
  auto missing = cuda::CudaDriverApi::load({"/nonexistent/libcuda.so.1"});
  ASSERT_FALSE(missing.isOk());
  EXPECT_EQ(missing.status().code(), StatusCode::NotFound);
  EXPECT_NE(missing.status().message().find("no CUDA driver"),
            std::string::npos);
}

} // namespace
} // namespace birkhoff::rt
