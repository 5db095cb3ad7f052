//===- OfficialNumericsTest.cpp - DeepSeek-V4 official numerics (P1-P11) --===//
//
// Hand-checked values: every expected number below is derived in the comment
// next to it from the spec's formula (V4_SPEC §2, §3.4, §3.7, §4.1), not from
// the implementation. Round trips and idempotence run on seeded random bf16
// data.
//
//===----------------------------------------------------------------------===//
#include "birkhoff/OfficialNumerics.h"

#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

namespace birkhoff::official {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();

bool sameBits(float a, float b) { return floatToBits(a) == floatToBits(b); }

// Seeded bf16 values whose magnitudes span several binades, with zeros.
std::vector<float> randomBf16(size_t n, uint32_t seed, float spread = 8.0f) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> mant(-1.0f, 1.0f);
  std::uniform_real_distribution<float> expo(-spread, spread);
  std::vector<float> v(n);
  for (float &x : v)
    x = gen() % 17 == 0 ? 0.0f : roundBf16(mant(gen) * std::exp2(expo(gen)));
  return v;
}

// ---- P1 ---------------------------------------------------------------------

TEST(OfficialRmsNorm, HandChecked) {
  // Σx² = 30, mean 7.5, r = rsqrt(7.500001) = 0.3651483; x·r·w =
  // 0.3651483, 0.7302967, 1.0954451·0.5 = 0.5477226, 1.4605935·2 = 2.9211870.
  // bf16: 0.3651483·512 = 186.96 → 187/512; 0.7302967·256 → 187/256;
  // 0.5477226·256 = 140.22 → 140/256; 2.921187·64 = 186.96 → 187/64.
  std::array<float, 4> x = {1, 2, 3, 4}, w = {1, 1, 0.5f, 2}, out;
  rmsNormBf16(x, w, 1e-6f, out);
  EXPECT_EQ(out[0], 187.0f / 512);
  EXPECT_EQ(out[1], 187.0f / 256);
  EXPECT_EQ(out[2], 140.0f / 256);
  EXPECT_EQ(out[3], 187.0f / 64);
  // In place gives the same.
  rmsNormBf16(x, w, 1e-6f, x);
  EXPECT_EQ(x, out);
}

// ---- P2 ---------------------------------------------------------------------

TEST(OfficialHeadRms, Bf16RoundingChangesTheResult) {
  // q = (0.25, 1.5): squares 0.0625, 2.25 (exact in bf16); mean 1.15625
  // (exact); +1e-6 rounds back to 1.15625; rsqrt = 0.9299811 → bf16:
  // ·256 = 238.08 → 238/256 = 0.9296875. q1·r = 1.39453125 = 178.5/128, a tie
  // → even 178/128 = 1.390625. In fp32 (HF's way) q1·0.9299811 = 1.3949717 →
  // 178.56 → 179/128 = 1.3984375: the bf16 steps change the output.
  std::array<float, 2> q = {0.25f, 1.5f};
  headRmsNormBf16(q, 2, 1e-6f);
  EXPECT_EQ(q[1], 1.390625f);
  float fp32Way = roundBf16(1.5f * (1.0f / std::sqrt(1.15625f + 1e-6f)));
  EXPECT_EQ(fp32Way, 1.3984375f);
  // q0·r = 0.25·0.9296875 = 0.232421875 (exact in bf16: 119/512).
  EXPECT_EQ(q[0], 0.232421875f);
}

TEST(OfficialHeadRms, HeadsAreIndependent) {
  // Two heads of D = 2: the second equals the first scaled by 4, which is a
  // power of two, so every bf16 step scales exactly and its result is equal.
  std::array<float, 4> q = {0.25f, 1.5f, 1.0f, 6.0f};
  headRmsNormBf16(q, 2, 1e-6f);
  EXPECT_EQ(q[1], 1.390625f);
  EXPECT_EQ(q[3], 1.390625f);
  EXPECT_EQ(q[0], q[2]);
}

// ---- P3 ---------------------------------------------------------------------

TEST(OfficialRope, RotatesInterleavedPairsAndRoundsToBf16) {
  // (1 + 0j)(0.6 + 0.8j) = 0.6 + 0.8j; bf16(0.6) = 154/256 = 0.6015625,
  // bf16(0.8) = 205/256 = 0.80078125. Pair 2: (1 + 1j)(0 + 1j) = −1 + 1j.
  std::array<float, 4> x = {1, 0, 1, 1};
  std::array<float, 2> c = {0.6f, 0.0f}, s = {0.8f, 1.0f};
  ropeBf16(x, c, s, /*inverse=*/false);
  EXPECT_EQ(x[0], 0.6015625f);
  EXPECT_EQ(x[1], 0.80078125f);
  EXPECT_EQ(x[2], -1.0f);
  EXPECT_EQ(x[3], 1.0f);
  // Inverse = the conjugate: (1 + 0j)(0.6 − 0.8j).
  std::array<float, 4> y = {1, 0, -1, 1};
  ropeBf16(y, c, s, /*inverse=*/true);
  EXPECT_EQ(y[0], 0.6015625f);
  EXPECT_EQ(y[1], -0.80078125f);
  // (−1 + 1j)(0 − 1j) = 1 + 1j.
  EXPECT_EQ(y[2], 1.0f);
  EXPECT_EQ(y[3], 1.0f);
}

