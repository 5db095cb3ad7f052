//===- SizeLimitsTest.cpp - State sizes are checked, never wrapped --------===//
//
// StateDesc::bytesFor and EngineShape::stateBytes multiply sizes that come
// from an artifact and from flags; past 64 bits they give OutOfRange naming
// the state, where they once wrapped to a small size that was allocated and
// then written past.
//
//===----------------------------------------------------------------------===//
#include "Backend.h"

#include <gtest/gtest.h>

namespace birkhoff::rt {
namespace {

StateDesc growing(uint64_t bytesPerRow, int64_t tokensPerRow) {
  StateDesc d;
  d.name = "layers.0.kv";
  d.bytesPerRow = bytesPerRow;
  d.tokensPerRow = tokensPerRow;
  return d;
}

TEST(SizeLimits, BytesForAContextFitOrAreRefused) {
  StateDesc d = growing(584, 4);
  Expected<uint64_t> small = d.bytesFor(4096);
  ASSERT_TRUE(small.isOk());
  EXPECT_EQ(*small, 584u * 1024u);
  // The issue's --max-context: 2^62 / 4 rows of 584 bytes pass 64 bits.
  Expected<uint64_t> huge = d.bytesFor(4611686018427387920);
  ASSERT_FALSE(huge.isOk());
  EXPECT_EQ(huge.status().code(), StatusCode::OutOfRange);
  EXPECT_NE(huge.status().message().find("layers.0.kv"), std::string::npos)
      << huge.status().message();
  EXPECT_FALSE(d.bytesFor(-1).isOk());
  StateDesc fixed;
  fixed.name = "ring";
  fixed.bytesPerRow = 16;
  fixed.fixedRows = INT64_MAX;
  EXPECT_TRUE(fixed.rowsFor(0).isOk());
  EXPECT_FALSE(fixed.bytesFor(0).isOk());
}

TEST(SizeLimits, EngineStateBytesFitOrAreRefused) {
  EngineShape shape;
  shape.slots = 4;
  shape.pageTokens = 256;
  shape.pagesPerSlot = 16;
  shape.pages = 64;
  StateDesc d = growing(584, 4);
  Expected<uint64_t> ok = shape.stateBytes(d);
  ASSERT_TRUE(ok.isOk());
  EXPECT_EQ(*ok, 64u * 64u * 584u);
  shape.pages = INT32_MAX;
  shape.pageTokens = int64_t(1) << 40;
  Expected<uint64_t> bad = shape.stateBytes(d);
  ASSERT_FALSE(bad.isOk());
  EXPECT_EQ(bad.status().code(), StatusCode::OutOfRange);
  StateDesc ring;
  ring.name = "ring";
  ring.bytesPerRow = uint64_t(1) << 30;
  ring.fixedRows = int64_t(1) << 40;
  shape.slots = 1 << 20;
  EXPECT_FALSE(shape.stateBytes(ring).isOk());
}

} // namespace
} // namespace birkhoff::rt
