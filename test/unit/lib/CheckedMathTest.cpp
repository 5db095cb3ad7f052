//===- CheckedMathTest.cpp - Size arithmetic that reports overflow --------===//
#include "birkhoff/CheckedMath.h"

#include <gtest/gtest.h>

#include <limits>
#include <vector>

namespace birkhoff {
namespace {

constexpr int64_t kMax = std::numeric_limits<int64_t>::max();

TEST(CheckedMath, MulAndAddGiveTheExactResult) {
  EXPECT_EQ(checkedMul<int64_t>(3, -7), -21);
  const int64_t two31 = int64_t(1) << 31, two62 = int64_t(1) << 62;
  EXPECT_EQ(checkedMul<int64_t>(two31, two31), two62);
  EXPECT_EQ(checkedAdd<int64_t>(kMax - 1, 1), kMax);
  EXPECT_EQ(checkedMul<uint64_t>(uint64_t(1) << 32, uint64_t(1) << 31),
            uint64_t(1) << 63);
}

TEST(CheckedMath, MulAndAddRefuseWhatDoesNotFit) {
  EXPECT_FALSE(checkedMul<int64_t>(int64_t(1) << 32, int64_t(1) << 31));
  EXPECT_FALSE(checkedMul<int64_t>(kMax, -2));
  EXPECT_FALSE(checkedAdd<int64_t>(kMax, 1));
  EXPECT_FALSE(checkedMul<uint64_t>(uint64_t(1) << 32, uint64_t(1) << 32));
  EXPECT_FALSE(checkedMul<int32_t>(65536, 32768));
  // The case: 4611686018427387920 tokens times a row of 4 bytes.
  EXPECT_FALSE(checkedMul<uint64_t>(4611686018427387920ull, 4));
}

TEST(CheckedMath, ProductOfDimensions) {
  EXPECT_EQ(checkedProduct({}), 1);
  EXPECT_EQ(checkedProduct({2, 3, 4}), 24);
  EXPECT_EQ(checkedProduct({0, kMax, kMax}), 0);
  EXPECT_FALSE(checkedProduct({kMax, kMax, 0})); // overflows before the 0
  EXPECT_FALSE(checkedProduct({2, -3}));
  std::vector<int64_t> big = {int64_t(1) << 21, int64_t(1) << 21,
                              int64_t(1) << 21};
  EXPECT_FALSE(checkedProduct(big));
}

TEST(CheckedMath, CheckedSizeNamesWhatOverflowed) {
  Expected<int64_t> ok = checkedSize("state rows", {4, 5});
  ASSERT_TRUE(ok.isOk());
  EXPECT_EQ(*ok, 20);
  Expected<int64_t> bad =
      checkedSize("state rows", {int64_t(1) << 40, 1 << 30});
  ASSERT_FALSE(bad.isOk());
  EXPECT_EQ(bad.status().code(), StatusCode::OutOfRange);
  EXPECT_EQ(bad.status().message(),
            "state rows: 1099511627776 * 1073741824 is negative or overflows "
            "64 bits");
}

} // namespace
} // namespace birkhoff
