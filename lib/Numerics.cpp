//===- Numerics.cpp - FP8 e4m3, FP4 e2m1 and power-of-two scale codecs ----===//
#include "birkhoff/Numerics.h"

#include <array>
#include <limits>

namespace birkhoff {
namespace {

// 2^k for small |k| by repeated exact multiplication, usable in constexpr.
constexpr float pow2(int k) {
  float r = 1.0f;
  for (; k > 0; --k)
    r *= 2.0f;
  for (; k < 0; ++k)
    r *= 0.5f;
  return r;
}

// e4m3fn: 1 sign bit, 4 exponent bits (bias 7), 3 mantissa bits, no
// infinities; 0x7f/0xff are NaN. Exponent field 0 holds subnormals m·2^-9.
constexpr float e4m3Value(unsigned b) {
  unsigned exp = (b >> 3) & 15u, man = b & 7u;
  if (exp == 15 && man == 7)
    return std::numeric_limits<float>::quiet_NaN();
  float mag =
      exp == 0 ? float(man) * pow2(-9) : float(8 + man) * pow2(int(exp) - 10);
  return (b & 0x80u) ? -mag : mag;
}

constexpr std::array<float, 256> makeE4m3Table() {
  std::array<float, 256> t{};
  for (unsigned b = 0; b < 256; ++b)
    t[b] = e4m3Value(b);
  return t;
}
constexpr std::array<float, 256> kE4m3Values = makeE4m3Table();

// Shifts `sig` right by `shift` bits, rounding to nearest, ties to even.
uint32_t shiftRightRne(uint32_t sig, int shift) {
  if (shift <= 0)
    return sig << -shift;
  if (shift > 31)
    return 0; // sig < 2^24, so the value is below a quarter ulp of the result
  uint32_t kept = sig >> shift;
  uint32_t rem = sig & ((1u << shift) - 1u);
  uint32_t half = 1u << (shift - 1);
  if (rem > half || (rem == half && (kept & 1u)))
    ++kept;
  return kept;
}

} // namespace

// Spelled out element by element so the exported array is constant-initialised
// (no static-initialisation-order hazard for callers in other translation
// units) while its values still come from the constexpr decoder above.
#define BK_E4M3_4(i)                                                           \
  kE4m3Values[i], kE4m3Values[i + 1], kE4m3Values[i + 2], kE4m3Values[i + 3]
#define BK_E4M3_16(i)                                                          \
  BK_E4M3_4(i), BK_E4M3_4(i + 4), BK_E4M3_4(i + 8), BK_E4M3_4(i + 12)
#define BK_E4M3_64(i)                                                          \
  BK_E4M3_16(i), BK_E4M3_16(i + 16), BK_E4M3_16(i + 32), BK_E4M3_16(i + 48)
extern const float kE4m3Table[256] = {BK_E4M3_64(0), BK_E4M3_64(64),
                                      BK_E4M3_64(128), BK_E4M3_64(192)};
#undef BK_E4M3_64
#undef BK_E4M3_16
#undef BK_E4M3_4

float e4m3ToFloatSlow(uint8_t b) {
  unsigned exp = (b >> 3) & 15u, man = b & 7u;
  if (exp == 15 && man == 7)
    return NAN;
  float mag = exp == 0 ? std::ldexp(float(man), -9)
                       : std::ldexp(float(8 + man), int(exp) - 10);
  return (b & 0x80u) ? -mag : mag;
}

uint8_t floatToE4m3(float f) {
  uint32_t bits = floatToBits(f);
  uint8_t sign = uint8_t((bits >> 24) & 0x80u);
  uint32_t absBits = bits & 0x7fffffffu;
  if (absBits > 0x7f800000u)
    return 0x7f;
  constexpr uint8_t kMaxFinite = 0x7e; // 448
  // Everything at or above 448 (infinity included) saturates; the rounding
  // boundary to the next binade (464) would land on the NaN code.
  if (absBits >= floatToBits(448.0f))
    return sign | kMaxFinite;

  int exp = int(absBits >> 23); // biased fp32 exponent
  uint32_t man = absBits & 0x7fffffu;
  int unbiased = exp == 0 ? -126 : exp - 127;
  if (unbiased >= -6) {
    // Normal e4m3: keep 3 of fp32's 23 mantissa bits. A carry out of the
    // mantissa bumps the exponent, which the packed addition does for us.
    uint32_t packed = (uint32_t(unbiased + 7) << 3) | (man >> 20);
    uint32_t rem = man & 0xfffffu;
    if (rem > 0x80000u || (rem == 0x80000u && (packed & 1u)))
      ++packed;
    return sign | uint8_t(packed > kMaxFinite ? kMaxFinite : packed);
  }
  // Subnormal e4m3: the code is round(|f| / 2^-9). |f| = sig · 2^(unbiased-23)
  // with sig the 24-bit significand, so code = sig >> (23 - 9 - unbiased)
  // rounded. A result of 8 is the smallest normal (0x08), which is correct.
  uint32_t sig = exp == 0 ? man : (man | 0x800000u);
  uint32_t code = shiftRightRne(sig, 14 - unbiased);
  return sign | uint8_t(code);
}

uint8_t floatToE2m1(float f) {
  if (std::isnan(f))
    return 0x7; // no NaN in e2m1: saturate like PTX cvt.satfinite does
  float a = std::fabs(f);
  // Decision points are the midpoints between neighbouring magnitudes; at a
  // midpoint the even code wins (<= keeps the lower one, < hands it up).
  uint8_t code;
  if (a <= 0.25f)
    code = 0;
  else if (a < 0.75f)
    code = 1;
  else if (a <= 1.25f)
    code = 2;
  else if (a < 1.75f)
    code = 3;
  else if (a <= 2.5f)
    code = 4;
  else if (a < 3.5f)
    code = 5;
  else if (a <= 5.0f)
    code = 6;
  else
    code = 7;
  // A value that rounds to zero is encoded +0 (code 0) whatever its sign, so
  // packed weights never carry the -0 code 8; numerically the two are equal.
  if (code != 0 && std::signbit(f))
    code |= 0x8;
  return code;
}

uint8_t pow2ScaleByte(float amax, float qmax) {
  // Exactly DeepSeek's fast_round_scale: a = amax * fp32(1/qmax); the scale
  // exponent is E(a) - 127, plus one when any mantissa bit of a is set, and
  // the e8m0 byte is that exponent + 127 = E(a) + (M(a) != 0).
  // Edge cases, all unreachable with the reference's amax floors (1e-4 for
  // FP8, 6·2^-126 for FP4) and stated so callers know what they get:
  //  - a == 0: byte 0 (2^-127);
  //  - a subnormal: byte 1 (2^-126), an upper bound for a as the ceil rule
  //    asks, but not the tightest one — the reference behaves the same way;
  //  - a infinite or NaN, or a > 2^127 (would need byte 255): byte 0xFF, which
  //    e8m0 reads as NaN.
  float a = amax * (1.0f / qmax);
  uint32_t bits = floatToBits(a) & 0x7fffffffu;
  uint32_t exp = bits >> 23;
  uint32_t man = bits & 0x7fffffu;
  uint32_t byte = exp + (man != 0 ? 1u : 0u);
  return uint8_t(byte > 0xffu ? 0xffu : byte);
}

} // namespace birkhoff
