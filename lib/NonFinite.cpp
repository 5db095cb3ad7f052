//===- NonFinite.cpp ------------------------------------------------------===//
#include "birkhoff/NonFinite.h"

#include <cstring>

namespace birkhoff {

std::optional<int64_t> firstNonFinite(DType dtype,
                                      std::span<const uint8_t> bytes) {
  switch (dtype) {
  case DType::F32:
    for (size_t i = 0; i + 4 <= bytes.size(); i += 4) {
      uint32_t u;
      std::memcpy(&u, bytes.data() + i, 4);
      if ((u & 0x7f800000u) == 0x7f800000u)
        return int64_t(i / 4);
    }
    return std::nullopt;
  case DType::BF16:
    for (size_t i = 0; i + 2 <= bytes.size(); i += 2) {
      uint16_t u = uint16_t(bytes[i] | (bytes[i + 1] << 8));
      if ((u & 0x7f80u) == 0x7f80u)
        return int64_t(i / 2);
    }
    return std::nullopt;
  case DType::F8E4M3:
    for (size_t i = 0; i < bytes.size(); ++i)
      if ((bytes[i] & 0x7f) == 0x7f)
        return int64_t(i);
    return std::nullopt;
  case DType::F8E8M0:
    for (size_t i = 0; i < bytes.size(); ++i)
      if (bytes[i] == 0xff)
        return int64_t(i);
    return std::nullopt;
  case DType::FP4E2M1x2:
  case DType::I64:
  case DType::I32:
  case DType::I8:
    return std::nullopt;
  }
  return std::nullopt;
}

} // namespace birkhoff
