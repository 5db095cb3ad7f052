//===- OfficialQuant.cpp - FP8/FP4 quantization, codecs and GEMM rows -----===//
//
// The quantizing half of the `official` numerics (V4_SPEC P4-P9, §4.1): block
// scales, the in-place simulations of the KV and indexer paths, the byte
// codecs that store simulated values losslessly, and one output element of
// the FP8 and FP4 GEMMs with the kernels' accumulation order.
//
//===----------------------------------------------------------------------===//
#include "birkhoff/OfficialNumerics.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <string>

// As in OfficialNumerics.cpp: the reference rounds every product and sum.
#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

namespace birkhoff::official {
namespace {

// The e8m0 scale byte of one block: `amax = T.max(reduce_absmax, floor)`,
// then fast_round_scale (P4). The floors keep the byte in [1, 254].
uint8_t blockScaleByte(std::span<const float> block, float floor, float qmax) {
  return pow2ScaleByte(std::max(blockAmax(block), floor), qmax);
}

// Calls `fn(begin, length, blockIndex)` for each block of a row of n;
// the last block is shorter when the row is not a multiple of `blockSize`.
template <typename Fn> void forEachBlock(size_t n, size_t blockSize, Fn &&fn) {
  for (size_t b = 0, begin = 0; begin < n; ++b, begin += blockSize)
    fn(begin, std::min(blockSize, n - begin), b);
}

void storeBf16(uint8_t *dst, float v) {
  uint16_t h = floatToBf16(v);
  dst[0] = uint8_t(h & 0xffu); // little-endian, as the device reads it
  dst[1] = uint8_t(h >> 8);
}

float loadBf16(const uint8_t *src) {
  return bf16ToFloat(uint16_t(src[0] | (uint16_t(src[1]) << 8)));
}

} // namespace

float blockAmax(std::span<const float> x) {
  float amax = 0.0f;
  for (float v : x)
    amax = std::max(amax, std::fabs(v));
  return amax;
}

// ---- P5 ---------------------------------------------------------------------

void actQuantFp8(std::span<const float> x, size_t block,
                 std::span<uint8_t> codes, std::span<uint8_t> scales) {
  assert(block > 0 && codes.size() == x.size() &&
         scales.size() == numBlocks(x.size(), block));
  forEachBlock(x.size(), block, [&](size_t begin, size_t len, size_t b) {
    std::span<const float> blk = x.subspan(begin, len);
    uint8_t byte = blockScaleByte(blk, kFp8AmaxFloor, kFp8Max);
    // The reference divides by s = 2^e; 1/s is exact (byte in [1, 254]), so
    // multiplying by it gives the same fp32 quotient.
    float inv = 1.0f / e8m0ToFloat(byte);
    for (size_t i = 0; i < len; ++i)
      codes[begin + i] = fp8QuantCode(blk[i], inv);
    scales[b] = byte;
  });
}

void actQuantDequantFp8Block128(std::span<const float> x,
                                std::span<float> out) {
  assert(out.size() == x.size());
  forEachBlock(x.size(), kActQuantBlock, [&](size_t begin, size_t len, size_t) {
    float s = e8m0ToFloat(
        blockScaleByte(x.subspan(begin, len), kFp8AmaxFloor, kFp8Max));
    float inv = 1.0f / s;
    for (size_t i = begin; i < begin + len; ++i)
      out[i] = e4m3ToFloat(fp8QuantCode(x[i], inv)) * s;
  });
}

// ---- P6 / P7
// ------------------------------------------------------------------

void fp8SimulateInPlace(std::span<float> x, size_t block) {
  assert(block > 0);
  forEachBlock(x.size(), block, [&](size_t begin, size_t len, size_t) {
    std::span<float> blk = x.subspan(begin, len);
    float s = e8m0ToFloat(blockScaleByte(blk, kFp8AmaxFloor, kFp8Max));
    float inv = 1.0f / s;
    // T.Cast(bf16, T.Cast(fp32, T.Cast(fp8, clamp(x / s))) * s): the V1
    // in-place branch (V0 cast to bf16 instead and was a no-op).
    for (float &v : blk)
      v = roundBf16(e4m3ToFloat(fp8QuantCode(v, inv)) * s);
  });
}

void fp4SimulateInPlace(std::span<float> x, size_t block) {
  assert(block > 0);
  forEachBlock(x.size(), block, [&](size_t begin, size_t len, size_t) {
    std::span<float> blk = x.subspan(begin, len);
    float s = e8m0ToFloat(blockScaleByte(blk, kFp4AmaxFloor, kFp4Max));
    float inv = 1.0f / s;
    for (float &v : blk)
      v = roundBf16(e2m1ToFloat(fp4QuantCode(v, inv)) * s);
  });
}

// ---- KV entry codec -------------------------------------------------------

Expected<KvEntryLayout> KvEntryLayout::make(size_t headDim, size_t ropeDim) {
  auto describe = [&] {
    return "KV entry layout (head_dim " + std::to_string(headDim) +
           ", rope_dim " + std::to_string(ropeDim) + ")";
  };
  if (ropeDim % 2 != 0 || ropeDim >= headDim)
    return invalidArgument(describe() +
                           ": rope_dim must be even and below head_dim");
  size_t nope = headDim - ropeDim;
  if (nope % kKvSimBlock != 0)
    return invalidArgument(
        describe() + ": the " + std::to_string(nope) +
        " non-RoPE dims are not a multiple of 64, the FP8 simulation block "
        "(V4_SPEC P6), so they cannot be stored as FP8 + one scale per 64");
  KvEntryLayout layout;
  layout.headDim = headDim;
  layout.ropeDim = ropeDim;
  return layout;
}

void encodeKvEntry(const KvEntryLayout &layout, std::span<const float> kv,
                   std::span<uint8_t> entry) {
  assert(kv.size() == layout.headDim && entry.size() == layout.entryBytes());
  size_t nope = layout.nopeDim();
  // The non-RoPE dims: exactly P6's per-64 quantization, codes then scales.
  actQuantFp8(kv.first(nope), kKvSimBlock, entry.first(nope),
              entry.subspan(layout.scaleOffset(), layout.numScales()));
  for (size_t r = 0; r < layout.ropeDim; ++r)
    storeBf16(&entry[layout.ropeOffset() + 2 * r], kv[nope + r]);
  std::fill(entry.end() - std::ptrdiff_t(layout.padBytes()), entry.end(),
            uint8_t(0));
}

void decodeKvEntry(const KvEntryLayout &layout, std::span<const uint8_t> entry,
                   std::span<float> kv) {
  assert(kv.size() == layout.headDim && entry.size() == layout.entryBytes());
  size_t nope = layout.nopeDim();
  for (size_t b = 0; b < layout.numScales(); ++b) {
    float s = e8m0ToFloat(entry[layout.scaleOffset() + b]);
    for (size_t i = b * kKvSimBlock; i < (b + 1) * kKvSimBlock; ++i)
      kv[i] = roundBf16(e4m3ToFloat(entry[i]) * s); // what P6 wrote
  }
  for (size_t r = 0; r < layout.ropeDim; ++r)
    kv[nope + r] = loadBf16(&entry[layout.ropeOffset() + 2 * r]);
}

// ---- Indexer key codec --------------------------------------------------

void encodeFp4Key(std::span<const float> key, std::span<uint8_t> bytes) {
  size_t dim = key.size();
  assert(dim % kFp4Block == 0 && bytes.size() == fp4KeyBytes(dim));
  uint8_t *codes = bytes.data();
  uint8_t *scales = bytes.data() + dim / 2;
  forEachBlock(dim, kFp4Block, [&](size_t begin, size_t len, size_t b) {
    uint8_t byte =
        blockScaleByte(key.subspan(begin, len), kFp4AmaxFloor, kFp4Max);
    float inv = 1.0f / e8m0ToFloat(byte);
    for (size_t i = begin; i < begin + len; i += 2) {
      uint8_t lo = fp4QuantCode(key[i], inv);
      uint8_t hi = fp4QuantCode(key[i + 1], inv);
      codes[i / 2] = uint8_t(lo | (hi << 4));
    }
    scales[b] = byte;
  });
}

void decodeFp4Key(std::span<const uint8_t> bytes, std::span<float> key) {
  size_t dim = key.size();
  assert(dim % kFp4Block == 0 && bytes.size() == fp4KeyBytes(dim));
  const uint8_t *scales = bytes.data() + dim / 2;
  for (size_t i = 0; i < dim; ++i) {
    uint8_t code = (i % 2 == 0) ? (bytes[i / 2] & 0xfu) : (bytes[i / 2] >> 4);
    key[i] = roundBf16(e2m1ToFloat(code) * e8m0ToFloat(scales[i / kFp4Block]));
  }
}

// ---- P8 / P9
// ------------------------------------------------------------------

namespace {

template <class Product>
float orderedSum(size_t begin, size_t end, const Product &product) {
  float sum = 0.0f;
  for (size_t i = begin; i < end; ++i)
    sum += product(i);
  return sum;
}

// The products of e4m3 and e4m3/e2m1 codes are multiples of 2^-18 below
// 2^17.6, so a double holds every partial sum of up to 2^11 of them exactly:
// the result is the exact sum, rounded once.
template <class Product>
float exactSum(size_t begin, size_t end, const Product &product) {
  double sum = 0.0;
  for (size_t i = begin; i < end; ++i)
    sum += double(product(i));
  return float(sum);
}

} // namespace

float fp8LinearRow(std::span<const uint8_t> actCodes,
                   std::span<const uint8_t> actScales,
                   std::span<const uint8_t> wCodes,
                   std::span<const uint8_t> wScales, InnerSum innerSum) {
  size_t k = actCodes.size();
  assert(wCodes.size() == k &&
         actScales.size() == numBlocks(k, kActQuantBlock) &&
         wScales.size() == numBlocks(k, kActQuantBlock));
  float acc = 0.0f; // C_local_accum
  forEachBlock(k, kActQuantBlock, [&](size_t begin, size_t len, size_t b) {
    auto product = [&](size_t i) {
      return e4m3ToFloat(actCodes[i]) * e4m3ToFloat(wCodes[i]);
    };
    // C_local: one 128-wide K step of the MMA.
    float inner = innerSum == InnerSum::Exact
                      ? exactSum(begin, begin + len, product)
                      : orderedSum(begin, begin + len, product);
    // Scale_C = scales_a · Scale_B; C_local_accum += C_local · Scale_C.
    float scale = e8m0ToFloat(actScales[b]) * e8m0ToFloat(wScales[b]);
    float scaled = inner * scale;
    acc += scaled;
  });
  return roundBf16(acc); // C is bf16 (the default dtype)
}

float fp4LinearRow(std::span<const uint8_t> actCodes,
                   std::span<const uint8_t> actScales,
                   std::span<const uint8_t> wPacked,
                   std::span<const uint8_t> wScales, InnerSum innerSum) {
  size_t k = actCodes.size();
  assert(wPacked.size() == numBlocks(k, 2) &&
         actScales.size() == numBlocks(k, kActQuantBlock) &&
         wScales.size() == numBlocks(k, kFp4Block));
  float acc = 0.0f;
  forEachBlock(k, kFp4Block, [&](size_t begin, size_t len, size_t b) {
    auto product = [&](size_t i) {
      uint8_t code =
          (i % 2 == 0) ? (wPacked[i / 2] & 0xfu) : (wPacked[i / 2] >> 4);
      // The kernel casts e2m1 → fp32 → e4m3 (exact) and runs an FP8 MMA.
      return e4m3ToFloat(actCodes[i]) * e2m1ToFloat(code);
    };
    float inner = innerSum == InnerSum::Exact
                      ? exactSum(begin, begin + len, product)
                      : orderedSum(begin, begin + len, product);
    // C_local · scale_a[k/4] · scale_b[k], evaluated left to right.
    float withAct = inner * e8m0ToFloat(actScales[b / 4]);
    float scaled = withAct * e8m0ToFloat(wScales[b]);
    acc += scaled;
  });
  return roundBf16(acc);
}

} // namespace birkhoff::official
