//===- OfficialNumerics.cpp - Norms, RoPE, Hadamard, attention, SwiGLU ----===//
//
// The non-quantizing half of the `official` numerics (V4_SPEC P1-P3, P10,
// §3.4 attention core, §3.7 SwiGLU). Each statement below is one rounding of
// the reference; the comments name the PyTorch / tilelang operation it stands
// for. OfficialQuant.cpp holds the FP8/FP4 half.
//
//===----------------------------------------------------------------------===//
#include "birkhoff/OfficialNumerics.h"

#include "birkhoff/KernelParams.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <limits>
#include <numbers>

// Every a*b+c below is two roundings in the reference; a fused multiply-add
// would be one. Forbid contraction for this file whatever the build flags.
#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

namespace birkhoff::official {
namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

// PyTorch's MeanOps computes `sum * factor` with factor = float(rows) /
// float(rows · n), which is fl(1/n) for every row count.
float meanFactor(size_t n) { return 1.0f / float(n); }

// rsqrt in fp32: sqrtf and the division are each correctly rounded.
float rsqrtF32(float v) { return 1.0f / std::sqrt(v); }

} // namespace

// ---- P1 ---------------------------------------------------------------------

void rmsNormBf16(std::span<const float> x, std::span<const float> weight,
                 float eps, std::span<float> out) {
  assert(weight.size() == x.size() && out.size() == x.size() && !x.empty());
  // var = x.float().square().mean(-1): fp32 squares, fp32 sum, times 1/n.
  float sum = 0.0f;
  for (float v : x) {
    float sq = v * v;
    sum += sq;
  }
  rmsNormBf16GivenSum(x, sum, weight, eps, out);
}

void rmsNormBf16GivenSum(std::span<const float> x, float sumSquares,
                         std::span<const float> weight, float eps,
                         std::span<float> out) {
  assert(weight.size() == x.size() && out.size() == x.size() && !x.empty());
  float var = sumSquares * meanFactor(x.size());
  // torch.rsqrt(var + self.eps): eps (a Python float) enters as fp32.
  float r = rsqrtF32(var + eps);
  for (size_t i = 0; i < x.size(); ++i) {
    float normed = x[i] * r;           // x * rsqrt(...)
    float scaled = weight[i] * normed; // self.weight * x (fp32 weight)
    out[i] = roundBf16(scaled);        // .to(bf16)
  }
}

// ---- P2 ---------------------------------------------------------------------

void headRmsNormBf16(std::span<float> q, size_t headDim, float eps) {
  assert(headDim > 0 && q.size() % headDim == 0);
  float factor = meanFactor(headDim);
  for (size_t h = 0; h < q.size(); h += headDim) {
    std::span<float> head = q.subspan(h, headDim);
    // q.square(): bf16 tensor op, computed in fp32 and rounded to bf16.
    // .mean(-1): bf16 input, fp32 accumulation, bf16 output.
    float sum = 0.0f;
    for (float v : head)
      sum += roundBf16(v * v);
    float mean = roundBf16(sum * factor);
    // + self.eps: bf16 tensor plus a Python scalar, computed in fp32.
    float shifted = roundBf16(mean + eps);
    // torch.rsqrt on bf16: fp32 rsqrt rounded to bf16.
    float r = roundBf16(rsqrtF32(shifted));
    // q *= r: bf16 * bf16 computed in fp32, rounded to bf16.
    for (float &v : head)
      v = roundBf16(v * r);
  }
}

// ---- P3 ---------------------------------------------------------------------

RopeParams ropeParamsOf(const RopeSpec &rope) {
  RopeParams p;
  p.ropeDim = size_t(rope.ropeDim);
  p.theta = rope.theta;
  if (rope.yarn) {
    p.originalSeqLen = double(rope.originalSeqLen);
    p.factor = rope.ropeFactor;
    p.betaFast = rope.betaFast;
    p.betaSlow = rope.betaSlow;
  }
  return p;
}

