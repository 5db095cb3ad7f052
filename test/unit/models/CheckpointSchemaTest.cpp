//===- CheckpointSchemaTest.cpp - Tensor table and checkpoint validation --===//
#include "deepseek_v4/CheckpointSchema.h"

#include "TestSupport.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstring>
#include <functional>
#include <map>

namespace birkhoff::v4 {
namespace {

using test::goldenDir;
using test::TensorData;

const ExpectedTensor *findIn(const std::vector<ExpectedTensor> &table,
                             const std::string &name) {
  for (const ExpectedTensor &t : table)
    if (t.name == name)
      return &t;
  return nullptr;
}

int64_t totalBytes(const std::vector<ExpectedTensor> &table) {
  int64_t n = 0;
  for (const ExpectedTensor &t : table)
    n += t.byteSize();
  return n;
}

// Every golden checkpoint passes, in the format it is stored in.
TEST(CheckpointSchema, GoldensValidate) {
  struct Case {
    const char *name;
    LinearFormat linears;
    ExpertFormat experts;
  };
  for (Case gc : {Case{"tiny_mix", LinearFormat::BF16, ExpertFormat::BF16},
                  Case{"tiny_rates", LinearFormat::BF16, ExpertFormat::BF16},
                  Case{"tiny_quant", LinearFormat::FP8, ExpertFormat::FP4},
                  Case{"tiny_dq", LinearFormat::FP8, ExpertFormat::FP4},
                  Case{"tiny_dq2", LinearFormat::FP8, ExpertFormat::FP4}}) {
    auto config = loadModelConfig(goldenDir(gc.name));
    ASSERT_TRUE(config.isOk()) << config.status().toString();
    auto ckpt = Checkpoint::open(goldenDir(gc.name));
    ASSERT_TRUE(ckpt.isOk()) << ckpt.status().toString();
    CheckpointFormat format;
    Status s = validateCheckpoint(*config, *ckpt, &format);
    ASSERT_TRUE(s.isOk()) << gc.name << ": " << s.toString();
    EXPECT_EQ(format.linears, gc.linears) << gc.name;
    EXPECT_EQ(format.experts, gc.experts) << gc.name;
    EXPECT_EQ(format.mtpLayers, 0)
        << gc.name; // transformers writes no MTP block
    auto table = expectedTensors(*config, format);
    EXPECT_EQ(table.size(), ckpt->tensors().size()) << gc.name;
    // The index's total_size is the sum of the tensors' bytes.
    auto index = nlohmann::json::parse(
        test::readBytes(goldenDir(gc.name) + "/model.safetensors.index.json"));
    EXPECT_EQ(totalBytes(table), index["metadata"]["total_size"].get<int64_t>())
        << gc.name;
  }
}

// Spot checks of shapes the goldens fix (mHC, compressors, indexer, wo_a).
TEST(CheckpointSchema, TableShapes) {
  auto config = loadModelConfig(goldenDir("tiny_quant"));
  ASSERT_TRUE(config.isOk());
  auto table = expectedTensors(*config, declaredFormat(*config));
  auto shapeOf = [&](const std::string &n) {
    const ExpectedTensor *t = findIn(table, n);
    EXPECT_NE(t, nullptr) << n;
    return t ? t->shape : std::vector<int64_t>{};
  };
  using S = std::vector<int64_t>;
  EXPECT_EQ(shapeOf("layers.0.hc_attn_fn"), (S{24, 512}));
  EXPECT_EQ(shapeOf("layers.0.hc_ffn_base"), (S{24}));
  EXPECT_EQ(shapeOf("layers.0.hc_attn_scale"), (S{3}));
  EXPECT_EQ(shapeOf("hc_head_fn"), (S{4, 512}));
  EXPECT_EQ(shapeOf("layers.0.attn.wo_a.weight"), (S{64, 128}));
  EXPECT_EQ(shapeOf("layers.0.attn.wq_b.scale"), (S{2, 1}));
  EXPECT_EQ(shapeOf("layers.1.attn.compressor.ape"), (S{4, 128}));
  EXPECT_EQ(shapeOf("layers.1.attn.compressor.wkv.weight"), (S{128, 128}));
  EXPECT_EQ(shapeOf("layers.2.attn.compressor.ape"), (S{16, 64}));
  EXPECT_EQ(shapeOf("layers.2.attn.compressor.wgate.weight"), (S{64, 128}));
  EXPECT_EQ(shapeOf("layers.1.attn.indexer.wq_b.weight"), (S{512, 64}));
  EXPECT_EQ(shapeOf("layers.1.attn.indexer.weights_proj.weight"), (S{16, 128}));
  EXPECT_EQ(shapeOf("layers.1.attn.indexer.compressor.ape"), (S{4, 64}));
  EXPECT_EQ(shapeOf("layers.1.attn.indexer.compressor.norm.weight"), (S{32}));
  EXPECT_EQ(shapeOf("layers.0.ffn.gate.tid2eid"), (S{512, 2}));
  EXPECT_EQ(shapeOf("layers.2.ffn.gate.bias"), (S{8}));
  EXPECT_EQ(shapeOf("layers.3.ffn.experts.7.w2.weight"), (S{128, 32}));
  EXPECT_EQ(shapeOf("layers.3.ffn.experts.7.w2.scale"), (S{128, 2}));
  EXPECT_EQ(findIn(table, "layers.0.attn.compressor.ape"),
            nullptr); // window-only
  EXPECT_EQ(findIn(table, "layers.2.attn.indexer.wq_b.weight"), nullptr); // HCA
  EXPECT_EQ(findIn(table, "layers.0.ffn.gate.bias"), nullptr); // hash layer
  const ExpectedTensor *w1 = findIn(table, "layers.4.ffn.experts.0.w1.weight");
  ASSERT_NE(w1, nullptr);
  EXPECT_EQ(w1->dtype, DType::I8);
  EXPECT_EQ(w1->element, DType::FP4E2M1x2);
  EXPECT_EQ(w1->logicalShape, (S{64, 128}));
  EXPECT_EQ(w1->scale, "layers.4.ffn.experts.0.w1.scale");
}

// V4_SPEC §1.4: the table's byte totals equal the real checkpoints' (Flash
// index total_size, Pro header dump), MTP block included.
TEST(CheckpointSchema, RealModelByteTotals) {
  ModelConfig flash = *presetConfig("flash");
  auto table = expectedTensors(flash, declaredFormat(flash));
  EXPECT_EQ(totalBytes(table), 159609485896);
  const ExpectedTensor *wo_a = findIn(table, "layers.5.attn.wo_a.weight");
  ASSERT_NE(wo_a, nullptr);
  EXPECT_EQ(wo_a->shape, (std::vector<int64_t>{8192, 4096}));
  EXPECT_NE(findIn(table, "mtp.0.e_proj.scale"), nullptr);
  EXPECT_NE(findIn(table, "mtp.0.hc_head_fn"), nullptr);
  EXPECT_EQ(findIn(table, "mtp.0.attn.compressor.ape"), nullptr);
  EXPECT_EQ(findIn(table, "layers.1.attn.compressor.ape"), nullptr);
  ModelConfig pro = *presetConfig("pro");
  EXPECT_EQ(totalBytes(expectedTensors(pro, declaredFormat(pro))),
            864704792696);
}

// ---- broken checkpoints
// ------------------------------------------------------

class BrokenCheckpoint : public ::testing::Test {
protected:
  void SetUp() override {
    auto ckpt = Checkpoint::open(goldenDir("tiny_quant"));
    ASSERT_TRUE(ckpt.isOk()) << ckpt.status().toString();
    tensors_ = test::readTensors(*ckpt);
    configText_ = test::readBytes(goldenDir("tiny_quant") + "/config.json");
  }

