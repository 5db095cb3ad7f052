//===- WeightSynthesis.cpp - Random weights from a recipe -----------------===//
//
// Values come from a counter-based generator: element i of a weight is a
// function of (stream key, i) only. Normal variates are read from a
// 65,536-entry table of N(0,1) quantiles indexed by 16 random bits (one 64-bit
// hash gives four), which is several times faster than Box-Muller and plenty
// for random weights (the tails stop at ±4.17 sigma).
//
// Every byte this file produces is pinned by the synth tests: a change here
// changes `birkhoff synth` checkpoints and generated artifacts alike.
//
//===----------------------------------------------------------------------===//
#include "birkhoff/WeightSynthesis.h"

#include "birkhoff/Numerics.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <tuple>

namespace birkhoff {
namespace {

// ---- random numbers ---------------------------------------------------------

constexpr uint64_t kGamma = 0x9e3779b97f4a7c15ull;

/// SplitMix64's finalizer: a bijective 64-bit mix with full avalanche.
inline uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

uint64_t hashName(std::string_view s) {
  uint64_t h = 0xcbf29ce484222325ull; // FNV-1a, then mixed
  for (unsigned char ch : s)
    h = (h ^ ch) * 0x100000001b3ull;
  return mix64(h);
}

/// N(0,1) quantiles at (k + 0.5) / 65536, by Newton's method on the normal
/// CDF walking outwards from the median (each start is the previous root).
const float *normalTable() {
  static const std::vector<float> table = [] {
    constexpr int kN = 65536;
    std::vector<float> t(kN);
    double x = 0;
    for (int k = kN / 2; k < kN; ++k) {
      double p = (k + 0.5) / kN;
      for (int it = 0; it < 6; ++it) {
        double cdf = 0.5 * std::erfc(-x / std::sqrt(2.0));
        double pdf = std::exp(-0.5 * x * x) / std::sqrt(2.0 * M_PI);
        x -= (cdf - p) / pdf;
      }
      t[k] = float(x);
      t[kN - 1 - k] = float(-x);
    }
    return t;
  }();
  return table.data();
}

/// The random stream of one weight.
struct Stream {
  uint64_t key;

  /// The 16-bit table indices of elements first..first+n: one hash serves
  /// four consecutive elements.
  void indices(uint64_t first, int64_t n, uint16_t *out) const {
    uint64_t i = first, end = first + uint64_t(n);
    for (; i < end && (i & 3); ++i)
      *out++ = uint16_t(group(i) >> ((i & 3) * 16));
    for (; i + 4 <= end; i += 4, out += 4) {
      uint64_t h = group(i);
      out[0] = uint16_t(h);
      out[1] = uint16_t(h >> 16);
      out[2] = uint16_t(h >> 32);
      out[3] = uint16_t(h >> 48);
    }
    for (; i < end; ++i)
      *out++ = uint16_t(group(i) >> ((i & 3) * 16));
  }
  uint64_t group(uint64_t i) const {
    return mix64(key + ((i >> 2) + 1) * kGamma);
  }

  /// Fills out[0..n) with mean + std * N(0,1) for elements first..first+n.
  void normal(uint64_t first, int64_t n, float mean, float std,
              float *out) const {
    const float *table = normalTable();
    constexpr int64_t kStep = 1024;
    uint16_t idx[kStep];
    for (int64_t done = 0; done < n; done += kStep) {
      int64_t m = std::min(kStep, n - done);
      indices(first + uint64_t(done), m, idx);
      for (int64_t j = 0; j < m; ++j)
        out[done + j] = mean + std * table[idx[j]];
    }
  }

  /// Uniform in [lo, hi) from 24 random bits per element.
  void uniform(uint64_t first, int64_t n, float lo, float hi,
               float *out) const {
    for (int64_t j = 0; j < n; ++j) {
      uint64_t h = mix64(key ^ ((first + uint64_t(j) + 1) * kGamma));
      out[j] = lo + (hi - lo) * float(h >> 40) * 0x1p-24f;
    }
  }

