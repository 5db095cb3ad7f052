//===- NumericsTest.cpp - bf16, e4m3, e8m0, e2m1 and the P4 scale rule ----===//
//
// Hand-checked values first, then sweeps against brute-force oracles that
// search the code tables for the nearest value (ties to the even code), an
// algorithm independent of the bit manipulation under test.
//
//===----------------------------------------------------------------------===//
#include "birkhoff/Numerics.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace birkhoff {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

// ---- bf16 -------------------------------------------------------------------

TEST(Bf16, ExactValues) {
  EXPECT_EQ(floatToBf16(1.0f), 0x3f80);
  EXPECT_EQ(floatToBf16(-2.0f), 0xc000);
  EXPECT_EQ(floatToBf16(0.0f), 0x0000);
  EXPECT_EQ(floatToBf16(-0.0f), 0x8000);
  EXPECT_EQ(floatToBf16(kInf), 0x7f80);
  EXPECT_EQ(floatToBf16(-kInf), 0xff80);
  EXPECT_EQ(bf16ToFloat(0x3f80), 1.0f);
  EXPECT_EQ(bf16ToFloat(0x4049), 3.140625f);
}

TEST(Bf16, RoundsToNearestEven) {
  // 1 + 2^-8 is halfway between bf16 1.0 (0x3f80) and 1.0078125 (0x3f81).
  EXPECT_EQ(floatToBf16(bitsToFloat(0x3f808000u)), 0x3f80); // tie -> even
  EXPECT_EQ(floatToBf16(bitsToFloat(0x3f818000u)), 0x3f82); // tie -> even (up)
  EXPECT_EQ(floatToBf16(bitsToFloat(0x3f808001u)), 0x3f81); // above tie
  EXPECT_EQ(floatToBf16(bitsToFloat(0x3f807fffu)), 0x3f80); // below tie
  EXPECT_EQ(floatToBf16(bitsToFloat(0xbf808000u)), 0xbf80); // negative tie
  // The largest finite float rounds up into infinity.
  EXPECT_EQ(floatToBf16(bitsToFloat(0x7f7fffffu)), 0x7f80);
  EXPECT_EQ(roundBf16(3.14159265f), 3.140625f);
}

TEST(Bf16, NaNStaysNaN) {
  // A signalling NaN whose payload sits in the low half must not become inf.
  uint16_t h = floatToBf16(bitsToFloat(0x7f800001u));
  EXPECT_TRUE(std::isnan(bf16ToFloat(h)));
  EXPECT_TRUE(std::isnan(roundBf16(kNaN)));
}

// ---- e8m0 -------------------------------------------------------------------

TEST(E8m0, Values) {
  EXPECT_EQ(e8m0ToFloat(127), 1.0f);
  EXPECT_EQ(e8m0ToFloat(119), 0x1p-8f);
  EXPECT_EQ(e8m0ToFloat(125), 0.25f);
  EXPECT_EQ(e8m0ToFloat(254), 0x1p127f);
  EXPECT_EQ(e8m0ToFloat(1), 0x1p-126f);
  EXPECT_EQ(e8m0ToFloat(0), 0x1p-127f);
  EXPECT_TRUE(std::isnan(e8m0ToFloat(255)));
}

// ---- e4m3 -------------------------------------------------------------------

bool sameFloat(float a, float b) {
  return (std::isnan(a) && std::isnan(b)) || floatToBits(a) == floatToBits(b);
}

TEST(E4m3, DecodeHandCheckedCodes) {
  EXPECT_EQ(e4m3ToFloat(0x00), 0.0f);
  EXPECT_TRUE(std::signbit(e4m3ToFloat(0x80)));
  EXPECT_EQ(e4m3ToFloat(0x80), 0.0f);
  EXPECT_EQ(e4m3ToFloat(0x01), 0x1p-9f); // smallest subnormal
  EXPECT_EQ(e4m3ToFloat(0x07), 7 * 0x1p-9f);
  EXPECT_EQ(e4m3ToFloat(0x08), 0x1p-6f); // smallest normal
  EXPECT_EQ(e4m3ToFloat(0x38), 1.0f);
  EXPECT_EQ(e4m3ToFloat(0x39), 1.125f);
  EXPECT_EQ(e4m3ToFloat(0x40), 2.0f);
  EXPECT_EQ(e4m3ToFloat(0x7e), 448.0f);
  EXPECT_EQ(e4m3ToFloat(0xfe), -448.0f);
  EXPECT_EQ(e4m3ToFloat(0xb8), -1.0f);
  EXPECT_EQ(e4m3ToFloat(0x78), 256.0f); // no infinity: 0x78 is a number
  EXPECT_TRUE(std::isnan(e4m3ToFloat(0x7f)));
  EXPECT_TRUE(std::isnan(e4m3ToFloat(0xff)));
}

