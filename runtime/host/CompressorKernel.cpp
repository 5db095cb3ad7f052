//===- CompressorKernel.cpp - KV compressor of CSA and HCA (V4_SPEC §3.5) -===//
//
// Projects every token of the call at once, then walks the tokens in order
// through the session's tail state, emitting one compressed entry per
// completed block. Prefill and decode therefore leave identical state.
//
//===----------------------------------------------------------------------===//
#include "HostKernels.h"
#include "Rope.h"
#include "WeightDecode.h"

#include "birkhoff/Numerics.h"
#include "birkhoff/OfficialNumerics.h"

#include <algorithm>
#include <cmath>
#include <optional>
#include <vector>

namespace birkhoff::rt {

Status compressorKernel(const KernelArgs &a, const CompressorParams &params) {
  int64_t dim = params.dim, D = params.headDim, m = params.ratio;
  bool overlap = params.overlap;
  float eps = float(params.eps);
  int64_t coff = overlap ? 2 : 1, width = coff * D;
  const WeightDesc &wkv = a.weight(0), &wgate = a.weight(1), &ape = a.weight(2),
                   &norm = a.weight(3);
  const StateView &tail = a.state(0), &entries = a.state(1);
  if (tail.rowFloats() != 2 * width || tail.rows < (overlap ? 2 * m : m) ||
      entries.rowBytes < 1)
    return internalError("compressor state of layer " +
                         std::to_string(a.launch->layer) +
                         " does not match its parameters");
  RopeTable rope = RopeTable::fromParams(ropeSpecOf(params));
  // Official profile (entry_format 1 or 2): entries are rounded to bf16 before
  // their norm (P1), rotated in bf16 (P3) and stored packed: FP8 KV entries
  // for the main compressor, Hadamard + FP4 keys for the indexer's.
  int64_t format = params.official() ? params.entryFormat : 0;
  std::vector<float> normWeight, invFreq, cs, sn;
  std::optional<official::KvEntryLayout> layout;
  if (format != 0) {
    normWeight = weightVector(norm);
    official::RopeParams rp = official::ropeParamsOf(ropeSpecOf(params));
    invFreq.resize(rp.ropeDim / 2);
    cs.resize(rp.ropeDim / 2);
    sn.resize(rp.ropeDim / 2);
    official::ropeInvFreq(rp, invFreq);
    if (format == 1) {
      auto l = official::KvEntryLayout::make(size_t(D), size_t(rope.ropeDim));
      if (!l.isOk())
        return l.status();
      layout = *l;
    }
  }

  std::vector<float> c(static_cast<size_t>(a.tokens * width)),
      z(static_cast<size_t>(a.tokens * width));
  linearForward(wkv, a.scaleOf(wkv), a.in(0), a.tokens, dim, c.data(), width,
                a.pool);
  linearForward(wgate, a.scaleOf(wgate), a.in(0), a.tokens, dim, z.data(),
                width, a.pool);
  std::vector<float> apeRow(static_cast<size_t>(width));
  std::vector<float> pooled(static_cast<size_t>(D));
  for (int64_t t = 0; t < a.tokens; ++t) {
    int64_t p = a.start + t, slot = p % m;
    float *row = tail.row(overlap ? m + slot : slot);
    decodeWeightRow(ape, nullptr, slot, 0, width, apeRow.data());
    for (int64_t f = 0; f < width; ++f) {
      row[f] = c[t * width + f];
      row[width + f] = z[t * width + f] + apeRow[f];
    }
    if ((p + 1) % m != 0)
      continue;
    int64_t block = p / m;
    if (block >= entries.rows)
      return outOfRange("compressed entry " + std::to_string(block) +
                        " exceeds the session's context capacity");
    // Softmax over the block's candidates, independently per feature. With
    // overlap, the previous block contributes its first half of features and
    // the current block its second half.
    bool hasPrev = overlap && block > 0;
    for (int64_t f = 0; f < D; ++f) {
      float mx = -INFINITY;
      auto visit = [&](auto &&fn) {
        if (hasPrev)
          for (int64_t r = 0; r < m; ++r)
            fn(tail.row(r)[width + f], tail.row(r)[f]);
        int64_t first = overlap ? m : 0, off = overlap ? D : 0;
        for (int64_t r = first; r < first + m; ++r)
          fn(tail.row(r)[width + off + f], tail.row(r)[off + f]);
      };
      visit([&](float score, float) { mx = std::max(mx, score); });
      float den = 0.0f, num = 0.0f;
      visit([&](float score, float value) {
        float w = expF32(score - mx);
        den += w;
        num += w * value;
      });
      pooled[f] = num / den;
    }
    if (format != 0) {
      std::span<float> v(pooled);
      for (float &x : v)
        x = roundBf16(x);
      official::rmsNormBf16(v, normWeight, eps, v);
      official::ropeCosSin(invFreq, block * m, cs, sn);
      official::ropeBf16(v.subspan(size_t(D - rope.ropeDim)), cs, sn, false);
      std::span<uint8_t> out(entries.bytes(block), size_t(entries.rowBytes));
      if (format == 1) {
        official::encodeKvEntry(*layout, v, out);
      } else {
        official::hadamardBf16(v);
        official::encodeFp4Key(v, out);
      }
    } else {
      float ss = 0.0f;
      for (int64_t f = 0; f < D; ++f)
        ss += pooled[f] * pooled[f];
      float r = 1.0f / std::sqrt(ss / float(D) + eps);
      float *entry = entries.row(block);
      for (int64_t f = 0; f < D; ++f)
        entry[f] = weightScalar(norm, f) * (pooled[f] * r);
      rope.apply(entry + D - rope.ropeDim, block * m, /*inverse=*/false);
    }
    if (overlap)
      for (int64_t r2 = 0; r2 < m; ++r2)
        std::copy(tail.row(m + r2), tail.row(m + r2) + 2 * width, tail.row(r2));
  }
  return Status::ok();
}

} // namespace birkhoff::rt
