//===- WeightDecode.cpp ---------------------------------------------------===//
#include "WeightDecode.h"

#include "birkhoff/Numerics.h"
#include "birkhoff/OfficialNumerics.h"

#include <algorithm>
#include <cstring>
#include <vector>

namespace birkhoff::rt {

void decodeWeightRow(const WeightDesc &w, const WeightDesc *scale, int64_t row,
                     int64_t colBegin, int64_t cols, float *out) {
  int64_t K = w.shape.size() >= 2 ? w.shape[1] : w.shape[0];
  switch (w.dtype) {
  case DType::F32: {
    const float *src =
        reinterpret_cast<const float *>(w.data) + row * K + colBegin;
    std::memcpy(out, src, size_t(cols) * 4);
    return;
  }
  case DType::BF16: {
    const uint16_t *src =
        reinterpret_cast<const uint16_t *>(w.data) + row * K + colBegin;
    for (int64_t k = 0; k < cols; ++k)
      out[k] = bf16ToFloat(src[k]);
    return;
  }
  // The quantized formats go scale block by scale block, so each block's
  // scale is decoded once; the values are exact either way.
  case DType::F8E4M3: {
    const uint8_t *src = w.data + row * K;
    const uint8_t *srow = scale->data + (row / 128) * scale->shape[1];
    for (int64_t col = colBegin, end = colBegin + cols; col < end;) {
      const int64_t blockEnd = std::min(end, (col / 128 + 1) * 128);
      const float s = e8m0ToFloat(srow[col / 128]);
      for (; col < blockEnd; ++col)
        *out++ = e4m3ToFloat(src[col]) * s;
    }
    return;
  }
  case DType::FP4E2M1x2: {
    const uint8_t *src = w.data + row * (K / 2);
    const uint8_t *srow = scale->data + row * scale->shape[1];
    for (int64_t col = colBegin, end = colBegin + cols; col < end;) {
      const int64_t blockEnd = std::min(end, (col / 32 + 1) * 32);
      const float s = e8m0ToFloat(srow[col / 32]);
      if (col & 1) // a slice that starts on a high nibble
        *out++ = e2m1ToFloat(src[col++ / 2] >> 4) * s;
      for (; col + 1 < blockEnd; col += 2) {
        const uint8_t byte = src[col / 2];
        *out++ = e2m1ToFloat(byte & 15) * s;
        *out++ = e2m1ToFloat(byte >> 4) * s;
      }
      if (col < blockEnd) // a slice that ends on a low nibble
        *out++ = e2m1ToFloat(src[col++ / 2] & 15) * s;
    }
    return;
  }
  default:
    std::fill(out, out + cols, 0.0f); // excluded by the loader's checks
    return;
  }
}

float weightScalar(const WeightDesc &w, int64_t i) {
  switch (w.dtype) {
  case DType::F32:
    return reinterpret_cast<const float *>(w.data)[i];
  case DType::BF16:
    return bf16ToFloat(reinterpret_cast<const uint16_t *>(w.data)[i]);
  default:
    return 0.0f;
  }
}

float dotF32(const float *a, const float *b, int64_t n) {
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t k = 0;
  for (; k + 8 <= n; k += 8)
    for (int j = 0; j < 8; ++j)
      acc[j] += a[k + j] * b[k + j];
  float tail = 0.0f;
  for (; k < n; ++k)
    tail += a[k] * b[k];
  return ((acc[0] + acc[4]) + (acc[1] + acc[5])) +
         ((acc[2] + acc[6]) + (acc[3] + acc[7])) + tail;
}

float blockTreeDot(const float *a, const float *b, int64_t n) {
  constexpr int64_t kWarp = 32, kStride = 4 * kBlockTreeLanes;
  // Stride by stride, so the row is read once in order; each lane's partial
  // still adds its quads in stride order.
  float lanes[kBlockTreeLanes] = {};
  for (int64_t base = 0; base < n; base += kStride)
    for (int64_t q = 0; q < kBlockTreeLanes && base + 4 * q < n; ++q) {
      const int64_t k = base + 4 * q;
      float quad = a[k] * b[k];
      for (int64_t j = 1; j < 4 && k + j < n; ++j)
        quad += a[k + j] * b[k + j];
      lanes[q] += quad;
    }
  float total = 0.0f;
  for (float *warp = lanes; warp != lanes + kBlockTreeLanes; warp += kWarp) {
    for (int64_t offset = kWarp / 2; offset > 0; offset /= 2) {
      float next[kWarp];
      for (int64_t l = 0; l < kWarp; ++l)
        next[l] = warp[l] + warp[l ^ offset];
      std::copy(next, next + kWarp, warp);
    }
    total += warp[0];
  }
  return total;
}

void linearForwardBlock(const WeightDesc &w, const WeightDesc *scale,
                        int64_t rowBegin, int64_t rows, int64_t colBegin,
                        int64_t cols, const float *x, int64_t tokens,
                        int64_t xStride, float *y, int64_t yStride,
                        Workers pool) {
  // Each task decodes a few weight rows and applies them to every token, so a
  // weight is read once per call whatever the number of tokens.
  int64_t grain = std::max<int64_t>(1, 4096 / std::max<int64_t>(1, tokens));
  pool.parallelFor(
      rows,
      [&](int64_t begin, int64_t end) {
        std::vector<float> row(static_cast<size_t>(cols));
        for (int64_t n = begin; n < end; ++n) {
          decodeWeightRow(w, scale, rowBegin + n, colBegin, cols, row.data());
          for (int64_t t = 0; t < tokens; ++t)
            y[t * yStride + n] = dotF32(x + t * xStride, row.data(), cols);
        }
      },
      grain);
}

void linearForward(const WeightDesc &w, const WeightDesc *scale, const float *x,
                   int64_t tokens, int64_t xStride, float *y, int64_t yStride,
                   Workers pool) {
  linearForwardBlock(w, scale, 0, w.shape[0], 0, w.shape[1], x, tokens, xStride,
                     y, yStride, pool);
}

void linearForwardOfficial(const WeightDesc &w, const WeightDesc *scale,
                           const float *x, int64_t tokens, int64_t xStride,
                           float *y, int64_t yStride, bool roundOutput,
                           Workers pool, official::InnerSum inner) {
  int64_t N = w.shape[0], K = w.shape[1];
  bool fp8 = w.dtype == DType::F8E4M3, fp4 = w.dtype == DType::FP4E2M1x2;
  if (!fp8 && !fp4) {
    linearForward(w, scale, x, tokens, xStride, y, yStride, pool);
    if (roundOutput)
      for (int64_t t = 0; t < tokens; ++t)
        for (int64_t n = 0; n < N; ++n)
          y[t * yStride + n] = roundBf16(y[t * yStride + n]);
    return;
  }
  // Quantize every token's activation row once (P5), then run the blocked
  // FP8 x FP8 (P8) or FP8 x FP4 (P9) dot products row by row.
  int64_t actBlocks =
      int64_t(official::numBlocks(size_t(K), official::kActQuantBlock));
  std::vector<uint8_t> codes(size_t(tokens * K)),
      scales(size_t(tokens * actBlocks));
  for (int64_t t = 0; t < tokens; ++t)
    official::actQuantFp8Block128(
        std::span<const float>(x + t * xStride, size_t(K)),
        std::span<uint8_t>(codes.data() + t * K, size_t(K)),
        std::span<uint8_t>(scales.data() + t * actBlocks, size_t(actBlocks)));
  int64_t scaleCols = scale->shape[1];
  int64_t grain = std::max<int64_t>(1, 1024 / std::max<int64_t>(1, tokens));
  pool.parallelFor(
      N,
      [&](int64_t begin, int64_t end) {
        for (int64_t n = begin; n < end; ++n) {
          for (int64_t t = 0; t < tokens; ++t) {
            std::span<const uint8_t> ac(codes.data() + t * K, size_t(K));
            std::span<const uint8_t> as(scales.data() + t * actBlocks,
                                        size_t(actBlocks));
            float v;
            if (fp8)
              v = official::fp8LinearRow(
                  ac, as, std::span<const uint8_t>(w.data + n * K, size_t(K)),
                  std::span<const uint8_t>(scale->data + (n / 128) * scaleCols,
                                           size_t(scaleCols)),
                  inner);
            else
              v = official::fp4LinearRow(
                  ac, as,
                  std::span<const uint8_t>(w.data + n * (K / 2), size_t(K / 2)),
                  std::span<const uint8_t>(scale->data + n * scaleCols,
                                           size_t(scaleCols)),
                  inner);
            y[t * yStride + n] = v;
          }
        }
      },
      grain);
}

std::vector<float> weightVector(const WeightDesc &w) {
  std::vector<float> out(static_cast<size_t>(w.shape.empty() ? 0 : w.shape[0]));
  for (size_t i = 0; i < out.size(); ++i)
    out[i] = weightScalar(w, int64_t(i));
  return out;
}

} // namespace birkhoff::rt