TEST(OfficialRope, InverseUndoesForwardUpToBf16) {
  std::vector<float> x = randomBf16(64, 7, 2.0f), y = x;
  std::vector<float> f(32), c(32), s(32);
  RopeParams params; // theta 10000, no YaRN
  ropeInvFreq(params, f);
  ropeCosSin(f, 1234, c, s);
  ropeBf16(y, c, s, false);
  ropeBf16(y, c, s, true);
  for (size_t i = 0; i < x.size(); ++i)
    EXPECT_NEAR(y[i], x[i], 0.02f * 4.0f) << i; // a few bf16 ulps of |x|≤4
}

TEST(OfficialRope, FrequenciesWithoutAndWithYarn) {
  std::vector<float> plain(32), yarn(32);
  RopeParams p;
  p.theta = 160000.0;
  ropeInvFreq(p, plain);
  EXPECT_EQ(plain[0], 1.0f);
  // f_i = 1/160000^(i/32): 160000^(1/4) = 20, so f_8 = 0.05, f_16 = 0.0025.
  EXPECT_FLOAT_EQ(plain[8], 0.05f);
  EXPECT_FLOAT_EQ(plain[16], 0.0025f);
  // YaRN with factor 16 over 65536 original positions, beta 32/1: the spec
  // derives low = 15, high = 25 (V4_SPEC P3).
  p.originalSeqLen = 65536;
  p.factor = 16;
  ropeInvFreq(p, yarn);
  for (int i = 0; i <= 15; ++i) // ramp 0: unchanged (f/16·0 + f·1)
    EXPECT_EQ(yarn[i], plain[i]) << i;
  for (int i = 25; i < 32; ++i) // ramp 1: exactly f/16 (f/16·1 + f·0)
    EXPECT_EQ(yarn[i], plain[i] / 16.0f) << i;
  // i = 20: ramp 0.5 → f/16·0.5 + f·0.5 = 0.53125·f.
  EXPECT_FLOAT_EQ(yarn[20], plain[20] * 0.53125f);
  EXPECT_LT(yarn[16], plain[16]);
  // Angles are fl(p·f_i).
  std::vector<float> c(32), s(32);
  ropeCosSin(plain, 3, c, s);
  EXPECT_EQ(c[0], std::cos(3.0f));
  EXPECT_EQ(s[0], std::sin(3.0f));
}

// ---- P4 ---------------------------------------------------------------------

TEST(OfficialScales, Pow2ScaleValues) {
  EXPECT_EQ(pow2Scale(1.0f, kFp8Max), 0x1p-8f); // 1/448 → 2^-8
  EXPECT_EQ(pow2Scale(1.0f, kFp4Max), 0.25f);   // 1/6 → 2^-2
  // amax exactly qmax·2^k: fl(448·fl(1/448)) = 1 (the error of fl(1/448),
  // 3/8·2^-23, is below half an ulp), so s = 2^k and the max maps to qmax.
  EXPECT_EQ(pow2Scale(448.0f, kFp8Max), 1.0f);
  EXPECT_EQ(pow2Scale(896.0f, kFp8Max), 2.0f);
  EXPECT_EQ(pow2Scale(6.0f, kFp4Max), 1.0f);
  EXPECT_EQ(pow2Scale(3.0f, kFp4Max), 0.5f);
  // The floors: 1e-4/448 = 2.23e-7 → 2^-22; 6·2^-126/6 → 2^-126.
  EXPECT_EQ(pow2Scale(kFp8AmaxFloor, kFp8Max), 0x1p-22f);
  EXPECT_EQ(pow2Scale(kFp4AmaxFloor, kFp4Max), 0x1p-126f);
}

TEST(OfficialScales, ElementCodesSaturate) {
  EXPECT_EQ(fp8QuantCode(1000.0f, 1.0f), 0x7e); // clamp to 448
  EXPECT_EQ(fp8QuantCode(-1000.0f, 1.0f), 0xfe);
  EXPECT_EQ(fp8QuantCode(kInf, 1.0f), 0x7e);
  EXPECT_EQ(fp4QuantCode(7.0f, 1.0f), 0x7); // clamp to 6
  EXPECT_EQ(fp4QuantCode(-100.0f, 1.0f), 0xf);
  EXPECT_EQ(fp4QuantCode(-kInf, 1.0f), 0xf);
  // Scaling happens before the clamp: 20 / 4 = 5 → 4 (tie to even).
  EXPECT_EQ(fp4QuantCode(20.0f, 0.25f), 0x6);
}

