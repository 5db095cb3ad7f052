//===- StateBytesTest.cpp - Per-token session state of V4-Flash and V4-Pro ===//
//
// Compiles the real V4-Flash and V4-Pro configurations (presetConfig: every
// layer of the V4_SPEC §1.3 schedules, all experts) in the official profile
// and sums the per-token bytes of the lowered module's bk.state ops, which is
// what `birkhoff inspect` reports for an artifact. V4_SPEC §4.2: Flash
// 21·(584+68)/4 + 20·584/128 ≈ 3,514 B, Pro 30·163 + 31·4.5625 ≈ 5,031 B.
//
// The IR builder reads tensor headers only, so the checkpoint here has real
// safetensors headers over data areas that are holes in sparse files: the
// 160 GB (Flash) / 865 GB (Pro) models cost a few MB of disk and no writes.
//
//===----------------------------------------------------------------------===//
#include "CompileSupport.h"

#include "birkhoff/DType.h"

#include <cmath>
#include <fstream>
#include <map>

using namespace birkhoff;
using namespace birkhoff::test;

namespace {

/// Writes one safetensors file holding `tensors` with real header entries and
/// no data (the data area is a hole).
void writeHeaderOnlyShard(
    const std::vector<const v4::ExpectedTensor *> &tensors,
    const std::string &path) {
  std::string header = "{";
  uint64_t offset = 0;
  for (const v4::ExpectedTensor *t : tensors) {
    std::string shape;
    for (size_t i = 0; i < t->shape.size(); ++i)
      shape += (i ? "," : "") + std::to_string(t->shape[i]);
    uint64_t end = offset + uint64_t(t->byteSize());
    header += (offset == 0 && header.size() == 1 ? "\"" : ",\"") + t->name +
              "\":{\"dtype\":\"" + std::string(safetensorsDTypeName(t->dtype)) +
              "\",\"shape\":[" + shape + "],\"data_offsets\":[" +
              std::to_string(offset) + "," + std::to_string(end) + "]}";
    offset = end;
  }
  header += "}";
  header.append((8 - header.size() % 8) % 8, ' ');
  {
    std::ofstream out(path, std::ios::binary);
    uint64_t n = header.size();
    char len[8];
    for (int i = 0; i < 8; ++i)
      len[i] = char((n >> (8 * i)) & 0xff);
    out.write(len, 8);
    out.write(header.data(), std::streamsize(header.size()));
    ASSERT_TRUE(out.good()) << "cannot write " << path;
  }
  std::error_code ec;
  std::filesystem::resize_file(path, 8 + header.size() + offset, ec);
  ASSERT_FALSE(ec) << "cannot extend " << path << ": " << ec.message();
}

/// Writes `dir`/config.json and a checkpoint of every tensor of the config's
/// table, sharded per layer as DeepSeek's are (one shard per main or MTP
/// layer, one for the top-level tensors) with an index, and no data.
void writeHeaderOnlyCheckpoint(const v4::ModelConfig &config,
                               const std::string &dir) {
  std::vector<v4::ExpectedTensor> table =
      v4::expectedTensors(config, v4::declaredFormat(config));
  std::map<int64_t, std::vector<const v4::ExpectedTensor *>> shards;
  for (const v4::ExpectedTensor &t : table)
    shards[t.layer].push_back(&t);
  std::string weightMap;
  uint64_t total = 0;
  for (const auto &[layer, tensors] : shards) {
    std::string file = "shard-" + std::to_string(layer + 1) + ".safetensors";
    writeHeaderOnlyShard(tensors, dir + "/" + file);
    if (::testing::Test::HasFatalFailure())
      return;
    for (const v4::ExpectedTensor *t : tensors) {
      weightMap +=
          (weightMap.empty() ? "\"" : ",\"") + t->name + "\":\"" + file + "\"";
      total += uint64_t(t->byteSize());
    }
  }
  std::ofstream index(dir + "/model.safetensors.index.json", std::ios::binary);
  index << "{\"metadata\":{\"total_size\":" << total << "},\"weight_map\":{"
        << weightMap << "}}";
  std::ofstream cfg(dir + "/config.json", std::ios::binary);
  cfg << v4::modelConfigToJson(config);
  ASSERT_TRUE(index.good() && cfg.good()) << "cannot write into " << dir;
}

struct StateSums {
  double perToken = 0; // Σ bytes_per_row / tokens_per_row
  int64_t fixedBytes = 0;
  /// kind -> (bytes_per_row -> count of states)
  std::map<std::string, std::map<int64_t, int>> rows;
};

StateSums compileAndSum(const std::string &preset) {
  Expected<v4::ModelConfig> config = v4::presetConfig(preset);
  EXPECT_TRUE(config.isOk()) << config.status().message();
  StateSums sums;
  if (!config.isOk())
    return sums;
  TempDir dir;
  writeHeaderOnlyCheckpoint(*config, dir.path());
  if (::testing::Test::HasFatalFailure())
    return sums;
  // Headers only: the scale bytes and hash tables are holes.
  LoadedCheckpoint m = loadCheckpoint(
      dir.path(), v4::ValidateOptions{/*checkScaleBytes=*/false,
                                      /*checkHashTables=*/false});
  if (::testing::Test::HasFailure())
    return sums;
  EXPECT_EQ(m.config, *config);
  mlir::MLIRContext ctx;
  v4::BuildOptions options;
  options.numerics = "official";
  mlir::OwningOpRef<mlir::ModuleOp> module =
      compileToKernels(ctx, m, options, /*maxTokens=*/4);
  if (!module)
    return sums;
  for (bk::StateOp s : module->getOps<bk::StateOp>()) {
    sums.rows[s.getKind().str()][s.getBytesPerRow()]++;
    if (s.getTokensPerRow() > 0)
      sums.perToken += double(s.getBytesPerRow()) / double(s.getTokensPerRow());
    else
      sums.fixedBytes += s.getBytesPerRow() * s.getFixedRows();
  }
  return sums;
}

// Flash: 2 window-only layers, 21 CSA (ratio 4), 20 HCA (ratio 128).
TEST(StateBytes, V4FlashOfficialIs3514BytesPerToken) {
  StateSums s = compileAndSum("flash");
  if (HasFailure())
    return;
  // 584-byte KV entries (448 FP8 + 64·2 bf16 + 7 scales + 1 pad) and 68-byte
  // indexer keys (128/2 FP4 + 4 scales), one per layer of each kind.
  using Rows = std::map<int64_t, int>;
  EXPECT_EQ(s.rows["window"], (Rows{{584, 43}}));
  EXPECT_EQ(s.rows["kv_entries"], (Rows{{584, 21 + 20}}));
  EXPECT_EQ(s.rows["index_entries"], (Rows{{68, 21}}));
  EXPECT_DOUBLE_EQ(s.perToken, 21 * (584 + 68) / 4.0 + 20 * 584 / 128.0);
  EXPECT_EQ(int64_t(std::floor(s.perToken)), 3514);
  // Constant parts: the 43 window rings (V4_SPEC §4.2: 3.1 MiB) plus the f32
  // compressor tails (CSA: 8 rows of 2·2·512 + 8 of 2·2·128 floats; HCA:
  // 128 rows of 2·512 floats).
  int64_t rings = 43 * 128 * 584;
  int64_t tails = 21 * (8 * 2048 * 4 + 8 * 512 * 4) + 20 * (128 * 1024 * 4);
  EXPECT_EQ(s.fixedBytes, rings + tails);
}

// Pro: 2 HCA layers, then 30 CSA and 29 more HCA (31 HCA in all).
TEST(StateBytes, V4ProOfficialIs5031BytesPerToken) {
  StateSums s = compileAndSum("pro");
  if (HasFailure())
    return;
  using Rows = std::map<int64_t, int>;
  EXPECT_EQ(s.rows["window"], (Rows{{584, 61}}));
  EXPECT_EQ(s.rows["kv_entries"], (Rows{{584, 30 + 31}}));
  EXPECT_EQ(s.rows["index_entries"], (Rows{{68, 30}}));
  EXPECT_DOUBLE_EQ(s.perToken, 30 * 163.0 + 31 * 4.5625);
  EXPECT_EQ(int64_t(std::floor(s.perToken)), 5031);
}

} // namespace
