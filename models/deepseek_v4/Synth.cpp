//===- Synth.cpp - Random-weight DeepSeek-V4 checkpoints ------------------===//
//
// The values come from lib's generator (birkhoff/WeightSynthesis.h); this file
// chooses each tensor's recipe by its role and writes the shards, streaming
// each tensor in chunks generated in parallel.
//
//===----------------------------------------------------------------------===//
#include "deepseek_v4/Synth.h"

#include "birkhoff/FileSafety.h"
#include "birkhoff/Progress.h"
#include "birkhoff/Safetensors.h"
#include "birkhoff/Tokenizer.h"
#include "birkhoff/WeightSynthesis.h"
#include "birkhoff/WorkerPool.h"
#include "deepseek_v4/CheckpointSchema.h"
#include "deepseek_v4/SynthModel.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <thread>

namespace birkhoff::v4 {
namespace {

// ---- sharding and writing ---------------------------------------------------

struct Shard {
  std::string file;
  std::vector<const ExpectedTensor *> tensors;
  int64_t bytes = 0;
};

std::vector<Shard> planShards(const std::vector<ExpectedTensor> &table,
                              const SynthOptions &o) {
  int64_t total = 0;
  for (const ExpectedTensor &t : table)
    total += t.byteSize();
  // A shard closes once it holds its share of minShards (so there are at most
  // minShards of them from that rule), or before it would pass the size cap.
  int64_t share = (total + o.minShards - 1) / std::max<int64_t>(1, o.minShards);
  std::vector<Shard> shards(1);
  for (const ExpectedTensor &t : table) {
    Shard &last = shards.back();
    if (!last.tensors.empty() &&
        (last.bytes >= share || last.bytes + t.byteSize() > o.maxShardBytes))
      shards.emplace_back();
    shards.back().tensors.push_back(&t);
    shards.back().bytes += t.byteSize();
  }
  char name[64];
  for (size_t i = 0; i < shards.size(); ++i) {
    std::snprintf(name, sizeof name, "model-%05zu-of-%05zu.safetensors", i + 1,
                  shards.size());
    shards[i].file = name;
  }
  return shards;
}

Status writeText(const std::string &path, const std::string &text) {
  BK_ASSIGN_OR_RETURN(OutputFile out, OutputFile::create(path));
  BK_RETURN_IF_ERROR(out.write(text.data(), text.size()));
  return out.commit();
}

/// The files (and the directory) that synth creates for the checkpoint being
/// written. Until commit() they are removed when synth fails or is
/// interrupted (SIGINT/SIGTERM, see FileSafety.h). Files that existed before
/// are not: each is replaced whole (OutputFile), and one may be the very
/// config.json synth read (regenerating a checkpoint in place).
class PartialCheckpoint {
public:
  PartialCheckpoint() = default;
  PartialCheckpoint(const PartialCheckpoint &) = delete;
  PartialCheckpoint &operator=(const PartialCheckpoint &) = delete;
  ~PartialCheckpoint() {
    if (committed_)
      return;
    // Files before the directory, which rmdir removes only when empty.
    for (auto it = paths_.rbegin(); it != paths_.rend(); ++it) {
      std::error_code ec;
      std::filesystem::remove(it->first, ec);
      it->second.release();
    }
  }
  /// Watches `path`, which synth created.
  void add(const std::string &path) { paths_.emplace_back(path, path); }
  /// Watches `path` unless it exists already; called before the file
  /// appears under that name, so that no moment leaves it unwatched.
  void addIfNew(const std::string &path) {
    std::error_code ec;
    if (!std::filesystem::exists(path, ec) && !ec)
      add(path);
  }
  void commit() {
    committed_ = true;
    for (auto &p : paths_)
      p.second.release();
  }

private:
  std::vector<std::pair<std::string, CleanupPath>> paths_;
  bool committed_ = false;
};

constexpr int64_t kChunkBytes = int64_t(8) << 20;

/// Hands pieces to the safetensors writer on a background thread, so that the
/// next chunk is generated while the previous one is copied into the file.
/// At most one write is in flight, which keeps the appends in order; small
/// pieces are written directly (a hand-off costs more than the copy).
class BackgroundWriter {
public:
  explicit BackgroundWriter(SafetensorsWriter &writer)
      : writer_(writer), thread_([this] { loop(); }) {}
  ~BackgroundWriter() {
    {
      std::unique_lock<std::mutex> lock(mutex_);
      idle_.wait(lock, [&] { return !pending_; });
      stop_ = true;
    }
    work_.notify_all();
    thread_.join();
  }

