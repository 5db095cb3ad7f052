//===- Numerics.h - Scalar codecs for DeepSeek-V4's number formats --------===//
//
// Exact encoders/decoders for bf16, FP8 e4m3 (torch.float8_e4m3fn), e8m0
// (power-of-two scales), FP4 e2m1, and the power-of-two ("ue8m0") scale rule of
// V4_SPEC P4. Header-inline so kernels decode in registers.
//
//===----------------------------------------------------------------------===//
#ifndef BIRKHOFF_NUMERICS_H
#define BIRKHOFF_NUMERICS_H

#include <cmath>
#include <cstdint>
#include <cstring>

namespace birkhoff {

inline float bitsToFloat(uint32_t b) {
  float f;
  std::memcpy(&f, &b, 4);
  return f;
}
inline uint32_t floatToBits(float f) {
  uint32_t b;
  std::memcpy(&b, &f, 4);
  return b;
}

// ---- bf16 -----------------------------------------------------------------
inline float bf16ToFloat(uint16_t h) { return bitsToFloat(uint32_t(h) << 16); }
/// Round-to-nearest-even; NaN stays NaN (quiet).
inline uint16_t floatToBf16(float f) {
  uint32_t b = floatToBits(f);
  if ((b & 0x7fffffffu) > 0x7f800000u)
    return uint16_t((b >> 16) | 0x40);
  uint32_t lsb = (b >> 16) & 1u;
  b += 0x7fffu + lsb;
  return uint16_t(b >> 16);
}
/// bf16(x) as a float: the value after one bf16 rounding.
inline float roundBf16(float f) { return bf16ToFloat(floatToBf16(f)); }

// ---- e8m0 (ue8m0 scales) --------------------------------------------------
/// 2^(b-127); byte 0xFF is NaN.
inline float e8m0ToFloat(uint8_t b) {
  if (b == 0xff)
    return NAN;
  if (b == 0)
    return 0x1p-127f; // subnormal in fp32, exact
  return bitsToFloat(uint32_t(b) << 23);
}

// ---- FP8 e4m3 (fn: no inf, 0x7f/0xff NaN, max 448) -------------------------
float e4m3ToFloatSlow(uint8_t b);
/// Table decode: exact.
extern const float kE4m3Table[256];
inline float e4m3ToFloat(uint8_t b) { return kE4m3Table[b]; }
/// Round-to-nearest-even, saturating to ±448 (callers clamp first, as the
/// reference does); NaN maps to 0x7f.
uint8_t floatToE4m3(float f);

// ---- FP4 e2m1 ---------------------------------------------------------------
/// Magnitudes of codes 0..7; bit 3 is the sign.
inline constexpr float kE2m1Values[16] = {0.0f,  0.5f,  1.0f,  1.5f, 2.0f,  3.0f,
                                          4.0f,  6.0f,  -0.0f, -0.5f, -1.0f, -1.5f,
                                          -2.0f, -3.0f, -4.0f, -6.0f};
inline float e2m1ToFloat(uint8_t code) { return kE2m1Values[code & 15]; }
/// Round-to-nearest, ties to the even code, saturating to ±6.
uint8_t floatToE2m1(float f);

// ---- power-of-two scales (V4_SPEC P4) ---------------------------------------
/// The e8m0 byte of s = 2^ceil(log2(amax * (1/qmax))), computed on the fp32
/// bits exactly as DeepSeek's `fast_round_scale`.
uint8_t pow2ScaleByte(float amax, float qmax);

// ---- fp32 exp and log1p (V4_SPEC P11) ----------------------------------------
// Evaluated in double and rounded once to float, as the CUDA kernels compute
// them (compiler/cuda/templates/hostmath.cuh), so both backends agree bit for
// bit but where the two libraries' doubles straddle a float halfway point.
// glibc's expf and log1pf round differently from this for 6.9e-5 and 0.95 %
// of the floats in [-30, 20] and [-20, 20] (counted on x86-64, glibc 2.36).
inline float expF32(float x) { return float(std::exp(double(x))); }
inline float log1pF32(float x) { return float(std::log1p(double(x))); }

} // namespace birkhoff

#endif // BIRKHOFF_NUMERICS_H
