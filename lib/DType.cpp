//===- DType.cpp ----------------------------------------------------------===//
#include "birkhoff/DType.h"

#include <array>

namespace birkhoff {
namespace {

struct DTypeRow {
  DType type;
  int64_t storageBytes;
  std::string_view name;            // Birkhoff's canonical name
  std::string_view safetensorsName; // as written in safetensors headers
};

// One row per enumerator, indexed by its value. Packed FP4 is stored as I8 in
// safetensors because the format has no 4-bit type.
constexpr std::array<DTypeRow, 8> kRows = {{
    {DType::F32, 4, "f32", "F32"},
    {DType::BF16, 2, "bf16", "BF16"},
    {DType::F8E4M3, 1, "f8e4m3", "F8_E4M3"},
    {DType::F8E8M0, 1, "f8e8m0", "F8_E8M0"},
    {DType::FP4E2M1x2, 1, "fp4e2m1x2", "I8"},
    {DType::I64, 8, "i64", "I64"},
    {DType::I32, 4, "i32", "I32"},
    {DType::I8, 1, "i8", "I8"},
}};

constexpr bool rowsMatchEnumerators() {
  for (size_t i = 0; i < kRows.size(); ++i)
    if (static_cast<size_t>(kRows[i].type) != i)
      return false;
  return true;
}
static_assert(rowsMatchEnumerators(), "kRows must be indexed by DType value");

const DTypeRow *row(DType t) {
  size_t i = static_cast<size_t>(t);
  return i < kRows.size() ? &kRows[i] : nullptr;
}

} // namespace

int64_t dtypeStorageBytes(DType t) {
  const DTypeRow *r = row(t);
  return r ? r->storageBytes : 0;
}

std::string_view dtypeName(DType t) {
  const DTypeRow *r = row(t);
  return r ? r->name : std::string_view("<invalid dtype>");
}

std::optional<DType> parseDTypeName(std::string_view name) {
  for (const DTypeRow &r : kRows)
    if (r.name == name)
      return r.type;
  return std::nullopt;
}

std::optional<DType> parseSafetensorsDType(std::string_view name) {
  // "I8" appears twice in the table (FP4E2M1x2 and I8); the header alone cannot
  // tell them apart, so it always reads as I8.
  if (name == "I8")
    return DType::I8;
  for (const DTypeRow &r : kRows)
    if (r.safetensorsName == name)
      return r.type;
  return std::nullopt;
}

std::string_view safetensorsDTypeName(DType t) {
  const DTypeRow *r = row(t);
  return r ? r->safetensorsName : std::string_view("<invalid dtype>");
}

} // namespace birkhoff