  /// Waits for the write in flight; the first failure stays reported.
  Status wait() {
    std::unique_lock<std::mutex> lock(mutex_);
    idle_.wait(lock, [&] { return !pending_; });
    return status_;
  }

  /// `data` must stay untouched until the next append() or wait() returns.
  Status append(const std::string &name, std::span<const uint8_t> data) {
    BK_RETURN_IF_ERROR(wait());
    if (data.size() < kDirectBytes)
      return keep(writer_.append(name, data));
    {
      std::lock_guard<std::mutex> lock(mutex_);
      name_ = name;
      data_ = data;
      pending_ = true;
    }
    work_.notify_one();
    return Status::ok();
  }

private:
  static constexpr size_t kDirectBytes = size_t(1) << 20;

  Status keep(Status s) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (status_.isOk() && !s.isOk())
      status_ = s;
    return s;
  }

  void loop() {
    std::unique_lock<std::mutex> lock(mutex_);
    while (true) {
      work_.wait(lock, [&] { return stop_ || pending_; });
      if (!pending_)
        return;
      lock.unlock();
      Status s = writer_.append(name_, data_);
      lock.lock();
      if (status_.isOk() && !s.isOk())
        status_ = s;
      pending_ = false;
      idle_.notify_all();
    }
  }

  SafetensorsWriter &writer_;
  std::mutex mutex_;
  std::condition_variable work_, idle_;
  std::string name_;
  std::span<const uint8_t> data_;
  bool pending_ = false, stop_ = false;
  Status status_;
  std::thread thread_; // last: starts after the members it uses exist
};

/// Per-run state of the generator.
struct SynthRun {
  const ModelConfig &config;
  uint64_t seed;
  Workers pool;
  /// Scale bytes made with their weight, written when the scale's turn comes.
  std::map<std::string, std::vector<uint8_t>> pendingScales;
  /// Two chunk buffers: one being written while the other is filled.
  std::vector<uint8_t> buffers[2];
  int next = 0;
};

/// Streams one tensor into the writer in chunks of ~8 MiB generated in
/// parallel; a quantized weight leaves its scale bytes in `pendingScales`.
Status writeTensor(const ExpectedTensor &t, SynthRun &run,
                   BackgroundWriter &out) {
  if (t.role == TensorRole::LinearScale || t.role == TensorRole::ExpertScale) {
    auto it = run.pendingScales.find(t.name);
    if (it == run.pendingScales.end())
      return internalError("synth: scale '" + t.name +
                           "' comes before its weight");
    // Written before the next append(), so the bytes can go right after.
    std::vector<uint8_t> bytes = std::move(it->second);
    run.pendingScales.erase(it);
    BK_RETURN_IF_ERROR(out.append(t.name, bytes));
    return out.wait();
  }
  std::vector<int64_t> shape = synthShape(t);
  WeightRecipe recipe = synthRecipe(t, run.config, run.seed);
  BK_RETURN_IF_ERROR(checkGeneratable(recipe, t.element, shape)
                         .withContext("synth: tensor '" + t.name + "'"));
  WeightGenerator gen(recipe, t.element, shape);
  std::vector<uint8_t> scale(gen.scaleBytes());
  const int64_t rows = gen.rows(), rowBytes = gen.rowBytes(),
                align = gen.rowAlign();
  int64_t chunkRows =
      std::max<int64_t>(1, kChunkBytes / std::max<int64_t>(rowBytes, 1));
  chunkRows = std::max(align, chunkRows / align * align);
  for (int64_t r0 = 0; r0 < rows; r0 += chunkRows) {
    int64_t r1 = std::min(rows, r0 + chunkRows), n = r1 - r0;
    std::vector<uint8_t> &buffer = run.buffers[run.next];
    run.next ^= 1;
    buffer.resize(size_t(n * rowBytes));
    // Small pieces are not worth a thread hand-off.
    int64_t tasks = n * rowBytes < (int64_t(256) << 10)
                        ? 1
                        : std::min<int64_t>(run.pool.threads() * 4,
                                            (n + align - 1) / align);
    int64_t perTask = (n + tasks - 1) / tasks;
    perTask = (perTask + align - 1) / align * align;
    tasks = (n + perTask - 1) / perTask;
    uint8_t *base = buffer.data();
    run.pool.run(tasks, [&](int64_t i) {
      int64_t a = r0 + i * perTask, b = std::min(r1, a + perTask);
      gen.encode(a, b, base + (a - r0) * rowBytes, scale.data());
    });
    BK_RETURN_IF_ERROR(out.append(
        t.name, std::span<const uint8_t>(buffer.data(), buffer.size())));
  }
  if (!t.scale.empty())
    run.pendingScales[t.scale] = std::move(scale);
  return Status::ok();
}

} // namespace

