//===- EngineTest.cpp - Batches of sequences on the host backend ----------===//
//
// The host keeps its exact kernels, so batching must never change a bit: every
// token's logits from an Engine step (mixed prefill chunks and decode tokens
// of several sequences, sequences joining and leaving) equal those of a
// Session fed the same sequence alone. Also the page pool (taken as contexts
// grow, zeroed on reuse, a clear error when it runs out) and malformed
// batches.
//
//===----------------------------------------------------------------------===//
#include "GoldenCase.h"

#include "ArtifactLoader.h"
#include "Backend.h"
#include "birkhoff/Runtime.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <random>

namespace birkhoff::test {
namespace {

struct EngineCase {
  const char *golden;
  const char *flags;
  const char *name;
};

void PrintTo(const EngineCase &c, std::ostream *os) { *os << c.name; }

class EngineTest : public ::testing::TestWithParam<EngineCase> {
protected:
  void SetUp() override {
    const EngineCase &c = GetParam();
    std::string dir = std::string(BIRKHOFF_GOLDENS_DIR) + "/" + c.golden;
    if (!std::filesystem::exists(dir))
      GTEST_SKIP() << "no golden case at " << dir;
    std::string path = std::string(BIRKHOFF_BIN_DIR) +
                       "/../golden-artifacts/engine-" + c.name + ".bkart";
    Status st =
        compileArtifact(dir, path, std::string("--max-context 640 ") + c.flags);
    ASSERT_TRUE(st.isOk()) << st.toString();
    auto m = Model::load(path);
    ASSERT_TRUE(m.isOk()) << m.status().toString();
    model_ = m.take();
    vocab_ = model_->info().vocabSize;
  }

  std::vector<int32_t> prompt(int seed, int n) const {
    std::mt19937 gen{uint32_t(seed)};
    std::vector<int32_t> p;
    for (int i = 0; i < n; ++i)
      p.push_back(int32_t(gen() % uint32_t(vocab_)));
    return p;
  }

  /// Every token's logits of `tokens` fed to a fresh session in one call.
  std::vector<float> alone(const std::vector<int32_t> &tokens) {
    auto s = Session::create(model_);
    EXPECT_TRUE(s.isOk());
    std::vector<float> logits;
    Status st = (*s)->prefill(tokens, &logits);
    EXPECT_TRUE(st.isOk()) << st.toString();
    return logits;
  }

  std::unique_ptr<Engine> engine(int sequences, int64_t pages = 0,
                                 int64_t pageTokens = 0) {
    EngineOptions o;
    o.maxSequences = sequences;
    o.statePages = pages;
    o.pageTokens = pageTokens;
    auto e = Engine::create(model_, o);
    EXPECT_TRUE(e.isOk()) << e.status().toString();
    return e.take();
  }

