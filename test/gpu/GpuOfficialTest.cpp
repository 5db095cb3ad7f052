//===- GpuOfficialTest.cpp - Official-profile kernels against the host ----===//
//
// Launches with numerics = 1 (docs/kernels.md, "official"). The kernels
// follow the host's roundings in order and evaluate exp and log1p as it does
// (in double, rounded once), so these are compared bitwise: rms_norm (P1),
// head_rms_norm (P2), rope with its after-rope quantization,
// head_rms_norm_rope, window_write's KV entries, the FP8/FP4 linears (P5 +
// P8/P9) and linear_rms_norm, indexer_topk, sparse_attention, the compressor
// and the moe, on CUDA and tensor cores (mHC: GpuKernelTest.cpp, both
// profiles). Within
// one bf16 ulp: BF16 linears and grouped_linear (fp32 sums in another order,
// on the BF16 tensor cores), the FP8 tensor-core linear and an expert split
// over two clusters. The moe's
// expert GEMMs sum each block's products exactly (InnerSum::Exact), so its
// tensor-core tiles are bitwise too.
//
//===----------------------------------------------------------------------===//
#include "GpuTestUtil.h"

#include "birkhoff/Numerics.h"
#include "birkhoff/OfficialNumerics.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <numeric>
#include <span>
#include <string>