std::vector<int64_t> synthShape(const ExpectedTensor &t) {
  return t.element == DType::FP4E2M1x2 ? t.logicalShape : t.shape;
}

WeightRecipe synthRecipe(const ExpectedTensor &t, const ModelConfig &c,
                         uint64_t seed) {
  auto normal = [&](float mean, float std) {
    return WeightRecipe{SynthKind::Normal, mean, std,
                        weightStreamKey(seed, t.name), 0};
  };
  switch (t.role) {
  case TensorRole::Embedding:
    return normal(0, 1);
  case TensorRole::Head:
    return normal(0, 1.0f / std::sqrt(float(c.dim)));
  case TensorRole::Norm:
    return normal(1, 0.1f);
  case TensorRole::Linear:
  case TensorRole::ExpertLinear:
  case TensorRole::Projection:
  case TensorRole::GateWeight:
    return normal(0, 1.0f / std::sqrt(float(t.logicalShape[1])));
  case TensorRole::GateBias:
    return normal(0, 0.1f);
  case TensorRole::AttnSink:
    return normal(0, 1);
  case TensorRole::CompressorApe:
    return normal(0, 0.5f);
  case TensorRole::HcFn:
    return normal(0, 0.02f);
  case TensorRole::HcBase:
    return normal(0, 0.5f);
  case TensorRole::HcScale:
    return WeightRecipe{SynthKind::Uniform, 0.5f, 1.5f,
                        weightStreamKey(seed, t.name), 0};
  case TensorRole::LinearScale:
  case TensorRole::ExpertScale:
    return WeightRecipe{SynthKind::BlockScale, 0, 0, 0, 0};
  case TensorRole::HashTable:
    return WeightRecipe{SynthKind::DistinctIndices, 0, 0,
                        weightStreamKey(seed, t.name), c.nRoutedExperts};
  }
  return normal(0, 1);
}

ModelConfig synthConfig(const ModelConfig &config,
                        const SynthOptions &options) {
  ModelConfig c = config;
  c.fp8Linears = options.quantized;
  if (!options.mtp)
    c.nMtpLayers = 0;
  return c;
}