  /// A uniform integer in [0, n) for draw j of row i.
  uint64_t below(uint64_t i, uint64_t j, uint64_t n) const {
    uint64_t h = mix64(mix64(key ^ ((i + 1) * kGamma)) + (j + 1) * kGamma);
    return uint64_t((unsigned __int128)h * n >> 64);
  }
};

// ---- quantization -----------------------------------------------------------

constexpr float kFp8Max = 448.0f;
constexpr float kFp4Max = 6.0f;
constexpr float kFp8AmaxFloor = 1e-4f;         // the reference's floor (P5)
constexpr float kFp4AmaxFloor = 6 * 0x1p-126f; // the reference's floor (P7)
constexpr int64_t kMaxIndicesPerRow = 64;

/// 1 / 2^(b-127), exact for every byte the scale rule produces.
inline float inverseScale(uint8_t byte) {
  return bitsToFloat(uint32_t(254 - byte) << 23);
}

/// Zero-mean normal values are std * T[u] for a 16-bit index u, so the
/// quantized code of a value under a given scale byte depends on u alone:
/// a 64 KiB table per (format, std, scale byte) turns quantization into one
/// load per element. The tables are built with lib's codecs on the very same
/// float operations (fl(std * T[u]) * 2^-(byte-127), clamped), so the codes
/// are exactly those of quantizing each value directly. They are cached for
/// the process: a model needs a few dozen.
const uint8_t *quantTable(bool fp8, float std, uint8_t byte) {
  static std::mutex mutex;
  static std::map<std::tuple<bool, uint32_t, uint8_t>,
                  std::unique_ptr<uint8_t[]>>
      cache;
  std::lock_guard<std::mutex> lock(mutex);
  auto key = std::make_tuple(fp8, floatToBits(std), byte);
  auto it = cache.find(key);
  if (it != cache.end())
    return it->second.get();
  const float *t = normalTable();
  const float inv = inverseScale(byte);
  auto codes = std::make_unique<uint8_t[]>(65536);
  for (int u = 0; u < 65536; ++u) {
    float x = 0.0f + std * t[u]; // the value normal() produces for index u
    codes[u] = fp8 ? floatToE4m3(std::clamp(x * inv, -kFp8Max, kFp8Max))
                   : floatToE2m1(std::clamp(x * inv, -kFp4Max, kFp4Max));
  }
  return cache.emplace(key, std::move(codes)).first->second.get();
}

/// |T[u]| = T[max(u, 65535 - u)] (the table is odd-symmetric and increasing),
/// so the largest magnitude of a block is found on the indices.
inline uint16_t magnitudeKey(uint16_t u) {
  return u >= 32768 ? u : uint16_t(65535 - u);
}

/// The ue8m0 byte of a block whose largest index key is `key` (V4_SPEC P4,
/// with the reference's amax floor).
uint8_t scaleByte(float std, uint16_t key, float floor, float qmax) {
  float amax = 0.0f + std * normalTable()[key];
  return pow2ScaleByte(std::max(amax, floor), qmax);
}

template <typename T> std::vector<T> &scratch(size_t n) {
  thread_local std::vector<T> buffer;
  if (buffer.size() < n)
    buffer.resize(n);
  return buffer;
}

std::string shapeText(std::span<const int64_t> shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

} // namespace

const char *synthKindName(SynthKind kind) {
  switch (kind) {
  case SynthKind::None:
    return "none";
  case SynthKind::Normal:
    return "normal";
  case SynthKind::Uniform:
    return "uniform";
  case SynthKind::DistinctIndices:
    return "distinct-indices";
  case SynthKind::BlockScale:
    return "block-scale";
  }
  return "unknown";
}

uint64_t weightStreamKey(uint64_t seed, std::string_view name) {
  return mix64(seed * kGamma ^ hashName(name));
}

std::vector<int64_t> blockScaleShape(DType dtype,
                                     std::span<const int64_t> shape) {
  if (shape.size() != 2)
    return {};
  int64_t out = shape[0], in = shape[1];
  if (dtype == DType::F8E4M3)
    return {(out + 127) / 128, (in + 127) / 128};
  if (dtype == DType::FP4E2M1x2)
    return {out, (in + 31) / 32};
  return {};
}

uint64_t storedBytes(DType dtype, std::span<const int64_t> shape) {
  uint64_t n = 1;
  for (int64_t d : shape)
    n *= uint64_t(d);
  if (dtype == DType::FP4E2M1x2)
    return (n + 1) / 2;
  return n * uint64_t(dtypeStorageBytes(dtype));
}

Status checkGeneratable(const WeightRecipe &r, DType dtype,
                        std::span<const int64_t> shape) {
  auto cannot = [&](const std::string &why) {
    return invalidArgument(std::string("cannot generate a ") +
                           std::string(dtypeName(dtype)) + " " +
                           shapeText(shape) + " weight from a " +
                           synthKindName(r.kind) + " recipe: " + why);
  };
  for (int64_t d : shape)
    if (d < 0)
      return cannot("negative dimension");
  switch (r.kind) {
  case SynthKind::None:
    return cannot("there is no recipe");
  case SynthKind::Normal:
  case SynthKind::Uniform: {
    if (!std::isfinite(r.a) || !std::isfinite(r.b))
      return cannot("its parameters are not finite");
    if (dtype == DType::F32 || dtype == DType::BF16)
      return Status::ok();
    if (dtype != DType::F8E4M3 && dtype != DType::FP4E2M1x2)
      return cannot("values are generated as f32, bf16, f8e4m3 or fp4e2m1x2");
    // The code tables rely on zero-mean normal values.
    if (r.kind != SynthKind::Normal || r.a != 0.0f)
      return cannot("quantized weights are drawn from a zero-mean normal");
    if (shape.size() != 2)
      return cannot("quantized weights are 2-D");
    if (dtype == DType::FP4E2M1x2 && shape[1] % 32 != 0)
      return cannot("packed FP4 needs inputs in whole blocks of 32");
    return Status::ok();
  }
  case SynthKind::DistinctIndices:
    if (dtype != DType::I64 || shape.size() != 2)
      return cannot("index tables are 2-D i64");
    if (shape[1] > kMaxIndicesPerRow)
      return cannot("at most " + std::to_string(kMaxIndicesPerRow) +
                    " indices per row");
    if (r.range < shape[1] || r.range < 1)
      return cannot(std::to_string(shape[1]) +
                    " distinct indices per row need a range at least that "
                    "wide, it is " +
                    std::to_string(r.range));
    return Status::ok();
  case SynthKind::BlockScale:
    if (dtype != DType::F8E8M0 || shape.size() != 2)
      return cannot("block scales are 2-D f8e8m0");
    return Status::ok();
  }
  return cannot("unknown recipe kind " + std::to_string(int(r.kind)));
}

WeightGenerator::WeightGenerator(const WeightRecipe &recipe, DType dtype,
                                 std::span<const int64_t> shape)
    : recipe_(recipe), dtype_(dtype) {
  rows_ = shape.size() >= 2 ? shape[0] : 1;
  cols_ = 1;
  for (size_t i = shape.size() >= 2 ? 1 : 0; i < shape.size(); ++i)
    cols_ *= shape[i];
  rowBytes_ =
      dtype == DType::FP4E2M1x2 ? cols_ / 2 : cols_ * dtypeStorageBytes(dtype);
  if (quantized()) {
    std::vector<int64_t> s = blockScaleShape(dtype, shape);
    scaleCols_ = s[1];
    scaleBytes_ = uint64_t(s[0]) * uint64_t(s[1]);
  }
}

void WeightGenerator::encode(int64_t r0, int64_t r1, uint8_t *out,
                             uint8_t *scale) {
  switch (dtype_) {
  case DType::BF16:
    return encodeBf16(r0, r1, out);
  case DType::F32:
    return encodeF32(r0, r1, out);
  case DType::F8E4M3:
    return encodeFp8(r0, r1, out, scale);
  case DType::FP4E2M1x2:
    return encodeFp4(r0, r1, out, scale);
  case DType::I64:
    return encodeIndices(r0, r1, out);
  default:
    return; // block scales come with their weight
  }
}

void WeightGenerator::values(uint64_t first, int64_t n, float *out) const {
  Stream stream{recipe_.key};
  if (recipe_.kind == SynthKind::Normal)
    stream.normal(first, n, recipe_.a, recipe_.b, out);
  else
    stream.uniform(first, n, recipe_.a, recipe_.b, out);
}

void WeightGenerator::encodeBf16(int64_t r0, int64_t r1, uint8_t *out) const {
  constexpr int64_t kStep = 4096;
  std::vector<float> &v = scratch<float>(kStep);
  int64_t total = (r1 - r0) * cols_;
  uint64_t first = uint64_t(r0) * uint64_t(cols_);
  for (int64_t i = 0; i < total; i += kStep) {
    int64_t n = std::min(kStep, total - i);
    values(first + uint64_t(i), n, v.data());
    for (int64_t j = 0; j < n; ++j) {
      uint16_t h = floatToBf16(v[size_t(j)]);
      std::memcpy(out + 2 * (i + j), &h, 2);
    }
  }
}

void WeightGenerator::encodeF32(int64_t r0, int64_t r1, uint8_t *out) const {
  size_t n = size_t((r1 - r0) * cols_);
  std::vector<float> &v = scratch<float>(n);
  values(uint64_t(r0) * uint64_t(cols_), int64_t(n), v.data());
  std::memcpy(out, v.data(), n * 4);
}

/// The code table for a scale byte, fetched once per weight and byte.
const uint8_t *WeightGenerator::codeTable(bool fp8, uint8_t byte) {
  const uint8_t *t = tables_[byte].load(std::memory_order_acquire);
  if (!t) {
    t = quantTable(fp8, recipe_.b, byte);
    tables_[byte].store(t, std::memory_order_release);
  }
  return t;
}

/// FP8 e4m3 with one ue8m0 scale per 128x128 block (V4_SPEC §5.3); r0 is a
/// multiple of 128. Values are N(0, std), quantized through quantTable.
void WeightGenerator::encodeFp8(int64_t r0, int64_t r1, uint8_t *out,
                                uint8_t *scale) {
  const Stream stream{recipe_.key};
  for (int64_t b0 = r0; b0 < r1; b0 += 128) {
    int64_t b1 = std::min(r1, b0 + 128), nRows = b1 - b0;
    std::vector<uint16_t> &idx = scratch<uint16_t>(size_t(nRows * cols_));
    stream.indices(uint64_t(b0) * uint64_t(cols_), nRows * cols_, idx.data());
    uint8_t *band = out + (b0 - r0) * cols_;
    for (int64_t c0 = 0; c0 < cols_; c0 += 128) {
      int64_t c1 = std::min(cols_, c0 + 128);
      uint16_t key = 32768;
      for (int64_t r = 0; r < nRows; ++r)
        for (int64_t c = c0; c < c1; ++c)
          key = std::max(key, magnitudeKey(idx[size_t(r * cols_ + c)]));
      uint8_t byte = scaleByte(recipe_.b, key, kFp8AmaxFloor, kFp8Max);
      scale[b0 / 128 * scaleCols_ + c0 / 128] = byte;
      const uint8_t *codes = codeTable(true, byte);
      for (int64_t r = 0; r < nRows; ++r)
        for (int64_t c = c0; c < c1; ++c)
          band[r * cols_ + c] = codes[idx[size_t(r * cols_ + c)]];
    }
  }
}

/// Packed FP4 e2m1 (low nibble = even column) with one ue8m0 scale per 32
/// inputs of a row (V4_SPEC §5.4); cols is a multiple of 32.
void WeightGenerator::encodeFp4(int64_t r0, int64_t r1, uint8_t *out,
                                uint8_t *scale) {
  const Stream stream{recipe_.key};
  std::vector<uint16_t> &idx = scratch<uint16_t>(size_t(cols_));
  for (int64_t r = r0; r < r1; ++r) {
    stream.indices(uint64_t(r) * uint64_t(cols_), cols_, idx.data());
    uint8_t *row = out + (r - r0) * (cols_ / 2);
    for (int64_t c0 = 0; c0 < cols_; c0 += 32) {
      const uint16_t *block = idx.data() + c0;
      uint16_t key = 32768;
      for (int j = 0; j < 32; ++j)
        key = std::max(key, magnitudeKey(block[j]));
      uint8_t byte = scaleByte(recipe_.b, key, kFp4AmaxFloor, kFp4Max);
      scale[r * scaleCols_ + c0 / 32] = byte;
      const uint8_t *codes = codeTable(false, byte);
      for (int j = 0; j < 16; ++j)
        row[c0 / 2 + j] =
            uint8_t(codes[block[2 * j]] | (codes[block[2 * j + 1]] << 4));
    }
  }
}

/// Each row holds `cols` distinct indices (tid2eid: top-k distinct experts,
/// V4_SPEC §7.4), drawn by rejection so the draw does not depend on the
/// range's layout.
void WeightGenerator::encodeIndices(int64_t r0, int64_t r1,
                                    uint8_t *out) const {
  const Stream stream{recipe_.key};
  const uint64_t range = uint64_t(recipe_.range);
  std::vector<int64_t> picked(static_cast<size_t>(cols_));
  for (int64_t r = r0; r < r1; ++r) {
    int64_t k = 0;
    for (uint64_t draw = 0; k < cols_; ++draw) {
      int64_t e = int64_t(stream.below(uint64_t(r), draw, range));
      bool dup = false;
      for (int64_t j = 0; j < k; ++j)
        dup |= picked[size_t(j)] == e;
      if (!dup)
        picked[size_t(k++)] = e;
    }
    std::memcpy(out + (r - r0) * cols_ * 8, picked.data(), size_t(cols_) * 8);
  }
}

void generateWeights(std::span<const GenerationTarget> targets, Workers workers,
                     int64_t chunkBytes,
                     const std::function<void(uint64_t bytes)> &done) {
  struct Task {
    const GenerationTarget *target;
    int64_t r0, r1;
  };
  std::vector<Task> tasks;
  for (const GenerationTarget &t : targets) {
    const WeightGenerator &g = *t.generator;
    int64_t align = g.rowAlign();
    int64_t chunkRows =
        std::max<int64_t>(1, chunkBytes / std::max<int64_t>(g.rowBytes(), 1));
    chunkRows = std::max(align, chunkRows / align * align);
    for (int64_t r0 = 0; r0 < g.rows(); r0 += chunkRows)
      tasks.push_back({&t, r0, std::min(g.rows(), r0 + chunkRows)});
  }
  workers.run(int64_t(tasks.size()), [&](int64_t i) {
    const Task &task = tasks[size_t(i)];
    WeightGenerator &g = *task.target->generator;
    g.encode(task.r0, task.r1, task.target->data + task.r0 * g.rowBytes(),
             task.target->scale);
    if (done)
      done(uint64_t((task.r1 - task.r0) * g.rowBytes()));
  });
}

} // namespace birkhoff