// ---- P5 ---------------------------------------------------------------------

TEST(OfficialActQuant, PartialLastBlockHasItsOwnScale) {
  // 130 elements: block 0 = 128 ones, block 1 = {100, −3}.
  // Block 0: amax 1 → s = 2^-8 (byte 119), 1/s = 256 → e4m3 0x78.
  // Block 1: amax 100 → 100/448 = 0.223 → s = 2^-2 (byte 125); 100/s = 400
  // is the tie between 384 (mantissa 4, even) and 416 → 384 = 0x7c;
  // −3/s = −12 = −1.5·2^3 → 0xd4.
  std::vector<float> x(130, 1.0f);
  x[128] = 100.0f;
  x[129] = -3.0f;
  std::vector<uint8_t> codes(130);
  std::array<uint8_t, 2> scales;
  actQuantFp8Block128(x, codes, scales);
  EXPECT_EQ(scales[0], 119);
  EXPECT_EQ(scales[1], 125);
  EXPECT_EQ(codes[0], 0x78);
  EXPECT_EQ(codes[127], 0x78);
  EXPECT_EQ(codes[128], 0x7c);
  EXPECT_EQ(codes[129], 0xd4);
  // Dequantized: 384·2^-2 = 96 and −3; block 0 stays 1. In place works.
  actQuantDequantFp8Block128(x, x);
  EXPECT_EQ(x[0], 1.0f);
  EXPECT_EQ(x[128], 96.0f);
  EXPECT_EQ(x[129], -3.0f);
}

TEST(OfficialActQuant, FloorAndZeroBlocks) {
  // amax below 1e-4: s = 2^-22 (byte 105). 2^-15/s = 128 → 0x70;
  // −3·2^-16/s = −192 → 0xf4.
  std::array<float, 3> tiny = {0x1p-15f, -3 * 0x1p-16f, 0.0f};
  std::array<uint8_t, 3> codes;
  std::array<uint8_t, 1> scales;
  actQuantFp8(tiny, 64, codes, scales);
  EXPECT_EQ(scales[0], 105);
  EXPECT_EQ(codes[0], 0x70);
  EXPECT_EQ(codes[1], 0xf4);
  EXPECT_EQ(codes[2], 0x00);
  // A zero block is floored too: byte 105, zero codes, zero values.
  std::array<float, 3> zero = {0, 0, 0};
  actQuantFp8(zero, 64, codes, scales);
  EXPECT_EQ(scales[0], 105);
  EXPECT_EQ(codes, (std::array<uint8_t, 3>{0, 0, 0}));
}

// ---- P6 ---------------------------------------------------------------------

TEST(OfficialFp8Sim, HandCheckedBlock) {
  // amax 896 = 448·2 → s = 2 exactly; 896 → 448 (the top code, no clamp
  // needed); 3/2 = 1.5 exact; 1.1/2 = 0.55 → e4m3 step 2^-4 in [0.5, 1):
  // 0.55/0.0625 = 8.8 → 9·0.0625 = 0.5625 → ·2 = 1.125.
  std::vector<float> x(64, 0.0f);
  x[0] = 896.0f;
  x[1] = 3.0f;
  x[2] = roundBf16(1.1f); // 1.1015625: /2 = 0.55078 → 9 steps → 1.125
  fp8SimulateInPlace(x);
  EXPECT_EQ(x[0], 896.0f);
  EXPECT_EQ(x[1], 3.0f);
  EXPECT_EQ(x[2], 1.125f);
  EXPECT_EQ(x[3], 0.0f);
}

TEST(OfficialFp8Sim, BlocksOf64AndShortLastBlock) {
  // Block 0 (64 values) has amax 448 → s = 1: 300 → e4m3 step 32 in
  // [256, 512): 300/32 = 9.375 → 288. Block 1 (64 values) has amax 1 →
  // s = 2^-8: bf16(0.3) = 0.30078125 → ·256 = 77 → e4m3 step 8 in [64, 128):
  // 9.625 → 80 → 80/256 = 0.3125. Block 2 (2 values, the short tail) has
  // amax 5 → 5/448 = 0.011 → s = 2^-6: 5·64 = 320 (exact).
  std::vector<float> x(130, 0.0f);
  x[0] = 448.0f;
  x[1] = 300.0f;
  x[64] = 1.0f;
  x[65] = roundBf16(0.3f);
  x[128] = 5.0f;
  x[129] = -0.0390625f; // 5/128: ·64 = 2.5 → e4m3 2.5 exact → −0.0390625
  fp8SimulateInPlace(x, 64);
  EXPECT_EQ(x[0], 448.0f);
  EXPECT_EQ(x[1], 288.0f);
  EXPECT_EQ(x[64], 1.0f);
  EXPECT_EQ(x[65], 0.3125f);
  EXPECT_EQ(x[128], 5.0f);
  EXPECT_EQ(x[129], -0.0390625f);
}