void ropeInvFreq(const RopeParams &params, std::span<float> invFreq) {
  size_t dim = params.ropeDim;
  assert(dim >= 2 && dim % 2 == 0 && invFreq.size() == dim / 2);
  // freqs = 1.0 / (base ** (torch.arange(0, dim, 2, float32) / dim)):
  // an fp32 exponent, powf with the base as fp32, an fp32 reciprocal.
  float base = float(params.theta);
  for (size_t i = 0; i < dim / 2; ++i) {
    float exponent = float(2 * i) / float(dim);
    invFreq[i] = 1.0f / std::pow(base, exponent);
  }
  if (params.originalSeqLen <= 0)
    return;
  // find_correction_range, in Python doubles.
  double ddim = double(dim);
  auto correctionDim = [&](double rotations) {
    return ddim *
           std::log(params.originalSeqLen /
                    (rotations * 2.0 * std::numbers::pi)) /
           (2.0 * std::log(params.theta));
  };
  double low = std::max(std::floor(correctionDim(params.betaFast)), 0.0);
  double high = std::min(std::ceil(correctionDim(params.betaSlow)), ddim - 1);
  if (low == high)
    high += 0.001; // linear_ramp_factor's guard
  // linear_ramp_factor: (arange(dim//2, float32) - low) / (high - low), the
  // Python operands entering as fp32, clamped to [0, 1].
  float flow = float(low);
  float span = float(high - low);
  float factor = float(params.factor);
  for (size_t i = 0; i < dim / 2; ++i) {
    float ramp = std::clamp((float(i) - flow) / span, 0.0f, 1.0f);
    float smooth = 1.0f - ramp;
    // freqs / factor * (1 - smooth) + freqs * smooth, op by op.
    float slowed = invFreq[i] / factor;
    float interpolated = slowed * (1.0f - smooth);
    float kept = invFreq[i] * smooth;
    invFreq[i] = interpolated + kept;
  }
}

void ropeCosSin(std::span<const float> invFreq, int64_t position,
                std::span<float> cos, std::span<float> sin) {
  assert(cos.size() == invFreq.size() && sin.size() == invFreq.size());
  float p = float(position); // torch.outer promotes the int64 positions
  for (size_t i = 0; i < invFreq.size(); ++i) {
    float angle = p * invFreq[i];
    cos[i] = std::cos(angle); // torch.polar(1, angle): 1·cos, 1·sin
    sin[i] = std::sin(angle);
  }
}

void ropeBf16(std::span<float> x, std::span<const float> cos,
              std::span<const float> sin, bool inverse) {
  size_t pairs = cos.size();
  assert(sin.size() == pairs && x.size() == 2 * pairs);
  for (size_t i = 0; i < pairs; ++i) {
    float x0 = x[2 * i], x1 = x[2 * i + 1];
    float c = cos[i];
    float s = inverse ? -sin[i] : sin[i]; // freqs_cis.conj()
    // complex64 (x0 + j·x1)·(c + j·s): four fp32 products, two fp32 sums.
    float ac = x0 * c, bd = x1 * s, ad = x0 * s, bc = x1 * c;
    x[2 * i] = roundBf16(ac - bd);
    x[2 * i + 1] = roundBf16(ad + bc);
  }
}

// ---- P10 --------------------------------------------------------------------

void hadamardBf16(std::span<float> x) {
  size_t n = x.size();
  assert(n > 0 && (n & (n - 1)) == 0 && "Hadamard size must be a power of 2");
  // fast_hadamard_transform: in-register butterflies with growing strides
  // (within a thread, then across lanes, then across warps), fp32 throughout.
  for (size_t stride = 1; stride < n; stride *= 2) {
    for (size_t base = 0; base < n; base += 2 * stride) {
      for (size_t j = base; j < base + stride; ++j) {
        float a = x[j], b = x[j + stride];
        x[j] = a + b;
        x[j + stride] = a - b;
      }
    }
  }
  // rotate_activation passes scale = n ** -0.5 (a Python double) as fp32.
  float scale = float(std::pow(double(n), -0.5));
  for (float &v : x)
    v = roundBf16(v * scale);
}