  TensorData *tensor(const std::string &name) {
    for (TensorData &t : tensors_)
      if (t.name == name)
        return &t;
    ADD_FAILURE() << "no tensor " << name;
    return nullptr;
  }
  void remove(const std::string &name) {
    std::erase_if(tensors_,
                  [&](const TensorData &t) { return t.name == name; });
  }

  /// Writes the (altered) tensors and validates them; returns the status.
  Status validate(const std::string &configText = "") {
    std::string dir = tmp_.file("ckpt");
    test::writeShardedCheckpoint(dir, tensors_,
                                 configText.empty() ? configText_ : configText);
    auto ckpt = Checkpoint::open(dir);
    if (!ckpt)
      return ckpt.status();
    auto config = loadModelConfig(dir);
    if (!config)
      return config.status();
    return validateCheckpoint(*config, *ckpt, nullptr);
  }

  static bool mentions(const Status &s, const std::string &text) {
    return s.message().find(text) != std::string::npos;
  }

  test::TempDir tmp_;
  std::vector<TensorData> tensors_;
  std::string configText_;
};

TEST_F(BrokenCheckpoint, UnchangedCopyValidates) {
  Status s = validate();
  EXPECT_TRUE(s.isOk()) << s.toString();
}

TEST_F(BrokenCheckpoint, MissingTensor) {
  remove("layers.1.attn.wq_b.scale");
  Status s = validate();
  ASSERT_FALSE(s.isOk());
  EXPECT_EQ(s.code(), StatusCode::NotFound);
  EXPECT_TRUE(
      mentions(s, "missing tensor 'layers.1.attn.wq_b.scale' (F8_E8M0 [2, 1])"))
      << s.message();
}

TEST_F(BrokenCheckpoint, RenamedTensor) {
  tensor("layers.0.attn.wkv.weight")->name = "layers.0.attn.wkv_x.weight";
  Status s = validate();
  ASSERT_FALSE(s.isOk());
  EXPECT_TRUE(mentions(s, "missing tensor 'layers.0.attn.wkv.weight'"))
      << s.message();
  EXPECT_TRUE(mentions(s, "unexpected tensor 'layers.0.attn.wkv_x.weight' in "))
      << s.message();
  EXPECT_TRUE(mentions(s, ".safetensors")) << s.message();
  EXPECT_TRUE(mentions(s, "2 problems")) << s.message();
}

TEST_F(BrokenCheckpoint, WrongShape) {
  TensorData *t = tensor("layers.2.attn.compressor.ape");
  t->shape = {8, 64};
  t->bytes.resize(8 * 64 * 4);
  Status s = validate();
  ASSERT_FALSE(s.isOk());
  EXPECT_TRUE(mentions(s, "'layers.2.attn.compressor.ape' in ")) << s.message();
  EXPECT_TRUE(mentions(s, "has shape [8, 64], expected [16, 64]"))
      << s.message();
  EXPECT_TRUE(mentions(s, "model-0000")) << s.message();
}

TEST_F(BrokenCheckpoint, WrongDtype) {
  TensorData *t = tensor("layers.0.attn_norm.weight");
  t->dtype = DType::F32;
  t->bytes.resize(t->bytes.size() * 2);
  Status s = validate();
  ASSERT_FALSE(s.isOk());
  EXPECT_TRUE(mentions(s, "'layers.0.attn_norm.weight' in ")) << s.message();
  EXPECT_TRUE(mentions(s, "dtype F32, expected BF16")) << s.message();
}

TEST_F(BrokenCheckpoint, ScaleOfWrongShape) {
  TensorData *t = tensor("layers.3.attn.wq_b.scale");
  t->shape = {1, 1};
  t->bytes.resize(1);
  Status s = validate();
  ASSERT_FALSE(s.isOk());
  EXPECT_TRUE(mentions(s, "'layers.3.attn.wq_b.scale'")) << s.message();
  EXPECT_TRUE(mentions(s, "has shape [1, 1], expected [2, 1]")) << s.message();
}

TEST_F(BrokenCheckpoint, NanScaleByte) {
  TensorData *t = tensor("layers.3.ffn.experts.5.w2.scale");
  t->bytes[2 * 2 + 1] = 0xff; // row 2, column 1 of [128, 2]
  Status s = validate();
  ASSERT_FALSE(s.isOk());
  EXPECT_EQ(s.code(), StatusCode::Corrupt);
  EXPECT_TRUE(mentions(s, "'layers.3.ffn.experts.5.w2.scale' in "))
      << s.message();
  EXPECT_TRUE(mentions(s, "0xFF at [2, 1]")) << s.message();
}

TEST_F(BrokenCheckpoint, OddPackedFp4Width) {
  TensorData *t = tensor("layers.2.ffn.experts.3.w1.weight");
  t->shape = {64, 63};
  t->bytes.resize(64 * 63);
  Status s = validate();
  ASSERT_FALSE(s.isOk());
  EXPECT_TRUE(mentions(s, "'layers.2.ffn.experts.3.w1.weight' in "))
      << s.message();
  EXPECT_TRUE(mentions(
      s, "expected [64, 64] (packed FP4 [out, in/2] of logical [64, 128])"))
      << s.message();
}

TEST_F(BrokenCheckpoint, Fp4NeedsWidthMultipleOf32) {
  // The same FP4 checkpoint read with a config whose expert width is 48.
  auto j = nlohmann::json::parse(configText_);
  j["moe_intermediate_size"] = 48;
  Status s = validate(j.dump());
  ASSERT_FALSE(s.isOk());
  EXPECT_TRUE(mentions(s, "moe_intermediate_size is 48")) << s.message();
}

TEST_F(BrokenCheckpoint, MixedLinearFormats) {
  TensorData *t = tensor("layers.0.attn.wq_a.weight");
  t->dtype = DType::BF16;
  t->bytes.assign(t->bytes.size() * 2, 0);
  remove("layers.0.attn.wq_a.scale");
  Status s = validate();
  ASSERT_FALSE(s.isOk());
  EXPECT_EQ(s.code(), StatusCode::Corrupt);
  EXPECT_TRUE(mentions(s, "mixed linear formats")) << s.message();
  EXPECT_TRUE(mentions(s, "'layers.0.attn.wq_a.weight' in ")) << s.message();
}

TEST_F(BrokenCheckpoint, ConfigContradictsCheckpoint) {
  auto j = nlohmann::json::parse(configText_);
  j.erase("quantization_config");
  Status s = validate(j.dump());
  ASSERT_FALSE(s.isOk());
  EXPECT_TRUE(mentions(s, "declares no quantization")) << s.message();
  EXPECT_TRUE(mentions(s, "F8_E4M3")) << s.message();
}

TEST_F(BrokenCheckpoint, ExtraTensorAndAllowList) {
  tensors_.push_back({"mtp.0.emb.tok_emb.weight",
                      DType::BF16,
                      {512, 128},
                      std::vector<uint8_t>(512 * 128 * 2)});
  Status s = validate();
  EXPECT_TRUE(s.isOk())
      << s.toString(); // convert.py's dropped MTP copies are tolerated
  tensors_.push_back(
      {"layers.0.attn.extra_bias", DType::F32, {4}, std::vector<uint8_t>(16)});
  s = validate();
  ASSERT_FALSE(s.isOk());
  EXPECT_TRUE(mentions(s, "unexpected tensor 'layers.0.attn.extra_bias' in "))
      << s.message();
}

TEST_F(BrokenCheckpoint, HashTableOutOfRange) {
  TensorData *t = tensor("layers.1.ffn.gate.tid2eid");
  int64_t bad = 8; // 8 experts: ids 0..7
  std::memcpy(t->bytes.data() + 8 * (2 * 10 + 1), &bad, 8);
  Status s = validate();
  ASSERT_FALSE(s.isOk());
  EXPECT_TRUE(mentions(s, "'layers.1.ffn.gate.tid2eid' in ")) << s.message();
  EXPECT_TRUE(mentions(s, "token 10 to expert 8")) << s.message();
}

TEST_F(BrokenCheckpoint, MtpBlocks) {
  // A partial MTP block: every missing tensor of mtp.0 is reported.
  tensors_.push_back(
      {"mtp.0.enorm.weight", DType::BF16, {128}, std::vector<uint8_t>(256)});
  Status s = validate();
  ASSERT_FALSE(s.isOk());
  EXPECT_TRUE(mentions(s, "missing tensor 'mtp.0.hc_attn_fn'")) << s.message();
  // A block beyond num_nextn_predict_layers (default 1).
  tensors_.back().name = "mtp.1.enorm.weight";
  s = validate();
  ASSERT_FALSE(s.isOk());
  EXPECT_TRUE(mentions(s, "'mtp.1.enorm.weight' in ")) << s.message();
  EXPECT_TRUE(mentions(s, "num_nextn_predict_layers")) << s.message();
}

// Structural damage is caught when the checkpoint is opened; the message
// names the shard.
TEST_F(BrokenCheckpoint, TruncatedShard) {
  std::string dir = tmp_.file("trunc");
  std::filesystem::copy(goldenDir("tiny_quant"), dir);
  std::string shard = dir + "/model-00002-of-00002.safetensors";
  std::filesystem::resize_file(shard, std::filesystem::file_size(shard) - 100);
  auto ckpt = Checkpoint::open(dir);
  ASSERT_FALSE(ckpt.isOk());
  EXPECT_TRUE(mentions(ckpt.status(), "model-00002-of-00002.safetensors"))
      << ckpt.status().message();
}

TEST_F(BrokenCheckpoint, HeaderOffsetsThatLie) {
  std::string dir = tmp_.file("lie");
  std::filesystem::copy(goldenDir("tiny_quant"), dir);
  std::string shard = dir + "/model-00001-of-00002.safetensors";
  std::string bytes = test::readBytes(shard);
  uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  auto header = nlohmann::ordered_json::parse(bytes.substr(8, n));
  // Point embed.weight's data past the end of the file.
  uint64_t dataSize = bytes.size() - 8 - n;
  header["embed.weight"]["data_offsets"] = {dataSize - 16, dataSize + 131056};
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');
  uint64_t newN = text.size();
  std::string out(reinterpret_cast<const char *>(&newN), 8);
  out += text + bytes.substr(8 + n);
  test::writeBytes(shard, out);
  auto ckpt = Checkpoint::open(dir);
  ASSERT_FALSE(ckpt.isOk());
  EXPECT_TRUE(mentions(ckpt.status(), "model-00001-of-00002.safetensors"))
      << ckpt.status().message();
  EXPECT_TRUE(mentions(ckpt.status(), "embed.weight"))
      << ckpt.status().message();
}

} // namespace
} // namespace birkhoff::v4