TEST(OfficialFp8Sim, IsIdempotent) {
  std::vector<float> x = randomBf16(448, 11, 20.0f);
  fp8SimulateInPlace(x);
  std::vector<float> y = x;
  fp8SimulateInPlace(y);
  for (size_t i = 0; i < x.size(); ++i)
    EXPECT_TRUE(sameBits(x[i], y[i])) << i;
}

// ---- P7 ---------------------------------------------------------------------

TEST(OfficialFp4Sim, E2m1TiesToEven) {
  // amax 5 → 5/6 = 0.83 → s = 1, so x/s = x and the e2m1 cast shows directly.
  // Ties: 0.25 → 0, 0.75 → 1, 1.25 → 1, 1.75 → 2, 2.5 → 2, 3.5 → 4, 5 → 4.
  std::vector<float> x(32, 0.0f);
  const float in[7] = {0.25f, 0.75f, 1.25f, 1.75f, 2.5f, 3.5f, 5.0f};
  const float want[7] = {0.0f, 1.0f, 1.0f, 2.0f, 2.0f, 4.0f, 4.0f};
  for (int i = 0; i < 7; ++i) {
    x[i] = in[i];
    x[8 + i] = -in[i];
  }
  fp4SimulateInPlace(x);
  for (int i = 0; i < 7; ++i) {
    EXPECT_EQ(x[i], want[i]) << in[i];
    EXPECT_EQ(x[8 + i], -want[i]) << -in[i];
  }
  // −0.25 rounds to a zero that keeps its sign (e2m1 code 8).
  EXPECT_TRUE(std::signbit(x[8]));
}

TEST(OfficialFp4Sim, ScaleEdgesAndPartialBlock) {
  // Block 0: amax 6 = 6·2^0 → s = 1, 6 → 6 (top code). Block 1 (8 values,
  // short): amax 3 → 3/6 = 0.5 exactly → s = 0.5: 3 → 6·0.5 = 3;
  // 1.1015625/0.5 = 2.2 → 2 → 1.0; 0.3/0.5 = 0.6 → 0.5 → 0.25.
  std::vector<float> x(40, 0.0f);
  x[0] = 6.0f;
  x[1] = -5.5f; // 5.5 → between 4 and 6, closer to 6 → −6
  x[32] = 3.0f;
  x[33] = roundBf16(1.1f);
  x[34] = roundBf16(0.3f);
  fp4SimulateInPlace(x);
  EXPECT_EQ(x[0], 6.0f);
  EXPECT_EQ(x[1], -6.0f);
  EXPECT_EQ(x[32], 3.0f);
  EXPECT_EQ(x[33], 1.0f);
  EXPECT_EQ(x[34], 0.25f);
  // Below the floor 6·2^-126: s = 2^-126 and 2^-130/s = 1/16 → 0.
  std::vector<float> tiny(32, 0.0f);
  tiny[0] = 0x1p-130f;
  fp4SimulateInPlace(tiny);
  EXPECT_EQ(tiny[0], 0.0f);
}

TEST(OfficialFp4Sim, IsIdempotent) {
  std::vector<float> x = randomBf16(256, 13, 20.0f);
  fp4SimulateInPlace(x);
  std::vector<float> y = x;
  fp4SimulateInPlace(y);
  for (size_t i = 0; i < x.size(); ++i)
    EXPECT_TRUE(sameBits(x[i], y[i])) << i;
}

// ---- KV entry codec ---------------------------------------------------------

TEST(OfficialKvEntry, LayoutSizes) {
  auto flash = KvEntryLayout::make(512, 64);
  ASSERT_TRUE(flash.isOk());
  EXPECT_EQ(flash->nopeDim(), 448u);
  EXPECT_EQ(flash->numScales(), 7u);
  EXPECT_EQ(flash->ropeOffset(), 448u);
  EXPECT_EQ(flash->scaleOffset(), 576u);
  EXPECT_EQ(flash->padBytes(), 1u);
  EXPECT_EQ(flash->entryBytes(), 584u); // V4_SPEC §4.1
  auto tiny = KvEntryLayout::make(128, 64);
  ASSERT_TRUE(tiny.isOk());
  EXPECT_EQ(tiny->entryBytes(), 200u);    // 64 + 128 + 1 = 193 → 200
  auto bad = KvEntryLayout::make(64, 16); // nope 48
  ASSERT_FALSE(bad.isOk());
  EXPECT_EQ(bad.status().code(), StatusCode::InvalidArgument);
  EXPECT_NE(bad.status().message().find("head_dim 64"), std::string::npos);
  EXPECT_NE(bad.status().message().find("48"), std::string::npos);
  EXPECT_FALSE(KvEntryLayout::make(512, 63).isOk());
  EXPECT_FALSE(KvEntryLayout::make(64, 64).isOk());
}

