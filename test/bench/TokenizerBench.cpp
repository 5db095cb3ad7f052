//===- TokenizerBench.cpp - Encode throughput on DeepSeek's corpus --------===//
//
// Measured the way ../shared/tools/tokref.py --bench and tools/tokref.mjs
// --bench measure HF tokenizers: the corpus texts joined by "\n", repeated to
// at least 8 MB, encoded in one call on one thread (after a warm-up of the
// first 100,000 characters). A second benchmark encodes the lines one call
// each, as a server sees requests. Run:
//   build/tests/tokenizer_bench [TOKENIZERS_DIR]
//
//===----------------------------------------------------------------------===//
#include "birkhoff/Tokenizer.h"

#include <benchmark/benchmark.h>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <fstream>

namespace {

std::string gDir = BIRKHOFF_TOKENIZERS_DIR "/deepseek-v3";

struct Corpus {
  std::unique_ptr<birkhoff::Tokenizer> tok;
  std::string big;
  std::vector<std::string> lines;
};

const Corpus *corpus() {
  static Corpus *c = [] {
    auto *c = new Corpus;
    auto tok = birkhoff::Tokenizer::fromJsonFile(gDir + "/tokenizer.json");
    if (!tok) {
      std::fprintf(stderr, "%s\n", tok.status().toString().c_str());
      return c;
    }
    c->tok = tok.take();
    std::ifstream in(gDir + "/corpus.json");
    auto texts = nlohmann::json::parse(in);
    std::string joined;
    for (size_t i = 0; i < texts.size(); ++i)
      joined += (i ? "\n" : "") + texts[i].get<std::string>();
    size_t reps = std::max<size_t>(1, (8u << 20) / joined.size());
    for (size_t i = 0; i < reps; ++i)
      c->big += joined;
    for (size_t b = 0; b < c->big.size() && c->lines.size() < 20000;) {
      size_t e = c->big.find('\n', b);
      if (e == std::string::npos)
        e = c->big.size();
      if (e > b)
        c->lines.push_back(c->big.substr(b, e - b));
      b = e + 1;
    }
    // Warm-up as tokref does (the first 100,000 characters, twice).
    size_t cut = 0;
    for (size_t chars = 0; cut < c->big.size() && chars < 100000; ++chars)
      do
        ++cut;
      while (cut < c->big.size() && (c->big[cut] & 0xC0) == 0x80);
    for (int i = 0; i < 2; ++i)
      (void)c->tok->encode(std::string_view(c->big).substr(0, cut));
    return c;
  }();
  return c;
}

void BM_EncodeCorpus(benchmark::State &state) {
  const Corpus *c = corpus();
  if (!c->tok) {
    state.SkipWithError("no tokenizer");
    return;
  }
  size_t tokens = 0;
  for (auto _ : state) {
    auto ids = c->tok->encode(c->big);
    tokens += ids->size();
    benchmark::DoNotOptimize(ids->data());
  }
  state.SetBytesProcessed(int64_t(state.iterations() * c->big.size()));
  state.counters["tokens/s"] =
      benchmark::Counter(double(tokens), benchmark::Counter::kIsRate);
  state.counters["MB"] = double(c->big.size()) / 1e6;
}
BENCHMARK(BM_EncodeCorpus)->Unit(benchmark::kMillisecond)->MinTime(2.0);

void BM_EncodeLines(benchmark::State &state) {
  const Corpus *c = corpus();
  if (!c->tok) {
    state.SkipWithError("no tokenizer");
    return;
  }
  size_t tokens = 0, bytes = 0;
  for (auto _ : state) {
    for (const std::string &line : c->lines) {
      auto ids = c->tok->encode(line);
      tokens += ids->size();
      bytes += line.size();
    }
  }
  state.SetBytesProcessed(int64_t(bytes));
  state.counters["tokens/s"] =
      benchmark::Counter(double(tokens), benchmark::Counter::kIsRate);
  state.counters["lines"] = double(c->lines.size());
}
BENCHMARK(BM_EncodeLines)->Unit(benchmark::kMillisecond)->MinTime(2.0);

} // namespace

int main(int argc, char **argv) {
  benchmark::Initialize(&argc, argv);
  if (argc > 1)
    gDir = std::string(argv[1]) + "/deepseek-v3";
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
