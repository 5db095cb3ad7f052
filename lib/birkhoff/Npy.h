//===- Npy.h - Reading and writing NumPy .npy arrays -----------------------===//
#ifndef BIRKHOFF_NPY_H
#define BIRKHOFF_NPY_H

#include "birkhoff/Status.h"

#include <cstdint>
#include <string>
#include <vector>

namespace birkhoff {

/// A little-endian C-order array: float32, int32 or int64 (`descr` "<f4",
/// "<i4", "<i8").
struct NpyArray {
  std::string descr;
  std::vector<int64_t> shape;
  std::vector<uint8_t> data;

  /// The product of the shape; -1 for a negative dimension or a product
  /// past int64 (only a hand-built array: readNpy checks its shapes).
  int64_t numel() const;
  /// Element values widened/converted; int arrays as int64, float as float.
  std::vector<float> asFloat() const;
  std::vector<int64_t> asInt64() const;
};

Expected<NpyArray> readNpy(const std::string &path);
Status writeNpyF32(const std::string &path, const std::vector<int64_t> &shape,
                   const float *data);
Status writeNpyI32(const std::string &path, const std::vector<int64_t> &shape,
                   const int32_t *data);

} // namespace birkhoff

#endif // BIRKHOFF_NPY_H
