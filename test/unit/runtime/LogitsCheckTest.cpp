//===- LogitsCheckTest.cpp - Engine::step refuses non-finite logits -------===//
#include "LogitsCheck.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace birkhoff::rt {
namespace {

// Three sequences: 7 (two rows), 8 and 9 (one each), vocab 3.
struct Fixture {
  Batch batch;
  StepResult result;
  Fixture() {
    batch.add(1, 7, 4, true);
    batch.add(2, 7, 5, true);
    batch.add(0, 8, 0, true);
    batch.add(1, 9, 2, true);
    result.vocab = 3;
    result.rows = {0, 1, 2, 3};
    result.logits = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};
  }
};

TEST(LogitsCheck, FiniteLogitsPass) {
  Fixture f;
  refuseNonFiniteLogits(f.batch, f.result);
  EXPECT_TRUE(f.result.failed.empty());
  EXPECT_EQ(f.result.rows.size(), 4u);
  EXPECT_EQ(f.result.logits.size(), 12u);
}

TEST(LogitsCheck, NamesTheSequenceAndPositionAndDropsItsRows) {
  Fixture f;
  f.result.logits[4] = std::numeric_limits<float>::quiet_NaN();  // 7 @ 5
  f.result.logits[11] = -std::numeric_limits<float>::infinity(); // 9 @ 2
  refuseNonFiniteLogits(f.batch, f.result);
  ASSERT_EQ(f.result.failed.size(), 2u);
  EXPECT_EQ(f.result.failed[0].first, 7);
  EXPECT_EQ(f.result.failed[0].second.message(),
            "non-finite logits: sequence 7 at position 5 has NaN at "
            "vocabulary index 1");
  EXPECT_EQ(f.result.failed[1].first, 9);
  EXPECT_EQ(f.result.failed[1].second.message(),
            "non-finite logits: sequence 9 at position 2 has inf at "
            "vocabulary index 2");
  // Sequence 7 loses both rows (its first was finite), 8 keeps its own.
  EXPECT_EQ(f.result.rows, std::vector<int32_t>({2}));
  EXPECT_EQ(f.result.logits, std::vector<float>({6, 7, 8}));
  EXPECT_EQ(f.result.logitsOf(2).size(), 3u);
  EXPECT_TRUE(f.result.logitsOf(0).empty());
}

} // namespace
} // namespace birkhoff::rt
