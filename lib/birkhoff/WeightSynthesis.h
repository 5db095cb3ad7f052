//===- WeightSynthesis.h - Random weights from a recipe -------------------===//
//
// The generator behind `birkhoff synth` and behind artifacts whose weights
// are generated at load time. A weight is described by a recipe (how its
// values are drawn and the key of its random stream), its stored dtype and
// its logical shape; element i is a pure function of (key, i), so any split
// of the rows over threads and chunks gives the same bytes, and the runtime
// regenerates exactly what `birkhoff synth` writes.
//
// Quantized weights are drawn N(0, std) and encoded as DeepSeek stores them:
// FP8 e4m3 with one ue8m0 scale per 128x128 block, packed FP4 e2m1 (low
// nibble = even column) with one ue8m0 scale per 32 inputs of a row, the
// scales following the ue8m0 rule of V4_SPEC P4 with the reference's amax
// floors. The scale tensor is produced together with its weight.
//
//===----------------------------------------------------------------------===//
#ifndef BIRKHOFF_WEIGHTSYNTHESIS_H
#define BIRKHOFF_WEIGHTSYNTHESIS_H

#include "birkhoff/DType.h"
#include "birkhoff/Status.h"
#include "birkhoff/WorkerPool.h"

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <span>
#include <string_view>
#include <vector>

namespace birkhoff {

/// How a weight's values are drawn. The values are the artifact schema's
/// `SynthKind` (lib/schema/artifact.fbs).
enum class SynthKind : uint8_t {
  None = 0,            // not generated
  Normal = 1,          // a + b * N(0, 1)
  Uniform = 2,         // uniform in [a, b)
  DistinctIndices = 3, // each row: distinct integers drawn from [0, range)
  BlockScale = 4,      // the e8m0 scales of a quantized weight, made with it
};
inline constexpr uint8_t kMaxSynthKind = 4;
const char *synthKindName(SynthKind kind);

struct WeightRecipe {
  SynthKind kind = SynthKind::None;
  float a = 0, b = 0;
  /// The weight's random stream (weightStreamKey).
  uint64_t key = 0;
  /// DistinctIndices: the indices are drawn from [0, range).
  int64_t range = 0;

  bool operator==(const WeightRecipe &) const = default;
};

/// The stream key `birkhoff synth` gives tensor `name` under `seed`.
uint64_t weightStreamKey(uint64_t seed, std::string_view name);

/// The block-scale shape of a quantized weight of logical shape [out, in]:
/// FP8 [ceil(out/128), ceil(in/128)], FP4 [out, ceil(in/32)].
std::vector<int64_t> blockScaleShape(DType dtype,
                                     std::span<const int64_t> shape);

/// Bytes a weight of this dtype and logical shape occupies (FP4: two values
/// per byte).
uint64_t storedBytes(DType dtype, std::span<const int64_t> shape);

/// Ok when WeightGenerator fills a weight of `dtype` and logical `shape` from
/// `recipe`; otherwise InvalidArgument saying what it cannot do. Normal and
/// Uniform fill F32 and BF16; FP8 and packed FP4 take Normal with mean 0 and
/// a 2-D shape (FP4: inputs a multiple of 32); DistinctIndices fills a 2-D
/// I64 table of at most 64 indices per row from a range at least that wide.
/// BlockScale weights (2-D F8E8M0) are filled by their quantized weight.
Status checkGeneratable(const WeightRecipe &recipe, DType dtype,
                        std::span<const int64_t> shape);

/// One weight being generated: rows x cols logical values (a 1-D weight is
/// one row; more dimensions fold into the columns), encoded in row ranges.
/// Thread-safe: disjoint row ranges may be encoded concurrently.
class WeightGenerator {
public:
  /// Precondition: checkGeneratable(recipe, dtype, shape) is ok.
  WeightGenerator(const WeightRecipe &recipe, DType dtype,
                  std::span<const int64_t> shape);
  WeightGenerator(const WeightGenerator &) = delete;
  WeightGenerator &operator=(const WeightGenerator &) = delete;

  int64_t rows() const { return rows_; }
  int64_t rowBytes() const { return rowBytes_; }
  uint64_t bytes() const { return uint64_t(rows_) * uint64_t(rowBytes_); }
  /// Row ranges start at multiples of this (FP8 scales cover 128-row bands).
  int64_t rowAlign() const { return dtype_ == DType::F8E4M3 ? 128 : 1; }
  bool quantized() const {
    return dtype_ == DType::F8E4M3 || dtype_ == DType::FP4E2M1x2;
  }
  /// Bytes of the block-scale tensor (0 unless quantized).
  uint64_t scaleBytes() const { return scaleBytes_; }

  /// Encodes rows [r0, r1) (r0 a multiple of rowAlign()) into `out`, which
  /// holds (r1 - r0) * rowBytes() bytes. A quantized weight also writes those
  /// rows' entries of its block-scale tensor `scale` (the whole tensor,
  /// row-major, scaleBytes() bytes); others ignore `scale`.
  void encode(int64_t r0, int64_t r1, uint8_t *out, uint8_t *scale);

private:
  void values(uint64_t first, int64_t n, float *out) const;
  void encodeBf16(int64_t r0, int64_t r1, uint8_t *out) const;
  void encodeF32(int64_t r0, int64_t r1, uint8_t *out) const;
  void encodeFp8(int64_t r0, int64_t r1, uint8_t *out, uint8_t *scale);
  void encodeFp4(int64_t r0, int64_t r1, uint8_t *out, uint8_t *scale);
  void encodeIndices(int64_t r0, int64_t r1, uint8_t *out) const;
  const uint8_t *codeTable(bool fp8, uint8_t scaleByte);

  WeightRecipe recipe_;
  DType dtype_;
  int64_t rows_ = 0, cols_ = 0, rowBytes_ = 0, scaleCols_ = 0;
  uint64_t scaleBytes_ = 0;
  /// Code tables by scale byte, fetched once per weight (see codeTable).
  std::array<std::atomic<const uint8_t *>, 256> tables_{};
};

/// One weight to fill in place: `data` holds generator->bytes() bytes,
/// `scale` generator->scaleBytes() (null when not quantized).
struct GenerationTarget {
  WeightGenerator *generator = nullptr;
  uint8_t *data = nullptr;
  uint8_t *scale = nullptr;
};

/// Fills every target, all of them split into row chunks of about
/// `chunkBytes` that the workers take in turn.
/// `done`, when given, is called with each chunk's bytes once it is filled
/// (from the workers' threads).
void generateWeights(std::span<const GenerationTarget> targets, Workers workers,
                     int64_t chunkBytes = int64_t(4) << 20,
                     const std::function<void(uint64_t bytes)> &done = {});

} // namespace birkhoff

#endif // BIRKHOFF_WEIGHTSYNTHESIS_H