TEST(E4m3, TableMatchesSlowDecoderForAllCodes) {
  for (int b = 0; b < 256; ++b)
    EXPECT_TRUE(sameFloat(kE4m3Table[b], e4m3ToFloatSlow(uint8_t(b))))
        << "code " << b;
  // Exactly two NaN codes.
  int nans = 0;
  for (int b = 0; b < 256; ++b)
    nans += std::isnan(kE4m3Table[b]);
  EXPECT_EQ(nans, 2);
}

TEST(E4m3, EveryFiniteCodeRoundTrips) {
  for (int b = 0; b < 256; ++b) {
    if (b == 0x7f || b == 0xff)
      continue;
    EXPECT_EQ(floatToE4m3(e4m3ToFloat(uint8_t(b))), b) << "code " << b;
  }
}

TEST(E4m3, EncodeHandCheckedValues) {
  EXPECT_EQ(floatToE4m3(1.0f), 0x38);
  EXPECT_EQ(floatToE4m3(-1.0f), 0xb8);
  EXPECT_EQ(floatToE4m3(0.0f), 0x00);
  EXPECT_EQ(floatToE4m3(-0.0f), 0x80);
  // Ties between normal codes go to the even mantissa.
  EXPECT_EQ(floatToE4m3(1.0625f), 0x38); // 1.0 | 1.125
  EXPECT_EQ(floatToE4m3(1.1875f), 0x3a); // 1.125 | 1.25
  EXPECT_EQ(floatToE4m3(std::nextafter(1.0625f, 2.0f)), 0x39);
  EXPECT_EQ(floatToE4m3(-1.0625f), 0xb8);
  // A mantissa carry into the next binade: 1.9375 is between 1.875 and 2.
  EXPECT_EQ(floatToE4m3(1.9375f), 0x40);
  // Subnormals: quantum 2^-9; ties to even.
  EXPECT_EQ(floatToE4m3(0x1p-10f), 0x00);       // half the smallest: -> 0
  EXPECT_EQ(floatToE4m3(1.5f * 0x1p-9f), 0x02); // 1.5 quanta -> 2
  EXPECT_EQ(floatToE4m3(2.5f * 0x1p-9f), 0x02); // 2.5 quanta -> 2
  EXPECT_EQ(floatToE4m3(3.4f * 0x1p-9f), 0x03);
  EXPECT_EQ(floatToE4m3(7.5f * 0x1p-9f), 0x08); // up into the first normal
  EXPECT_EQ(floatToE4m3(std::nextafter(0x1p-10f, 1.0f)), 0x01);
  EXPECT_EQ(floatToE4m3(1e-30f), 0x00);
  EXPECT_EQ(floatToE4m3(-1e-30f), 0x80);        // sign kept, as torch does
  EXPECT_EQ(floatToE4m3(bitsToFloat(1)), 0x00); // fp32 subnormal input
  // The normal/subnormal boundary: 2^-6 - 2^-10 is a tie between 0x07 and
  // 0x08 -> 0x08 (even).
  EXPECT_EQ(floatToE4m3(0x1p-6f - 0x1p-10f), 0x08);
}

TEST(E4m3, SaturatesAndMapsNaN) {
  EXPECT_EQ(floatToE4m3(448.0f), 0x7e);
  EXPECT_EQ(floatToE4m3(-448.0f), 0xfe);
  EXPECT_EQ(floatToE4m3(447.0f), 0x7e);
  EXPECT_EQ(floatToE4m3(464.0f), 0x7e); // the 448|480 tie would hit NaN
  EXPECT_EQ(floatToE4m3(500.0f), 0x7e);
  EXPECT_EQ(floatToE4m3(1e30f), 0x7e);
  EXPECT_EQ(floatToE4m3(kInf), 0x7e);
  EXPECT_EQ(floatToE4m3(-kInf), 0xfe);
  EXPECT_EQ(floatToE4m3(kNaN), 0x7f);
  EXPECT_EQ(floatToE4m3(-kNaN), 0x7f);
}

// Nearest finite code by table search; ties to the even code; saturating.
uint8_t e4m3Oracle(float f) {
  float a = std::fabs(f);
  int best = 0;
  double bestErr = std::numeric_limits<double>::infinity();
  for (int c = 0; c <= 0x7e; ++c) {
    double err = std::fabs(double(a) - double(kE4m3Table[c]));
    if (err < bestErr || (err == bestErr && (c & 1) == 0)) {
      best = c;
      bestErr = err;
    }
  }
  return uint8_t(best | (std::signbit(f) ? 0x80 : 0));
}

