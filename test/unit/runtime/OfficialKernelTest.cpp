//===- OfficialKernelTest.cpp - Fused official kernels = their primitives --===//
//
// Each fused kernel of the official profile must equal, bit for bit, the plain
// composition of the primitives of lib/birkhoff/OfficialNumerics.h (which are
// themselves checked against hand-computed values in the lib tests).
//
//===----------------------------------------------------------------------===//
#include "KernelTestUtil.h"

#include "birkhoff/Numerics.h"
#include "birkhoff/OfficialNumerics.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>

namespace birkhoff::test {
namespace {

std::vector<float> bf16Random(size_t n, unsigned seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, scale);
  std::vector<float> v(n);
  for (auto &x : v)
    x = roundBf16(d(rng));
  return v;
}

void ropeParams(KernelHarness &h, int64_t ropeDim) {
  for (auto [k, v] : std::initializer_list<std::pair<const char *, double>>{
           {"rope_dim", double(ropeDim)}, {"theta", 160000}, {"yarn", 1}, {"rope_factor", 16},
           {"original_seq_len", 256}, {"beta_fast", 32}, {"beta_slow", 1}})
    h.param(k, v);
}

std::vector<float> officialCosSin(int64_t ropeDim, int64_t pos, bool wantSin) {
  official::RopeParams rp;
  rp.ropeDim = size_t(ropeDim);
  rp.theta = 160000;
  rp.originalSeqLen = 256;
  rp.factor = 16;
  std::vector<float> inv(size_t(ropeDim / 2)), c(inv.size()), s(inv.size());
  official::ropeInvFreq(rp, inv);
  official::ropeCosSin(inv, pos, c, s);
  return wantSin ? s : c;
}

// head_rms_norm_rope = P2 then P3, per head, at the token's position.
TEST(OfficialKernels, HeadRmsNormRopeIsP2ThenP3) {
  KernelHarness h;
  int heads = 2, hd = 128, rd = 64;
  int in = h.addBuffer(2 * heads * hd), out = h.addBuffer(2 * heads * hd);
  h.buffers[in] = bf16Random(size_t(2 * heads * hd), 1);
  h.launch.inputs = {in};
  h.launch.outputs = {out};
  h.param("numerics", 1);
  h.param("heads", heads);
  h.param("head_dim", hd);
  h.param("eps", 1e-6);
  ropeParams(h, rd);
  ASSERT_TRUE(h.run(rt::headRmsNormRopeKernel, 2, 300).isOk());
  for (int t = 0; t < 2; ++t)
    for (int hh = 0; hh < heads; ++hh) {
      std::vector<float> want(h.buffers[in].begin() + (t * heads + hh) * hd,
                              h.buffers[in].begin() + (t * heads + hh + 1) * hd);
      official::headRmsNormBf16(want, size_t(hd), 1e-6f);
      official::ropeBf16(std::span(want).subspan(size_t(hd - rd)),
                         officialCosSin(rd, 300 + t, false), officialCosSin(rd, 300 + t, true),
                         false);
      EXPECT_EQ(0, std::memcmp(want.data(), h.buffers[out].data() + (t * heads + hh) * hd,
                               size_t(hd) * 4));
    }
}

// rope with after_rope = 1 (KV path) and 2 (indexer queries).
TEST(OfficialKernels, RopeThenQuantizationSteps) {
  for (int after : {1, 2}) {
    KernelHarness h;
    int hd = 128, rd = 64;
    int in = h.addBuffer(hd), out = h.addBuffer(hd);
    h.buffers[in] = bf16Random(size_t(hd), 2 + unsigned(after), 3.0f);
    h.launch.inputs = {in};
    h.launch.outputs = {out};
    h.param("numerics", 1);
    h.param("heads", 1);
    h.param("head_dim", hd);
    h.param("inverse", 0);
    h.param("after_rope", after);
    ropeParams(h, rd);
    ASSERT_TRUE(h.run(rt::ropeKernel, 1, 77).isOk());
    std::vector<float> want = h.buffers[in];
    official::ropeBf16(std::span(want).subspan(size_t(hd - rd)), officialCosSin(rd, 77, false),
                       officialCosSin(rd, 77, true), false);
    if (after == 1) {
      official::fp8SimulateInPlace(std::span(want).first(size_t(hd - rd)));
    } else {
      official::hadamardBf16(want);
      official::fp4SimulateInPlace(want);
    }
    EXPECT_EQ(want, h.buffers[out]) << "after_rope " << after;
  }
}

// linear over an FP8 weight = per-row P5 + P8.
TEST(OfficialKernels, Fp8LinearIsActQuantThenBlockedGemm) {
  KernelHarness h;
  int K = 256, N = 3;
  std::vector<uint8_t> codes(size_t(N * K)), scales = {120, 118};
  std::mt19937 rng(5);
  for (auto &c : codes)
    c = uint8_t(rng() % 0x7e); // finite e4m3 codes, positive and small negative
  int sc = h.addWeightRaw("w.scale", DType::F8E8M0, {1, 2}, scales);
  int w = h.addWeightRaw("w", DType::F8E4M3, {N, K}, codes, sc);
  int x = h.addBuffer(K), y = h.addBuffer(N);
  h.buffers[x] = bf16Random(size_t(K), 6);
  h.launch.inputs = {x};
  h.launch.outputs = {y};
  h.launch.weights = {w};
  h.param("numerics", 1);
  h.param("round_output", 1);
  h.param("in_features", K);
  h.param("out_features", N);
  ASSERT_TRUE(h.run(rt::linearKernel, 1, 0).isOk());
  std::vector<uint8_t> ac(static_cast<size_t>(K)), as(2);
  official::actQuantFp8Block128(h.buffers[x], ac, as);
  for (int n = 0; n < N; ++n) {
    float want = official::fp8LinearRow(ac, as, std::span(codes).subspan(size_t(n * K), size_t(K)),
                                        scales);
    EXPECT_EQ(h.buffers[y][size_t(n)], want) << n;
  }
}

// window_write stores KV entries; sparse attention reads them back and equals
// attendOneHead over the same keys (window slots, then HCA entries).
TEST(OfficialKernels, AttentionOverPackedEntriesEqualsAttendOneHead) {
  int hd = 128, rd = 64, window = 4, ratio = 2;
  auto layout = official::KvEntryLayout::make(size_t(hd), size_t(rd));
  ASSERT_TRUE(layout.isOk());
  int64_t rowBytes = int64_t(layout->entryBytes());
  KernelHarness h;
  int q = h.addBuffer(hd), kv = h.addBuffer(hd), o = h.addBuffer(hd);
  int ring = h.addStateBytes(window, rowBytes), entries = h.addStateBytes(8, rowBytes);
  // Fill ring slots 0..3 (positions 2..5) and entries 0..2 with encoded random rows.
  std::vector<std::vector<float>> ringRows, entryRows;
  for (int r = 0; r < window; ++r) {
    std::vector<float> v = bf16Random(size_t(hd), 10u + unsigned(r));
    official::fp8SimulateInPlace(std::span(v).first(size_t(hd - rd)));
    official::encodeKvEntry(*layout, v,
                            {h.stateBytes(ring, r), size_t(rowBytes)});
    ringRows.push_back(v);
  }
  for (int e = 0; e < 3; ++e) {
    std::vector<float> v = bf16Random(size_t(hd), 20u + unsigned(e));
    official::fp8SimulateInPlace(std::span(v).first(size_t(hd - rd)));
    official::encodeKvEntry(*layout, v,
                            {h.stateBytes(entries, e), size_t(rowBytes)});
    entryRows.push_back(v);
  }
  h.buffers[q] = bf16Random(size_t(hd), 30, 0.2f);
  h.buffers[kv] = bf16Random(size_t(hd), 31);
  official::fp8SimulateInPlace(std::span(h.buffers[kv]).first(size_t(hd - rd)));
  int sink = h.addWeightF32("sink", {1}, {0.3f});
  h.launch.inputs = {q, kv};
  h.launch.outputs = {o};
  h.launch.weights = {sink};
  h.launch.states = {ring, entries};
  for (auto [k, v] : std::initializer_list<std::pair<const char *, double>>{
           {"numerics", 1}, {"kv_format", 1}, {"rope_dim", double(rd)}, {"heads", 1},
           {"head_dim", double(hd)}, {"window", double(window)}, {"mode", 2},
           {"ratio", double(ratio)}, {"topk", 0}})
    h.param(k, v);
  // Position 6: window = positions 3..6 (slots 3, 0, 1 from the ring, then
  // this call's kv), entries (6+1)/2 = 3.
  ASSERT_TRUE(h.run(rt::sparseAttentionKernel, 1, 6).isOk());
  std::vector<const float *> keys = {ringRows[3].data(), ringRows[0].data(),
                                     ringRows[1].data(), h.buffers[kv].data(),
                                     entryRows[0].data(), entryRows[1].data(),
                                     entryRows[2].data()};
  std::vector<float> want(static_cast<size_t>(hd));
  official::attendOneHead(h.buffers[q], keys, 0.3f, official::attentionScale(size_t(hd)), want);
  EXPECT_EQ(want, h.buffers[o]);
}

// The fused mhc_pre_norm = mhc_pre then rms_norm, in the official profile.
TEST(OfficialKernels, MhcPreNormEqualsPreThenNorm) {
  auto setup = [](KernelHarness &h, bool fused) {
    int hc = 4, dim = 64, rows = (2 + hc) * hc;
    int wf = h.addWeightF32("fn", {rows, hc * dim}, bf16Random(size_t(rows * hc * dim), 40, 0.05f));
    int wb = h.addWeightF32("base", {rows}, bf16Random(size_t(rows), 41, 0.5f));
    int ws = h.addWeightF32("scale", {3}, {0.9f, 1.1f, 1.0f});
    int x = h.addBuffer(hc * dim);
    h.buffers[x] = bf16Random(size_t(hc * dim), 42);
    int u = h.addBuffer(dim), post = h.addBuffer(hc), comb = h.addBuffer(hc * hc);
    h.launch.inputs = {x};
    h.launch.outputs = {u, post, comb};
    h.launch.weights = {wf, wb, ws};
    for (auto [k, v] : std::initializer_list<std::pair<const char *, double>>{
             {"numerics", 1},
             {"dim", double(dim)},
             {"hc", double(hc)},
             {"iters", 20},
             {"hc_eps", 1e-6},
             {"norm_eps", 1e-6}})
      h.param(k, v);
    if (fused) {
      h.param("eps", 1e-6);
      h.launch.weights.push_back(h.addWeightF32("norm", {dim}, bf16Random(size_t(dim), 43, 0.1f)));
    }
    return u;
  };
  KernelHarness fused, plain;
  int uf = setup(fused, true), up = setup(plain, false);
  Status st = fused.run(rt::mhcPreNormKernel, 1, 0);
  ASSERT_TRUE(st.isOk()) << st.toString();
  st = plain.run(rt::mhcPreKernel, 1, 0);
  ASSERT_TRUE(st.isOk()) << st.toString();
  std::vector<float> want = plain.buffers[up];
  official::rmsNormBf16(want, bf16Random(64, 43, 0.1f), 1e-6f, want);
  EXPECT_EQ(want, fused.buffers[uf]);
}


// linear_rms_norm = linear (bf16 output) then P1.
TEST(OfficialKernels, LinearRmsNormEqualsLinearThenNorm) {
  auto setup = [](KernelHarness &h, bool fused) {
    int K = 128, N = 64;
    std::vector<float> w = bf16Random(size_t(N * K), 50, 0.1f);
    int wi = h.addWeightF32("w", {N, K}, w);
    int x = h.addBuffer(2 * K), y = h.addBuffer(2 * N);
    h.buffers[x] = bf16Random(size_t(2 * K), 51);
    h.launch.inputs = {x};
    h.launch.outputs = {y};
    h.launch.weights = {wi};
    h.param("numerics", 1);
    h.param("round_output", 1);
    h.param("in_features", K);
    h.param("out_features", N);
    if (fused) {
      h.param("eps", 1e-6);
      h.launch.weights.push_back(h.addWeightF32("norm", {N}, bf16Random(size_t(N), 52, 0.1f)));
    }
    return y;
  };
  KernelHarness fused, plain;
  int yf = setup(fused, true), yp = setup(plain, false);
  Status st = fused.run(rt::linearRmsNormKernel, 2, 0);
  ASSERT_TRUE(st.isOk()) << st.toString();
  st = plain.run(rt::linearKernel, 2, 0);
  ASSERT_TRUE(st.isOk()) << st.toString();
  std::vector<float> norm = bf16Random(64, 52, 0.1f);
  for (int t = 0; t < 2; ++t) {
    std::span<float> row(plain.buffers[yp].data() + t * 64, 64);
    official::rmsNormBf16(row, norm, 1e-6f, row);
  }
  EXPECT_EQ(plain.buffers[yp], fused.buffers[yf]);
}

// The fused router = router_scores then route_select (top-k with bias).
TEST(OfficialKernels, RouterEqualsScoresThenSelect) {
  int E = 8, D = 32, K = 2;
  std::vector<float> gate = bf16Random(size_t(E * D), 60, 0.3f), bias = bf16Random(size_t(E), 61, 0.1f);
  std::vector<float> xs = bf16Random(size_t(3 * D), 62);
  // The parameters each of the three kernels takes (Kernels.def).
  auto params = [&](KernelHarness &h, KernelId id) {
    for (auto [k, v] : std::initializer_list<std::pair<const char *, double>>{
             {"numerics", 1}, {"dim", double(D)}, {"experts", double(E)}, {"topk", double(K)},
             {"route_scale", 1.5}, {"hash", 0}})
      if (kernelSignature(id).findParam(k))
        h.param(k, v);
  };
  KernelHarness fused;
  int g = fused.addWeightF32("gate", {E, D}, gate), b = fused.addWeightF32("bias", {E}, bias);
  int x = fused.addBuffer(3 * D), idx = fused.addBuffer(3 * K), wts = fused.addBuffer(3 * K);
  fused.buffers[x] = xs;
  fused.launch.inputs = {x, -1};
  fused.launch.outputs = {idx, wts};
  fused.launch.weights = {g, b};
  fused.tokenIds = {0, 1, 2};
  params(fused, KernelId::Router);
  Status st = fused.run(rt::routerKernel, 3, 0);
  ASSERT_TRUE(st.isOk()) << st.toString();

  KernelHarness scores, select;
  int g2 = scores.addWeightF32("gate", {E, D}, gate);
  int x2 = scores.addBuffer(3 * D), s2 = scores.addBuffer(3 * E);
  scores.buffers[x2] = xs;
  scores.launch.inputs = {x2};
  scores.launch.outputs = {s2};
  scores.launch.weights = {g2};
  params(scores, KernelId::RouterScores);
  st = scores.run(rt::routerScoresKernel, 3, 0);
  ASSERT_TRUE(st.isOk()) << st.toString();
  int b3 = select.addWeightF32("bias", {E}, bias);
  int s3 = select.addBuffer(3 * E), idx3 = select.addBuffer(3 * K), wts3 = select.addBuffer(3 * K);
  select.buffers[s3] = scores.buffers[s2];
  select.launch.inputs = {s3, -1};
  select.launch.outputs = {idx3, wts3};
  select.launch.weights = {b3};
  select.tokenIds = {0, 1, 2};
  params(select, KernelId::RouteSelect);
  st = select.run(rt::routeSelectKernel, 3, 0);
  ASSERT_TRUE(st.isOk()) << st.toString();
  EXPECT_EQ(0, std::memcmp(fused.buffers[idx].data(), select.buffers[idx3].data(), 3 * K * 4));
  EXPECT_EQ(fused.buffers[wts], select.buffers[wts3]);
}

// The official compressor entry: pooled C_i rounded to bf16, P1, P3 at the
// block's first position, then stored as a KV entry (P6 on the leading dims).
TEST(OfficialKernels, CompressorEntryIsPoolNormRopeQuantize) {
  int D = 128, R = 64, dim = 16, m = 4;
  KernelHarness h;
  std::vector<float> wkv = bf16Random(size_t(D * dim), 70, 0.3f);
  std::vector<float> wgate = bf16Random(size_t(D * dim), 71, 0.3f);
  std::vector<float> ape = bf16Random(size_t(m * D), 72, 0.5f);
  std::vector<float> norm = bf16Random(size_t(D), 73, 0.1f);
  for (auto &v : norm)
    v = roundBf16(1.0f + v);
  int a = h.addWeightF32("wkv", {D, dim}, wkv), b = h.addWeightF32("wgate", {D, dim}, wgate);
  int c = h.addWeightF32("ape", {m, D}, ape), n = h.addWeightF32("norm", {D}, norm);
  int x = h.addBuffer(m * dim);
  h.buffers[x] = bf16Random(size_t(m * dim), 74);
  auto layout = official::KvEntryLayout::make(size_t(D), size_t(R));
  ASSERT_TRUE(layout.isOk());
  int tail = h.addState(m, 2 * D), entries = h.addStateBytes(4, int64_t(layout->entryBytes()));
  h.launch.inputs = {x};
  h.launch.weights = {a, b, c, n};
  h.launch.states = {tail, entries};
  for (auto [k, v] : std::initializer_list<std::pair<const char *, double>>{
           {"numerics", 1}, {"entry_format", 1}, {"dim", double(dim)}, {"head_dim", double(D)},
           {"ratio", double(m)}, {"overlap", 0}, {"eps", 1e-6}})
    h.param(k, v);
  ropeParams(h, R);
  ASSERT_TRUE(h.run(rt::compressorKernel, m, 8).isOk()); // positions 8..11: block 2

  // The same by hand: fp32 projections, softmax over the block per feature.
  std::vector<float> pooled(static_cast<size_t>(D));
  for (int f = 0; f < D; ++f) {
    float cs[4], zs[4], mx = -INFINITY;
    for (int t = 0; t < m; ++t) {
      float cv = 0, zv = 0;
      for (int k = 0; k < dim; ++k) {
        cv += h.buffers[x][size_t(t * dim + k)] * wkv[size_t(f * dim + k)];
        zv += h.buffers[x][size_t(t * dim + k)] * wgate[size_t(f * dim + k)];
      }
      cs[t] = cv;
      zs[t] = zv + ape[size_t(t * D + f)];
      mx = std::max(mx, zs[t]);
    }
    float den = 0, num = 0;
    for (int t = 0; t < m; ++t) {
      float w = std::exp(zs[t] - mx);
      den += w;
      num += w * cs[t];
    }
    pooled[size_t(f)] = roundBf16(num / den);
  }
  official::rmsNormBf16(pooled, norm, 1e-6f, pooled);
  official::ropeBf16(std::span(pooled).subspan(size_t(D - R)), officialCosSin(R, 8, false),
                     officialCosSin(R, 8, true), false);
  std::vector<uint8_t> want(layout->entryBytes());
  official::encodeKvEntry(*layout, pooled, want);
  std::vector<uint8_t> got(h.stateBytes(entries, 2), h.stateBytes(entries, 2) + want.size());
  // fp32 sums in a different order may move a value by an ulp before the
  // bf16 rounding; compare the decoded entries within one bf16 ulp.
  std::vector<float> a1(static_cast<size_t>(D)), a2(static_cast<size_t>(D));
  official::decodeKvEntry(*layout, want, a1);
  official::decodeKvEntry(*layout, got, a2);
  int differing = 0;
  for (int f = 0; f < D; ++f)
    if (a1[size_t(f)] != a2[size_t(f)]) {
      ++differing;
      EXPECT_NEAR(a1[size_t(f)], a2[size_t(f)], std::fabs(a1[size_t(f)]) * 0x1p-6f) << f;
    }
  EXPECT_LE(differing, D / 16);
}

} // namespace
} // namespace birkhoff::test
