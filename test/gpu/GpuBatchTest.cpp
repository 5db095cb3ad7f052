//===- GpuBatchTest.cpp - Stateful kernels over batches of sequences ------===//
//
// Batch invariance per kernel: one launch carries several sequences, each in
// its own slot at its own position (a decode token past the window, a prefill
// chunk crossing compression boundaries and longer than the window, a
// sequence starting at 0, a decode token closing a block), their growing
// states in small pages of one pool through a shuffled page table, the rows
// nobody owns random. Against the host kernel run once per sequence on flat
// states with the same contents, outputs and states agree as in the
// single-sequence tests (bitwise where those are, else within one bf16 ulp);
// and each sequence run alone, in another slot and other pages, gives
// bitwise what it got inside the batch. Both numerics profiles: window_write,
// sparse_attention (modes 0, 1, 2), indexer_topk, compressor (with and
// without overlap; KV entries and FP4 keys), rope and head_rms_norm_rope.
//
//===----------------------------------------------------------------------===//
#include "GpuTestUtil.h"

#include "birkhoff/OfficialNumerics.h"

#include <algorithm>
#include <cstring>
#include <string>

namespace birkhoff::cuda {
namespace {

using namespace gputest;

/// Four sequences in slots 2, 0, 3, 1 (window 8, ratio 4 or 8 in the
/// tests): a decode token at 37 (past the window), a 10-token chunk from 13
/// (longer than the window; closes the blocks ending at 15 and 19), a
/// sequence from 0 (closes the block ending at 3) and a decode token at 11
/// (closes the block ending at 11 for ratio 4).
std::vector<BatchSeq> mixedBatch() {
  return {{2, 37, 1}, {0, 13, 10}, {3, 0, 5}, {1, 11, 1}};
}

/// Positions for RoPE: a far one (large angles), a chunk, a start at 0.
std::vector<BatchSeq> ropeBatch() {
  return {{1, 70000, 1}, {0, 13, 10}, {3, 0, 5}, {2, 500, 3}};
}

/// The pages: 5 slots of 2-row pages, and 6 slots of 1-row pages.
std::vector<BatchPaging> pagings() {
  return {BatchPaging{5, 2, 11}, BatchPaging{6, 1, 23}};
}

int64_t totalTokens(const std::vector<BatchSeq> &seqs) {
  int64_t n = 0;
  for (const BatchSeq &s : seqs)
    n += s.tokens;
  return n;
}

/// Bitwise, within a bf16 ulp, or within the split attention's
/// kSplitAttentionUlps.
enum class Match { Bitwise, Bf16Ulp, SplitAttention };

void expectMatch(Match m, const std::vector<float> &gpu,
                 const std::vector<float> &host, const std::string &what,
                 int64_t rowLen) {
  if (m == Match::Bitwise)
    expectBitwise(gpu, host, what.c_str());
  else if (m == Match::Bf16Ulp)
    expectWithinBf16Ulp(gpu, host, what.c_str());
  else
    expectWithinBf16UlpOfRow(gpu, host, rowLen, what.c_str(),
                             kSplitAttentionUlps);
}

/// The batch on the GPU against the host per sequence (outputs as `outputs`
/// says, states as `states` says), then every sequence alone in another slot
/// and other pages against its part of the batch, bitwise.
void checkBatch(const Gpu &G, KernelHarness &h, const HostKernelRef &fn,
                const std::vector<BatchSeq> &seqs, const SeqStates &states,
                Match outputs, Match stateMatch, const std::string &what,
                const BatchPaging &paging, int64_t rowLen = 0) {
  SCOPED_TRACE(what + ", " + std::to_string(paging.slots) + " slots of " +
               std::to_string(paging.pageRows) + "-row pages");
  auto dev = runBatchOnGpu(G, h, seqs, states, paging);
  ASSERT_TRUE(dev.isOk()) << dev.status().toString();
  auto host = runBatchOnHost(h, fn, seqs, states);
  ASSERT_TRUE(host.isOk()) << host.status().toString();
  for (size_t o = 0; o < host->outputs.size(); ++o) {
    expectMatch(outputs, dev->outputs[o], host->outputs[o],
                "batch " + what + " output " + std::to_string(o), rowLen);
    expectNotAllZero(host->outputs[o], what.c_str());
  }
  for (size_t k = 0; k < seqs.size(); ++k)
    for (size_t i = 0; i < states[k].size(); ++i)
      expectMatch(stateMatch, dev->states[k][i], host->states[k][i],
                  "batch " + what + " sequence " + std::to_string(k) +
                      " state " + std::to_string(i),
                  rowLen);

  const int64_t total = totalTokens(seqs);
  int64_t row = 0;
  for (size_t k = 0; k < seqs.size(); ++k) {
    BatchPaging other = paging;
    other.seed = paging.seed + 101 + uint32_t(k);
    const int32_t slot = int32_t((seqs[k].slot + 1) % paging.slots);
    auto alone = runSequenceAloneOnGpu(G, h, seqs, states, k, slot, other);
    ASSERT_TRUE(alone.isOk()) << alone.status().toString();
    for (size_t o = 0; o < dev->outputs.size(); ++o) {
      const std::vector<float> &all = dev->outputs[o];
      const int64_t elems = int64_t(all.size()) / total;
      std::vector<float> mine(all.begin() + row * elems,
                              all.begin() + (row + seqs[k].tokens) * elems);
      expectBitwise(alone->outputs[o], mine,
                    ("alone vs batch " + what + " output").c_str());
    }
    for (size_t i = 0; i < states[k].size(); ++i)
      expectBitwise(alone->states[0][i], dev->states[k][i],
                    ("alone vs batch " + what + " state").c_str());
    row += seqs[k].tokens;
  }
}

/// Per sequence, a state of the harness's shape `s` filled by `fill`.
template <typename Fill>
void addSeqState(const KernelHarness &h, SeqStates &states, int s,
                 Fill &&fill) {
  for (std::vector<std::vector<float>> &mine : states) {
    std::vector<float> words(h.stateData[size_t(s)].size(), 0.0f);
    fill(words);
    mine.push_back(std::move(words));
  }
}

void setBytes(std::vector<float> &words, const std::vector<uint8_t> &b) {
  ASSERT_LE(b.size(), words.size() * 4);
  std::memcpy(words.data(), b.data(), b.size());
}

TEST(GpuBatch, WindowWrite) {
  REQUIRE_GPU();
  const std::vector<BatchSeq> seqs = mixedBatch();
  const int64_t S = totalTokens(seqs), window = 8;
  for (bool official : {false, true}) {
    const int64_t D = official ? 512 : 64;
    const int64_t rowBytes =
        official
            ? int64_t(
                  official::KvEntryLayout::make(size_t(D), 64)->entryBytes())
            : 4 * D;
    KernelHarness h;
    h.launch.kernel = "window_write";
    int kv = h.addBuffer(S * D);
    h.buffers[size_t(kv)] = official ? randomBf16(size_t(S * D), 2.0f)
                                     : randomFloats(size_t(S * D));
    h.launch.inputs = {kv};
    int ring = h.addStateBytes(window, rowBytes);
    h.launch.states = {ring};
    setParams(h, {{"window", double(window)}, {"head_dim", double(D)}});
    if (official)
      setParams(h, {{"numerics", 1}, {"kv_format", 1}, {"rope_dim", 64}});
    SeqStates states(seqs.size());
    addSeqState(h, states, ring, [&](std::vector<float> &w) {
      setBytes(w, randomBytes(size_t(window * rowBytes), 0, 255));
    });
    for (const BatchPaging &paging : pagings())
      checkBatch(G, h, rt::windowWriteKernel, seqs, states, Match::Bitwise,
                 Match::Bitwise,
                 official ? "official window_write" : "window_write", paging);
  }
}

TEST(GpuBatch, SparseAttention) {
  REQUIRE_GPU();
  const std::vector<BatchSeq> seqs = mixedBatch();
  const int64_t S = totalTokens(seqs);
  const int64_t heads = 4, window = 8, ratio = 4, topk = 6, entries = 16;
  for (bool official : {false, true}) {
    for (int64_t mode : {0, 1, 2}) {
      const int64_t hd = official ? 128 : 64, rd = 64, HD = heads * hd;
      const int64_t rowBytes =
          official
              ? int64_t(official::KvEntryLayout::make(size_t(hd), size_t(rd))
                            ->entryBytes())
              : 4 * hd;
      KernelHarness h;
      h.launch.kernel = "sparse_attention";
      int q = h.addBuffer(S * HD), kv = h.addBuffer(S * hd),
          o = h.addBuffer(S * HD);
      h.buffers[size_t(q)] = official ? randomBf16(size_t(S * HD), 0.3f)
                                      : randomFloats(size_t(S * HD), 0.3f);
      h.buffers[size_t(kv)] =
          official ? randomBf16(size_t(S * hd)) : randomFloats(size_t(S * hd));
      h.launch.inputs = {q, kv};
      if (mode == 1) {
        // What the indexer gives each token: entries it sees, -1 slots.
        int sel = h.addBuffer(S * topk);
        std::vector<int32_t> ids;
        for (const BatchSeq &s : seqs)
          for (int64_t t = 0; t < s.tokens; ++t) {
            int64_t visible = (s.start + t + 1) / ratio;
            for (int64_t j = 0; j < topk; ++j)
              ids.push_back(j % 5 == 4 || visible == 0
                                ? -1
                                : int32_t(rng()() % uint32_t(visible)));
          }
        h.buffers[size_t(sel)] = intWords(ids);
        h.launch.inputs.push_back(sel);
      }
      h.launch.outputs = {o};
      SeqStates states(seqs.size());
      auto rows = [&](std::vector<float> &w, int64_t n) {
        if (official)
          setBytes(w, encodedRows(n, hd, rd, false));
        else
          w = randomFloats(w.size());
      };
      int ring = h.addStateBytes(window, rowBytes);
      h.launch.states = {ring};
      addSeqState(h, states, ring,
                  [&](std::vector<float> &w) { rows(w, window); });
      if (mode != 0) {
        int ents = h.addStateBytes(entries, rowBytes, ratio);
        h.launch.states.push_back(ents);
        addSeqState(h, states, ents,
                    [&](std::vector<float> &w) { rows(w, entries); });
      }
      h.launch.weights = {
          h.addWeightF32("sink", {heads}, randomFloats(size_t(heads)))};
      setParams(h, {{"heads", double(heads)},
                    {"head_dim", double(hd)},
                    {"window", double(window)},
                    {"mode", double(mode)},
                    {"ratio", double(mode ? ratio : 0)},
                    {"topk", double(mode == 1 ? topk : 0)}});
      if (official)
        setParams(
            h, {{"numerics", 1}, {"kv_format", 1}, {"rope_dim", double(rd)}});
      const std::string what = std::string(official ? "official " : "") +
                               "sparse_attention mode " + std::to_string(mode);
      if (!official) {
        for (const BatchPaging &paging : pagings())
          checkBatch(G, h, rt::sparseAttentionKernel, seqs, states,
                     Match::Bf16Ulp, Match::Bitwise, what, paging);
        continue;
      }
      forEachAttentionSchedule(h, S, [&](bool split) {
        for (const BatchPaging &paging : pagings())
          checkBatch(G, h, rt::sparseAttentionKernel, seqs, states,
                     split ? Match::SplitAttention : Match::Bitwise,
                     Match::Bitwise, what + (split ? ", split" : ""), paging,
                     hd);
      });
    }
  }
}

TEST(GpuBatch, IndexerTopk) {
  REQUIRE_GPU();
  const std::vector<BatchSeq> seqs = mixedBatch();
  const int64_t S = totalTokens(seqs), ratio = 4, rows = 16;
  for (bool official : {false, true}) {
    // Top-4 of up to 9 visible entries: the radix select for the token at
    // 37, fewer visible than top-k for others.
    const int64_t heads = official ? 16 : 4, hd = official ? 64 : 32, topk = 4,
                  HD = heads * hd;
    KernelHarness h;
    h.launch.kernel = "indexer_topk";
    int q = h.addBuffer(S * HD), w = h.addBuffer(S * heads),
        o = h.addBuffer(S * topk);
    h.buffers[size_t(q)] =
        official ? randomBf16(size_t(S * HD)) : randomFloats(size_t(S * HD));
    h.buffers[size_t(w)] = official ? randomBf16(size_t(S * heads))
                                    : randomFloats(size_t(S * heads));
    h.launch.inputs = {q, w};
    h.launch.outputs = {o};
    const int64_t rowBytes =
        official ? int64_t(official::fp4KeyBytes(size_t(hd))) : 4 * hd;
    int keys = h.addStateBytes(rows, rowBytes, ratio);
    h.launch.states = {keys};
    SeqStates states(seqs.size());
    addSeqState(h, states, keys, [&](std::vector<float> &v) {
      if (official)
        setBytes(v, encodedRows(rows, hd, 0, true));
      else
        v = randomFloats(v.size());
    });
    setParams(h, {{"heads", double(heads)},
                  {"head_dim", double(hd)},
                  {"topk", double(topk)},
                  {"ratio", double(ratio)}});
    if (official)
      setParams(h, {{"numerics", 1}, {"key_format", 1}});
    forEachIndexerSchedule(h, S, [&] {
      for (const BatchPaging &paging : pagings())
        checkBatch(G, h, rt::indexerTopkKernel, seqs, states, Match::Bitwise,
                   Match::Bitwise,
                   official ? "official indexer_topk" : "indexer_topk", paging);
    });
  }
}

TEST(GpuBatch, Compressor) {
  REQUIRE_GPU();
  const std::vector<BatchSeq> seqs = mixedBatch();
  const int64_t S = totalTokens(seqs), dim = 256, rows = 16;
  struct Case {
    bool official;
    int64_t D, ratio;
    bool overlap;
    int format; // official: 1 KV entries, 2 FP4 keys
  };
  for (Case c : {Case{false, 64, 4, true, 0}, Case{false, 64, 8, false, 0},
                 Case{true, 128, 4, true, 1}, Case{true, 128, 8, false, 1},
                 Case{true, 128, 4, true, 2}}) {
    const int64_t width = (c.overlap ? 2 : 1) * c.D, rd = c.official ? 64 : 16;
    KernelHarness h;
    h.launch.kernel = "compressor";
    int x = h.addBuffer(S * dim);
    h.launch.inputs = {x};
    // Official: projections exact (grid values), so tails and entries are
    // bitwise; reference: within one bf16 ulp (the GEMV's sum order).
    auto matrix = [&](const char *name) {
      return h.addWeightRaw(
          name, DType::BF16, {width, dim},
          bf16Bytes(c.official ? gridValues(size_t(width * dim), 2, 0x1p-6f)
                               : randomFloats(size_t(width * dim), 0.05f)));
    };
    h.launch.weights = {
        matrix("wkv"), matrix("wgate"),
        h.addWeightF32("ape", {c.ratio, width},
                       randomFloats(size_t(c.ratio * width), 0.5f)),
        h.addWeightRaw("norm", DType::BF16, {c.D},
                       bf16Bytes(randomFloats(size_t(c.D))))};
    h.buffers[size_t(x)] = c.official ? gridValues(size_t(S * dim), 4, 0.125f)
                                      : randomFloats(size_t(S * dim));
    const int64_t entryBytes =
        c.format == 2 ? int64_t(official::fp4KeyBytes(size_t(c.D)))
        : c.format == 1
            ? int64_t(official::KvEntryLayout::make(size_t(c.D), size_t(rd))
                          ->entryBytes())
            : 4 * c.D;
    int tail = h.addState(c.overlap ? 2 * c.ratio : c.ratio, 2 * width);
    int ents = h.addStateBytes(rows, entryBytes, c.ratio);
    h.launch.states = {tail, ents};
    SeqStates states(seqs.size());
    addSeqState(h, states, tail, [&](std::vector<float> &v) {
      v = c.official ? gridValues(v.size(), 8, 0.0625f)
                     : randomFloats(v.size());
    });
    addSeqState(h, states, ents, [&](std::vector<float> &v) {
      if (c.official)
        setBytes(v, encodedRows(rows, c.D, rd, c.format == 2));
      else
        v = randomFloats(v.size());
    });
    setParams(h, {{"dim", double(dim)},
                  {"head_dim", double(c.D)},
                  {"ratio", double(c.ratio)},
                  {"overlap", c.overlap ? 1.0 : 0.0},
                  {"eps", 1e-6}});
    yarnRope(h, rd, c.official);
    if (c.official)
      h.param("entry_format", double(c.format));
    const std::string what =
        std::string(c.official ? "official " : "") + "compressor ratio " +
        std::to_string(c.ratio) + (c.overlap ? " overlap" : "") +
        (c.format ? " format " + std::to_string(c.format) : "");
    const Match m = c.official ? Match::Bitwise : Match::Bf16Ulp;
    // The "cluster" schedule (an entry of unknown size) and "projected" (an
    // entry of S tokens): the same projections, so the same match.
    for (int64_t entry : {int64_t(0), S}) {
      h.entryMaxTokens = entry;
      for (const BatchPaging &paging : pagings())
        checkBatch(G, h, rt::compressorKernel, seqs, states, m, m,
                   what + (entry ? ", projected" : ""), paging);
    }
  }
}

TEST(GpuBatch, RopeAndHeadRmsNormRope) {
  REQUIRE_GPU();
  const std::vector<BatchSeq> seqs = ropeBatch();
  const int64_t S = totalTokens(seqs);
  struct Case {
    bool official, normFirst;
    int64_t heads, hd, rd, after;
    bool inverse;
    const char *what;
  };
  for (const Case &c :
       {Case{false, false, 8, 512, 64, 0, false, "rope"},
        Case{false, false, 8, 512, 64, 0, true, "rope inverse"},
        Case{false, true, 8, 512, 64, 0, false, "head_rms_norm_rope"},
        Case{true, false, 8, 512, 64, 0, false, "official rope q"},
        Case{true, false, 1, 512, 64, 1, false, "official rope kv FP8"},
        Case{true, false, 64, 128, 64, 2, false, "official rope indexer FP4"},
        Case{true, true, 8, 512, 64, 0, false,
             "official head_rms_norm_rope"}}) {
    KernelHarness h;
    h.launch.kernel = c.normFirst ? "head_rms_norm_rope" : "rope";
    const int64_t n = S * c.heads * c.hd;
    int in = h.addBuffer(n), out = h.addBuffer(n);
    h.buffers[size_t(in)] =
        c.official ? randomBf16(size_t(n)) : randomFloats(size_t(n), 2.0f);
    h.launch.inputs = {in};
    h.launch.outputs = {out};
    setParams(h, {{"heads", double(c.heads)}, {"head_dim", double(c.hd)}});
    if (c.normFirst) {
      h.param("eps", 1e-6);
    } else {
      h.param("inverse", c.inverse ? 1 : 0);
      if (c.official)
        h.param("after_rope", double(c.after));
    }
    yarnRope(h, c.rd, c.official);
    checkBatch(G, h,
               c.normFirst ? HostKernelRef(rt::headRmsNormRopeKernel)
                           : HostKernelRef(rt::ropeKernel),
               seqs, SeqStates(seqs.size()), Match::Bitwise, Match::Bitwise,
               c.what, BatchPaging{4, 2, 5});
  }
}

} // namespace
} // namespace birkhoff::cuda
