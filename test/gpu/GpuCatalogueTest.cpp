//===- GpuCatalogueTest.cpp - The rest of the catalogue against the host --===//
//
// linear_rms_norm, grouped_linear, routing, moe, compressor,
// head_rms_norm_rope, indexer_topk, sparse_attention and window_write: each
// generated kernel runs through the driver on the bytes the host kernel gets
// (buffers and state rows) and the results are compared: bitwise where the
// device follows the host's arithmetic exactly (head_rms_norm_rope,
// route_select, indexer_topk's choice, window_write), within one bf16 ulp
// otherwise. Stateful kernels run a sequence of calls, each from the host's
// state after the previous call.
//
//===----------------------------------------------------------------------===//
#include "GpuTestUtil.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <string>

namespace birkhoff::cuda {
namespace {

using namespace gputest;

/// A weight of `dtype` [out, in] with random values (F32/BF16 small, FP8/FP4
/// random codes and scales).
int addMatrix(KernelHarness &h, const std::string &name, DType t, int64_t out,
              int64_t in, float scale = 0.05f) {
  switch (t) {
  case DType::F8E4M3:
    return addFp8Weight(h, name, out, in);
  case DType::FP4E2M1x2:
    return addFp4Weight(h, name, out, in);
  case DType::BF16:
    return h.addWeightRaw(name, DType::BF16, {out, in},
                          bf16Bytes(randomFloats(size_t(out * in), scale)));
  default:
    return h.addWeightF32(name, {out, in},
                          randomFloats(size_t(out * in), scale));
  }
}

TEST(GpuCatalogue, LinearRmsNormWithinOneBf16Ulp) {
  REQUIRE_GPU();
  struct Case {
    DType t;
    int64_t in, out, tokens;
  };
  for (Case c :
       {Case{DType::F8E4M3, 4096, 1024, 3}, Case{DType::F8E4M3, 4096, 512, 37},
        Case{DType::FP4E2M1x2, 2048, 256, 5}, Case{DType::BF16, 30, 7, 3}}) {
    SCOPED_TRACE(std::string(dtypeName(c.t)) + " " + std::to_string(c.in) +
                 "->" + std::to_string(c.out) +
                 " S=" + std::to_string(c.tokens));
    KernelHarness h;
    h.launch.kernel = "linear_rms_norm";
    int x = h.addBuffer(c.tokens * c.in), y = h.addBuffer(c.tokens * c.out);
    h.buffers[size_t(x)] = randomFloats(size_t(c.tokens * c.in));
    h.launch.inputs = {x};
    h.launch.outputs = {y};
    h.launch.weights = {addMatrix(h, "w", c.t, c.out, c.in),
                        h.addWeightRaw("norm", DType::BF16, {c.out},
                                       bf16Bytes(randomFloats(size_t(c.out))))};
    setParams(h, {{"in_features", double(c.in)},
                  {"out_features", double(c.out)},
                  {"eps", 1e-6}});
    auto [d, hst] = runBoth(G, h, rt::linearRmsNormKernel, c.tokens, 0);
    if (d.empty())
      continue;
    expectWithinBf16Ulp(d[0], hst[0], "linear_rms_norm");
    expectNotAllZero(hst[0], "linear_rms_norm");
  }
}

TEST(GpuCatalogue, GroupedLinearWithinOneBf16Ulp) {
  REQUIRE_GPU();
  struct Case {
    DType t;
    int64_t groups, in, out, tokens;
  };
  for (Case c :
       {Case{DType::F8E4M3, 8, 512, 256, 3}, Case{DType::BF16, 4, 256, 64, 33},
        Case{DType::F32, 3, 10, 5, 2}}) {
    SCOPED_TRACE(std::string(dtypeName(c.t)) +
                 " G=" + std::to_string(c.groups));
    KernelHarness h;
    h.launch.kernel = "grouped_linear";
    int o = h.addBuffer(c.tokens * c.groups * c.in),
        z = h.addBuffer(c.tokens * c.groups * c.out);
    h.buffers[size_t(o)] = randomFloats(size_t(c.tokens * c.groups * c.in));
    h.launch.inputs = {o};
    h.launch.outputs = {z};
    h.launch.weights = {addMatrix(h, "wo_a", c.t, c.groups * c.out, c.in)};
    setParams(h, {{"groups", double(c.groups)},
                  {"in_per_group", double(c.in)},
                  {"out_per_group", double(c.out)}});
    auto [d, hst] = runBoth(G, h, rt::groupedLinearKernel, c.tokens, 0);
    if (!d.empty())
      expectWithinBf16Ulp(d[0], hst[0], "grouped_linear");
  }
}

TEST(GpuCatalogue, RouterScoresWithinOneBf16Ulp) {
  REQUIRE_GPU();
  KernelHarness h;
  h.launch.kernel = "router_scores";
  int64_t dim = 4096, E = 256, S = 5;
  int x = h.addBuffer(S * dim), s = h.addBuffer(S * E);
  h.buffers[size_t(x)] = randomFloats(size_t(S * dim));
  h.launch.inputs = {x};
  h.launch.outputs = {s};
  h.launch.weights = {addMatrix(h, "gate", DType::BF16, E, dim, 0.03f)};
  setParams(h, {{"dim", double(dim)}, {"experts", double(E)}});
  auto [d, hst] = runBoth(G, h, rt::routerScoresKernel, S, 0);
  if (!d.empty())
    expectWithinBf16Ulp(d[0], hst[0], "router_scores");
}

/// A hash table [vocab, k] of distinct experts per row.
int addHashTable(KernelHarness &h, int64_t vocab, int64_t experts,
                 int64_t topk) {
  std::vector<int32_t> rows = distinctPerRow(vocab, experts, topk);
  std::vector<int64_t> table(rows.begin(), rows.end());
  std::vector<uint8_t> bytes(table.size() * 8);
  std::memcpy(bytes.data(), table.data(), bytes.size());
  return h.addWeightRaw("tid2eid", DType::I64, {vocab, topk}, std::move(bytes));
}

// Scores given: the selection and weights are the host's arithmetic, so
// bitwise, ties (equal biased scores) included.
TEST(GpuCatalogue, RouteSelectIsBitwise) {
  REQUIRE_GPU();
  for (bool hash : {false, true}) {
    SCOPED_TRACE(hash ? "hash" : "bias");
    KernelHarness h;
    h.launch.kernel = "route_select";
    int64_t E = 256, K = 6, S = 19, vocab = 50;
    int sc = h.addBuffer(S * E), idx = h.addBuffer(S * K),
        wts = h.addBuffer(S * K);
    std::vector<float> scores = randomFloats(size_t(S * E));
    for (float &v : scores)
      v = std::fabs(v);
    // Ties: token 0's scores all equal, token 1's in a few equal pairs.
    std::fill(scores.begin(), scores.begin() + E, 0.75f);
    for (int64_t e = 0; e < E; e += 2)
      scores[size_t(E + e + 1)] = scores[size_t(E + e)];
    h.buffers[size_t(sc)] = scores;
    h.launch.inputs = {sc, -1};
    h.launch.outputs = {idx, wts};
    h.tokenIds.resize(size_t(S));
    for (auto &t : h.tokenIds)
      t = int32_t(rng()() % vocab);
    if (hash) {
      h.launch.weights = {addHashTable(h, vocab, E, K)};
    } else {
      std::vector<float> bias = randomFloats(size_t(E), 0.1f);
      std::fill(bias.begin(), bias.begin() + 16, 0.0f);
      h.launch.weights = {h.addWeightF32("bias", {E}, bias)};
    }
    setParams(h, {{"experts", double(E)},
                  {"topk", double(K)},
                  {"route_scale", 1.5},
                  {"hash", hash ? 1.0 : 0.0}});
    auto [d, hst] = runBoth(G, h, rt::routeSelectKernel, S, 0);
    if (d.empty())
      continue;
    expectBitwise(d[0], hst[0], "route_select idx");
    expectBitwise(d[1], hst[1], "route_select wts");
  }
}

TEST(GpuCatalogue, RouterMatchesHost) {
  REQUIRE_GPU();
  for (bool hash : {false, true}) {
    for (int64_t S : {int64_t(3), int64_t(40)}) {
      SCOPED_TRACE(std::string(hash ? "hash" : "bias") +
                   " S=" + std::to_string(S));
      KernelHarness h;
      h.launch.kernel = "router";
      int64_t dim = 4096, E = 256, K = 6, vocab = 64;
      int x = h.addBuffer(S * dim), idx = h.addBuffer(S * K),
          wts = h.addBuffer(S * K);
      h.buffers[size_t(x)] = randomFloats(size_t(S * dim));
      h.launch.inputs = {x, -1};
      h.launch.outputs = {idx, wts};
      h.tokenIds.resize(size_t(S));
      for (auto &t : h.tokenIds)
        t = int32_t(rng()() % vocab);
      h.launch.weights = {addMatrix(h, "gate", DType::BF16, E, dim, 0.03f)};
      h.launch.weights.push_back(
          hash ? addHashTable(h, vocab, E, K)
               : h.addWeightF32("bias", {E}, randomFloats(size_t(E), 0.1f)));
      setParams(h, {{"dim", double(dim)},
                    {"experts", double(E)},
                    {"topk", double(K)},
                    {"route_scale", 1.5},
                    {"hash", hash ? 1.0 : 0.0}});
      // The "cluster" schedule (an entry of unknown size), then "scored"
      // (an entry of S tokens: the scores over the whole GPU first, the
      // same per-row arithmetic, so the same results bitwise).
      std::vector<std::vector<float>> cluster;
      for (int64_t entry : {int64_t(0), S}) {
        SCOPED_TRACE(entry ? "scored" : "cluster");
        h.entryMaxTokens = entry;
        auto [d, hst] = runBoth(G, h, rt::routerKernel, S, 0);
        if (d.empty())
          continue;
        // Random scores have no near-ties at fp32 rounding distance, so the
        // chosen experts are the host's; the weights carry the GEMV
        // rounding.
        expectBitwise(d[0], hst[0], "router idx");
        expectWithinBf16Ulp(d[1], hst[1], "router wts");
        if (entry == 0) {
          cluster = d;
        } else if (cluster.size() == 2) {
          expectBitwise(d[0], cluster[0], "router idx, scored vs cluster");
          expectBitwise(d[1], cluster[1], "router wts, scored vs cluster");
        }
      }
    }
  }
}

struct MoeCase {
  int64_t dim, inter, experts, topk, tokens;
  DType routed, shared;
  bool sharedClamp;
};

TEST(GpuCatalogue, MoeWithinOneBf16Ulp) {
  REQUIRE_GPU();
  for (MoeCase c :
       {MoeCase{1024, 512, 8, 3, 5, DType::FP4E2M1x2, DType::F8E4M3, true},
        MoeCase{256, 128, 6, 2, 1, DType::FP4E2M1x2, DType::F8E4M3, false},
        MoeCase{64, 32, 4, 2, 130, DType::BF16, DType::F32, true},
        MoeCase{24, 12, 3, 2, 7, DType::F32, DType::F32, true}}) {
    SCOPED_TRACE("dim " + std::to_string(c.dim) + " E=" +
                 std::to_string(c.experts) + " S=" + std::to_string(c.tokens));
    KernelHarness h;
    int64_t S = c.tokens, K = c.topk;
    setMoeActivations(h, S, K, c.experts, randomFloats(size_t(S * c.dim)));
    // Small weights keep w1·x and w3·x around the SwiGLU limit.
    float scale =
        c.routed == DType::F32 || c.routed == DType::BF16 ? 0.1f : 0.05f;
    for (int64_t e = 0; e <= c.experts; ++e) {
      DType t = e == c.experts ? c.shared : c.routed;
      std::string n = "e" + std::to_string(e);
      h.launch.weights.push_back(
          addMatrix(h, n + ".w1", t, c.inter, c.dim, scale));
      h.launch.weights.push_back(
          addMatrix(h, n + ".w2", t, c.dim, c.inter, scale));
      h.launch.weights.push_back(
          addMatrix(h, n + ".w3", t, c.inter, c.dim, scale));
    }
    setParams(h, {{"dim", double(c.dim)},
                  {"inter", double(c.inter)},
                  {"experts", double(c.experts)},
                  {"topk", double(K)},
                  {"swiglu_limit", 10.0},
                  {"shared_clamp", c.sharedClamp ? 1.0 : 0.0}});
    auto [d, hst] = runBoth(G, h, rt::moeKernel, S, 0);
    if (d.empty())
      continue;
    expectWithinBf16Ulp(d[0], hst[0], "moe");
    expectNotAllZero(hst[0], "moe");
  }
}

struct CompressorCase {
  int64_t dim, D, ratio;
  bool overlap;
  int64_t rd;
  std::vector<std::pair<int64_t, int64_t>> calls; // (start, tokens)
};

// Calls in sequence (prefill, decode steps, a chunk crossing blocks), each
// from the host's state: tail and entries within one bf16 ulp.
TEST(GpuCatalogue, CompressorWithinOneBf16Ulp) {
  REQUIRE_GPU();
  for (const CompressorCase &c :
       {CompressorCase{256, 64, 4, true, 16, {{0, 11}, {11, 1}, {12, 6}}},
        CompressorCase{256, 64, 8, false, 16, {{0, 20}, {20, 1}, {21, 3}}},
        CompressorCase{4096, 512, 4, true, 64, {{0, 9}, {9, 3}}},
        CompressorCase{4096, 128, 4, true, 64, {{0, 40}}},
        CompressorCase{24, 8, 2, true, 4, {{0, 5}, {5, 1}}}}) {
    SCOPED_TRACE("D " + std::to_string(c.D) + " ratio " +
                 std::to_string(c.ratio));
    KernelHarness h;
    h.launch.kernel = "compressor";
    int64_t width = (c.overlap ? 2 : 1) * c.D, maxS = 0;
    for (auto [s, n] : c.calls)
      maxS = std::max(maxS, n);
    int x = h.addBuffer(maxS * c.dim);
    h.launch.inputs = {x};
    h.launch.weights = {
        addMatrix(h, "wkv", DType::BF16, width, c.dim, 0.05f),
        addMatrix(h, "wgate", DType::BF16, width, c.dim, 0.05f),
        h.addWeightF32("ape", {c.ratio, width},
                       randomFloats(size_t(c.ratio * width), 0.5f)),
        h.addWeightRaw("norm", DType::BF16, {c.D},
                       bf16Bytes(randomFloats(size_t(c.D))))};
    int tail = h.addState(c.overlap ? 2 * c.ratio : c.ratio, 2 * width);
    int ents = h.addState(16, c.D, c.ratio);
    h.launch.states = {tail, ents};
    setParams(h, {{"dim", double(c.dim)},
                  {"head_dim", double(c.D)},
                  {"ratio", double(c.ratio)},
                  {"overlap", c.overlap ? 1.0 : 0.0},
                  {"eps", 1e-6}});
    yarnRope(h, c.rd);
    for (auto [start, n] : c.calls) {
      SCOPED_TRACE("call at " + std::to_string(start));
      h.buffers[size_t(x)] = randomFloats(size_t(maxS * c.dim));
      auto [d, hst] = runBothFull(G, h, rt::compressorKernel, n, start);
      if (d.states.size() != 2)
        break;
      expectWithinBf16Ulp(d.states[0], hst.states[0], "compressor tail");
      expectWithinBf16Ulp(d.states[1], hst.states[1], "compressor entries");
      expectNotAllZero(hst.states[1], "compressor entries");
    }
  }
}

TEST(GpuCatalogue, HeadRmsNormRopeIsBitwise) {
  REQUIRE_GPU();
  struct Case {
    int64_t H, D, R, S, start;
  };
  for (Case c : {Case{8, 512, 64, 5, 1000}, Case{3, 10, 4, 4, 7}}) {
    KernelHarness h;
    h.launch.kernel = "head_rms_norm_rope";
    int in = h.addBuffer(c.S * c.H * c.D), out = h.addBuffer(c.S * c.H * c.D);
    h.buffers[size_t(in)] = randomFloats(size_t(c.S * c.H * c.D), 2.0f);
    h.launch.inputs = {in};
    h.launch.outputs = {out};
    setParams(
        h, {{"heads", double(c.H)}, {"head_dim", double(c.D)}, {"eps", 1e-6}});
    yarnRope(h, c.R);
    auto [d, hst] = runBoth(G, h, rt::headRmsNormRopeKernel, c.S, c.start);
    if (!d.empty())
      expectBitwise(d[0], hst[0], "head_rms_norm_rope");
  }
}

struct IndexerCase {
  int64_t heads, hd, topk, ratio, rows, tokens, start;
  const char *what;
  bool ties = false;  // duplicated key rows
  bool zeros = false; // negative queries: every score 0
};

// The device scores are bitwise the host's, so the chosen indices are equal:
// in both schedules, "cluster" and "scored" (with every score in scratch, and
// with only the first 10 there, the rest scored by the cluster).
TEST(GpuCatalogue, IndexerTopkIsBitwise) {
  REQUIRE_GPU();
  for (const IndexerCase &c :
       {IndexerCase{4, 32, 8, 4, 64, 5, 100, "radix select"},
        IndexerCase{4, 32, 8, 4, 64, 3, 10, "fewer visible than top-k"},
        IndexerCase{4, 32, 8, 4, 64, 4, 200, "ties", true},
        IndexerCase{4, 32, 8, 4, 64, 2, 150, "all zero", false, true},
        IndexerCase{64, 128, 512, 4, 1100, 3, 4000, "flash"},
        IndexerCase{64, 128, 512, 4, 16400, 1, 65530, "flash, 64K context"},
        IndexerCase{4, 32, 16, 1, 40000, 2, 39990, "scores recomputed"}}) {
    SCOPED_TRACE(c.what);
    KernelHarness h;
    h.launch.kernel = "indexer_topk";
    int64_t S = c.tokens, HD = c.heads * c.hd;
    int q = h.addBuffer(S * HD), w = h.addBuffer(S * c.heads),
        o = h.addBuffer(S * c.topk);
    std::vector<float> qv = randomFloats(size_t(S * HD));
    if (c.zeros)
      for (float &v : qv)
        v = -std::fabs(v);
    h.buffers[size_t(q)] = qv;
    h.buffers[size_t(w)] = randomFloats(size_t(S * c.heads));
    h.launch.inputs = {q, w};
    h.launch.outputs = {o};
    int keys = h.addState(c.rows, c.hd, c.ratio);
    std::vector<float> kv = randomFloats(size_t(c.rows * c.hd));
    if (c.zeros)
      for (float &v : kv)
        v = std::fabs(v);
    if (c.ties)
      for (int64_t r = 1; r < c.rows; r += 3)
        std::copy(kv.begin() + (r - 1) * c.hd, kv.begin() + r * c.hd,
                  kv.begin() + r * c.hd);
    h.stateData[size_t(keys)] = kv;
    h.launch.states = {keys};
    setParams(h, {{"heads", double(c.heads)},
                  {"head_dim", double(c.hd)},
                  {"topk", double(c.topk)},
                  {"ratio", double(c.ratio)}});
    forEachIndexerSchedule(h, S, [&] {
      auto [d, hst] = runBoth(G, h, rt::indexerTopkKernel, S, c.start);
      if (d.empty())
        return;
      expectBitwise(d[0], hst[0], "indexer_topk");
      // Some entries chosen (-1 is all ones, 0 the first entry).
      EXPECT_TRUE(std::any_of(hst[0].begin(), hst[0].end(),
                              [](float v) { return bits(v) != 0xffffffffu; }));
    });
  }
}

struct AttentionCase {
  int64_t heads, hd, window, mode, ratio, topk, entries, tokens, start;
  const char *what;
};

// Every case keeps (start + tokens) div ratio within the entries: a sequence's
// state holds every entry its positions reach (the kernels no longer bound
// them by the state's rows).
TEST(GpuCatalogue, SparseAttentionWithinOneBf16Ulp) {
  REQUIRE_GPU();
  for (const AttentionCase &c :
       {AttentionCase{4, 64, 8, 0, 0, 0, 0, 5, 20, "window, ring and call"},
        AttentionCase{4, 64, 8, 0, 0, 0, 0, 3, 2, "window, short"},
        AttentionCase{4, 64, 8, 1, 4, 6, 32, 5, 60, "top-k list"},
        AttentionCase{4, 64, 8, 2, 4, 0, 32, 5, 60, "all visible"},
        AttentionCase{2, 32, 8, 2, 1, 0, 5000, 2, 4990, "chunked keys"},
        AttentionCase{64, 512, 128, 1, 4, 512, 600, 2, 2300, "flash csa"}}) {
    SCOPED_TRACE(c.what);
    KernelHarness h;
    h.launch.kernel = "sparse_attention";
    int64_t S = c.tokens, HD = c.heads * c.hd;
    int q = h.addBuffer(S * HD), kv = h.addBuffer(S * c.hd),
        o = h.addBuffer(S * HD);
    h.buffers[size_t(q)] = randomFloats(size_t(S * HD), 0.3f);
    h.buffers[size_t(kv)] = randomFloats(size_t(S * c.hd));
    h.launch.inputs = {q, kv};
    if (c.mode == 1) {
      int sel = h.addBuffer(S * c.topk);
      std::vector<int32_t> ids(size_t(S * c.topk));
      for (int64_t t = 0; t < S; ++t) {
        int64_t visible = std::min((c.start + t + 1) / c.ratio, c.entries);
        for (int64_t j = 0; j < c.topk; ++j)
          ids[size_t(t * c.topk + j)] =
              j % 5 == 4 ? -1 : int32_t(rng()() % visible);
      }
      h.buffers[size_t(sel)] = intWords(ids);
      h.launch.inputs.push_back(sel);
    }
    h.launch.outputs = {o};
    int ring = h.addState(c.window, c.hd);
    h.stateData[size_t(ring)] = randomFloats(size_t(c.window * c.hd));
    h.launch.states = {ring};
    if (c.mode != 0) {
      int ents = h.addState(c.entries, c.hd, c.ratio);
      h.stateData[size_t(ents)] = randomFloats(size_t(c.entries * c.hd));
      h.launch.states.push_back(ents);
    }
    h.launch.weights = {
        h.addWeightF32("sink", {c.heads}, randomFloats(size_t(c.heads)))};
    setParams(h, {{"heads", double(c.heads)},
                  {"head_dim", double(c.hd)},
                  {"window", double(c.window)},
                  {"mode", double(c.mode)},
                  {"ratio", double(c.ratio)},
                  {"topk", double(c.topk)}});
    auto [d, hst] = runBoth(G, h, rt::sparseAttentionKernel, S, c.start);
    if (d.empty())
      continue;
    expectWithinBf16Ulp(d[0], hst[0], "sparse_attention");
    expectNotAllZero(hst[0], "sparse_attention");
  }
}

TEST(GpuCatalogue, WindowWriteIsBitwise) {
  REQUIRE_GPU();
  for (auto [S, start] : {std::pair<int64_t, int64_t>{3, 5}, {11, 0}, {1, 7}}) {
    KernelHarness h;
    h.launch.kernel = "window_write";
    int64_t window = 8, D = 64;
    int kv = h.addBuffer(S * D);
    h.buffers[size_t(kv)] = randomFloats(size_t(S * D));
    h.launch.inputs = {kv};
    int ring = h.addState(window, D);
    h.stateData[size_t(ring)] = randomFloats(size_t(window * D));
    h.launch.states = {ring};
    setParams(h, {{"window", double(window)}, {"head_dim", double(D)}});
    auto [d, hst] = runBothFull(G, h, rt::windowWriteKernel, S, start);
    if (!d.states.empty())
      expectBitwise(d.states[0], hst.states[0], "window ring");
  }
}

} // namespace
} // namespace birkhoff::cuda