TEST(OfficialKvEntry, ByteLayout) {
  auto layout = KvEntryLayout::make(512, 64);
  ASSERT_TRUE(layout.isOk());
  std::vector<float> kv(512, 0.0f);
  kv[0] = 448.0f;  // block 0 amax 448 → s = 1 (byte 127): 448 → 0x7e
  kv[1] = 1.0f;    // → 0x38
  kv[2] = -2.5f;   // −1.25·2 → 0xc2
  kv[448] = 1.0f;  // bf16 0x3f80 → bytes 80 3f
  kv[449] = -2.0f; // bf16 0xc000 → bytes 00 c0
  std::vector<uint8_t> entry(584, 0xaa);
  encodeKvEntry(*layout, kv, entry);
  EXPECT_EQ(entry[0], 0x7e);
  EXPECT_EQ(entry[1], 0x38);
  EXPECT_EQ(entry[2], 0xc2);
  for (size_t i = 3; i < 448; ++i)
    ASSERT_EQ(entry[i], 0x00) << i;
  EXPECT_EQ(entry[448], 0x80);
  EXPECT_EQ(entry[449], 0x3f);
  EXPECT_EQ(entry[450], 0x00);
  EXPECT_EQ(entry[451], 0xc0);
  for (size_t i = 452; i < 576; ++i)
    ASSERT_EQ(entry[i], 0x00) << i;
  EXPECT_EQ(entry[576], 127); // block 0
  for (size_t i = 577; i < 583; ++i)
    EXPECT_EQ(entry[i], 105) << i; // zero blocks: the 1e-4 floor, 2^-22
  EXPECT_EQ(entry[583], 0x00);     // pad
  std::vector<float> back(512);
  decodeKvEntry(*layout, entry, back);
  EXPECT_EQ(back, kv);
}

TEST(OfficialKvEntry, LosslessForSimulatedValues) {
  for (auto [d, r] : {std::pair<size_t, size_t>{512, 64}, {128, 64}}) {
    auto layout = KvEntryLayout::make(d, r);
    ASSERT_TRUE(layout.isOk());
    std::vector<uint8_t> entry(layout->entryBytes());
    std::vector<float> back(d);
    for (uint32_t seed = 1; seed <= 20; ++seed) {
      std::vector<float> raw = randomBf16(d, seed * 31 + uint32_t(d), 12.0f);
      std::vector<float> sim = raw;
      fp8SimulateInPlace(std::span<float>(sim).first(d - r)); // P6, V4 order
      // Simulate, encode, decode: bitwise the simulated vector.
      encodeKvEntry(*layout, sim, entry);
      decodeKvEntry(*layout, entry, back);
      for (size_t i = 0; i < d; ++i)
        ASSERT_TRUE(sameBits(back[i], sim[i])) << "d " << d << " i " << i;
      // Encoding the raw vector stores the simulation directly.
      encodeKvEntry(*layout, raw, entry);
      decodeKvEntry(*layout, entry, back);
      for (size_t i = 0; i < d; ++i)
        ASSERT_TRUE(sameBits(back[i], sim[i])) << "d " << d << " i " << i;
    }
  }
}

// ---- indexer key codec
// -------------------------------------------------------

TEST(OfficialFp4Key, NibbleOrderAndRoundTrip) {
  std::vector<float> key(128, 0.0f);
  key[0] = 6.0f;  // block 0 amax 6 → s = 1; 6 → code 7 (low nibble)
  key[1] = -0.5f; // → code 9 (high nibble)
  key[32] = 1.5f; // block 1 amax 1.5 → 1.5/6 = 0.25 → s = 0.25: 6 → code 7
  std::vector<uint8_t> bytes(fp4KeyBytes(128));
  ASSERT_EQ(bytes.size(), 68u);
  encodeFp4Key(key, bytes);
  EXPECT_EQ(bytes[0], 0x97);
  EXPECT_EQ(bytes[1], 0x00);
  EXPECT_EQ(bytes[16], 0x07);
  EXPECT_EQ(bytes[64], 127); // block 0: s = 1
  EXPECT_EQ(bytes[65], 125); // block 1: s = 2^-2
  EXPECT_EQ(bytes[66], 1);   // zero blocks: floor → 2^-126
  EXPECT_EQ(bytes[67], 1);
  std::vector<float> back(128);
  decodeFp4Key(bytes, back);
  EXPECT_EQ(back, key);

  for (uint32_t seed = 1; seed <= 20; ++seed) {
    std::vector<float> raw = randomBf16(128, seed, 12.0f), sim = raw;
    fp4SimulateInPlace(sim);
    encodeFp4Key(sim, bytes);
    decodeFp4Key(bytes, back);
    for (size_t i = 0; i < 128; ++i)
      ASSERT_TRUE(sameBits(back[i], sim[i])) << i;
    encodeFp4Key(raw, bytes);
    decodeFp4Key(bytes, back);
    for (size_t i = 0; i < 128; ++i)
      ASSERT_TRUE(sameBits(back[i], sim[i])) << i;
  }
}

