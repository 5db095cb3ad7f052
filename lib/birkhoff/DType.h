//===- DType.h - Element types of checkpoint tensors and artifacts --------===//
#ifndef BIRKHOFF_DTYPE_H
#define BIRKHOFF_DTYPE_H

#include <cstdint>
#include <optional>
#include <string_view>

namespace birkhoff {

/// Element types Birkhoff reads and writes. `FP4E2M1x2` is DeepSeek's packed
/// FP4: one byte holds two e2m1 codes along the input axis, low nibble first
/// (safetensors calls it I8).
enum class DType : uint8_t {
  F32 = 0,
  BF16 = 1,
  F8E4M3 = 2,
  F8E8M0 = 3,
  FP4E2M1x2 = 4,
  I64 = 5,
  I32 = 6,
  I8 = 7,
};

/// Bytes per stored element (FP4E2M1x2: one byte per two logical values).
int64_t dtypeStorageBytes(DType t);
/// Canonical lower-case name used in IR, artifacts and CLI output ("f32", "bf16",
/// "f8e4m3", "f8e8m0", "fp4e2m1x2", "i64", "i32", "i8").
std::string_view dtypeName(DType t);
std::optional<DType> parseDTypeName(std::string_view name);
/// The safetensors dtype string ("F32", "BF16", "F8_E4M3", "F8_E8M0", "I8",
/// "I64", "I32") to a DType; I8 maps to I8 (the frontend decides when it is FP4).
std::optional<DType> parseSafetensorsDType(std::string_view name);
std::string_view safetensorsDTypeName(DType t);

} // namespace birkhoff

#endif // BIRKHOFF_DTYPE_H
