//===- MoeKernels.cpp - Routing and experts (V4_SPEC §3.7) ----------------===//
#include "HostKernels.h"
#include "WeightDecode.h"

#include "birkhoff/Numerics.h"
#include "birkhoff/OfficialNumerics.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

namespace birkhoff::rt {
namespace {

/// PyTorch's softplus (beta 1, threshold 20) followed by sqrt.
float sqrtSoftplus(float x) {
  return std::sqrt(x > 20.0f ? x : log1pF32(expF32(x)));
}

Status scoresForward(const KernelArgs &a, int64_t dim, int64_t experts,
                     const WeightDesc &gate, float *scores) {
  if (gate.shape.size() != 2 || gate.shape[0] != experts || gate.shape[1] != dim)
    return invalidArgument("router gate '" + gate.name + "' does not match");
  linearForward(gate, a.scaleOf(gate), a.in(0), a.tokens, dim, scores, experts,
                a.pool);
  for (int64_t i = 0; i < a.tokens * experts; ++i)
    scores[i] = sqrtSoftplus(scores[i]);
  return Status::ok();
}

/// The params route_select and router share.
struct Routing {
  int64_t experts = 0, topk = 0;
  bool hash = false;
  double routeScale = 0;
};

/// Chooses experts (hash table or biased top-k) and their normalized weights.
Status selectForward(const KernelArgs &a, const Routing &r, const float *scores,
                     const int32_t *tokenIds, const WeightDesc &table,
                     int32_t *idx, float *wts) {
  int64_t experts = r.experts, topk = r.topk;
  bool hash = r.hash;
  float routeScale = float(r.routeScale);
  std::vector<int32_t> order(static_cast<size_t>(experts));
  std::vector<float> biased(static_cast<size_t>(experts));
  for (int64_t t = 0; t < a.tokens; ++t) {
    const float *s = scores + t * experts;
    int32_t *it = idx + t * topk;
    if (hash) {
      int64_t tok = tokenIds[t];
      if (tok < 0 || tok >= table.shape[0])
        return invalidArgument("token id " + std::to_string(tok) +
                               " is outside the hash routing table");
      const int64_t *row = reinterpret_cast<const int64_t *>(table.data) + tok * topk;
      for (int64_t j = 0; j < topk; ++j) {
        if (row[j] < 0 || row[j] >= experts)
          return invalidArgument("hash routing table '" + table.name +
                                 "' names expert " + std::to_string(row[j]));
        it[j] = int32_t(row[j]);
      }
    } else {
      for (int64_t e = 0; e < experts; ++e)
        biased[e] = s[e] + weightScalar(table, e);
      std::iota(order.begin(), order.end(), 0);
      std::partial_sort(order.begin(), order.begin() + topk, order.end(),
                        [&](int32_t x, int32_t y) {
                          return biased[x] > biased[y] ||
                                 (biased[x] == biased[y] && x < y);
                        });
      std::copy(order.begin(), order.begin() + topk, it);
    }
    float sum = 0.0f;
    for (int64_t j = 0; j < topk; ++j)
      sum += s[it[j]];
    for (int64_t j = 0; j < topk; ++j)
      wts[t * topk + j] = s[it[j]] / (sum + 1e-20f) * routeScale;
  }
  return Status::ok();
}

/// h = silu(min(x·w1ᵀ, L)) · clamp(x·w3ᵀ, ±L); y = h·w2ᵀ, for `n` gathered rows.
void expertForward(const KernelArgs &a, const MoeParams &p, int weightBase,
                   const float *x, int64_t n, float *y, bool clamp) {
  int64_t dim = p.dim, inter = p.inter;
  float limit = float(p.swigluLimit);
  const WeightDesc &w1 = a.weight(weightBase), &w2 = a.weight(weightBase + 1),
                   &w3 = a.weight(weightBase + 2);
  std::vector<float> g(static_cast<size_t>(n * inter)), u(static_cast<size_t>(n * inter));
  linearForward(w1, a.scaleOf(w1), x, n, dim, g.data(), inter, a.pool);
  linearForward(w3, a.scaleOf(w3), x, n, dim, u.data(), inter, a.pool);
  for (int64_t i = 0; i < n * inter; ++i) {
    float gi = g[i], ui = u[i];
    if (clamp) {
      gi = std::min(gi, limit);
      ui = std::clamp(ui, -limit, limit);
    }
    g[i] = official::siluF32(gi) * ui;
  }
  linearForward(w2, a.scaleOf(w2), g.data(), n, inter, y, dim, a.pool);
}

/// Official expert (V4_SPEC §3.7): bf16 w1/w3 outputs through FP8-activation
/// GEMMs, h = bf16(weight · silu(min(g, L)) · clamp(u, ±L)) with the routing
/// weight applied before w2, and a bf16 w2 output. `limit` <= 0: no clamp.
void expertForwardOfficial(const KernelArgs &a, const MoeParams &p,
                           int weightBase, const float *x, int64_t n,
                           const float *rowWeights, float limit, float *y) {
  int64_t dim = p.dim, inter = p.inter;
  const WeightDesc &w1 = a.weight(weightBase), &w2 = a.weight(weightBase + 1),
                   &w3 = a.weight(weightBase + 2);
  std::vector<float> g(size_t(n * inter)), u(size_t(n * inter));
  constexpr auto kExact = official::InnerSum::Exact;
  linearForwardOfficial(w1, a.scaleOf(w1), x, n, dim, g.data(), inter, true,
                        a.pool, kExact);
  linearForwardOfficial(w3, a.scaleOf(w3), x, n, dim, u.data(), inter, true,
                        a.pool, kExact);
  for (int64_t r = 0; r < n; ++r)
    official::swigluRowBf16({g.data() + r * inter, size_t(inter)},
                            {u.data() + r * inter, size_t(inter)},
                            rowWeights ? rowWeights[r] : 1.0f, limit,
                            {g.data() + r * inter, size_t(inter)});
  linearForwardOfficial(w2, a.scaleOf(w2), g.data(), n, inter, y, dim, true,
                        a.pool, kExact);
}

/// Official combination: fp32 sum of the routed experts' bf16 outputs in
/// ascending expert id, then the shared expert, rounded to bf16 once.
Status moeOfficial(const KernelArgs &a, const MoeParams &p) {
  int64_t dim = p.dim, experts = p.experts, topk = p.topk;
  float limit = float(p.swigluLimit);
  float sharedLimit = p.sharedClamp ? limit : 0.0f;
  const float *x = a.in(0), *wts = a.in(2);
  const int32_t *idx = a.inInt(1);
  float *y = a.out(0);
  std::fill(y, y + a.tokens * dim, 0.0f);
  std::vector<std::vector<std::pair<int64_t, float>>> routed(static_cast<size_t>(experts));
  for (int64_t t = 0; t < a.tokens; ++t)
    for (int64_t j = 0; j < topk; ++j) {
      int32_t e = idx[t * topk + j];
      if (e < 0 || e >= experts)
        return internalError("router produced expert " + std::to_string(e));
      routed[size_t(e)].push_back({t, wts[t * topk + j]});
    }
  std::vector<float> gathered, rowWeights, out;
  for (int64_t e = 0; e < experts; ++e) {
    const auto &rows = routed[size_t(e)];
    if (rows.empty())
      continue;
    int64_t n = int64_t(rows.size());
    gathered.resize(size_t(n * dim));
    rowWeights.resize(size_t(n));
    out.resize(size_t(n * dim));
    for (int64_t r = 0; r < n; ++r) {
      std::copy(x + rows[r].first * dim, x + (rows[r].first + 1) * dim,
                gathered.begin() + r * dim);
      rowWeights[size_t(r)] = rows[r].second;
    }
    expertForwardOfficial(a, p, int(3 * e), gathered.data(), n,
                          rowWeights.data(), limit, out.data());
    for (int64_t r = 0; r < n; ++r)
      for (int64_t i = 0; i < dim; ++i)
        y[rows[r].first * dim + i] += out[size_t(r * dim + i)];
  }
  out.resize(size_t(a.tokens * dim));
  expertForwardOfficial(a, p, int(3 * experts), x, a.tokens, nullptr,
                        sharedLimit, out.data());
  for (int64_t i = 0; i < a.tokens * dim; ++i)
    y[i] = roundBf16(y[i] + out[size_t(i)]);
  return Status::ok();
}

} // namespace

Status routerScoresKernel(const KernelArgs &a, const RouterScoresParams &p) {
  return scoresForward(a, p.dim, p.experts, a.weight(0), a.out(0));
}

Status routeSelectKernel(const KernelArgs &a, const RouteSelectParams &p) {
  return selectForward(a, {p.experts, p.topk, p.hash, p.routeScale}, a.in(0),
                       a.inInt(1), a.weight(0), a.outInt(0), a.out(1));
}

Status routerKernel(const KernelArgs &a, const RouterParams &p) {
  std::vector<float> scores(static_cast<size_t>(a.tokens * p.experts));
  BK_RETURN_IF_ERROR(
      scoresForward(a, p.dim, p.experts, a.weight(0), scores.data()));
  return selectForward(a, {p.experts, p.topk, p.hash, p.routeScale},
                       scores.data(), a.inInt(1), a.weight(1), a.outInt(0),
                       a.out(1));
}

Status moeKernel(const KernelArgs &a, const MoeParams &p) {
  int64_t dim = p.dim, experts = p.experts, topk = p.topk;
  bool sharedClamp = p.sharedClamp;
  if (int64_t(a.launch->weights.size()) != 3 * (experts + 1))
    return internalError("moe launch has the wrong number of expert weights");
  if (p.official())
    return moeOfficial(a, p);
  const float *x = a.in(0), *wts = a.in(2);
  const int32_t *idx = a.inInt(1);
  float *y = a.out(0);

  // The shared expert sees every token; routed experts see the tokens routed
  // to them, gathered so each expert's weights are read once per call.
  expertForward(a, p, int(3 * experts), x, a.tokens, y, sharedClamp);
  std::vector<std::vector<std::pair<int64_t, float>>> routed(static_cast<size_t>(experts));
  for (int64_t t = 0; t < a.tokens; ++t)
    for (int64_t j = 0; j < topk; ++j) {
      int32_t e = idx[t * topk + j];
      if (e < 0 || e >= experts)
        return internalError("router produced expert " + std::to_string(e));
      routed[e].push_back({t, wts[t * topk + j]});
    }
  std::vector<float> gathered, out;
  for (int64_t e = 0; e < experts; ++e) {
    const auto &rows = routed[e];
    if (rows.empty())
      continue;
    int64_t n = int64_t(rows.size());
    gathered.resize(size_t(n * dim));
    out.resize(size_t(n * dim));
    for (int64_t r = 0; r < n; ++r)
      std::copy(x + rows[r].first * dim, x + (rows[r].first + 1) * dim,
                gathered.begin() + r * dim);
    expertForward(a, p, int(3 * e), gathered.data(), n, out.data(), true);
    for (int64_t r = 0; r < n; ++r) {
      float *yt = y + rows[r].first * dim;
      for (int64_t i = 0; i < dim; ++i)
        yt[i] += out[r * dim + i] * rows[r].second;
    }
  }
  return Status::ok();
}

} // namespace birkhoff::rt