// ---- attention core
// -----------------------------------------------------------

float attentionScale(size_t headDim) {
  return float(std::pow(double(headDim), -0.5));
}

void attendOneHead(std::span<const float> q, std::span<const float *const> keys,
                   float sink, float scale, std::span<float> out) {
  size_t d = q.size();
  assert(out.size() == d && d > 0);
  // acc_o (fp32, cleared), sum_exp = 0, scores_max = -inf.
  std::fill(out.begin(), out.end(), 0.0f);
  float sumExp = 0.0f;
  float rowMax = kNegInf;
  float p[kAttentionChunk];
  for (size_t begin = 0; begin < keys.size(); begin += kAttentionChunk) {
    size_t count = std::min(kAttentionChunk, keys.size() - begin);
    std::span<const float *const> chunk = keys.subspan(begin, count);
    // acc_s = -inf for invalid slots, else q·k (fp32 accumulate), then
    // acc_s *= scale.
    for (size_t j = 0; j < count; ++j) {
      if (!chunk[j]) {
        p[j] = kNegInf;
        continue;
      }
      float dot = 0.0f;
      for (size_t i = 0; i < d; ++i) {
        float prod = q[i] * chunk[j][i];
        dot += prod;
      }
      p[j] = dot * scale;
    }
    // reduce_max with clear=False: the running max over all chunks so far.
    float prevMax = rowMax;
    for (size_t j = 0; j < count; ++j)
      rowMax = std::max(rowMax, p[j]);
    float alpha = expF32(prevMax - rowMax); // 0 on the first chunk
    // acc_s = exp(acc_s - max); scores_sum = Σ acc_s (the fp32 values).
    float chunkSum = 0.0f;
    for (size_t j = 0; j < count; ++j) {
      p[j] = expF32(p[j] - rowMax);
      chunkSum += p[j];
    }
    float decayed = sumExp * alpha;
    sumExp = decayed + chunkSum;
    // acc_o *= scores_scale; acc_o += bf16(acc_s) · kv (fp32 accumulate).
    // Invalid slots have p = 0 and a zeroed kv row: they add nothing.
    for (float &v : out)
      v = v * alpha;
    for (size_t j = 0; j < count; ++j) {
      if (!chunk[j])
        continue;
      float pb = roundBf16(p[j]); // acc_s_cast: the bf16 copy of P
      for (size_t i = 0; i < d; ++i) {
        float prod = pb * chunk[j][i];
        out[i] += prod;
      }
    }
  }
  // The sink joins the denominator only, after the last chunk.
  sumExp += expF32(sink - rowMax);
  for (float &v : out)
    v = roundBf16(v / sumExp);
}

// ---- MoE expert activation -------------------------------------------------

float siluF32(float x) { return x / (1.0f + expF32(-x)); }

float swigluBf16(float gate, float up, float weight, float limit) {
  if (limit > 0.0f) {
    // Expert.forward clamps up to ±L and the gate from above only.
    up = std::clamp(up, -limit, limit);
    gate = std::min(gate, limit);
  }
  float act = siluF32(gate) * up; // F.silu(gate) * up (fp32)
  float weighted = weight * act;  // weights * x (fp32), before the cast
  return roundBf16(weighted);     // x.to(bf16) feeds w2
}

void swigluRowBf16(std::span<const float> gate, std::span<const float> up,
                   float weight, float limit, std::span<float> out) {
  assert(up.size() == gate.size() && out.size() == gate.size());
  for (size_t i = 0; i < gate.size(); ++i)
    out[i] = swigluBf16(gate[i], up[i], weight, limit);
}

} // namespace birkhoff::official
