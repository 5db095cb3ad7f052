//===- SynthTest.cpp - Random checkpoints and `birkhoff synth` ------------===//
#include "deepseek_v4/Synth.h"

#include "deepseek_v4/CheckpointSchema.h"

#include "Commands.h"
#include "TestSupport.h"
#include "birkhoff/Numerics.h"
#include "birkhoff/WeightSynthesis.h"
#include "birkhoff/WorkerPool.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <set>

namespace birkhoff::v4 {
namespace {

struct Opened {
  ModelConfig config;
  Checkpoint ckpt;
  CheckpointFormat format;
};

/// Opens a synth output and validates it against its own config.json.
void openAndValidate(const std::string &dir, Opened &out) {
  auto config = loadModelConfig(dir);
  ASSERT_TRUE(config.isOk()) << config.status().toString();
  auto ckpt = Checkpoint::open(dir);
  ASSERT_TRUE(ckpt.isOk()) << ckpt.status().toString();
  Status s = validateCheckpoint(*config, *ckpt, &out.format);
  ASSERT_TRUE(s.isOk()) << s.toString();
  out.config = config.take();
  out.ckpt = ckpt.take();
}

std::vector<float> bf16Values(const Checkpoint &ckpt, const std::string &name) {
  auto bytes = ckpt.bytes(name);
  EXPECT_TRUE(bytes.isOk());
  std::vector<float> v(bytes->size() / 2);
  for (size_t i = 0; i < v.size(); ++i) {
    uint16_t h;
    std::memcpy(&h, bytes->data() + 2 * i, 2);
    v[i] = bf16ToFloat(h);
  }
  return v;
}

void meanStd(const std::vector<float> &v, double &mean, double &std) {
  double s = 0, s2 = 0;
  for (float x : v) {
    s += x;
    s2 += double(x) * x;
  }
  mean = s / double(v.size());
  std = std::sqrt(s2 / double(v.size()) - mean * mean);
}

TEST(Synth, TinyQuantizedValidates) {
  test::TempDir tmp;
  SynthStats stats;
  Status s =
      writeSynthCheckpoint(*presetConfig("tiny"), {}, tmp.path(), &stats);
  ASSERT_TRUE(s.isOk()) << s.toString();
  Opened o;
  ASSERT_NO_FATAL_FAILURE(openAndValidate(tmp.path(), o));
  EXPECT_EQ(o.config, *presetConfig("tiny"));
  EXPECT_EQ(o.format.linears, LinearFormat::FP8);
  EXPECT_EQ(o.format.experts, ExpertFormat::FP4);
  EXPECT_EQ(o.format.mtpLayers, 1);
  EXPECT_EQ(stats.shards, 2);
  EXPECT_EQ(stats.tensors, int64_t(o.ckpt.tensors().size()));
  auto index = nlohmann::json::parse(
      test::readBytes(tmp.file("model.safetensors.index.json")));
  EXPECT_EQ(index["metadata"]["total_size"].get<int64_t>(), stats.bytes);
  EXPECT_EQ(index["weight_map"].size(), o.ckpt.tensors().size());
}

TEST(Synth, TinyUnquantizedWithoutMtpValidates) {
  test::TempDir tmp;
  SynthOptions options;
  options.quantized = false;
  options.mtp = false;
  Status s = writeSynthCheckpoint(*presetConfig("tiny"), options, tmp.path());
  ASSERT_TRUE(s.isOk()) << s.toString();
  Opened o;
  ASSERT_NO_FATAL_FAILURE(openAndValidate(tmp.path(), o));
  EXPECT_EQ(o.format.linears, LinearFormat::BF16);
  EXPECT_EQ(o.format.experts, ExpertFormat::BF16);
  EXPECT_EQ(o.format.mtpLayers, 0);
  EXPECT_FALSE(o.config.fp8Linears);
  EXPECT_EQ(o.config.nMtpLayers, 0);
  // Value statistics follow V4_SPEC §7.4.
  double mean, std;
  meanStd(bf16Values(o.ckpt, "layers.1.ffn.experts.3.w1.weight"), mean, std);
  EXPECT_NEAR(mean, 0.0, 0.01);
  EXPECT_NEAR(std, 1.0 / std::sqrt(256.0), 0.003);
  meanStd(bf16Values(o.ckpt, "embed.weight"), mean, std);
  EXPECT_NEAR(mean, 0.0, 0.01);
  EXPECT_NEAR(std, 1.0, 0.01);
  std::vector<float> norms;
  for (int l = 0; l < 4; ++l)
    for (const char *n : {"attn_norm.weight", "ffn_norm.weight"}) {
      auto v = bf16Values(o.ckpt, "layers." + std::to_string(l) + "." + n);
      norms.insert(norms.end(), v.begin(), v.end());
    }
  meanStd(norms, mean, std);
  EXPECT_NEAR(mean, 1.0, 0.01);
  EXPECT_NEAR(std, 0.1, 0.01);
}

// Scales follow the ue8m0 rule: each block's largest magnitude lands in
// (qmax/2, qmax] before rounding, so after it at least qmax/2 (FP8: 224,
// FP4: 3) and at most qmax.
TEST(Synth, QuantizationFollowsScaleRule) {
  test::TempDir tmp;
  ASSERT_TRUE(
      writeSynthCheckpoint(*presetConfig("tiny"), {}, tmp.path()).isOk());
  Opened o;
  ASSERT_NO_FATAL_FAILURE(openAndValidate(tmp.path(), o));

  auto w = o.ckpt.bytes("layers.1.attn.wq_b.weight"); // [512, 128]
  auto sc = o.ckpt.bytes("layers.1.attn.wq_b.scale"); // [4, 1]
  ASSERT_TRUE(w.isOk() && sc.isOk());
  ASSERT_EQ(sc->size(), 4u);
  double sumSq = 0;
  for (int b = 0; b < 4; ++b) {
    float blockMax = 0;
    for (int r = 0; r < 128; ++r)
      for (int c = 0; c < 128; ++c) {
        float q = e4m3ToFloat((*w)[(b * 128 + r) * 128 + c]);
        ASSERT_FALSE(std::isnan(q));
        blockMax = std::max(blockMax, std::fabs(q));
        float real = q * e8m0ToFloat((*sc)[b]);
        sumSq += double(real) * real;
      }
    EXPECT_GE(blockMax, 224.0f) << "block " << b;
    EXPECT_LE(blockMax, 448.0f) << "block " << b;
  }
  // Dequantized std ~ 1/sqrt(in) = 1/sqrt(128).
  EXPECT_NEAR(std::sqrt(sumSq / (512.0 * 128)), 1.0 / std::sqrt(128.0), 0.01);

  auto e = o.ckpt.bytes(
      "layers.2.ffn.experts.1.w2.weight"); // [256, 64] packed of [256, 128]
  auto es = o.ckpt.bytes("layers.2.ffn.experts.1.w2.scale"); // [256, 4]
  ASSERT_TRUE(e.isOk() && es.isOk());
  for (int r = 0; r < 256; ++r)
    for (int blk = 0; blk < 4; ++blk) {
      float blockMax = 0;
      for (int k = 0; k < 16; ++k) {
        uint8_t byte = (*e)[r * 64 + blk * 16 + k];
        blockMax = std::max({blockMax, std::fabs(e2m1ToFloat(byte & 15)),
                             std::fabs(e2m1ToFloat(byte >> 4))});
        EXPECT_NE(byte & 15, 8)
            << "negative zero code"; // encoded +0, like the goldens
      }
      EXPECT_GE(blockMax, 3.0f);
      EXPECT_LE(blockMax, 6.0f);
      EXPECT_NE((*es)[r * 4 + blk], 0xff);
    }
}

TEST(Synth, HashTablesHoldDistinctExperts) {
  test::TempDir tmp;
  ModelConfig c = *presetConfig("tiny");
  c.nRoutedExperts = 3;
  c.nActivatedExperts = 3; // every row a permutation
  ASSERT_TRUE(writeSynthCheckpoint(c, {}, tmp.path()).isOk());
  Opened o;
  ASSERT_NO_FATAL_FAILURE(openAndValidate(tmp.path(), o));
  auto t = o.ckpt.bytes("layers.0.ffn.gate.tid2eid");
  ASSERT_TRUE(t.isOk());
  ASSERT_EQ(t->size(), size_t(1024 * 3 * 8));
  std::set<std::vector<int64_t>> rows;
  for (int r = 0; r < 1024; ++r) {
    std::vector<int64_t> row(3);
    std::memcpy(row.data(), t->data() + r * 24, 24);
    EXPECT_EQ(std::set<int64_t>(row.begin(), row.end()),
              (std::set<int64_t>{0, 1, 2}));
    rows.insert(row);
  }
  EXPECT_EQ(rows.size(), 6u); // all permutations occur
}

// Same seed -> same bytes whatever the thread count; another seed differs.
TEST(Synth, DeterministicAcrossThreads) {
  test::TempDir tmp;
  ModelConfig c = *presetConfig("tiny");
  SynthOptions one, two, other;
  one.threads = 1;
  two.threads = 3;
  one.seed = two.seed = 7;
  other.seed = 8;
  ASSERT_TRUE(writeSynthCheckpoint(c, one, tmp.file("a")).isOk());
  ASSERT_TRUE(writeSynthCheckpoint(c, two, tmp.file("b")).isOk());
  ASSERT_TRUE(writeSynthCheckpoint(c, other, tmp.file("c")).isOk());
  for (const char *f :
       {"model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors",
        "config.json", "model.safetensors.index.json"}) {
    std::string a = test::readBytes(tmp.file("a") + "/" + f);
    EXPECT_FALSE(a.empty()) << f;
    EXPECT_EQ(a, test::readBytes(tmp.file("b") + "/" + f)) << f;
  }
  EXPECT_NE(
      test::readBytes(tmp.file("a") + "/model-00002-of-00002.safetensors"),
      test::readBytes(tmp.file("c") + "/model-00002-of-00002.safetensors"));
}

TEST(Synth, ShardLimit) {
  test::TempDir tmp;
  SynthOptions options;
  options.maxShardBytes = 1 << 20;
  SynthStats stats;
  ASSERT_TRUE(
      writeSynthCheckpoint(*presetConfig("tiny"), options, tmp.path(), &stats)
          .isOk());
  EXPECT_GT(stats.shards, 5);
  for (int64_t i = 1; i <= stats.shards; ++i) {
    char name[64];
    std::snprintf(name, sizeof name, "/model-%05lld-of-%05lld.safetensors",
                  (long long)i, (long long)stats.shards);
    // A shard holds at most 1 MiB of tensors unless one tensor alone is bigger
    // (the 512 KiB embedding fits); header bytes come on top.
    EXPECT_LT(std::filesystem::file_size(tmp.path() + name), (1u << 20) + 65536)
        << name;
  }
  Opened o;
  ASSERT_NO_FATAL_FAILURE(openAndValidate(tmp.path(), o));
}

// Pro's real widths (dim 7168, q_lora 1536, 16 output groups, HCA first
// layer) with a small vocabulary, one layer and 8 experts (~0.6 GB).
TEST(Synth, ProShapesValidate) {
  test::TempDir tmp;
  ModelConfig c = *presetConfig("pro");
  c.vocabSize = 1024;
  ASSERT_TRUE(truncateLayers(c, 1).isOk());
  ASSERT_TRUE(setRoutedExperts(c, 8).isOk());
  SynthOptions options;
  options.mtp = false;
  ASSERT_TRUE(writeSynthCheckpoint(c, options, tmp.path()).isOk());
  Opened o;
  ASSERT_NO_FATAL_FAILURE(openAndValidate(tmp.path(), o));
  const TensorInfo *woA = o.ckpt.find("layers.0.attn.wo_a.weight");
  ASSERT_NE(woA, nullptr);
  EXPECT_EQ(woA->shape, (std::vector<int64_t>{16384, 4096}));
  const TensorInfo *ape = o.ckpt.find("layers.0.attn.compressor.ape");
  ASSERT_NE(ape, nullptr);
  EXPECT_EQ(ape->shape, (std::vector<int64_t>{128, 512}));
}

// lib's generator, driven by synthRecipe, reproduces every tensor of a synth
// checkpoint (scales included): what a generated artifact's loader relies on.
TEST(Synth, LibGeneratorReproducesEveryTensor) {
  test::TempDir tmp;
  for (bool quantized : {true, false}) {
    SCOPED_TRACE(quantized ? "quantized" : "unquantized");
    SynthOptions options;
    options.seed = 7;
    options.quantized = quantized;
    ModelConfig c = *presetConfig("tiny");
    ASSERT_TRUE(setRoutedExperts(c, 3).isOk()); // hash rows of 3 of 3
    std::string dir = tmp.file(quantized ? "q" : "u");
    ASSERT_TRUE(writeSynthCheckpoint(c, options, dir).isOk());
    Opened o;
    ASSERT_NO_FATAL_FAILURE(openAndValidate(dir, o));
    WorkerPool pool(2);
    int checked = 0;
    for (const ExpectedTensor &t : expectedTensors(o.config, o.format)) {
      WeightRecipe recipe = synthRecipe(t, o.config, options.seed);
      if (recipe.kind == SynthKind::BlockScale)
        continue; // compared with its weight
      std::vector<int64_t> shape = synthShape(t);
      ASSERT_TRUE(checkGeneratable(recipe, t.element, shape).isOk()) << t.name;
      WeightGenerator gen(recipe, t.element, shape);
      std::vector<uint8_t> data(gen.bytes()), scale(gen.scaleBytes());
      GenerationTarget target{&gen, data.data(), scale.data()};
      generateWeights({&target, 1}, pool, 4096);
      auto want = o.ckpt.bytes(t.name);
      ASSERT_TRUE(want.isOk());
      EXPECT_TRUE(
          std::equal(data.begin(), data.end(), want->begin(), want->end()))
          << t.name;
      if (!t.scale.empty()) {
        auto wantScale = o.ckpt.bytes(t.scale);
        ASSERT_TRUE(wantScale.isOk());
        EXPECT_TRUE(std::equal(scale.begin(), scale.end(), wantScale->begin(),
                               wantScale->end()))
            << t.scale;
      }
      ++checked;
    }
    EXPECT_GT(checked, 100);
  }
}

// synth's bytes are pinned: a change of the generator changes every
// checkpoint and every generated artifact, so it must be deliberate.
TEST(Synth, TinyBytesArePinned) {
  test::TempDir tmp;
  SynthOptions options;
  options.seed = 7;
  ASSERT_TRUE(
      writeSynthCheckpoint(*presetConfig("tiny"), options, tmp.path()).isOk());
  Opened o;
  ASSERT_NO_FATAL_FAILURE(openAndValidate(tmp.path(), o));
  uint64_t h = 0xcbf29ce484222325ull; // FNV-1a over names and bytes
  for (const auto &[name, info] : o.ckpt.tensors()) {
    auto bytes = o.ckpt.bytes(name);
    ASSERT_TRUE(bytes.isOk());
    for (char ch : name)
      h = (h ^ uint8_t(ch)) * 0x100000001b3ull;
    for (uint8_t b : *bytes)
      h = (h ^ b) * 0x100000001b3ull;
  }
  EXPECT_EQ(h, 0x6dd0ab4eed184ab2ull) << std::hex << h;
}

// ---- the command
// ----------------------------------------------------------------

/// `birkhoff synth ARGS` through the tool's command line (Cli.h).
int runSynth(std::vector<std::string> args) {
  args.insert(args.begin(), {"birkhoff", "synth"});
  std::vector<const char *> argv;
  for (const std::string &a : args)
    argv.push_back(a.c_str());
  const tools::cli::Command commands[] = {tools::synthCommand()};
  return tools::cli::runTool(commands, int(argv.size()), argv.data());
}

TEST(SynthCommand, UsageErrors) {
  test::TempDir tmp;
  EXPECT_EQ(runSynth({}), 2);
  EXPECT_EQ(runSynth({"-o", tmp.path()}), 2);   // no preset
  EXPECT_EQ(runSynth({"--preset", "tiny"}), 2); // no output
  EXPECT_EQ(runSynth({"--preset", "huge", "-o", tmp.path()}),
            2); // unknown preset
  EXPECT_EQ(runSynth({"--preset", "tiny", "-o", tmp.path(), "--layers", "x"}),
            2);
  EXPECT_EQ(runSynth({"--preset", "tiny", "-o", tmp.path(), "--layers", "9"}),
            2);
  EXPECT_EQ(runSynth({"--preset", "tiny", "-o", tmp.path(), "--experts", "1"}),
            2);
  EXPECT_EQ(runSynth({"--preset", "tiny", "-o", tmp.path(), "--bogus"}), 2);
  EXPECT_EQ(runSynth({"--preset", "tiny", "-o", tmp.path(), "--seed"}), 2);
  EXPECT_EQ(runSynth({"--help"}), 0);
  EXPECT_FALSE(std::filesystem::exists(tmp.file("config.json")));
}

TEST(SynthCommand, TinyLayersAndOptions) {
  test::TempDir tmp;
  ASSERT_EQ(
      runSynth({"--preset", "tiny", "-o", tmp.path(), "--layers", "3",
                "--experts", "4", "--seed", "3", "--unquantized", "--no-mtp"}),
      0);
  Opened o;
  ASSERT_NO_FATAL_FAILURE(openAndValidate(tmp.path(), o));
  EXPECT_EQ(o.config.nLayers, 3);
  EXPECT_EQ(o.config.nRoutedExperts, 4);
  EXPECT_EQ(o.config.attention, (std::vector<LayerAttention>{
                                    LayerAttention::Window, LayerAttention::CSA,
                                    LayerAttention::HCA}));
  EXPECT_EQ(o.format.linears, LinearFormat::BF16);
  EXPECT_EQ(o.format.mtpLayers, 0);
}

// --config takes the shape of any config.json: here rates and widths no
// preset has (HCA rate 16, vocab 512, dim 128, 5 experts) in the expanded
// key form, unquantized in the file; the checkpoint gets the file's shape
// with the quantization the options choose, and --experts still applies.
TEST(SynthCommand, ConfigFile) {
  test::TempDir tmp;
  ModelConfig c = *presetConfig("tiny");
  c.vocabSize = 512;
  c.dim = 128;
  c.hcaRatio = 16;
  c.indexHeadDim = 64;
  c.nRoutedExperts = 5;
  c.fp8Linears = false;
  std::string text = modelConfigToJson(c);
  ASSERT_NE(text.find("compress_rates"), std::string::npos);
  ASSERT_NO_FATAL_FAILURE(test::writeBytes(tmp.file("shape.json"), text));

  ASSERT_EQ(runSynth({"--config", tmp.file("shape.json"), "-o", tmp.file("a"),
                      "--seed", "5"}),
            0);
  Opened a;
  ASSERT_NO_FATAL_FAILURE(openAndValidate(tmp.file("a"), a));
  ModelConfig expected = c;
  expected.fp8Linears = true;
  EXPECT_EQ(a.config, expected);
  EXPECT_EQ(a.format.linears, LinearFormat::FP8);
  EXPECT_EQ(a.format.experts, ExpertFormat::FP4);
  EXPECT_EQ(a.format.mtpLayers, 1);
  const TensorInfo *ape = a.ckpt.find("layers.2.attn.compressor.ape");
  ASSERT_NE(ape, nullptr);
  EXPECT_EQ(ape->shape[0], 16); // one row per position of an HCA block

  // The config.json synth wrote is itself a valid --config input.
  ASSERT_EQ(
      runSynth({"--config", tmp.file("a") + "/config.json", "-o", tmp.file("b"),
                "--seed", "5", "--experts", "6", "--unquantized", "--no-mtp"}),
      0);
  Opened b;
  ASSERT_NO_FATAL_FAILURE(openAndValidate(tmp.file("b"), b));
  EXPECT_EQ(b.config.nRoutedExperts, 6);
  EXPECT_EQ(b.config.hcaRatio, 16);
  EXPECT_EQ(b.format.linears, LinearFormat::BF16);
  EXPECT_EQ(b.format.mtpLayers, 0);
}

TEST(SynthCommand, ConfigUsageErrors) {
  test::TempDir tmp;
  ASSERT_NO_FATAL_FAILURE(test::writeBytes(
      tmp.file("tiny.json"), modelConfigToJson(*presetConfig("tiny"))));
  // --preset and --config exclude each other, in either order.
  EXPECT_EQ(runSynth({"--preset", "tiny", "--config", tmp.file("tiny.json"),
                      "-o", tmp.file("out")}),
            2);
  EXPECT_EQ(runSynth({"--config", tmp.file("tiny.json"), "--preset", "tiny",
                      "-o", tmp.file("out")}),
            2);
  EXPECT_EQ(
      runSynth({"--config", tmp.file("missing.json"), "-o", tmp.file("out")}),
      2);
  EXPECT_EQ(runSynth({"--config"}), 2);
  // A config that fails validation (num_experts_per_tok > n_routed_experts).
  ModelConfig bad = *presetConfig("tiny");
  bad.nActivatedExperts = 9;
  ASSERT_NO_FATAL_FAILURE(
      test::writeBytes(tmp.file("bad.json"), modelConfigToJson(bad)));
  EXPECT_EQ(runSynth({"--config", tmp.file("bad.json"), "-o", tmp.file("out")}),
            2);
  ASSERT_NO_FATAL_FAILURE(
      test::writeBytes(tmp.file("junk.json"), "{ not json"));
  EXPECT_EQ(
      runSynth({"--config", tmp.file("junk.json"), "-o", tmp.file("out")}), 2);
  EXPECT_FALSE(std::filesystem::exists(tmp.file("out")));
}

// A real-width Flash checkpoint, two layers deep with 8 experts (~2.6 GB,
// dominated by the 1 GB embedding and head).
TEST(SynthCommand, FlashTwoLayersValidates) {
  test::TempDir tmp;
  ASSERT_EQ(runSynth({"--preset", "flash", "-o", tmp.path(), "--layers", "2",
                      "--experts", "8"}),
            0);
  Opened o;
  ASSERT_NO_FATAL_FAILURE(openAndValidate(tmp.path(), o));
  EXPECT_EQ(o.config.dim, 4096);
  EXPECT_EQ(o.config.nLayers, 2);
  EXPECT_EQ(o.format.linears, LinearFormat::FP8);
  EXPECT_EQ(o.format.experts, ExpertFormat::FP4);
  EXPECT_EQ(o.format.mtpLayers, 1);
  const TensorInfo *embed = o.ckpt.find("embed.weight");
  ASSERT_NE(embed, nullptr);
  EXPECT_EQ(embed->shape, (std::vector<int64_t>{129280, 4096}));
}

} // namespace
} // namespace birkhoff::v4