// ---- P8 / P9
// ------------------------------------------------------------------

TEST(OfficialFp8Linear, PerBlockScalesAndBf16Output) {
  // K = 256: act codes 1.0 (0x38), act scales 2^-1, 2^1; weight codes 2.0
  // (0x40), weight scales 1, 2^-2. Each inner sum = 128·2 = 256;
  // y = 256·0.5·1 + 256·2·0.25 = 128 + 128 = 256.
  std::vector<uint8_t> a(256, 0x38), w(256, 0x40);
  std::array<uint8_t, 2> sa = {126, 128}, sw = {127, 125};
  EXPECT_EQ(fp8LinearRow(a, sa, w, sw), 256.0f);
  // One weight 2 → 1 in block 0: inner 255 → 127.5 + 128 = 255.5, a bf16
  // tie between 255 and 256 → even → 256. Two: 127 + 128 = 255 (exact).
  w[0] = 0x38;
  EXPECT_EQ(fp8LinearRow(a, sa, w, sw), 256.0f);
  w[1] = 0x38;
  EXPECT_EQ(fp8LinearRow(a, sa, w, sw), 255.0f);
}

TEST(OfficialFp8Linear, ShortLastBlockAndRandomAgreement) {
  // K = 130: block 1 holds 2 elements: 3·(−1.5)·(2·2^-3) = −1.125.
  std::vector<uint8_t> a(130, 0x00), w(130, 0x00);
  a[0] = 0x38; // 1
  w[0] = 0x48; // 4 → block 0: 1·4·(1·1) = 4
  a[128] = floatToE4m3(3.0f);
  w[128] = floatToE4m3(-1.5f);
  std::array<uint8_t, 2> sa = {127, 128}, sw = {127, 124};
  EXPECT_EQ(fp8LinearRow(a, sa, w, sw), 4.0f - 1.125f);

  // Against a double-precision sum of the dequantized operands: the result
  // is the bf16 rounding of nearly the same number.
  std::vector<float> x = randomBf16(512, 3, 3.0f), wf = randomBf16(512, 4);
  std::vector<uint8_t> qa(512), qw(512);
  std::array<uint8_t, 4> xs, ws;
  actQuantFp8Block128(x, qa, xs);
  actQuantFp8Block128(wf, qw, ws); // a weight row with per-128 scales
  double exact = 0, magnitude = 0;
  for (size_t k = 0; k < 512; ++k) {
    double term = double(e4m3ToFloat(qa[k])) * e8m0ToFloat(xs[k / 128]) *
                  e4m3ToFloat(qw[k]) * e8m0ToFloat(ws[k / 128]);
    exact += term;
    magnitude += std::fabs(term);
  }
  float y = fp8LinearRow(qa, xs, qw, ws);
  // bf16 output (≤ 2^-9 relative) plus fp32 sums (≤ ~2^-16 of Σ|terms|).
  EXPECT_NEAR(y, exact, std::fabs(exact) * 0x1p-8 + magnitude * 0x1p-16);
}

TEST(OfficialFp4Linear, HandChecked) {
  // K = 64, one (short) activation block: codes 1.0, scale 1.
  // Weights block 0: 1.0 (code 2) except element 1 = −6 (code 0xf) →
  // inner 31 − 6 = 25, weight scale 2 → 50. Block 1: −3 (code 0xd) ×32 →
  // −96, weight scale 2^-3 → −12. y = 38.
  std::vector<uint8_t> a(64, 0x38), packed(32, 0x22);
  packed[0] = 0xf2; // element 0 low nibble (2 = 1.0), element 1 high (−6)
  for (size_t i = 16; i < 32; ++i)
    packed[i] = 0xdd;
  std::array<uint8_t, 1> sa = {127};
  std::array<uint8_t, 2> sw = {128, 124};
  EXPECT_EQ(fp4LinearRow(a, sa, packed, sw), 38.0f);
}

