//===- Crc32c.h - CRC-32C (Castagnoli) checksums ----------------*- C++ -*-===//
//
// Artifacts carry a CRC-32C of their program and of every stored weight, so
// that a flipped byte is refused at load instead of changing the logits
// (docs/artifact.md). CRC-32C because x86-64 computes it in hardware (SSE4.2
// `crc32`, 8 bytes per instruction) and it catches every burst of up to 32
// flipped bits; a 20 GB model checks in seconds on a few cores.
//
//===----------------------------------------------------------------------===//
#ifndef BIRKHOFF_CRC32C_H
#define BIRKHOFF_CRC32C_H

#include <cstddef>
#include <cstdint>

namespace birkhoff {

/// The CRC-32C of `n` bytes at `data`, continuing `crc` (the CRC of the bytes
/// before them; 0 to start): crc32c(crc32c(0, a, n), b, m) is the CRC of the
/// n + m bytes a then b. Uses the SSE4.2 instruction where the CPU has it,
/// else a table; both give the same value. crc32c(0, "123456789", 9) is
/// 0xE3069283.
uint32_t crc32c(uint32_t crc, const void *data, size_t n);

/// The CRC of A then B from crcA = CRC(A), crcB = CRC(B) and B's length:
/// pieces of one buffer checksummed on different threads combine into the
/// buffer's CRC. O(log lenB).
uint32_t crc32cCombine(uint32_t crcA, uint32_t crcB, uint64_t lenB);

/// The table implementation alone (portable); for tests and machines
/// without SSE4.2.
uint32_t crc32cPortable(uint32_t crc, const void *data, size_t n);

/// The hardware implementation alone; only where crc32cHasHardware().
uint32_t crc32cHardware(uint32_t crc, const void *data, size_t n);

/// Whether this CPU runs crc32cHardware.
bool crc32cHasHardware();

} // namespace birkhoff

#endif // BIRKHOFF_CRC32C_H
