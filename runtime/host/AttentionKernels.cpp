//===- AttentionKernels.cpp - Indexer top-k and sparse attention (§3.4-3.6)
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

/// Writes the indices of the `topk` highest scores (highest first; equal
/// scores keep the lower entry index) to `out`, -1 past the visible entries.
void selectTopk(const std::vector<float> &scores, int64_t topk,
                std::vector<int32_t> &order, int32_t *out) {
  int64_t visible = int64_t(scores.size());
  int64_t keep = std::min(topk, visible);
  order.resize(size_t(visible));
  std::iota(order.begin(), order.end(), 0);
  std::partial_sort(order.begin(), order.begin() + keep, order.end(),
                    [&](int32_t x, int32_t y) {
                      return scores[size_t(x)] > scores[size_t(y)] ||
                             (scores[size_t(x)] == scores[size_t(y)] && x < y);
                    });
  for (int64_t i = 0; i < topk; ++i)
    out[i] = i < keep ? order[size_t(i)] : -1;
}

/// Official indexer scoring (V4_SPEC §3.6): keys stored as FP4 codes, the
/// head weights w·(Di^-½·Hi^-½) rounded to bf16, per-head dots rounded to
/// bf16 (the einsum's output), ReLU, bf16 products with the weights, an fp32
/// sum over heads rounded to bf16. Scores are therefore often tied; ties keep
/// the lower entry index.
Status indexerTopkOfficial(const KernelArgs &a, const IndexerTopkParams &p) {
  int64_t heads = p.heads, hd = p.headDim, topk = p.topk, m = p.ratio;
  const float *q = a.in(0), *w = a.in(1);
  const StateView &keys = a.state(0);
  int32_t *out = a.outInt(0);
  int64_t visibleMax = std::min<int64_t>((a.start + a.tokens) / m, keys.rows);
  std::vector<float> decoded(size_t(visibleMax * hd));
  a.pool.parallelFor(visibleMax, [&](int64_t b, int64_t e) {
    for (int64_t j = b; j < e; ++j)
      official::decodeFp4Key({keys.bytes(j), size_t(keys.rowBytes)},
                             {decoded.data() + j * hd, size_t(hd)});
  });
  float weightScale = float(std::pow(double(hd), -0.5) * std::pow(double(heads), -0.5));
  a.pool.parallelFor(a.tokens, [&](int64_t b, int64_t e) {
    std::vector<float> scores, wt(static_cast<size_t>(heads));
    std::vector<int32_t> order;
    for (int64_t t = b; t < e; ++t) {
      int64_t visible = std::min<int64_t>((a.start + t + 1) / m, keys.rows);
      const float *qt = q + t * heads * hd;
      for (int64_t h = 0; h < heads; ++h)
        wt[size_t(h)] = roundBf16(w[t * heads + h] * weightScale);
      scores.assign(size_t(visible), 0.0f);
      for (int64_t j = 0; j < visible; ++j) {
        const float *k = decoded.data() + j * hd;
        float sum = 0.0f;
        for (int64_t h = 0; h < heads; ++h) {
          float dot = roundBf16(dotF32(qt + h * hd, k, hd));
          sum += roundBf16(std::max(dot, 0.0f) * wt[size_t(h)]);
        }
        scores[size_t(j)] = roundBf16(sum);
      }
      selectTopk(scores, topk, order, out + t * topk);
    }
  });
  return Status::ok();
}

} // namespace

