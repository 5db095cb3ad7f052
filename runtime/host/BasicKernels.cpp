//===- BasicKernels.cpp - embed, norms, RoPE and linear projections -------===//
#include "HostKernels.h"
#include "Rope.h"
#include "WeightDecode.h"

#include "birkhoff/Numerics.h"
#include "birkhoff/OfficialNumerics.h"

#include <cmath>
#include <vector>

namespace birkhoff::rt {
namespace {

/// y = w ⊙ x · rsqrt(mean(x²) + eps) over n values (w may be null: no weight).
void rmsNormRow(const float *x, float *y, int64_t n, const WeightDesc *w,
                float eps) {
  float ss = 0.0f;
  for (int64_t i = 0; i < n; ++i)
    ss += x[i] * x[i];
  float r = 1.0f / std::sqrt(ss / float(n) + eps);
  for (int64_t i = 0; i < n; ++i)
    y[i] = (w ? weightScalar(*w, i) : 1.0f) * (x[i] * r);
}

Status checkVocab(const KernelArgs &a, int64_t vocab) {
  for (int64_t t = 0; t < a.tokens; ++t)
    if (a.tokenIds[t] < 0 || a.tokenIds[t] >= vocab)
      return invalidArgument("token id " + std::to_string(a.tokenIds[t]) +
                             " is outside the vocabulary [0, " +
                             std::to_string(vocab) + ")");
  return Status::ok();
}

} // namespace

Status embedKernel(const KernelArgs &a, const EmbedParams &p) {
  int64_t dim = p.dim, hc = p.hc;
  const WeightDesc &table = a.weight(0);
  BK_RETURN_IF_ERROR(checkVocab(a, table.shape[0]));
  float *x = a.out(0);
  a.pool.parallelFor(a.tokens, [&](int64_t b, int64_t e) {
    for (int64_t t = b; t < e; ++t) {
      float *row = x + t * hc * dim;
      decodeWeightRow(table, nullptr, a.tokenIds[t], 0, dim, row);
      for (int64_t s = 1; s < hc; ++s)
        std::copy(row, row + dim, row + s * dim);
    }
  });
  return Status::ok();
}

Status rmsNormKernel(const KernelArgs &a, const RmsNormParams &p) {
  int64_t n = p.n;
  float eps = float(p.eps);
  const WeightDesc &w = a.weight(0);
  const float *x = a.in(0);
  float *y = a.out(0);
  if (p.official()) {
    std::vector<float> weight = weightVector(w);
    a.pool.parallelFor(a.tokens, [&](int64_t b, int64_t e) {
      for (int64_t t = b; t < e; ++t)
        official::rmsNormBf16({x + t * n, size_t(n)}, weight, eps,
                              {y + t * n, size_t(n)});
    });
    return Status::ok();
  }
  a.pool.parallelFor(a.tokens, [&](int64_t b, int64_t e) {
    for (int64_t t = b; t < e; ++t)
      rmsNormRow(x + t * n, y + t * n, n, &w, eps);
  });
  return Status::ok();
}

Status headRmsNormKernel(const KernelArgs &a, const HeadRmsNormParams &p) {
  int64_t heads = p.heads, hd = p.headDim;
  float eps = float(p.eps);
  const float *x = a.in(0);
  float *y = a.out(0);
  bool official = p.official();
  a.pool.parallelFor(a.tokens * heads, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      if (official) {
        std::copy(x + i * hd, x + (i + 1) * hd, y + i * hd);
        official::headRmsNormBf16({y + i * hd, size_t(hd)}, size_t(hd), eps);
      } else {
        rmsNormRow(x + i * hd, y + i * hd, hd, nullptr, eps);
      }
    }
  });
  return Status::ok();
}

namespace {
/// The params rope and head_rms_norm_rope share.
struct RopeHeads {
  int64_t heads = 0, headDim = 0;
  RopeSpec rope;
  bool normFirst = false; // head_rms_norm_rope
  float eps = 0;          // of the norm
  bool inverse = false;
  int64_t afterRope = 0; // rope, official profile
  bool official = false;
};

/// The official profile's RoPE (P3, bf16 results), with the per-head query RMS
/// (P2) first or a quantization step after (P6 on the KV path; P10 + P7 on the
/// indexer queries) as the launch asks.
Status ropeHeadsOfficial(const KernelArgs &a, const RopeHeads &c) {
  int64_t heads = c.heads, hd = c.headDim;
  bool normFirst = c.normFirst, inverse = c.inverse;
  int64_t afterRope = c.afterRope;
  float eps = c.eps;
  official::RopeParams rp = official::ropeParamsOf(c.rope);
  size_t half = rp.ropeDim / 2, rd = rp.ropeDim;
  std::vector<float> invFreq(half);
  official::ropeInvFreq(rp, invFreq);
  if (afterRope == 2 && (hd & (hd - 1)))
    return invalidArgument("Hadamard rotation needs a power-of-two head, not " +
                           std::to_string(hd));
  const float *x = a.in(0);
  float *y = a.out(0);
  a.pool.parallelFor(a.tokens, [&](int64_t b, int64_t e) {
    std::vector<float> cs(half), sn(half);
    for (int64_t t = b; t < e; ++t) {
      official::ropeCosSin(invFreq, a.start + t, cs, sn);
      for (int64_t h = 0; h < heads; ++h) {
        const float *src = x + (t * heads + h) * hd;
        float *dst = y + (t * heads + h) * hd;
        if (dst != src)
          std::copy(src, src + hd, dst);
        std::span<float> head(dst, size_t(hd));
        if (normFirst)
          official::headRmsNormBf16(head, size_t(hd), eps);
        official::ropeBf16(head.subspan(size_t(hd) - rd), cs, sn, inverse);
        if (afterRope == 1)
          official::fp8SimulateInPlace(head.first(size_t(hd) - rd));
        else if (afterRope == 2) {
          official::hadamardBf16(head);
          official::fp4SimulateInPlace(head);
        }
      }
    }
  });
  return Status::ok();
}

/// RoPE on the trailing rope dims of each head (optionally after a per-head
/// unweighted RMS norm), at the token's own position.
Status ropeHeads(const KernelArgs &a, const RopeHeads &c) {
  if (c.official)
    return ropeHeadsOfficial(a, c);
  int64_t heads = c.heads, hd = c.headDim;
  bool normFirst = c.normFirst, inverse = c.inverse;
  float eps = c.eps;
  RopeTable rope = RopeTable::fromParams(c.rope);
  if (rope.ropeDim > hd || rope.ropeDim % 2)
    return invalidArgument("rope_dim " + std::to_string(rope.ropeDim) +
                           " does not fit head_dim " + std::to_string(hd));
  const float *x = a.in(0);
  float *y = a.out(0);
  a.pool.parallelFor(a.tokens * heads, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      int64_t t = i / heads;
      const float *src = x + i * hd;
      float *dst = y + i * hd;
      if (normFirst)
        rmsNormRow(src, dst, hd, nullptr, eps);
      else if (dst != src)
        std::copy(src, src + hd, dst);
      rope.apply(dst + hd - rope.ropeDim, a.start + t, inverse);
    }
  });
  return Status::ok();
}
} // namespace