namespace birkhoff::cuda {
namespace {

using namespace gputest;

void officialYarn(KernelHarness &h, int64_t rd) {
  for (auto [k, v] : std::initializer_list<std::pair<const char *, double>>{
           {"numerics", 1},
           {"rope_dim", double(rd)},
           {"theta", 160000},
           {"yarn", 1},
           {"rope_factor", 16},
           {"original_seq_len", 65536},
           {"beta_fast", 32},
           {"beta_slow", 1}})
    h.param(k, v);
}

TEST(GpuOfficial, RmsNormIsBitwise) {
  REQUIRE_GPU();
  for (int64_t n : {4096, 1024, 24}) {
    KernelHarness h;
    h.launch.kernel = "rms_norm";
    int64_t S = 5;
    int in = h.addBuffer(S * n), out = h.addBuffer(S * n);
    h.buffers[size_t(in)] = randomBf16(size_t(S * n), 3.0f);
    h.launch.inputs = {in};
    h.launch.outputs = {out};
    h.launch.weights = {h.addWeightRaw("norm", DType::BF16, {n},
                                       bf16Bytes(randomFloats(size_t(n))))};
    h.param("n", double(n));
    h.param("eps", 1e-6);
    h.param("numerics", 1);
    auto [d, hst] = runBoth(G, h, rt::rmsNormKernel, S, 0);
    if (!d.empty())
      expectBitwise(d[0], hst[0], "official rms_norm");
  }
}

TEST(GpuOfficial, HeadRmsNormIsBitwise) {
  REQUIRE_GPU();
  KernelHarness h;
  h.launch.kernel = "head_rms_norm";
  int64_t S = 3, H = 16, D = 512;
  int in = h.addBuffer(S * H * D), out = h.addBuffer(S * H * D);
  h.buffers[size_t(in)] = randomBf16(size_t(S * H * D), 2.0f);
  h.launch.inputs = {in};
  h.launch.outputs = {out};
  h.param("heads", double(H));
  h.param("head_dim", double(D));
  h.param("eps", 1e-6);
  h.param("numerics", 1);
  auto [d, hst] = runBoth(G, h, rt::headRmsNormKernel, S, 0);
  if (!d.empty())
    expectBitwise(d[0], hst[0], "official head_rms_norm");
}

struct RopeCase {
  int64_t heads, hd, rd, after;
  bool inverse, normFirst;
  const char *what;
};

TEST(GpuOfficial, RopeIsBitwise) {
  REQUIRE_GPU();
  for (const RopeCase &c :
       {RopeCase{8, 512, 64, 0, false, false, "q"},
        RopeCase{8, 512, 64, 0, true, false, "inverse (o)"},
        RopeCase{1, 512, 64, 1, false, false, "kv: FP8 leading dims"},
        RopeCase{64, 128, 64, 2, false, false, "indexer q: Hadamard + FP4"},
        RopeCase{8, 512, 64, 0, false, true, "head_rms_norm_rope"}}) {
    SCOPED_TRACE(c.what);
    KernelHarness h;
    h.launch.kernel = c.normFirst ? "head_rms_norm_rope" : "rope";
    int64_t S = 6, start = 70000;
    int in = h.addBuffer(S * c.heads * c.hd),
        out = h.addBuffer(S * c.heads * c.hd);
    h.buffers[size_t(in)] = randomBf16(size_t(S * c.heads * c.hd));
    h.launch.inputs = {in};
    h.launch.outputs = {out};
    h.param("heads", double(c.heads));
    h.param("head_dim", double(c.hd));
    if (c.normFirst) {
      h.param("eps", 1e-6);
    } else {
      h.param("inverse", c.inverse ? 1 : 0);
      h.param("after_rope", double(c.after));
    }
    officialYarn(h, c.rd);
    auto [d, hst] =
        runBoth(G, h,
                c.normFirst ? HostKernelRef(rt::headRmsNormRopeKernel)
                            : HostKernelRef(rt::ropeKernel),
                S, start);
    if (!d.empty())
      expectBitwise(d[0], hst[0], "official rope");
  }
}

TEST(GpuOfficial, WindowWriteKvEntriesAreBitwise) {
  REQUIRE_GPU();
  auto layout = official::KvEntryLayout::make(512, 64);
  ASSERT_TRUE(layout.isOk());
  int64_t entry = int64_t(layout->entryBytes()), window = 8, D = 512;
  for (auto [S, start] : {std::pair<int64_t, int64_t>{3, 5}, {11, 0}}) {
    KernelHarness h;
    h.launch.kernel = "window_write";
    int kv = h.addBuffer(S * D);
    h.buffers[size_t(kv)] = randomBf16(size_t(S * D), 2.0f);
    h.launch.inputs = {kv};
    int ring = h.addStateBytes(window, entry);
    std::vector<uint8_t> junk = randomBytes(size_t(window * entry), 0, 255);
    std::memcpy(h.stateData[size_t(ring)].data(), junk.data(), junk.size());
    h.launch.states = {ring};
    for (auto [k, v] : std::initializer_list<std::pair<const char *, double>>{
             {"window", double(window)},
             {"head_dim", double(D)},
             {"numerics", 1},
             {"kv_format", 1},
             {"rope_dim", 64}})
      h.param(k, v);
    auto [d, hst] = runBothFull(G, h, rt::windowWriteKernel, S, start);
    if (!d.states.empty())
      expectBitwise(d.states[0], hst.states[0], "official window ring");
  }
}

struct OfficialLinearCase {
  DType dtype;
  int64_t in, out, tokens;
  bool round, norm;
  int64_t entryTokens = 0; // the entry's max tokens (0: unknown)
};

// FP8/FP4 weights: P5 + P8/P9 in the host's order, bitwise. BF16: fp32
// accumulation (within rounding), rounded to bf16 when asked. Decode entries
// (up to 4 tokens) take official_decode.cuh's linear (narrow rows share a
// warp; rows past N recompute the last); their linear_rms_norm is that
// linear, then the norm, and so do entries of up to 64 tokens with the
// quantized GEMV; larger entries' linear_rms_norm is one cluster kernel:
// bitwise every way.
TEST(GpuOfficial, LinearMatchesHost) {
  REQUIRE_GPU();
  for (OfficialLinearCase c :
       {OfficialLinearCase{DType::F8E4M3, 4096, 1024, 3, true, false},
        OfficialLinearCase{DType::F8E4M3, 4096, 512, 37, true, false},
        OfficialLinearCase{DType::F8E4M3, 8192, 256, 2, true, false},
        OfficialLinearCase{DType::FP4E2M1x2, 2048, 512, 5, true, false},
        OfficialLinearCase{DType::BF16, 4096, 300, 3, false, false},
        OfficialLinearCase{DType::BF16, 512, 64, 3, true, false},
        OfficialLinearCase{DType::F8E4M3, 4096, 1024, 3, true, true},
        OfficialLinearCase{DType::F8E4M3, 4096, 512, 40, true, true},
        OfficialLinearCase{DType::F8E4M3, 1024, 4096, 1, true, false, 1},
        OfficialLinearCase{DType::F8E4M3, 8192, 300, 3, true, false, 4},
        OfficialLinearCase{DType::FP4E2M1x2, 2048, 512, 2, true, false, 2},
        OfficialLinearCase{DType::F8E4M3, 384, 100, 1, true, false, 1},
        OfficialLinearCase{DType::F8E4M3, 4096, 1024, 1, true, true, 1},
        OfficialLinearCase{DType::F8E4M3, 4096, 512, 1, true, true, 1},
        OfficialLinearCase{DType::FP4E2M1x2, 2048, 384, 3, true, true, 4},
        // The 64-token batch entry's linear_rms_norm: the quantized GEMV in
        // two 32-token slices, then the norm.
        OfficialLinearCase{DType::F8E4M3, 4096, 512, 40, true, true, 64},
        // BF16 rows of whole 64-column steps: the BF16 tensor cores in every
        // entry (decode, batch, prefill: partial 8-token tiles, two 64-token
        // y-slices, a partial 128-row tile).
        OfficialLinearCase{DType::BF16, 4096, 300, 3, false, false, 4},
        OfficialLinearCase{DType::BF16, 512, 64, 1, true, false, 1},
        OfficialLinearCase{DType::BF16, 4096, 1000, 37, true, false, 64},
        OfficialLinearCase{DType::BF16, 1024, 129, 70, false, false, 512},
        // Not whole 64-column steps: the GEMV.
        OfficialLinearCase{DType::BF16, 4000, 100, 3, true, false, 4}}) {
    SCOPED_TRACE(std::string(dtypeName(c.dtype)) + " " + std::to_string(c.in) +
                 "->" + std::to_string(c.out) +
                 " S=" + std::to_string(c.tokens) + (c.norm ? " +norm" : "") +
                 " entry " + std::to_string(c.entryTokens));
    KernelHarness h;
    h.entryMaxTokens = c.entryTokens;
    h.launch.kernel = c.norm ? "linear_rms_norm" : "linear";
    int x = h.addBuffer(c.tokens * c.in), y = h.addBuffer(c.tokens * c.out);
    h.buffers[size_t(x)] = randomBf16(size_t(c.tokens * c.in));
    h.launch.inputs = {x};
    h.launch.outputs = {y};
    if (c.dtype == DType::F8E4M3)
      h.launch.weights = {addFp8Weight(h, "w", c.out, c.in)};
    else if (c.dtype == DType::FP4E2M1x2)
      h.launch.weights = {addFp4Weight(h, "w", c.out, c.in)};
    else
      h.launch.weights = {
          h.addWeightRaw("w", DType::BF16, {c.out, c.in},
                         bf16Bytes(randomFloats(size_t(c.out * c.in), 0.05f)))};
    h.param("in_features", double(c.in));
    h.param("out_features", double(c.out));
    h.param("numerics", 1);
    h.param("round_output", c.round ? 1 : 0);
    if (c.norm) {
      h.launch.weights.push_back(
          h.addWeightRaw("norm", DType::BF16, {c.out},
                         bf16Bytes(randomFloats(size_t(c.out)))));
      h.param("eps", 1e-6);
    }
    auto [d, hst] = runBoth(G, h,
                            c.norm ? HostKernelRef(rt::linearRmsNormKernel)
                                   : HostKernelRef(rt::linearKernel),
                            c.tokens, 0);
    if (d.empty())
      continue;
    if (c.dtype == DType::BF16)
      expectWithinBf16Ulp(d[0], hst[0], "official linear");
    else
      expectBitwise(d[0], hst[0], "official linear");
  }
}

// The FP8 linear of many-token entries (official_gemm.cuh): the same codes,
// scales and block-ordered outer sum as the host, the 128-block inner sums
// from the tensor cores: within one bf16 ulp. Token counts cover partial
// 64-token tiles and a single token; output counts a partial 128-row tile.
TEST(GpuOfficial, TensorCoreLinearWithinOneBf16Ulp) {
  REQUIRE_GPU();
  struct Case {
    int64_t in, out, tokens;
  };
  for (Case c : {Case{4096, 1024, 1}, Case{4096, 1024, 64}, Case{1024, 320, 37},
                 Case{512, 4096, 200}, Case{8192, 256, 130}}) {
    SCOPED_TRACE(std::to_string(c.in) + "->" + std::to_string(c.out) +
                 " S=" + std::to_string(c.tokens));
    KernelHarness h;
    h.entryMaxTokens = 512;
    h.launch.kernel = "linear";
    int x = h.addBuffer(c.tokens * c.in), y = h.addBuffer(c.tokens * c.out);
    h.buffers[size_t(x)] = randomBf16(size_t(c.tokens * c.in));
    h.launch.inputs = {x};
    h.launch.outputs = {y};
    h.launch.weights = {addFp8Weight(h, "w", c.out, c.in)};
    h.param("in_features", double(c.in));
    h.param("out_features", double(c.out));
    h.param("numerics", 1);
    h.param("round_output", 1);
    auto spec = specOf(h);
    ASSERT_TRUE(spec.isOk()) << spec.status().toString();
    ASSERT_NE(generateKernelSource(scheduled(*spec))
                  ->source.find("linearOfficialMma"),
              std::string::npos);
    auto [d, hst] = runBoth(G, h, rt::linearKernel, c.tokens, 0);
    if (d.empty())
      continue;
    expectNotAllZero(d[0], "tensor-core linear");
    expectWithinBf16Ulp(d[0], hst[0], "tensor-core linear");
    size_t same = 0;
    for (size_t i = 0; i < d[0].size(); ++i)
      same += bits(d[0][i]) == bits(hst[0][i]);
    std::printf("[gpu] tensor-core linear %lld->%lld S=%lld: %.4f%% of "
                "outputs bitwise equal to the host\n",
                (long long)c.in, (long long)c.out, (long long)c.tokens,
                100.0 * double(same) / double(d[0].size()));
  }
}

// The BF16 tensor-core linear (linear_bf16_mma.cuh) gives a token the same
// bits whatever else its call holds: each token of a 37-token call, run
// alone, matches its row bitwise (batch invariance across the one-token and
// the batch entries).
TEST(GpuOfficial, TensorCoreBf16LinearIsBatchInvariant) {
  REQUIRE_GPU();
  const int64_t in = 1024, out = 300, S = 37;
  const std::vector<float> xs = randomBf16(size_t(S * in));
  const std::vector<uint8_t> w =
      bf16Bytes(randomFloats(size_t(out * in), 0.05f));
  auto run = [&](int64_t tokens, int64_t entry, const float *rows) {
    KernelHarness h;
    h.entryMaxTokens = entry;
    h.launch.kernel = "linear";
    int x = h.addBuffer(tokens * in), y = h.addBuffer(tokens * out);
    h.buffers[size_t(x)].assign(rows, rows + tokens * in);
    h.launch.inputs = {x};
    h.launch.outputs = {y};
    h.launch.weights = {h.addWeightRaw("w", DType::BF16, {out, in}, w)};
    h.param("in_features", double(in));
    h.param("out_features", double(out));
    h.param("numerics", 1);
    h.param("round_output", 0);
    auto spec = specOf(h);
    EXPECT_TRUE(spec.isOk() && scheduled(*spec).schedule->variant == "mma");
    auto d = runOnGpu(G, h, tokens, 0);
    EXPECT_TRUE(d.isOk()) << d.status().toString();
    return d.isOk() ? (*d)[0] : std::vector<float>();
  };
  const std::vector<float> all = run(S, 64, xs.data());
  ASSERT_EQ(all.size(), size_t(S * out));
  for (int64_t t : {int64_t(0), int64_t(5), int64_t(17), S - 1}) {
    const std::vector<float> one = run(1, 1, xs.data() + t * in);
    ASSERT_EQ(one.size(), size_t(out));
    expectBitwise(
        one,
        std::vector<float>(all.begin() + t * out, all.begin() + (t + 1) * out),
        "one token alone vs in a call of 37");
  }
}

TEST(GpuOfficial, GroupedLinearWithinOneBf16Ulp) {
  REQUIRE_GPU();
  KernelHarness h;
  h.launch.kernel = "grouped_linear";
  int64_t G8 = 8, in = 512, out = 128, S = 3;
  int o = h.addBuffer(S * G8 * in), z = h.addBuffer(S * G8 * out);
  h.buffers[size_t(o)] = randomBf16(size_t(S * G8 * in));
  h.launch.inputs = {o};
  h.launch.outputs = {z};
  h.launch.weights = {addFp8Weight(h, "wo_a", G8 * out, in)};
  h.param("groups", double(G8));
  h.param("in_per_group", double(in));
  h.param("out_per_group", double(out));
  h.param("numerics", 1);
  // An entry of unknown size, then a decode entry: both on the BF16 tensor
  // cores (the FP8 weights dequantized exactly), the same bits.
  std::vector<float> first;
  for (int64_t entry : {int64_t(0), S}) {
    SCOPED_TRACE(entry ? "decode entry" : "unknown entry");
    h.entryMaxTokens = entry;
    auto [d, hst] = runBoth(G, h, rt::groupedLinearKernel, S, 0);
    if (d.empty())
      continue;
    expectWithinBf16Ulp(d[0], hst[0], "official grouped_linear");
    if (entry == 0)
      first = d[0];
    else if (!first.empty())
      expectBitwise(d[0], first, "official grouped_linear, two entries");
  }
  // Calls of many tokens: partial 8-token tiles, two 64-token y-slices.
  for (int64_t tokens : {int64_t(37), int64_t(70)}) {
    SCOPED_TRACE("tokens " + std::to_string(tokens));
    KernelHarness m;
    m.entryMaxTokens = 512;
    m.launch.kernel = "grouped_linear";
    int mo = m.addBuffer(tokens * G8 * in), mz = m.addBuffer(tokens * G8 * out);
    m.buffers[size_t(mo)] = randomBf16(size_t(tokens * G8 * in));
    m.launch.inputs = {mo};
    m.launch.outputs = {mz};
    m.launch.weights = {addFp8Weight(m, "wo_a", G8 * out, in)};
    m.param("groups", double(G8));
    m.param("in_per_group", double(in));
    m.param("out_per_group", double(out));
    m.param("numerics", 1);
    auto [d, hst] = runBoth(G, m, rt::groupedLinearKernel, tokens, 0);
    if (!d.empty())
      expectWithinBf16Ulp(d[0], hst[0], "official grouped_linear, many tokens");
  }
}

} // namespace
} // namespace birkhoff::cuda