std::string synthTokenizerJson(const ModelConfig &config) {
  using nlohmann::json;
  const int64_t vocab = config.vocabSize;
  std::vector<int64_t> specials = {config.bosTokenId};
  if (config.eosTokenId != config.bosTokenId)
    specials.push_back(config.eosTokenId);
  for (int64_t id : specials)
    if (id < 0 || id >= vocab)
      return {};
  if (vocab < 256 + int64_t(specials.size()))
    return {};
  auto isSpecial = [&](int64_t id) {
    return std::find(specials.begin(), specials.end(), id) != specials.end();
  };
  int64_t nextId = 0;
  auto takeId = [&] {
    while (isSpecial(nextId))
      ++nextId;
    return nextId++;
  };

  std::vector<std::string> chars(256);
  for (int b = 0; b < 256; ++b)
    chars[size_t(b)] = byteLevelChar(uint8_t(b));
  json vocabJson = json::object();
  for (int b = 0; b < 256; ++b)
    vocabJson[chars[size_t(b)]] = takeId();
  // Bytes in merge order: frequent English text first, then the rest.
  std::vector<int> order;
  std::vector<bool> seen(256, false);
  for (unsigned char c :
       std::string(" etaoinshrdlucmfwypvbgkjqxzETAOINSHRDLUCMFWYPVBGKJQXZ"
                   "0123456789.,'\"-:;!?()\n")) {
    if (!seen[c])
      order.push_back(c);
    seen[c] = true;
  }
  for (int b = 0; b < 256; ++b)
    if (!seen[size_t(b)])
      order.push_back(b);
  const int64_t nMerges = vocab - 256 - int64_t(specials.size());
  json merges = json::array();
  std::vector<std::string> pairs; // round 1's tokens, in rank order
  auto merge = [&](int a, int b) {
    if (int64_t(merges.size()) == nMerges)
      return;
    const std::string &l = chars[size_t(a)], &r = chars[size_t(b)];
    merges.push_back(l + " " + r);
    vocabJson[l + r] = takeId();
    pairs.push_back(l + r);
  };
  // Every pair of the k most frequent bytes before any pair with the next.
  for (size_t k = 0; k < order.size(); ++k) {
    for (size_t i = 0; i < k; ++i) {
      merge(order[i], order[k]);
      merge(order[k], order[i]);
    }
    merge(order[k], order[k]);
  }
  for (size_t p = 0; p < pairs.size() && int64_t(merges.size()) < nMerges;
       ++p) {
    for (int b : order) {
      if (int64_t(merges.size()) == nMerges)
        break;
      const std::string &r = chars[size_t(b)];
      merges.push_back(pairs[p] + " " + r);
      vocabJson[pairs[p] + r] = takeId();
    }
  }

  json added = json::array();
  for (int64_t id : specials)
    added.push_back(
        {{"id", id},
         {"content", id == config.bosTokenId
                         ? "<\uff5cbegin\u2581of\u2581sentence\uff5c>"
                         : "<\uff5cend\u2581of\u2581sentence\uff5c>"},
         {"single_word", false},
         {"lstrip", false},
         {"rstrip", false},
         {"normalized", false},
         {"special", true}});
  auto split = [](const std::string &regex) {
    return json{{"type", "Split"},
                {"pattern", {{"Regex", regex}}},
                {"behavior", "Isolated"},
                {"invert", false}};
  };
  // DeepSeek-V3's pre-tokenizer, pattern for pattern.
  json pre = {{"type", "Sequence"},
              {"pretokenizers",
               {split("\\p{N}{1,3}"),
                split("[\u4e00-\u9fa5\u3040-\u309f\u30a0-\u30ff]+"),
                split("[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|"
                      "[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| "
                      "?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+"),
                {{"type", "ByteLevel"},
                 {"add_prefix_space", false},
                 {"trim_offsets", true},
                 {"use_regex", false}}}}};
  json j = {
      {"version", "1.0"},
      {"truncation", nullptr},
      {"padding", nullptr},
      {"added_tokens", added},
      {"normalizer", {{"type", "Sequence"}, {"normalizers", json::array()}}},
      {"pre_tokenizer", pre},
      {"post_processor",
       {{"type", "ByteLevel"},
        {"add_prefix_space", true},
        {"trim_offsets", false},
        {"use_regex", true}}},
      {"decoder",
       {{"type", "ByteLevel"},
        {"add_prefix_space", true},
        {"trim_offsets", true},
        {"use_regex", true}}},
      {"model",
       {{"type", "BPE"},
        {"dropout", nullptr},
        {"unk_token", nullptr},
        {"continuing_subword_prefix", nullptr},
        {"end_of_word_suffix", nullptr},
        {"fuse_unk", false},
        {"byte_fallback", false},
        {"vocab", vocabJson},
        {"merges", merges}}}};
  return j.dump();
}