TEST(E4m3, MatchesOracleAtEveryMidpoint) {
  for (int c = 0; c < 0x7e; ++c) {
    float lo = kE4m3Table[c], hi = kE4m3Table[c + 1];
    float mid = (lo + hi) / 2; // exact: at most 5 significant bits
    ASSERT_EQ(double(mid), (double(lo) + double(hi)) / 2);
    for (float x :
         {mid, std::nextafter(mid, 0.0f), std::nextafter(mid, kInf)}) {
      EXPECT_EQ(floatToE4m3(x), e4m3Oracle(x)) << x;
      EXPECT_EQ(floatToE4m3(-x), e4m3Oracle(-x)) << -x;
    }
  }
}

TEST(E4m3, MatchesOracleOnASweep) {
  // Every 1009th fp32 bit pattern from 0 to beyond 448, both signs.
  const uint32_t last = floatToBits(600.0f);
  for (uint32_t b = 0; b <= last; b += 1009) {
    float x = bitsToFloat(b);
    ASSERT_EQ(floatToE4m3(x), e4m3Oracle(x)) << x;
    ASSERT_EQ(floatToE4m3(-x), e4m3Oracle(-x)) << -x;
  }
}

// ---- e2m1 -------------------------------------------------------------------

TEST(E2m1, DecodeTable) {
  EXPECT_EQ(e2m1ToFloat(0), 0.0f);
  EXPECT_EQ(e2m1ToFloat(1), 0.5f);
  EXPECT_EQ(e2m1ToFloat(5), 3.0f);
  EXPECT_EQ(e2m1ToFloat(7), 6.0f);
  EXPECT_EQ(e2m1ToFloat(9), -0.5f);
  EXPECT_EQ(e2m1ToFloat(15), -6.0f);
  EXPECT_TRUE(std::signbit(e2m1ToFloat(8)));
  EXPECT_EQ(e2m1ToFloat(0x17), 6.0f); // only the low nibble counts
}

TEST(E2m1, TiesGoToTheEvenCode) {
  // V4_SPEC P7's list.
  EXPECT_EQ(e2m1ToFloat(floatToE2m1(0.25f)), 0.0f);
  EXPECT_EQ(e2m1ToFloat(floatToE2m1(0.75f)), 1.0f);
  EXPECT_EQ(e2m1ToFloat(floatToE2m1(1.25f)), 1.0f);
  EXPECT_EQ(e2m1ToFloat(floatToE2m1(1.75f)), 2.0f);
  EXPECT_EQ(e2m1ToFloat(floatToE2m1(2.5f)), 2.0f);
  EXPECT_EQ(e2m1ToFloat(floatToE2m1(3.5f)), 4.0f);
  EXPECT_EQ(e2m1ToFloat(floatToE2m1(5.0f)), 4.0f);
  EXPECT_EQ(floatToE2m1(-0.75f), 0xa);
  EXPECT_EQ(floatToE2m1(-5.0f), 0xe);
  // Just past a tie goes the other way.
  EXPECT_EQ(floatToE2m1(std::nextafter(0.25f, 1.0f)), 1);
  EXPECT_EQ(floatToE2m1(std::nextafter(0.75f, 0.0f)), 1);
  EXPECT_EQ(floatToE2m1(std::nextafter(5.0f, 6.0f)), 7);
}

TEST(E2m1, SaturatesAndZeroHasNoSign) {
  EXPECT_EQ(floatToE2m1(6.0f), 7);
  EXPECT_EQ(floatToE2m1(100.0f), 7);
  EXPECT_EQ(floatToE2m1(kInf), 7);
  EXPECT_EQ(floatToE2m1(-100.0f), 15);
  EXPECT_EQ(floatToE2m1(-kInf), 15);
  EXPECT_EQ(floatToE2m1(kNaN), 7);
  EXPECT_EQ(floatToE2m1(-0.0f), 0);
  EXPECT_EQ(floatToE2m1(-0.1f), 0);
  EXPECT_EQ(floatToE2m1(-0.25f), 0);
  EXPECT_EQ(floatToE2m1(-0.26f), 9);
}

TEST(E2m1, EveryCodeRoundTripsExceptNegativeZero) {
  for (uint8_t c = 0; c < 16; ++c)
    EXPECT_EQ(floatToE2m1(e2m1ToFloat(c)), c == 8 ? 0 : c) << int(c);
}