namespace birkhoff::cuda {
namespace {

using namespace gputest;

void setStateBytes(KernelHarness &h, int state, const std::vector<uint8_t> &b) {
  ASSERT_LE(b.size(), h.stateData[size_t(state)].size() * 4);
  std::memcpy(h.stateData[size_t(state)].data(), b.data(), b.size());
}

/// The decoded values of a state of `rows` entries (KV entries or keys).
std::vector<float> decodedRows(const std::vector<float> &words, int64_t rows,
                               int64_t hd, int64_t rd, bool keys) {
  auto layout = official::KvEntryLayout::make(size_t(hd), size_t(rd));
  size_t bytes =
      keys ? official::fp4KeyBytes(size_t(hd)) : layout->entryBytes();
  const uint8_t *base = reinterpret_cast<const uint8_t *>(words.data());
  std::vector<float> out(size_t(rows * hd));
  for (int64_t r = 0; r < rows; ++r) {
    std::span<const uint8_t> row(base + r * bytes, bytes);
    std::span<float> v(out.data() + r * hd, size_t(hd));
    if (keys)
      official::decodeFp4Key(row, v);
    else
      official::decodeKvEntry(*layout, row, v);
  }
  return out;
}

// FP4 keys, bf16 scores: the device scores are the host's bit for bit, so
// the chosen entries (ties: lower index) are equal.
TEST(GpuOfficial, IndexerTopkIsBitwise) {
  REQUIRE_GPU();
  struct Case {
    int64_t heads, hd, topk, rows, tokens, start;
  };
  for (Case c : {Case{16, 64, 8, 64, 5, 100}, Case{16, 64, 8, 64, 3, 10},
                 Case{64, 128, 512, 1100, 3, 4000},
                 Case{64, 128, 512, 16400, 1, 65530}}) {
    SCOPED_TRACE("start " + std::to_string(c.start));
    KernelHarness h;
    h.launch.kernel = "indexer_topk";
    int64_t S = c.tokens, HD = c.heads * c.hd;
    int q = h.addBuffer(S * HD), w = h.addBuffer(S * c.heads),
        o = h.addBuffer(S * c.topk);
    h.buffers[size_t(q)] = randomBf16(size_t(S * HD));
    h.buffers[size_t(w)] = randomBf16(size_t(S * c.heads));
    h.launch.inputs = {q, w};
    h.launch.outputs = {o};
    int keys = h.addStateBytes(c.rows,
                               int64_t(official::fp4KeyBytes(size_t(c.hd))), 4);
    setStateBytes(h, keys, encodedRows(c.rows, c.hd, 0, true));
    h.launch.states = {keys};
    for (auto [k, v] : std::initializer_list<std::pair<const char *, double>>{
             {"heads", double(c.heads)},
             {"head_dim", double(c.hd)},
             {"topk", double(c.topk)},
             {"ratio", 4},
             {"numerics", 1},
             {"key_format", 1}})
      h.param(k, v);
    forEachIndexerSchedule(h, S, [&] {
      auto [d, hst] = runBoth(G, h, rt::indexerTopkKernel, S, c.start);
      if (!d.empty())
        expectBitwise(d[0], hst[0], "official indexer_topk");
    });
  }
}

TEST(GpuOfficial, SparseAttentionMatchesHost) {
  REQUIRE_GPU();
  struct Case {
    int64_t heads, hd, window, mode, ratio, topk, entries, tokens, start;
    const char *what;
  };
  for (Case c : {Case{4, 128, 8, 0, 0, 0, 0, 5, 20, "window, ring and call"},
                 Case{4, 128, 8, 0, 0, 0, 0, 3, 2, "window not yet full"},
                 Case{4, 128, 8, 1, 4, 6, 32, 5, 60, "top-k list"},
                 Case{4, 128, 8, 2, 4, 0, 32, 5, 60, "all visible"},
                 Case{4, 128, 8, 2, 4, 0, 2100, 2, 8400, "more keys than CAP"},
                 Case{64, 512, 128, 1, 4, 512, 600, 2, 2300, "flash csa"},
                 Case{64, 512, 128, 2, 128, 0, 520, 1, 65530,
                      "flash hca, 64K context"}}) {
    SCOPED_TRACE(c.what);
    KernelHarness h;
    h.launch.kernel = "sparse_attention";
    int64_t S = c.tokens, HD = c.heads * c.hd, rd = 64;
    int64_t entry = int64_t(
        official::KvEntryLayout::make(size_t(c.hd), size_t(rd))->entryBytes());
    int q = h.addBuffer(S * HD), kv = h.addBuffer(S * c.hd),
        o = h.addBuffer(S * HD);
    h.buffers[size_t(q)] = randomBf16(size_t(S * HD), 0.3f);
    h.buffers[size_t(kv)] = randomBf16(size_t(S * c.hd));
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
    int ring = h.addStateBytes(c.window, entry);
    setStateBytes(h, ring, encodedRows(c.window, c.hd, rd, false));
    h.launch.states = {ring};
    if (c.mode != 0) {
      int ents = h.addStateBytes(c.entries, entry, c.ratio);
      setStateBytes(h, ents, encodedRows(c.entries, c.hd, rd, false));
      h.launch.states.push_back(ents);
    }
    h.launch.weights = {
        h.addWeightF32("sink", {c.heads}, randomFloats(size_t(c.heads)))};
    for (auto [k, v] : std::initializer_list<std::pair<const char *, double>>{
             {"heads", double(c.heads)},
             {"head_dim", double(c.hd)},
             {"window", double(c.window)},
             {"mode", double(c.mode)},
             {"ratio", double(c.ratio)},
             {"topk", double(c.topk)},
             {"numerics", 1},
             {"kv_format", 1},
             {"rope_dim", double(rd)}})
      h.param(k, v);
    forEachAttentionSchedule(h, S, [&](bool split) {
      auto [d, hst] = runBoth(G, h, rt::sparseAttentionKernel, S, c.start);
      if (d.empty())
        return;
      if (split)
        expectWithinBf16UlpOfRow(d[0], hst[0], c.hd,
                                 "official sparse_attention, split",
                                 kSplitAttentionUlps);
      else
        expectBitwise(d[0], hst[0], "official sparse_attention");
      expectNotAllZero(hst[0], "official sparse_attention");
    });
  }
}

// Calls in sequence, each from the host's state. The projections are exact
// (grid inputs: the BF16 projection's fp32 sums run in another order than
// the host's), so the tail and the encoded entries are bitwise.
TEST(GpuOfficial, CompressorMatchesHost) {
  REQUIRE_GPU();
  struct Case {
    int64_t dim, D, ratio;
    bool overlap;
    int format;
    std::vector<std::pair<int64_t, int64_t>> calls;
  };
  for (const Case &c : {Case{256, 128, 4, true, 1, {{0, 11}, {11, 1}, {12, 6}}},
                        Case{256, 128, 8, false, 1, {{0, 20}, {20, 1}}},
                        Case{1024, 512, 4, true, 1, {{0, 9}}},
                        Case{256, 128, 4, true, 2, {{0, 13}, {13, 3}}},
                        Case{256, 64, 4, true, 2, {{0, 9}}}}) {
    // The "cluster" schedule, then "projected" (the calls' tokens projected
    // over the whole GPU first: the same values).
    for (bool projected : {false, true}) {
      SCOPED_TRACE("D " + std::to_string(c.D) + " format " +
                   std::to_string(c.format) + (projected ? ", projected" : ""));
      KernelHarness h;
      h.launch.kernel = "compressor";
      int64_t width = (c.overlap ? 2 : 1) * c.D, maxS = 0, rd = 64;
      for (auto [s, n] : c.calls)
        maxS = std::max(maxS, n);
      int x = h.addBuffer(maxS * c.dim);
      h.launch.inputs = {x};
      h.launch.weights = {
          h.addWeightRaw(
              "wkv", DType::BF16, {width, c.dim},
              bf16Bytes(gridValues(size_t(width * c.dim), 2, 0x1p-6f))),
          h.addWeightRaw(
              "wgate", DType::BF16, {width, c.dim},
              bf16Bytes(gridValues(size_t(width * c.dim), 2, 0x1p-6f))),
          h.addWeightF32("ape", {c.ratio, width},
                         randomFloats(size_t(c.ratio * width), 0.5f)),
          h.addWeightRaw("norm", DType::BF16, {c.D},
                         bf16Bytes(randomFloats(size_t(c.D))))};
      bool keys = c.format == 2;
      int64_t entryBytes =
          keys ? int64_t(official::fp4KeyBytes(size_t(c.D)))
               : int64_t(official::KvEntryLayout::make(size_t(c.D), size_t(rd))
                             ->entryBytes());
      int tail = h.addState(c.overlap ? 2 * c.ratio : c.ratio, 2 * width);
      int64_t rows = 16;
      int ents = h.addStateBytes(rows, entryBytes, c.ratio);
      h.launch.states = {tail, ents};
      for (auto [k, v] : std::initializer_list<std::pair<const char *, double>>{
               {"dim", double(c.dim)},
               {"head_dim", double(c.D)},
               {"ratio", double(c.ratio)},
               {"overlap", c.overlap ? 1.0 : 0.0},
               {"eps", 1e-6},
               {"entry_format", double(c.format)}})
        h.param(k, v);
      officialYarn(h, rd);
      h.entryMaxTokens = projected ? maxS : 0;
      for (auto [start, n] : c.calls) {
        SCOPED_TRACE("call at " + std::to_string(start));
        h.buffers[size_t(x)] = gridValues(size_t(maxS * c.dim), 4, 0.125f);
        auto [d, hst] = runBothFull(G, h, rt::compressorKernel, n, start);
        if (d.states.size() != 2)
          break;
        expectBitwise(d.states[0], hst.states[0], "official compressor tail");
        expectBitwise(d.states[1], hst.states[1],
                      "official compressor entries");
        std::vector<float> hv = decodedRows(hst.states[1], rows, c.D, rd, keys);
        expectNotAllZero(hv, "official compressor entries");
      }
    }
  }
}

struct MoeCase {
  int64_t dim, inter, experts, topk, tokens;
  bool sharedClamp;
};

/// Runs the cluster-per-slice moe (entry size unknown) and then the one
/// of an entry of `c.tokens` tokens (the decode kernels of moe_decode.cuh
/// up to 4 tokens, moe_stream.cuh's up to 64, then grouped by expert) on
/// the same random weights and inputs, each against the host; `grouped`
/// checks the grouped result against the sliced one.
void runMoeCase(const gputest::Gpu &G, const MoeCase &c,
                const std::function<void(const std::vector<float> &grouped,
                                         const std::vector<float> &sliced,
                                         const std::string &source)> &grouped) {
  std::vector<float> sliced;
  for (bool isGrouped : {false, true}) {
    SCOPED_TRACE("dim " + std::to_string(c.dim) + " inter " +
                 std::to_string(c.inter) + " E " + std::to_string(c.experts) +
                 " S=" + std::to_string(c.tokens) +
                 (isGrouped ? " grouped" : " sliced"));
    rng().seed(uint32_t(c.dim * 131 + c.tokens));
    KernelHarness h;
    h.entryMaxTokens = isGrouped ? c.tokens : 0;
    int64_t S = c.tokens, K = c.topk;
    setMoeActivations(h, S, K, c.experts, randomBf16(size_t(S * c.dim)));
    for (int64_t e = 0; e <= c.experts; ++e) {
      bool shared = e == c.experts;
      auto add = shared ? addFp8Weight : addFp4Weight;
      std::string n = "e" + std::to_string(e);
      h.launch.weights.push_back(add(h, n + ".w1", c.inter, c.dim));
      h.launch.weights.push_back(add(h, n + ".w2", c.dim, c.inter));
      h.launch.weights.push_back(add(h, n + ".w3", c.inter, c.dim));
    }
    for (auto [k, v] : std::initializer_list<std::pair<const char *, double>>{
             {"dim", double(c.dim)},
             {"inter", double(c.inter)},
             {"experts", double(c.experts)},
             {"topk", double(K)},
             {"swiglu_limit", 10.0},
             {"shared_clamp", c.sharedClamp ? 1.0 : 0.0},
             {"numerics", 1}})
      h.param(k, v);
    auto spec = specOf(h);
    ASSERT_TRUE(spec.isOk()) << spec.status().toString();
    const std::string source = generateKernelSource(scheduled(*spec))->source;
    EXPECT_EQ(isGrouped,
              source.find("moeOfficialGrouped") != std::string::npos ||
                  source.find("moeDecodeHidden") != std::string::npos ||
                  source.find("moeStreamActs") != std::string::npos);
    auto [d, hst] = runBoth(G, h, rt::moeKernel, S, 0);
    if (d.empty())
      return;
    expectNotAllZero(hst[0], "official moe");
    if (!isGrouped) {
      expectBitwise(d[0], hst[0], "official moe");
      sliced = d[0];
    } else {
      grouped(d[0], sliced, source);
    }
  }
}

double bitwiseShare(const std::vector<float> &a, const std::vector<float> &b) {
  return double(bitwiseEqualCount(a, b)) /
         double(std::max<size_t>(1, a.size()));
}

// Entries of up to 4 tokens run moe_decode.cuh's kernels, entries of 5 to
// 64 moe_stream.cuh's (integer inner sums, the host's order): both bitwise
// the sliced kernel's, hence the host's, so a token's moe output does not
// depend on the batch it decodes in. The V4-Flash shapes give experts many
// tokens (64 over 16 experts: passes of 4 over their weights) and the FP8
// shared expert all of them. Larger entries whose ranks do not split into
// tensor-core tiles (dim 384) keep the grouped GEMV tiles, bitwise too.
TEST(GpuOfficial, MoeMatchesHost) {
  REQUIRE_GPU();
  for (MoeCase c :
       {MoeCase{256, 256, 8, 3, 5, true}, MoeCase{1024, 512, 8, 6, 1, true},
        MoeCase{256, 2048, 8, 3, 5, true}, MoeCase{1024, 2048, 8, 6, 1, false},
        MoeCase{1024, 2048, 64, 6, 1, true},
        MoeCase{256, 2048, 64, 6, 3, false}, MoeCase{256, 512, 64, 6, 7, true},
        MoeCase{384, 128, 8, 2, 40, true}, MoeCase{4096, 2048, 8, 6, 1, true},
        MoeCase{384, 256, 16, 4, 4, false}, MoeCase{256, 2048, 16, 6, 9, true},
        MoeCase{128, 128, 4, 4, 1, true}, MoeCase{4096, 2048, 16, 6, 64, true},
        MoeCase{4096, 2048, 64, 6, 32, false},
        MoeCase{384, 128, 8, 2, 100, true}}) {
    const bool decode = c.tokens <= 4, stream = !decode && c.tokens <= 64;
    runMoeCase(
        G, c,
        [&](const std::vector<float> &grouped, const std::vector<float> &sliced,
            const std::string &source) {
          EXPECT_EQ(decode,
                    source.find("moeDecodeHidden") != std::string::npos);
          EXPECT_EQ(stream,
                    source.find("moeStreamActs") != std::string::npos);
          EXPECT_EQ(!decode && !stream,
                    source.find("moeOfficialGrouped<") != std::string::npos);
          expectBitwise(grouped, sliced, "entry vs sliced moe");
          std::printf("[gpu] moe dim %lld inter %lld E %lld S=%lld: "
                      "%.4f%% bitwise equal to the sliced kernel\n",
                      (long long)c.dim, (long long)c.inter,
                      (long long)c.experts, (long long)c.tokens,
                      100.0 * bitwiseShare(grouped, sliced));
        });
  }
}

// The tensor-core tiles (entries of more than 64 tokens, moe_mma.cuh): the
// exact inner sums of 32 (FP4) or 128 (FP8) products come from integer MMAs,
// as the host's (InnerSum::Exact), so the whole moe is bitwise the sliced
// kernel's and the host's. Dim 4096 is V4-Flash's: its FP8 shared expert's
// w2 rows take two passes.
class GpuOfficialMoeOnTensorCores : public ::testing::TestWithParam<MoeCase> {};

TEST_P(GpuOfficialMoeOnTensorCores, MatchesHost) {
  REQUIRE_GPU();
  const MoeCase c = GetParam();
  runMoeCase(G, c,
             [&](const std::vector<float> &grouped,
                 const std::vector<float> &sliced, const std::string &source) {
               EXPECT_NE(source.find("moeOfficialGroupedMma"),
                         std::string::npos);
               const std::string what = "tensor-core vs sliced moe, dim " +
                                        std::to_string(c.dim) + " inter " +
                                        std::to_string(c.inter) +
                                        " S=" + std::to_string(c.tokens);
               expectBitwise(grouped, sliced, what.c_str());
             });
}

INSTANTIATE_TEST_SUITE_P(Shapes, GpuOfficialMoeOnTensorCores,
                         ::testing::Values(MoeCase{256, 128, 6, 2, 130, false},
                                           MoeCase{1024, 512, 16, 6, 200, true},
                                           MoeCase{2048, 1024, 8, 4, 70, false},
                                           MoeCase{4096, 2048, 8, 2, 80, true}),
                         [](const ::testing::TestParamInfo<MoeCase> &info) {
                           return "dim" + std::to_string(info.param.dim) +
                                  "_S" + std::to_string(info.param.tokens);
                         });

} // namespace
} // namespace birkhoff::cuda