Status indexerTopkKernel(const KernelArgs &a, const IndexerTopkParams &p) {
  if (p.official())
    return indexerTopkOfficial(a, p);
  int64_t heads = p.heads, hd = p.headDim, topk = p.topk, m = p.ratio;
  const float *q = a.in(0), *w = a.in(1);
  const StateView &keys = a.state(0);
  int32_t *out = a.outInt(0);
  float scoreScale = 1.0f / std::sqrt(float(hd));
  float weightScale = 1.0f / std::sqrt(float(heads));
  a.pool.parallelFor(a.tokens, [&](int64_t b, int64_t e) {
    std::vector<float> scores;
    std::vector<int32_t> order;
    for (int64_t t = b; t < e; ++t) {
      int64_t visible = std::min<int64_t>((a.start + t + 1) / m, keys.rows);
      scores.assign(size_t(visible), 0.0f);
      const float *qt = q + t * heads * hd, *wt = w + t * heads;
      for (int64_t j = 0; j < visible; ++j) {
        const float *k = keys.row(j);
        float s = 0.0f;
        for (int64_t h = 0; h < heads; ++h) {
          float dot = dotF32(qt + h * hd, k, hd);
          s += std::max(dot, 0.0f) * scoreScale * (wt[h] * weightScale);
        }
        scores[j] = s;
      }
      selectTopk(scores, topk, order, out + t * topk);
    }
  });
  return Status::ok();
}

namespace {

/// Official attention (V4_SPEC §3.4): window and compressed entries are stored
/// as FP8 KV entries; the key list is the kernel's (window slots oldest first,
/// -1 for slots not yet filled, then the compressed list) so the online
/// softmax sees the same chunks, and P is rounded to bf16 before P·V.
Status sparseAttentionOfficial(const KernelArgs &a,
                               const SparseAttentionParams &params) {
  int64_t heads = params.heads, hd = params.headDim, window = params.window,
          mode = params.mode, ratio = params.ratio, topk = params.topk;
  auto layout =
      official::KvEntryLayout::make(size_t(hd), size_t(params.ropeDim));
  if (!layout.isOk())
    return layout.status();
  const float *q = a.in(0), *kv = a.in(1);
  const int32_t *sel = mode == 1 ? a.inInt(2) : nullptr;
  const StateView &ring = a.state(0);
  const StateView *entries = mode != 0 ? &a.state(1) : nullptr;
  std::vector<float> sink = weightVector(a.weight(0));
  float *o = a.out(0);
  float scale = official::attentionScale(size_t(hd));

  // Decode the ring and the compressed entries this call can see, once.
  std::vector<float> ringRows(size_t(window * hd));
  for (int64_t r = 0; r < window; ++r)
    official::decodeKvEntry(*layout, {ring.bytes(r), size_t(ring.rowBytes)},
                            {ringRows.data() + r * hd, size_t(hd)});
  int64_t nEntries = mode ? std::min<int64_t>((a.start + a.tokens) / ratio, entries->rows) : 0;
  std::vector<float> entryRows(size_t(nEntries * hd));
  a.pool.parallelFor(nEntries, [&](int64_t b, int64_t e) {
    for (int64_t j = b; j < e; ++j)
      official::decodeKvEntry(*layout, {entries->bytes(j), size_t(entries->rowBytes)},
                              {entryRows.data() + j * hd, size_t(hd)});
  });

  a.pool.parallelFor(a.tokens, [&](int64_t b, int64_t e) {
    std::vector<const float *> keys;
    for (int64_t t = b; t < e; ++t) {
      int64_t p = a.start + t;
      keys.clear();
      auto windowKey = [&](int64_t j) {
        return j >= a.start ? kv + (j - a.start) * hd : ringRows.data() + (j % window) * hd;
      };
      if (p < window - 1) {
        for (int64_t j = 0; j <= p; ++j)
          keys.push_back(windowKey(j));
        keys.resize(size_t(window), nullptr);
      } else {
        for (int64_t j = p - window + 1; j <= p; ++j)
          keys.push_back(windowKey(j));
      }
      if (mode == 2) {
        int64_t visible = std::min<int64_t>((p + 1) / ratio, nEntries);
        for (int64_t j = 0; j < visible; ++j)
          keys.push_back(entryRows.data() + j * hd);
      } else if (mode == 1) {
        for (int64_t j = 0; j < topk; ++j) {
          int32_t idx = sel[t * topk + j];
          keys.push_back(idx >= 0 && idx < nEntries ? entryRows.data() + idx * hd : nullptr);
        }
      }
      for (int64_t h = 0; h < heads; ++h)
        official::attendOneHead({q + (t * heads + h) * hd, size_t(hd)}, keys,
                                sink[size_t(h)], scale,
                                {o + (t * heads + h) * hd, size_t(hd)});
    }
  });
  return Status::ok();
}

} // namespace