uint8_t e2m1Oracle(float f) {
  float a = std::fabs(f);
  int best = 0;
  double bestErr = std::numeric_limits<double>::infinity();
  for (int c = 0; c < 8; ++c) {
    double err = std::fabs(double(a) - double(kE2m1Values[c]));
    if (err < bestErr || (err == bestErr && (c & 1) == 0)) {
      best = c;
      bestErr = err;
    }
  }
  return uint8_t(best == 0 ? 0 : best | (std::signbit(f) ? 8 : 0));
}

TEST(E2m1, MatchesOracleOnASweep) {
  const uint32_t last = floatToBits(10.0f);
  for (uint32_t b = 0; b <= last; b += 997) {
    float x = bitsToFloat(b);
    ASSERT_EQ(floatToE2m1(x), e2m1Oracle(x)) << x;
    ASSERT_EQ(floatToE2m1(-x), e2m1Oracle(-x)) << -x;
  }
}

// ---- P4 power-of-two scales ------------------------------------------------

TEST(Pow2Scale, SpecExamples) {
  // FP8: amax 1 -> a = 1/448 -> s = 2^-8, byte 119; the block max maps to 256.
  EXPECT_EQ(pow2ScaleByte(1.0f, 448.0f), 119);
  EXPECT_EQ(1.0f / e8m0ToFloat(pow2ScaleByte(1.0f, 448.0f)), 256.0f);
  // FP4: amax 1 -> a = 1/6 -> s = 2^-2, byte 125; the block max maps to 4.
  EXPECT_EQ(pow2ScaleByte(1.0f, 6.0f), 125);
  EXPECT_EQ(1.0f / e8m0ToFloat(pow2ScaleByte(1.0f, 6.0f)), 4.0f);
}

TEST(Pow2Scale, HandCheckedValues) {
  // a an exact power of two: no rounding up.
  EXPECT_EQ(pow2ScaleByte(1.0f, 1.0f), 127);
  EXPECT_EQ(pow2ScaleByte(0.5f, 1.0f), 126);
  EXPECT_EQ(pow2ScaleByte(std::nextafter(1.0f, 2.0f), 1.0f), 128);
  EXPECT_EQ(pow2ScaleByte(std::nextafter(1.0f, 0.0f), 1.0f), 127);
  // The FP8 amax floor 1e-4: a = 2.23e-7, log2 = -22.09 -> 2^-22.
  EXPECT_EQ(pow2ScaleByte(1e-4f, 448.0f), 127 - 22);
  // amax = 448 with qmax 448: a = 448 * fp32(1/448), whose product rounds to
  // exactly 1.0f, so byte 127 (s = 1, block max stays 448).
  EXPECT_EQ(448.0f * (1.0f / 448.0f), 1.0f);
  EXPECT_EQ(pow2ScaleByte(448.0f, 448.0f), 127);
  // The sign of amax is ignored.
  EXPECT_EQ(pow2ScaleByte(-1.0f, 448.0f), 119);
}

TEST(Pow2Scale, EdgeCases) {
  EXPECT_EQ(pow2ScaleByte(0.0f, 448.0f), 0);     // 2^-127
  EXPECT_EQ(pow2ScaleByte(1e-40f, 1.0f), 1);     // subnormal a -> 2^-126
  EXPECT_EQ(pow2ScaleByte(0x1p-126f, 1.0f), 1);  // smallest normal, exact
  EXPECT_EQ(pow2ScaleByte(0x1p127f, 1.0f), 254); // largest power of two
  EXPECT_EQ(pow2ScaleByte(3e38f, 1.0f), 255);    // needs 2^128: NaN byte
  EXPECT_EQ(pow2ScaleByte(kInf, 448.0f), 255);
  EXPECT_EQ(pow2ScaleByte(kNaN, 448.0f), 255);
}

TEST(Pow2Scale, IsTheSmallestPowerOfTwoCoveringA) {
  // Oracle: frexp splits a = m * 2^e with m in [0.5, 1); ceil(log2 a) is e,
  // or e - 1 when m == 0.5 exactly.
  for (float qmax : {448.0f, 6.0f}) {
    for (uint32_t b = floatToBits(1e-4f); b <= floatToBits(1e4f); b += 7919) {
      float amax = bitsToFloat(b);
      float a = amax * (1.0f / qmax);
      int e;
      float m = std::frexp(a, &e);
      int ceilLog2 = m == 0.5f ? e - 1 : e;
      uint8_t byte = pow2ScaleByte(amax, qmax);
      ASSERT_EQ(byte, ceilLog2 + 127) << amax << " / " << qmax;
      // s covers a and is the smallest power of two that does.
      float s = e8m0ToFloat(byte);
      ASSERT_LE(a, s);
      ASSERT_GT(a, s / 2);
    }
  }
}

} // namespace
} // namespace birkhoff
