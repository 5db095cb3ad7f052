//===- MhcKernels.cpp - Manifold-constrained hyper-connections (V4_SPEC §3.2)
#include "HostKernels.h"
#include "WeightDecode.h"

#include "birkhoff/Numerics.h"
#include "birkhoff/OfficialNumerics.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace birkhoff::rt {
namespace {

float sigmoid(float x) { return 1.0f / (1.0f + expF32(-x)); }

/// mix[m] = (fn[m,:] · x) · rsqrt(mean(x²) + eps) for the `rows` mixing rows.
/// Both sums run in the CUDA block's tree order (blockTreeDot), so the GPU's
/// mixing weights are these bit for bit in either numerics profile.
void hcMix(const WeightDesc &fn, const float *x, int64_t n, float normEps,
           int64_t rows, float *mix, std::vector<float> &rowBuf) {
  float ss = blockTreeDot(x, x, n);
  float r = 1.0f / std::sqrt(ss / float(n) + normEps);
  rowBuf.resize(size_t(n));
  for (int64_t m = 0; m < rows; ++m) {
    decodeWeightRow(fn, nullptr, m, 0, n, rowBuf.data());
    mix[m] = blockTreeDot(rowBuf.data(), x, n) * r;
  }
}

/// The params mhc_pre/mhc_head and their fused-norm forms share.
struct MhcConfig {
  int64_t dim = 0, hc = 0, iters = 0;
  float hcEps = 0, normEps = 0;
  bool withNorm = false;
  float eps = 0; // of the fused norm
};

/// Computes pre/post/comb for one token and collapses the streams into u.
void mhcPreToken(const KernelArgs &a, const MhcConfig &c, const float *x,
                 float *u, float *post, float *comb,
                 std::vector<float> &scratch) {
  int64_t dim = c.dim, hc = c.hc, iters = c.iters;
  float hcEps = c.hcEps, normEps = c.normEps;
  const WeightDesc &fn = a.weight(0), &base = a.weight(1), &scale = a.weight(2);
  int64_t rows = (2 + hc) * hc;
  std::vector<float> mix(static_cast<size_t>(rows));
  hcMix(fn, x, hc * dim, normEps, rows, mix.data(), scratch);
  float s0 = weightScalar(scale, 0), s1 = weightScalar(scale, 1),
        s2 = weightScalar(scale, 2);
  std::vector<float> pre(static_cast<size_t>(hc));
  for (int64_t k = 0; k < hc; ++k) {
    pre[k] = sigmoid(mix[k] * s0 + weightScalar(base, k)) + hcEps;
    post[k] = 2.0f * sigmoid(mix[hc + k] * s1 + weightScalar(base, hc + k));
  }
  // comb[j*hc + k] = C[j][k]: row softmax, then alternate column and row
  // normalization (Sinkhorn) towards a doubly stochastic matrix.
  for (int64_t j = 0; j < hc; ++j) {
    float *row = comb + j * hc;
    float mx = -INFINITY;
    for (int64_t k = 0; k < hc; ++k) {
      row[k] = mix[2 * hc + j * hc + k] * s2 +
               weightScalar(base, 2 * hc + j * hc + k);
      mx = std::max(mx, row[k]);
    }
    float sum = 0.0f;
    for (int64_t k = 0; k < hc; ++k)
      sum += (row[k] = expF32(row[k] - mx));
    for (int64_t k = 0; k < hc; ++k)
      row[k] = row[k] / sum + hcEps;
  }
  auto normalizeColumns = [&] {
    for (int64_t k = 0; k < hc; ++k) {
      float sum = 0.0f;
      for (int64_t j = 0; j < hc; ++j)
        sum += comb[j * hc + k];
      for (int64_t j = 0; j < hc; ++j)
        comb[j * hc + k] /= sum + hcEps;
    }
  };
  normalizeColumns();
  for (int64_t it = 1; it < iters; ++it) {
    for (int64_t j = 0; j < hc; ++j) {
      float sum = 0.0f;
      for (int64_t k = 0; k < hc; ++k)
        sum += comb[j * hc + k];
      for (int64_t k = 0; k < hc; ++k)
        comb[j * hc + k] /= sum + hcEps;
    }
    normalizeColumns();
  }
  for (int64_t i = 0; i < dim; ++i) {
    float acc = 0.0f;
    for (int64_t k = 0; k < hc; ++k)
      acc += pre[k] * x[k * dim + i];
    u[i] = acc;
  }
}

/// The collapsed input's norm, its Σ u² in the tree order of the CUDA block
/// that wrote u. Official profile: u is rounded to bf16 first (it feeds a
/// bf16 sublayer) and the norm is P1.
void finishCollapsed(const KernelArgs &a, float *u, int64_t dim, bool withNorm,
                     float eps, const std::vector<float> &normWeight) {
  if (a.official())
    for (int64_t i = 0; i < dim; ++i)
      u[i] = roundBf16(u[i]);
  if (!withNorm)
    return;
  float ss = blockTreeDot(u, u, dim);
  if (a.official()) {
    std::span<float> us(u, size_t(dim));
    official::rmsNormBf16GivenSum(us, ss, normWeight, eps, us);
    return;
  }
  float r = 1.0f / std::sqrt(ss / float(dim) + eps);
  for (int64_t i = 0; i < dim; ++i)
    u[i] = normWeight[size_t(i)] * (u[i] * r);
}

Status mhcPre(const KernelArgs &a, const MhcConfig &c) {
  int64_t dim = c.dim, hc = c.hc;
  const float *x = a.in(0);
  float *u = a.out(0), *post = a.out(1), *comb = a.out(2);
  bool withNorm = c.withNorm;
  float eps = c.eps;
  std::vector<float> normWeight;
  if (withNorm)
    normWeight = weightVector(a.weight(3));
  a.pool.parallelFor(a.tokens, [&](int64_t b, int64_t e) {
    std::vector<float> scratch;
    for (int64_t t = b; t < e; ++t) {
      mhcPreToken(a, c, x + t * hc * dim, u + t * dim, post + t * hc,
                  comb + t * hc * hc, scratch);
      finishCollapsed(a, u + t * dim, dim, withNorm, eps, normWeight);
    }
  });
  return Status::ok();
}

Status mhcHead(const KernelArgs &a, const MhcConfig &c) {
  int64_t dim = c.dim, hc = c.hc;
  float hcEps = c.hcEps, normEps = c.normEps;
  bool withNorm = c.withNorm;
  float eps = c.eps;
  const WeightDesc &fn = a.weight(0), &base = a.weight(1), &scale = a.weight(2);
  const float *x = a.in(0);
  float *u = a.out(0);
  std::vector<float> normWeight;
  if (withNorm)
    normWeight = weightVector(a.weight(3));
  a.pool.parallelFor(a.tokens, [&](int64_t b, int64_t e) {
    std::vector<float> scratch, mix(static_cast<size_t>(hc)),
        pre(static_cast<size_t>(hc));
    for (int64_t t = b; t < e; ++t) {
      const float *xt = x + t * hc * dim;
      hcMix(fn, xt, hc * dim, normEps, hc, mix.data(), scratch);
      for (int64_t k = 0; k < hc; ++k)
        pre[k] =
            sigmoid(mix[k] * weightScalar(scale, 0) + weightScalar(base, k)) +
            hcEps;
      float *ut = u + t * dim;
      for (int64_t i = 0; i < dim; ++i) {
        float acc = 0.0f;
        for (int64_t k = 0; k < hc; ++k)
          acc += pre[k] * xt[k * dim + i];
        ut[i] = acc;
      }
      finishCollapsed(a, ut, dim, withNorm, eps, normWeight);
    }
  });
  return Status::ok();
}

} // namespace