std::string synthGenerationConfigJson(const ModelConfig &config) {
  // Key for key, in the order of DeepSeek-V4's file.
  nlohmann::ordered_json j = {{"_from_model_config", true},
                              {"bos_token_id", config.bosTokenId},
                              {"eos_token_id", config.eosTokenId},
                              {"do_sample", true},
                              {"temperature", 1.0},
                              {"top_p", 1.0},
                              {"transformers_version", "4.46.3"}};
  return j.dump(2) + "\n";
}

Status writeSynthCheckpoint(const ModelConfig &inputConfig,
                            const SynthOptions &options, const std::string &dir,
                            SynthStats *stats) {
  auto start = std::chrono::steady_clock::now();
  ModelConfig config = synthConfig(inputConfig, options);
  BK_RETURN_IF_ERROR(checkSynthConfig(config, "synth config"));
  CheckpointFormat format = declaredFormat(config);

  PartialCheckpoint partial;
  std::error_code ec;
  bool created = std::filesystem::create_directories(dir, ec);
  if (ec)
    return ioError(dir + ": cannot create directory: " + ec.message());
  if (created)
    partial.add(dir);
  auto writeFile = [&](const std::string &name, const std::string &text) {
    partial.addIfNew(dir + "/" + name);
    return writeText(dir + "/" + name, text);
  };
  BK_RETURN_IF_ERROR(writeFile("config.json", modelConfigToJson(config)));
  if (std::string tok = synthTokenizerJson(config); !tok.empty())
    BK_RETURN_IF_ERROR(writeFile("tokenizer.json", tok));
  BK_RETURN_IF_ERROR(
      writeFile("generation_config.json", synthGenerationConfigJson(config)));

  std::vector<ExpectedTensor> table = expectedTensors(config, format);
  std::vector<Shard> shards = planShards(table, options);
  std::shared_ptr<WorkerPool> pool = WorkerPool::shared();
  const Workers workers(*pool, options.threads);
  SynthRun run{config, options.seed, workers, {}, {}, 0};
  nlohmann::json weightMap = nlohmann::json::object();
  int64_t total = 0, planned = 0;
  for (const ExpectedTensor &t : table)
    planned += t.byteSize();
  Progress progress("synth: tensors", uint64_t(planned));
  for (const Shard &shard : shards) {
    std::vector<SafetensorsWriter::Declared> declared;
    for (const ExpectedTensor *t : shard.tensors)
      declared.push_back({t->name, t->element, t->shape});
    std::string path = dir + "/" + shard.file;
    BK_ASSIGN_OR_RETURN(SafetensorsWriter writer,
                        SafetensorsWriter::create(path, std::move(declared),
                                                  {{"format", "pt"}}));
    BackgroundWriter out(writer);
    for (const ExpectedTensor *t : shard.tensors) {
      BK_RETURN_IF_ERROR(
          writeTensor(*t, run, out).withContext("synth: " + path));
      weightMap[t->name] = shard.file;
      total += t->byteSize();
      progress.add(uint64_t(t->byteSize()));
    }
    BK_RETURN_IF_ERROR(out.wait());
    partial.addIfNew(path);
    BK_RETURN_IF_ERROR(writer.finish());
  }
  nlohmann::json index;
  index["metadata"] = {{"total_size", total}};
  index["weight_map"] = std::move(weightMap);
  BK_RETURN_IF_ERROR(
      writeFile("model.safetensors.index.json", index.dump(1) + "\n"));
  partial.commit();

  if (stats) {
    stats->tensors = int64_t(table.size());
    stats->bytes = total;
    stats->shards = int64_t(shards.size());
    stats->seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
            .count();
  }
  return Status::ok();
}

} // namespace birkhoff::v4