  std::shared_ptr<const Model> model_;
  int64_t vocab_ = 0;
};

/// Feeds several sequences through one engine in steps that mix prefill
/// chunks and decode tokens (a random schedule, sequences interleaved within
/// a step) and keeps every token's logits per sequence.
TEST_P(EngineTest, BatchedStepsEqualEachSequenceAloneBitwise) {
  const int kSeqs = 5;
  std::vector<std::vector<int32_t>> tokens;
  for (int i = 0; i < kSeqs; ++i)
    tokens.push_back(prompt(100 + i, 40 + 37 * i)); // 40 .. 188 tokens
  auto eng = engine(kSeqs, 0, 64); // small pages: several per sequence
  std::vector<SequenceId> ids;
  for (int i = 0; i < kSeqs; ++i) {
    auto id = eng->addSequence();
    ASSERT_TRUE(id.isOk());
    ids.push_back(*id);
  }
  std::vector<size_t> fed(kSeqs, 0);
  std::vector<std::vector<float>> got(kSeqs);
  std::mt19937 gen(7);
  Batch batch;
  StepResult result;
  for (int step = 0; step < 400; ++step) {
    batch.clear();
    std::vector<std::pair<int, size_t>> where; // (sequence, token) per index
    // Each sequence adds 0..9 tokens (1 is a decode step), written in an
    // interleaved order: round-robin one token at a time.
    std::vector<size_t> take(kSeqs);
    for (int i = 0; i < kSeqs; ++i)
      take[size_t(i)] = std::min<size_t>(
          tokens[size_t(i)].size() - fed[size_t(i)], gen() % 10);
    for (size_t k = 0; k < 9; ++k)
      for (int i = 0; i < kSeqs; ++i)
        if (k < take[size_t(i)]) {
          size_t t = fed[size_t(i)] + k;
          batch.add(tokens[size_t(i)][t], ids[size_t(i)], int64_t(t), true);
          where.push_back({i, t});
        }
    if (batch.size() == 0) {
      bool done = true;
      for (int i = 0; i < kSeqs; ++i)
        done = done && fed[size_t(i)] == tokens[size_t(i)].size();
      if (done)
        break;
      continue;
    }
    Status st = eng->step(batch, result);
    ASSERT_TRUE(st.isOk()) << st.toString();
    ASSERT_TRUE(result.failed.empty());
    ASSERT_EQ(result.rows.size(), batch.size());
    for (size_t b = 0; b < batch.size(); ++b) {
      auto [i, t] = where[b];
      std::span<const float> l = result.logitsOf(int32_t(b));
      ASSERT_EQ(int64_t(l.size()), vocab_);
      ASSERT_EQ(got[size_t(i)].size(), t * size_t(vocab_));
      got[size_t(i)].insert(got[size_t(i)].end(), l.begin(), l.end());
    }
    for (int i = 0; i < kSeqs; ++i)
      fed[size_t(i)] += take[size_t(i)];
  }
  for (int i = 0; i < kSeqs; ++i) {
    ASSERT_EQ(fed[size_t(i)], tokens[size_t(i)].size());
    EXPECT_EQ(got[size_t(i)], alone(tokens[size_t(i)])) << "sequence " << i;
    EXPECT_EQ(*eng->position(ids[size_t(i)]),
              int64_t(tokens[size_t(i)].size()));
  }
}

/// A step asks for some tokens' logits only: those rows come out as in a
/// step that wants every row (the logits tail runs on the gathered rows).
TEST_P(EngineTest, LogitsOfSomeRowsEqualThoseOfEveryRow) {
  auto a = prompt(1, 30), b = prompt(2, 12);
  auto full = engine(2), some = engine(2);
  for (Engine *e : {full.get(), some.get()}) {
    ASSERT_TRUE(e->addSequence().isOk());
    ASSERT_TRUE(e->addSequence().isOk());
  }
  Batch all, part;
  for (size_t t = 0; t < a.size(); ++t) {
    all.add(a[t], 1, int64_t(t), true);
    part.add(a[t], 1, int64_t(t), t % 7 == 3);
  }
  for (size_t t = 0; t < b.size(); ++t) {
    all.add(b[t], 2, int64_t(t), true);
    part.add(b[t], 2, int64_t(t), t + 1 == b.size());
  }
  StepResult ra, rp;
  ASSERT_TRUE(full->step(all, ra).isOk());
  ASSERT_TRUE(some->step(part, rp).isOk());
  ASSERT_EQ(ra.rows.size(), all.size());
  std::vector<int32_t> want;
  for (size_t i = 0; i < part.size(); ++i)
    if (part.wantLogits[i])
      want.push_back(int32_t(i));
  ASSERT_EQ(rp.rows, want);
  for (int32_t i : want) {
    std::span<const float> x = ra.logitsOf(i), y = rp.logitsOf(i);
    EXPECT_TRUE(std::equal(x.begin(), x.end(), y.begin(), y.end())) << i;
  }
  EXPECT_TRUE(rp.logitsOf(0).empty());
  // A step that wants no logits still moves the sequences on.
  Batch none;
  none.add(a[0], 1, int64_t(a.size()), false);
  ASSERT_TRUE(some->step(none, rp).isOk());
  EXPECT_TRUE(rp.rows.empty());
  EXPECT_EQ(*some->position(1), int64_t(a.size()) + 1);
}

/// Sequences end and new ones take their slots and pages: the newcomers'
/// logits equal a fresh session's, and the pool's count follows.
TEST_P(EngineTest, SequencesJoinAndLeaveARunningBatch) {
  auto eng = engine(2, 0, 64);
  auto first = *eng->addSequence(), second = *eng->addSequence();
  EXPECT_EQ(eng->addSequence().status().code(), StatusCode::ResourceExhausted);
  auto p1 = prompt(11, 150), p2 = prompt(12, 90), p3 = prompt(13, 120);
  Batch batch;
  StepResult r;
  for (size_t t = 0; t < p1.size(); ++t)
    batch.add(p1[t], first, int64_t(t), false);
  for (size_t t = 0; t < p2.size(); ++t)
    batch.add(p2[t], second, int64_t(t), false);
  ASSERT_TRUE(eng->step(batch, r).isOk());
  const int64_t used = eng->pagesInUse();
  EXPECT_GT(used, 0);
  ASSERT_TRUE(eng->removeSequence(first).isOk());
  EXPECT_LT(eng->pagesInUse(), used);
  EXPECT_EQ(eng->removeSequence(first).code(), StatusCode::NotFound);
  EXPECT_EQ(eng->position(first).status().code(), StatusCode::NotFound);
  auto third = *eng->addSequence();
  EXPECT_NE(third, first); // ids are never reused
  std::vector<float> got;
  for (size_t t = 0; t < p3.size(); ++t) {
    batch.clear();
    batch.add(p3[t], third, int64_t(t), true);
    if (t < 10) // the other sequence decodes beside it for a while
      batch.add(p2[t % p2.size()], second, int64_t(p2.size() + t), true);
    ASSERT_TRUE(eng->step(batch, r).isOk());
    std::span<const float> l = r.logitsOf(0);
    got.insert(got.end(), l.begin(), l.end());
  }
  EXPECT_EQ(got, alone(p3));
}

/// A page handed to a new sequence is zeroed, whatever the last one left.
TEST_P(EngineTest, PagesAreZeroedWhenReused) {
  const rt::Program &prog = model_->artifact().program;
  rt::EngineShape shape;
  shape.slots = 2;
  shape.pageTokens = 64;
  shape.pagesPerSlot = 4;
  shape.pages = 4;
  auto be = model_->backend().createEngine(prog, shape);
  ASSERT_TRUE(be.isOk()) << be.status().toString();
  rt::EngineBackend &b = **be;
  ASSERT_TRUE(b.clearSlot(0).isOk());
  ASSERT_TRUE(b.setPage(0, 0, 2).isOk());
  auto p = prompt(5, 40);
  std::vector<cuda::BkToken> toks;
  for (int32_t t = 0; t < 40; ++t)
    toks.push_back({t, 0, 0, 39});
  std::vector<int32_t> rows = {39};
  std::vector<float> logits(static_cast<size_t>(vocab_));
  std::vector<float *> dest = {logits.data()};
  rt::BatchCall call{p, toks, rows, dest};
  ASSERT_TRUE(b.run(*prog.entry("prefill"), call).isOk());
  auto written = b.readPage(2);
  ASSERT_TRUE(written.isOk());
  EXPECT_TRUE(std::any_of(written->begin(), written->end(), [](uint8_t x) {
    return x != 0;
  })) << "40 tokens wrote no compressed entry";
  ASSERT_TRUE(b.clearSlot(1).isOk());
  ASSERT_TRUE(b.setPage(1, 0, 2).isOk());
  auto reused = b.readPage(2);
  ASSERT_TRUE(reused.isOk());
  EXPECT_TRUE(std::all_of(reused->begin(), reused->end(),
                          [](uint8_t x) { return x == 0; }));
}

/// When the pool runs out, the sequence that needed a page fails alone
/// (unchanged), the others run; it runs once pages come back.
TEST_P(EngineTest, OutOfPagesFailsOnlyTheSequenceThatNeededThem) {
  auto eng = engine(3, 3, 64); // 3 pages of 64 tokens for 3 sequences
  auto a = *eng->addSequence(), b = *eng->addSequence(),
       c = *eng->addSequence();
  auto pa = prompt(21, 128), pb = prompt(22, 60), pc = prompt(23, 30);
  Batch batch;
  StepResult r;
  for (size_t t = 0; t < pa.size(); ++t) // two pages
    batch.add(pa[t], a, int64_t(t), t + 1 == pa.size());
  for (size_t t = 0; t < pb.size(); ++t) // one page
    batch.add(pb[t], b, int64_t(t), t + 1 == pb.size());
  for (size_t t = 0; t < pc.size(); ++t) // one page: none left
    batch.add(pc[t], c, int64_t(t), t + 1 == pc.size());
  ASSERT_TRUE(eng->step(batch, r).isOk());
  ASSERT_EQ(r.failed.size(), 1u);
  EXPECT_EQ(r.failed[0].first, c);
  EXPECT_EQ(r.failed[0].second.code(), StatusCode::ResourceExhausted);
  EXPECT_NE(r.failed[0].second.message().find("out of state pages"),
            std::string::npos)
      << r.failed[0].second.toString();
  EXPECT_EQ(*eng->position(c), 0);
  EXPECT_EQ(*eng->position(a), 128);
  EXPECT_EQ(*eng->position(b), 60);
  ASSERT_EQ(r.rows.size(), 2u);
  EXPECT_TRUE(r.logitsOf(int32_t(pa.size() + pb.size() - 1)).size() > 0);
  EXPECT_EQ(eng->pagesInUse(), 3);
  // What a scheduler reads before admitting a sequence.
  EXPECT_EQ(eng->pagesFor(0), 0);
  EXPECT_EQ(eng->pagesFor(128), 2);
  EXPECT_EQ(eng->pagesFor(60), 1);
  EXPECT_EQ(eng->pagesFor(131), 2); // rows are whole blocks of 4 tokens
  EXPECT_EQ(eng->pagesFor(132), 3);
  EXPECT_EQ(eng->pagesFor(128) + eng->pagesFor(60), eng->pagesInUse());
  ASSERT_TRUE(eng->removeSequence(a).isOk());
  batch.clear();
  for (size_t t = 0; t < pc.size(); ++t)
    batch.add(pc[t], c, int64_t(t), true);
  ASSERT_TRUE(eng->step(batch, r).isOk());
  EXPECT_TRUE(r.failed.empty());
  EXPECT_EQ(r.logits, alone(pc));
}

TEST_P(EngineTest, MalformedBatchesRunNothing) {
  auto eng = engine(2);
  auto a = *eng->addSequence();
  StepResult r;
  auto expectInvalid = [&](const Batch &b, const std::string &needle) {
    Status st = eng->step(b, r);
    EXPECT_EQ(st.code(), StatusCode::InvalidArgument) << st.toString();
    EXPECT_NE(st.message().find(needle), std::string::npos) << st.toString();
    EXPECT_EQ(*eng->position(a), 0);
  };
  Batch b;
  b.add(int32_t(vocab_), a, 0, true);
  expectInvalid(b, "outside the vocabulary");
  b.clear();
  b.add(1, a, 0, true);
  b.add(2, a, 2, true);
  expectInvalid(b, "expected 1");
  b.clear();
  b.add(1, a + 100, 0, true);
  EXPECT_EQ(eng->step(b, r).code(), StatusCode::NotFound);
  b.clear();
  b.add(1, a, 0, true);
  b.positions.push_back(1);
  expectInvalid(b, "positions");
  // Context full fails the sequence, not the step.
  b.clear();
  for (int64_t t = 0; t <= eng->capacity(); ++t)
    b.add(1, a, t, false);
  ASSERT_TRUE(eng->step(b, r).isOk());
  ASSERT_EQ(r.failed.size(), 1u);
  EXPECT_EQ(r.failed[0].second.code(), StatusCode::OutOfRange);
  EXPECT_EQ(*eng->position(a), 0);
}

TEST_P(EngineTest, BadOptionsAreRefused) {
  EngineOptions o;
  o.pageTokens = 96; // not a power of two
  EXPECT_EQ(Engine::create(model_, o).status().code(),
            StatusCode::InvalidArgument);
  o.pageTokens = 8; // below the largest ratio (16)
  EXPECT_EQ(Engine::create(model_, o).status().code(),
            StatusCode::InvalidArgument);
  o = {};
  o.maxSequences = 0;
  EXPECT_EQ(Engine::create(model_, o).status().code(),
            StatusCode::InvalidArgument);
}

// Sizes that would wrap 64 bits are refused before anything is allocated
// (a wrapped state size allocated too little, and a kernel wrote past it).
TEST_P(EngineTest, SizesPastTheLimitsAreRefused) {
  EngineOptions o;
  o.maxContext = 4611686018427387920; // the value
  Expected<std::unique_ptr<Engine>> e = Engine::create(model_, o);
  ASSERT_FALSE(e.isOk());
  EXPECT_EQ(e.status().code(), StatusCode::InvalidArgument);
  EXPECT_NE(e.status().message().find("4611686018427387920"), std::string::npos)
      << e.status().message();
  o = {};
  o.pageTokens = int64_t(1) << 40; // a power of two, past any context
  EXPECT_EQ(Engine::create(model_, o).status().code(),
            StatusCode::InvalidArgument);
  // 2^31 - 1 pages of 2^30 tokens: every page fits the table, but a growing
  // state's pool is past 64 bits.
  o = {};
  o.pageTokens = int64_t(1) << 30;
  o.statePages = INT32_MAX;
  e = Engine::create(model_, o);
  ASSERT_FALSE(e.isOk());
  EXPECT_EQ(e.status().code(), StatusCode::OutOfRange);
  EXPECT_NE(e.status().message().find("overflows 64 bits"), std::string::npos)
      << e.status().message();
}

INSTANTIATE_TEST_SUITE_P(
    Goldens, EngineTest,
    ::testing::Values(EngineCase{"tiny_quant", "", "tiny_quant"},
                      EngineCase{"tiny_dq", "--numerics official",
                                 "tiny_dq_official"}),
    [](const auto &info) { return std::string(info.param.name); });

} // namespace
} // namespace birkhoff::test