Status mhcPreKernel(const KernelArgs &a, const MhcPreParams &p) {
  return mhcPre(a, {p.dim, p.hc, p.iters, float(p.hcEps), float(p.normEps)});
}
Status mhcPreNormKernel(const KernelArgs &a, const MhcPreNormParams &p) {
  return mhcPre(a, {p.dim, p.hc, p.iters, float(p.hcEps), float(p.normEps),
                    true, float(p.eps)});
}
Status mhcHeadKernel(const KernelArgs &a, const MhcHeadParams &p) {
  return mhcHead(a, {p.dim, p.hc, 0, float(p.hcEps), float(p.normEps)});
}
Status mhcHeadNormKernel(const KernelArgs &a, const MhcHeadNormParams &p) {
  return mhcHead(a, {p.dim, p.hc, 0, float(p.hcEps), float(p.normEps), true,
                     float(p.eps)});
}

Status mhcPostKernel(const KernelArgs &a, const MhcPostParams &p) {
  int64_t dim = p.dim, hc = p.hc;
  const float *y = a.in(0), *x = a.in(1), *post = a.in(2), *comb = a.in(3);
  float *out = a.out(0);
  bool official = p.official(); // streams stay bf16 between sublayers
  a.pool.parallelFor(a.tokens, [&](int64_t b, int64_t e) {
    for (int64_t t = b; t < e; ++t) {
      const float *xt = x + t * hc * dim, *yt = y + t * dim;
      const float *pt = post + t * hc, *ct = comb + t * hc * hc;
      float *ot = out + t * hc * dim;
      for (int64_t k = 0; k < hc; ++k)
        for (int64_t i = 0; i < dim; ++i) {
          float acc = pt[k] * yt[i];
          for (int64_t j = 0; j < hc; ++j)
            acc += ct[j * hc + k] * xt[j * dim + i];
          ot[k * dim + i] = official ? roundBf16(acc) : acc;
        }
    }
  });
  return Status::ok();
}

} // namespace birkhoff::rt
