//===- Crc32c.cpp - CRC-32C with SSE4.2 and a table fallback --------------===//
#include "birkhoff/Crc32c.h"

#include <array>
#include <bit>
#include <cstring>

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

namespace birkhoff {
namespace {

static_assert(std::endian::native == std::endian::little,
              "the slicing tables read 8 bytes as a little-endian word");

/// The Castagnoli polynomial, bit-reflected (the CRC's bit order).
constexpr uint32_t kPoly = 0x82F63B78u;

/// Slicing-by-8 tables: tables[k][b] is the CRC register after byte b
/// followed by k zero bytes, so eight table lookups advance eight bytes.
constexpr std::array<std::array<uint32_t, 256>, 8> makeTables() {
  std::array<std::array<uint32_t, 256>, 8> t{};
  for (uint32_t b = 0; b < 256; ++b) {
    uint32_t c = b;
    for (int i = 0; i < 8; ++i)
      c = (c & 1) ? (c >> 1) ^ kPoly : c >> 1;
    t[0][b] = c;
  }
  for (int k = 1; k < 8; ++k)
    for (uint32_t b = 0; b < 256; ++b)
      t[k][b] = (t[k - 1][b] >> 8) ^ t[0][t[k - 1][b] & 0xff];
  return t;
}
constexpr auto kTables = makeTables();

uint64_t load64(const uint8_t *p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

/// a(x) * b(x) mod P(x), both bit-reflected (zlib's multmodp).
uint32_t multModP(uint32_t a, uint32_t b) {
  uint32_t m = 1u << 31, p = 0;
  for (;;) {
    if (a & m) {
      p ^= b;
      if ((a & (m - 1)) == 0)
        break;
    }
    m >>= 1;
    b = (b & 1) ? (b >> 1) ^ kPoly : b >> 1;
  }
  return p;
}

/// x^(2^k) mod P for k in [0, 32): squaring steps for x^n mod P.
constexpr std::array<uint32_t, 32> makePowers() {
  std::array<uint32_t, 32> t{};
  // multModP is not constexpr-friendly with its early break; inline it.
  auto mul = [](uint32_t a, uint32_t b) {
    uint32_t p = 0;
    for (uint32_t m = 1u << 31; m; m >>= 1) {
      if (a & m)
        p ^= b;
      b = (b & 1) ? (b >> 1) ^ kPoly : b >> 1;
    }
    return p;
  };
  uint32_t p = 1u << 30; // x^1
  t[0] = p;
  for (int k = 1; k < 32; ++k)
    t[k] = p = mul(p, p);
  return t;
}
constexpr auto kPowers = makePowers();

/// x^(8 n) mod P: what `n` zero bytes multiply a CRC register by.
uint32_t zeroBytesFactor(uint64_t n) {
  uint32_t p = 1u << 31; // x^0
  unsigned k = 3;        // 8 n = n * 2^3
  for (; n; n >>= 1, ++k)
    if (n & 1)
      p = multModP(kPowers[k & 31], p);
  return p;
}

/// Runs the CRC register `c` (not inverted) over the bytes.
uint32_t portableRegister(uint32_t c, const uint8_t *p, size_t n) {
  for (; n && (reinterpret_cast<uintptr_t>(p) & 7); --n)
    c = (c >> 8) ^ kTables[0][(c ^ *p++) & 0xff];
  for (; n >= 8; n -= 8, p += 8) {
    uint64_t w = load64(p) ^ c;
    c = kTables[7][w & 0xff] ^ kTables[6][(w >> 8) & 0xff] ^
        kTables[5][(w >> 16) & 0xff] ^ kTables[4][(w >> 24) & 0xff] ^
        kTables[3][(w >> 32) & 0xff] ^ kTables[2][(w >> 40) & 0xff] ^
        kTables[1][(w >> 48) & 0xff] ^ kTables[0][w >> 56];
  }
  for (; n; --n)
    c = (c >> 8) ^ kTables[0][(c ^ *p++) & 0xff];
  return c;
}

#if defined(__x86_64__)
/// Bytes per stream of the three-stream loop. The crc32 instruction has a
/// latency of 3 cycles and a throughput of 1: three independent streams keep
/// it busy, and their registers are joined with two multiplications by
/// x^(8 kStream) per block, small next to the 3 * kStream / 8 instructions.
constexpr size_t kStream = 4096;

__attribute__((target("sse4.2"))) uint32_t
hardwareRegister(uint32_t c, const uint8_t *p, size_t n) {
  static const uint32_t shift = zeroBytesFactor(kStream);
  for (; n && (reinterpret_cast<uintptr_t>(p) & 7); --n)
    c = _mm_crc32_u8(c, *p++);
  uint64_t c0 = c;
  for (; n >= 3 * kStream; n -= 3 * kStream, p += 3 * kStream) {
    uint64_t c1 = 0, c2 = 0;
    for (size_t i = 0; i < kStream; i += 8) {
      c0 = _mm_crc32_u64(c0, load64(p + i));
      c1 = _mm_crc32_u64(c1, load64(p + kStream + i));
      c2 = _mm_crc32_u64(c2, load64(p + 2 * kStream + i));
    }
    // crc(s, A B) = crc(s, A) * x^(8|B|) + crc(0, B), register for register.
    uint32_t ab = multModP(shift, uint32_t(c0)) ^ uint32_t(c1);
    c0 = multModP(shift, ab) ^ uint32_t(c2);
  }
  for (; n >= 8; n -= 8, p += 8)
    c0 = _mm_crc32_u64(c0, load64(p));
  c = uint32_t(c0);
  for (; n; --n)
    c = _mm_crc32_u8(c, *p++);
  return c;
}
#endif

using RegisterFn = uint32_t (*)(uint32_t, const uint8_t *, size_t);

RegisterFn pick() {
#if defined(__x86_64__)
  if (__builtin_cpu_supports("sse4.2"))
    return hardwareRegister;
#endif
  return portableRegister;
}

} // namespace

bool crc32cHasHardware() {
#if defined(__x86_64__)
  return __builtin_cpu_supports("sse4.2");
#else
  return false;
#endif
}

uint32_t crc32cPortable(uint32_t crc, const void *data, size_t n) {
  return ~portableRegister(~crc, static_cast<const uint8_t *>(data), n);
}

uint32_t crc32cHardware(uint32_t crc, const void *data, size_t n) {
#if defined(__x86_64__)
  return ~hardwareRegister(~crc, static_cast<const uint8_t *>(data), n);
#else
  return crc32cPortable(crc, data, n);
#endif
}

uint32_t crc32c(uint32_t crc, const void *data, size_t n) {
  static const RegisterFn fn = pick();
  return ~fn(~crc, static_cast<const uint8_t *>(data), n);
}

uint32_t crc32cCombine(uint32_t crcA, uint32_t crcB, uint64_t lenB) {
  // The pre- and post-inversions of A's and B's CRCs cancel out here, as in
  // zlib's crc32_combine.
  return multModP(zeroBytesFactor(lenB), crcA) ^ crcB;
}

} // namespace birkhoff
