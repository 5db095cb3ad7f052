//===- ProgramChecksum.h - An artifact's program checksum -------*- C++ -*-===//
//
// A flatbuffer cannot hold its own checksum, so the artifact stores it right
// after the program: 8 bytes, the magic "BKCK" then the CRC-32C (a
// little-endian u32) of the size-prefixed flatbuffer, prefix included. The
// padding to the weight section leaves room for it (docs/artifact.md). The
// compiler writes it; the loader checks it before it reads any field.
//
//===----------------------------------------------------------------------===//
#ifndef BIRKHOFF_PROGRAMCHECKSUM_H
#define BIRKHOFF_PROGRAMCHECKSUM_H

#include "birkhoff/Crc32c.h"

#include <array>
#include <cstdint>
#include <cstring>

namespace birkhoff {

inline constexpr char kProgramChecksumMagic[4] = {'B', 'K', 'C', 'K'};
inline constexpr uint64_t kProgramChecksumBytes = 8;

/// The trailer of the `n` program bytes at `program` (size prefix first).
inline std::array<uint8_t, kProgramChecksumBytes>
programChecksumTrailer(const uint8_t *program, uint64_t n) {
  std::array<uint8_t, kProgramChecksumBytes> t;
  uint32_t crc = crc32c(0, program, n);
  std::memcpy(t.data(), kProgramChecksumMagic, 4);
  for (int i = 0; i < 4; ++i)
    t[size_t(4 + i)] = uint8_t(crc >> (8 * i));
  return t;
}

} // namespace birkhoff

#endif // BIRKHOFF_PROGRAMCHECKSUM_H