TEST(OfficialFp4Linear, ActivationScalePerFourWeightBlocks) {
  // K = 256: weight blocks 0-3 use sa[0] = 1, blocks 4-7 use sa[1] = 4.
  // All codes 1.0: y = 4·32·1 + 4·32·4 = 640 (bf16-exact: step 4).
  std::vector<uint8_t> a(256, 0x38), packed(128, 0x22);
  std::array<uint8_t, 2> sa = {127, 129};
  std::vector<uint8_t> sw(8, 127);
  EXPECT_EQ(fp4LinearRow(a, sa, packed, sw), 640.0f);
}

// InnerSum::Exact rounds the block's exact sum once; the ordered fp32 sum
// drops products below half an ulp of the running sum. Each case puts the
// difference across a bf16 tie of the output.
TEST(OfficialExactInnerSum, Fp8BlockKeepsTheSmallProducts) {
  // 256·256 + 256·1 = 65792 (a bf16 tie between 65536 and 66048), then 126
  // products of 2^-8: half an fp32 ulp each, so the ordered sum stays at the
  // tie (→ 65536, the even one); the exact 65792.49 rounds up to 66048.
  std::vector<uint8_t> a(128, 0x02), w(128, 0x38);
  a[0] = w[0] = a[1] = 0x78; // 256
  w[1] = 0x38;               // 1
  std::array<uint8_t, 1> sa = {127}, sw = {127};
  EXPECT_EQ(fp8LinearRow(a, sa, w, sw), 65536.0f);
  EXPECT_EQ(fp8LinearRow(a, sa, w, sw, InnerSum::Exact), 66048.0f);
}

TEST(OfficialExactInnerSum, Fp4BlockKeepsTheSmallProducts) {
  // 7·(448·6) + 16·4 = 18880 (a bf16 tie between 18816 and 18944), then 24
  // products of −2^-10: half an fp32 ulp each, so the ordered sum stays at
  // the tie (→ 18944, the even one); the exact 18879.98 rounds down.
  std::vector<uint8_t> a(32, 0x01), packed(16, 0x99); // 2^-9 · −0.5
  for (size_t i = 0; i < 7; ++i)
    a[i] = 0x7e;                            // 448
  a[7] = 0x58;                              // 16
  packed[0] = packed[1] = packed[2] = 0x77; // 6, 6
  packed[3] = 0x67;                         // element 6: 6, element 7: 4
  std::array<uint8_t, 1> sa = {127}, sw = {127};
  EXPECT_EQ(fp4LinearRow(a, sa, packed, sw), 18944.0f);
  EXPECT_EQ(fp4LinearRow(a, sa, packed, sw, InnerSum::Exact), 18816.0f);
}

// ---- P10 --------------------------------------------------------------------

TEST(OfficialHadamard, HandChecked) {
  // H_4 (Sylvester, natural order) rows: ++++, +−+−, ++−−, +−−+; /2.
  // (1,2,3,4) → (10, −2, −4, 0)/2.
  std::array<float, 4> x = {1, 2, 3, 4};
  hadamardBf16(x);
  EXPECT_EQ(x, (std::array<float, 4>{5, -1, -2, 0}));
}

TEST(OfficialHadamard, BasisVectorAndInvolution) {
  // H·e_0 = the constant 128^-1/2 = 0.0883883 → bf16 (step 2^-11 in
  // [2^-4, 2^-3)): 181.02 → 181·2^-11 = 0.08837890625.
  std::vector<float> e(128, 0.0f);
  e[0] = 1.0f;
  hadamardBf16(e);
  for (float v : e)
    ASSERT_EQ(v, 0.08837890625f);
  // H·H = I: for each e_k, the second pass sums 128 terms ±c → 128·c at k,
  // 0 elsewhere; 128·c·128^-1/2 = 0.99989 → bf16 1.0.
  for (size_t k = 0; k < 128; ++k) {
    std::vector<float> v(128, 0.0f);
    v[k] = 1.0f;
    hadamardBf16(v);
    hadamardBf16(v);
    for (size_t i = 0; i < 128; ++i)
      ASSERT_EQ(v[i], i == k ? 1.0f : 0.0f) << k << " " << i;
  }
  // Random bf16 vectors come back to within bf16 rounding: H/√n is
  // orthonormal, so the first pass's roundings (≤ 2^-9 relative) add an
  // error of norm ≤ 2^-9·‖x‖, and the last rounding ≤ 2^-9·|x_i| more.
  std::vector<float> x = randomBf16(128, 5, 3.0f), y = x;
  double norm = 0;
  for (float v : x)
    norm += double(v) * v;
  norm = std::sqrt(norm);
  hadamardBf16(y);
  hadamardBf16(y);
  for (size_t i = 0; i < 128; ++i)
    EXPECT_NEAR(y[i], x[i], 0x1p-9 * norm + 0x1p-8 * std::fabs(x[i])) << i;
}

// ---- attention core
// -----------------------------------------------------------