Status ropeKernel(const KernelArgs &a, const RopeParams &p) {
  RopeHeads c;
  c.heads = p.heads;
  c.headDim = p.headDim;
  c.rope = ropeSpecOf(p);
  c.inverse = p.inverse;
  c.afterRope = p.afterRope;
  c.official = p.official();
  return ropeHeads(a, c);
}

Status headRmsNormRopeKernel(const KernelArgs &a,
                             const HeadRmsNormRopeParams &p) {
  RopeHeads c;
  c.heads = p.heads;
  c.headDim = p.headDim;
  c.rope = ropeSpecOf(p);
  c.normFirst = true;
  c.eps = float(p.eps);
  c.official = p.official();
  return ropeHeads(a, c);
}

namespace {
/// b = a·Wᵀ (W = weight 0), rounded to bf16 in the official profile when
/// `roundOutput`.
Status linearForwardLaunch(const KernelArgs &a, int64_t in, int64_t out,
                           bool roundOutput) {
  const WeightDesc &w = a.weight(0);
  if (w.shape.size() != 2 || w.shape[0] != out || w.shape[1] != in)
    return invalidArgument("linear '" + w.name + "' does not match " +
                           std::to_string(out) + "x" + std::to_string(in));
  if (a.official())
    linearForwardOfficial(w, a.scaleOf(w), a.in(0), a.tokens, in, a.out(0), out,
                          roundOutput, a.pool);
  else
    linearForward(w, a.scaleOf(w), a.in(0), a.tokens, in, a.out(0), out,
                  a.pool);
  return Status::ok();
}
} // namespace

Status linearKernel(const KernelArgs &a, const LinearParams &p) {
  return linearForwardLaunch(a, p.inFeatures, p.outFeatures, p.roundOutput);
}

Status linearRmsNormKernel(const KernelArgs &a, const LinearRmsNormParams &p) {
  BK_RETURN_IF_ERROR(
      linearForwardLaunch(a, p.inFeatures, p.outFeatures, p.roundOutput));
  int64_t out = p.outFeatures;
  float eps = float(p.eps);
  const WeightDesc &norm = a.weight(1);
  float *y = a.out(0);
  if (p.official()) {
    std::vector<float> weight = weightVector(norm);
    for (int64_t t = 0; t < a.tokens; ++t)
      official::rmsNormBf16({y + t * out, size_t(out)}, weight, eps,
                            {y + t * out, size_t(out)});
    return Status::ok();
  }
  a.pool.parallelFor(a.tokens, [&](int64_t b, int64_t e) {
    for (int64_t t = b; t < e; ++t)
      rmsNormRow(y + t * out, y + t * out, out, &norm, eps);
  });
  return Status::ok();
}

Status groupedLinearKernel(const KernelArgs &a, const GroupedLinearParams &p) {
  int64_t groups = p.groups, inPer = p.inPerGroup, outPer = p.outPerGroup;
  const WeightDesc &w = a.weight(0);
  if (w.shape.size() != 2 || w.shape[0] != groups * outPer ||
      w.shape[1] != inPer)
    return invalidArgument("grouped projection '" + w.name +
                           "' does not match its groups");
  for (int64_t g = 0; g < groups; ++g)
    linearForwardBlock(w, a.scaleOf(w), g * outPer, outPer, 0, inPer,
                       a.in(0) + g * inPer, a.tokens, groups * inPer,
                       a.out(0) + g * outPer, groups * outPer, a.pool);
  // Official: wo_a is dequantized to bf16 (exact) and applied as a bf16 einsum
  // (fp32 accumulation, bf16 output); no FP8 activation quantization.
  if (p.official()) {
    float *y = a.out(0);
    for (int64_t i = 0; i < a.tokens * groups * outPer; ++i)
      y[i] = roundBf16(y[i]);
  }
  return Status::ok();
}

} // namespace birkhoff::rt
