//===- WeightDecodeTest.cpp - Linear over FP8/FP4/BF16 weights ------------===//
#include "KernelTestUtil.h"
#include "host/WeightDecode.h"

#include "birkhoff/Numerics.h"

#include <gtest/gtest.h>

namespace birkhoff::test {
namespace {

// FP8 e4m3 with one 128x128 block scale per block: W = e4m3(q) * 2^(s-127).
TEST(WeightDecode, Fp8BlockScales) {
  KernelHarness h;
  std::vector<uint8_t> q(2 * 256), s = {127, 120}; // scales 1 and 2^-7 for the 2 col blocks
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

} // namespace
} // namespace birkhoff::test