TEST(OfficialAttention, Bf16ProbabilitiesChangeTheOutput) {
  // q = (1, 0), scale 1, no sink (−inf). k0 = (0, −1): s0 = 0; k1 =
  // (−0.125, 1): s1 = −0.125. p0 = 1, p1 = exp(−0.125) = 0.8824969, bf16(p1)
  // = 226/256 = 0.8828125; den = 1 + 0.8824969 (fp32 exponentials).
  // out1 = (−1 + 0.8828125)/1.8824969 = −0.0622516 → bf16 (step 2^-12):
  // 254.98 → −255·2^-12 = −0.062255859375. With fp32 P: −0.1175031/1.8824969
  // = −0.0624187 → 255.67 → −256·2^-12 = −0.0625.
  std::array<float, 2> q = {1, 0}, k0 = {0, -1}, k1 = {-0.125f, 1};
  std::array<const float *, 2> keys = {k0.data(), k1.data()};
  std::array<float, 2> out;
  attendOneHead(q, keys, -kInf, 1.0f, out);
  EXPECT_EQ(out[1], -0.062255859375f);
  // out0 = −0.125·0.8828125/1.8824969 = −0.0586201 → 240.1 → −240·2^-12.
  EXPECT_EQ(out[0], -0.05859375f);
}

TEST(OfficialAttention, OnlineSoftmaxRescalesEarlierChunksInFp32) {
  // Chunk 0: k_a = (0, 1) with s = 0, then 63 invalid slots. Chunk 1: k_b =
  // (0.125, −1) with s = 0.125. Chunk 0 rounds P against its own max:
  // bf16(exp(0)) = 1; chunk 1 then rescales it by α = exp(−0.125) in fp32.
  // out1 = (α·1 − 1)/(α + 1) = −0.1175031/1.8824969 → −0.0625 (see above);
  // rounding P against the global max would give −0.062255859375.
  std::array<float, 2> q = {1, 0}, ka = {0, 1}, kb = {0.125f, -1};
  std::vector<const float *> keys(65, nullptr);
  keys[0] = ka.data();
  keys[64] = kb.data();
  std::array<float, 2> out;
  attendOneHead(q, keys, -kInf, 1.0f, out);
  EXPECT_EQ(out[1], -0.0625f);
  // out0 = 0.125/1.8824969 = 0.0664011 → step 2^-11 in [2^-4, 2^-3):
  // 135.99 → 136·2^-11 = 0.06640625.
  EXPECT_EQ(out[0], 0.06640625f);
}

TEST(OfficialAttention, SinkOnlyInTheDenominator) {
  // One key, score 0: out = k / (1 + exp(sink)).
  std::array<float, 2> q = {0, 0}, k = {1, -3};
  std::array<const float *, 1> keys = {k.data()};
  std::array<float, 2> out;
  attendOneHead(q, keys, 0.0f, attentionScale(2), out); // den 2
  EXPECT_EQ(out[0], 0.5f);
  EXPECT_EQ(out[1], -1.5f);
  // sink 1: den = 1 + e = 3.7182817; 1/den = 0.2689414 → bf16 step 2^-9 in
  // [0.25, 0.5): 137.70 → 138/512 = 0.26953125.
  attendOneHead(q, keys, 1.0f, 1.0f, out);
  EXPECT_EQ(out[0], 0.26953125f);
  EXPECT_EQ(attentionScale(512), float(1.0 / std::sqrt(512.0)));
}

// ---- MoE ------------------------------------------------------------------

TEST(OfficialSwiglu, ClampsAndRoundsAfterTheRoutingWeight) {
  // L = 10: gate 20 → 10, up −15 → −10. silu(10) = 10/(1 + e^-10) =
  // 9.9995460; ·(−10) = −99.99546; ·0.5 = −49.99773 → bf16 step 0.25 in
  // [32, 64): −199.99 → −50.
  EXPECT_EQ(swigluBf16(20.0f, -15.0f, 0.5f, 10.0f), -50.0f);
  // No limit: silu(20) = 20/(1 + 2.1e-9) = 20 in fp32; 20·(−15) = −300.
  EXPECT_EQ(swigluBf16(20.0f, -15.0f, 1.0f, 0.0f), -300.0f);
  // The gate is clamped from above only: −20 stays, silu(−20) ≈ −4.1e-8.
  EXPECT_LT(swigluBf16(-20.0f, 1.0f, 1.0f, 10.0f), 0.0f);
  EXPECT_EQ(siluF32(0.0f), 0.0f);
  std::array<float, 2> g = {20.0f, 0.0f}, u = {-15.0f, 3.0f}, h;
  swigluRowBf16(g, u, 0.5f, 10.0f, h);
  EXPECT_EQ(h[0], -50.0f);
  EXPECT_EQ(h[1], 0.0f);
}

} // namespace
} // namespace birkhoff::official
