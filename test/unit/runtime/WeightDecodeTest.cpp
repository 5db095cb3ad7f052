//===- WeightDecodeTest.cpp - Linear over FP8/FP4/BF16 weights ------------===//
#include "host/WeightDecode.h"
#include "KernelTestUtil.h"

#include "birkhoff/Numerics.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

namespace birkhoff::test {
namespace {

// FP8 e4m3 with one 128x128 block scale per block: W = e4m3(q) * 2^(s-127).
TEST(WeightDecode, Fp8BlockScales) {
  KernelHarness h;
  std::vector<uint8_t> q(2 * 256),
      s = {127, 120}; // scales 1 and 2^-7 for the 2 col blocks
  for (size_t i = 0; i < q.size(); ++i)
    q[i] = floatToE4m3(float(int(i % 5) - 2));
  int sc = h.addWeightRaw("w.scale", DType::F8E8M0, {1, 2}, s);
  int w = h.addWeightRaw("w", DType::F8E4M3, {2, 256}, q, sc);
  std::vector<float> row(256);
  rt::WeightDesc wd = h.program.weights[w];
  wd.data = h.weightBytes[w].data();
  rt::WeightDesc sd = h.program.weights[sc];
  sd.data = h.weightBytes[sc].data();
  rt::decodeWeightRow(wd, &sd, 1, 0, 256, row.data());
  for (int k = 0; k < 256; ++k) {
    float want = float(int((256 + k) % 5) - 2) * (k < 128 ? 1.0f : 0x1p-7f);
    EXPECT_EQ(row[size_t(k)], want) << k;
  }
}

// FP4: two codes per byte, low nibble first, one e8m0 scale per 32 inputs.
TEST(WeightDecode, Fp4PackedLowNibbleFirst) {
  KernelHarness h;
  std::vector<uint8_t> packed(32), s = {128, 126}; // 2 and 0.5
  for (int i = 0; i < 32; ++i)
    packed[size_t(i)] = uint8_t((i % 16) | (((i + 3) % 16) << 4));
  int sc = h.addWeightRaw("w.scale", DType::F8E8M0, {1, 2}, s);
  int w = h.addWeightRaw("w", DType::FP4E2M1x2, {1, 64}, packed, sc);
  rt::WeightDesc wd = h.program.weights[w];
  wd.data = h.weightBytes[w].data();
  rt::WeightDesc sd = h.program.weights[sc];
  sd.data = h.weightBytes[sc].data();
  std::vector<float> row(64);
  rt::decodeWeightRow(wd, &sd, 0, 0, 64, row.data());
  for (int k = 0; k < 64; ++k) {
    int byte = k / 2;
    uint8_t code = (k % 2) ? uint8_t((byte + 3) % 16) : uint8_t(byte % 16);
    EXPECT_EQ(row[size_t(k)], e2m1ToFloat(code) * (k < 32 ? 2.0f : 0.5f)) << k;
  }
}

// Any slice of a row (odd starts and ends, across scale blocks) decodes to
// the same values as the whole row, in both quantized formats.
TEST(WeightDecode, SlicesMatchTheWholeRow) {
  KernelHarness h;
  const int64_t K = 320;
  std::vector<uint8_t> fp4(2 * K / 2), fp8(2 * K), s4(2 * (K / 32)), s8(3);
  for (size_t i = 0; i < fp4.size(); ++i)
    fp4[i] = uint8_t(i * 37 + 11);
  for (size_t i = 0; i < fp8.size(); ++i)
    fp8[i] = uint8_t((i * 53 + 5) % 0x7e); // positive, no NaN
  for (size_t i = 0; i < s4.size(); ++i)
    s4[i] = uint8_t(120 + i % 9);
  s8 = {126, 129, 127};
  int sc4 = h.addWeightRaw("w4.scale", DType::F8E8M0, {2, K / 32}, s4);
  int w4 = h.addWeightRaw("w4", DType::FP4E2M1x2, {2, K}, fp4, sc4);
  int sc8 = h.addWeightRaw("w8.scale", DType::F8E8M0, {1, 3}, s8);
  int w8 = h.addWeightRaw("w8", DType::F8E4M3, {2, K}, fp8, sc8);
  for (auto [w, sc] : {std::pair{w4, sc4}, std::pair{w8, sc8}}) {
    rt::WeightDesc wd = h.program.weights[w], sd = h.program.weights[sc];
    wd.data = h.weightBytes[w].data();
    sd.data = h.weightBytes[sc].data();
    SCOPED_TRACE(wd.name);
    std::vector<float> whole(K), part(K);
    rt::decodeWeightRow(wd, &sd, 1, 0, K, whole.data());
    EXPECT_NE(whole[1], 0.0f);
    for (auto [begin, n] : {std::pair<int64_t, int64_t>{0, K},
                            {1, 1},
                            {1, 32},
                            {31, 3},
                            {33, 200},
                            {127, 130},
                            {301, 19}}) {
      rt::decodeWeightRow(wd, &sd, 1, begin, n, part.data());
      for (int64_t k = 0; k < n; ++k)
        ASSERT_EQ(part[size_t(k)], whole[size_t(begin + k)])
            << "slice at " << begin << " + " << k;
    }
  }
}

// The linear kernel over a BF16 weight equals the fp32 matrix product.
TEST(WeightDecode, LinearKernelBf16) {
  KernelHarness h;
  std::vector<uint8_t> bytes(3 * 4 * 2);
  std::vector<float> wv(12);
  for (int i = 0; i < 12; ++i) {
    wv[size_t(i)] = roundBf16(0.25f * float(i) - 1.0f);
    uint16_t b = floatToBf16(wv[size_t(i)]);
    bytes[size_t(2 * i)] = uint8_t(b & 0xff);
    bytes[size_t(2 * i + 1)] = uint8_t(b >> 8);
  }
  int w = h.addWeightRaw("w", DType::BF16, {3, 4}, bytes);
  int x = h.addBuffer(2 * 4), y = h.addBuffer(2 * 3);
  h.buffers[x] = {1, 2, 3, 4, -1, 0.5f, 0, 2};
  h.launch.inputs = {x};
  h.launch.outputs = {y};
  h.launch.weights = {w};
  h.param("in_features", 4);
  h.param("out_features", 3);
  ASSERT_TRUE(h.run(rt::linearKernel, 2, 0).isOk());
  for (int t = 0; t < 2; ++t)
    for (int n = 0; n < 3; ++n) {
      float want = 0;
      for (int k = 0; k < 4; ++k)
        want += h.buffers[x][size_t(t * 4 + k)] * wv[size_t(n * 4 + k)];
      EXPECT_FLOAT_EQ(h.buffers[y][size_t(t * 3 + n)], want);
    }
}

// The documented order is what the CUDA block sums in (mHC relies on it to be
// bitwise): the cases below come out differently in any other order.
TEST(WeightDecode, BlockTreeDotSumsInTheCudaBlocksOrder) {
  const float e = 0x1p-24f; // half an ulp of 1: lost when added to 1 alone
  std::vector<float> ones(2048, 1.0f);
  // Quads left to right: lane 0 keeps 1 (each e is a tie, to even), lane 1
  // sums its four e exactly; then 1 + 4e. Sequential gives 1, dotF32 1 + 6e.
  std::vector<float> a = {1, e, e, e, e, e, e, e};
  EXPECT_EQ(rt::blockTreeDot(a.data(), ones.data(), 8), 1.0f + 4 * e);
  EXPECT_EQ(rt::dotF32(a.data(), ones.data(), 8), 1.0f + 6 * e);
  // Warp totals in order from 0: e (warp 0) + e (warp 1) before the 1 of
  // warp 7 survives as 1 + 2e.
  std::vector<float> b(1024, 0.0f);
  b[0] = e, b[128] = e, b[7 * 128] = 1.0f;
  EXPECT_EQ(rt::blockTreeDot(b.data(), ones.data(), 1024), 1.0f + 2 * e);
  // The butterfly pairs lane l with l ^ 16 first: lanes 0 and 16 give 1,
  // then lanes 1 and 17's 2e joins at offset 1.
  std::vector<float> c(1024, 0.0f);
  c[0] = 1.0f, c[64] = e, c[4] = e, c[68] = e;
  EXPECT_EQ(rt::blockTreeDot(c.data(), ones.data(), 1024), 1.0f + 2 * e);
  // Past one stride and with a ragged tail, still an fp32-accurate dot.
  std::vector<float> x(3003), y(3003);
  for (size_t i = 0; i < x.size(); ++i)
    x[i] = float(int(i * 37 % 101) - 50) * 0.01f,
    y[i] = float(int(i * 53 % 89) - 44) * 0.02f;
  double want = 0;
  for (size_t i = 0; i < x.size(); ++i)
    want += double(x[i]) * y[i];
  EXPECT_NEAR(rt::blockTreeDot(x.data(), y.data(), 3003), want,
              1e-5 * std::fabs(want) + 1e-4);
}

} // namespace
} // namespace birkhoff::test