Status sparseAttentionKernel(const KernelArgs &a,
                             const SparseAttentionParams &params) {
  if (params.official())
    return sparseAttentionOfficial(a, params);
  int64_t heads = params.heads, hd = params.headDim, window = params.window,
          mode = params.mode, ratio = params.ratio, topk = params.topk;
  const float *q = a.in(0), *kv = a.in(1);
  const int32_t *sel = mode == 1 ? a.inInt(2) : nullptr;
  const StateView &ring = a.state(0);
  const StateView *entries = mode != 0 ? &a.state(1) : nullptr;
  const WeightDesc &sink = a.weight(0);
  float *o = a.out(0);
  float scale = 1.0f / std::sqrt(float(hd));
  if (ring.rows != window || ring.rowBytes < 1)
    return internalError("window state does not match attention parameters");

  a.pool.parallelFor(a.tokens * heads, [&](int64_t b, int64_t e) {
    std::vector<const float *> keys;
    std::vector<float> logits;
    for (int64_t i = b; i < e; ++i) {
      int64_t t = i / heads, h = i % heads, p = a.start + t;
      keys.clear();
      for (int64_t j = std::max<int64_t>(0, p - window + 1); j <= p; ++j)
        keys.push_back(j >= a.start ? kv + (j - a.start) * hd : ring.row(j % window));
      if (mode == 2) {
        int64_t visible = std::min<int64_t>((p + 1) / ratio, entries->rows);
        for (int64_t j = 0; j < visible; ++j)
          keys.push_back(entries->row(j));
      } else if (mode == 1) {
        for (int64_t j = 0; j < topk; ++j) {
          int32_t idx = sel[t * topk + j];
          if (idx >= 0 && idx < entries->rows)
            keys.push_back(entries->row(idx));
        }
      }
      const float *qh = q + i * hd;
      float sinkLogit = weightScalar(sink, h);
      float mx = sinkLogit;
      logits.resize(keys.size());
      for (size_t j = 0; j < keys.size(); ++j) {
        logits[j] = dotF32(qh, keys[j], hd) * scale;
        mx = std::max(mx, logits[j]);
      }
      float den = expF32(sinkLogit - mx);
      for (size_t j = 0; j < keys.size(); ++j)
        den += (logits[j] = expF32(logits[j] - mx));
      float *oh = o + i * hd;
      std::fill(oh, oh + hd, 0.0f);
      for (size_t j = 0; j < keys.size(); ++j) {
        float pj = logits[j] / den;
        const float *k = keys[j];
        for (int64_t d = 0; d < hd; ++d)
          oh[d] += pj * k[d];
      }
    }
  });
  return Status::ok();
}

Status windowWriteKernel(const KernelArgs &a, const WindowWriteParams &p) {
  int64_t window = p.window, hd = p.headDim;
  const StateView &ring = a.state(0);
  const float *kv = a.in(0);
  if (p.official()) {
    auto layout = official::KvEntryLayout::make(size_t(hd), size_t(p.ropeDim));
    if (!layout.isOk())
      return layout.status();
    for (int64_t t = std::max<int64_t>(0, a.tokens - window); t < a.tokens; ++t)
      official::encodeKvEntry(*layout, {kv + t * hd, size_t(hd)},
                              {ring.bytes((a.start + t) % window), size_t(ring.rowBytes)});
    return Status::ok();
  }
  for (int64_t t = std::max<int64_t>(0, a.tokens - window); t < a.tokens; ++t)
    std::copy(kv + t * hd, kv + (t + 1) * hd, ring.row((a.start + t) % window));
  return Status::ok();
}

} // namespace birkhoff::rt
