//===- Synth.h - Random-weight DeepSeek-V4 checkpoints --------------------===//
//
// Writes a checkpoint of any DeepSeek-V4 shape with random weights, in
// DeepSeek's own layout (V4_SPEC §5: names, dtypes, FP8 + ue8m0 block scales,
// packed FP4 experts, sharded safetensors with an index) for tests and
// benchmarks. Values are a pure function of (seed, tensor name, element
// index), so output is deterministic whatever the thread count or chunking.
// Generation streams: one chunk of one tensor is in memory at a time.
//
//===----------------------------------------------------------------------===//
#ifndef BIRKHOFF_MODELS_DEEPSEEK_V4_SYNTH_H
#define BIRKHOFF_MODELS_DEEPSEEK_V4_SYNTH_H

#include "birkhoff/Status.h"
#include "birkhoff/WeightSynthesis.h"
#include "deepseek_v4/CheckpointSchema.h"
#include "deepseek_v4/ModelConfig.h"

#include <cstdint>
#include <string>

namespace birkhoff::v4 {

struct SynthOptions {
  uint64_t seed = 0;
  /// Official format (FP8 linears + packed FP4 experts); false writes every
  /// linear in BF16 (the format of the goldens tiny_mix / tiny_rates).
  bool quantized = true;
  /// Write the config's MTP block(s); false writes none and declares
  /// num_nextn_predict_layers = 0.
  bool mtp = true;
  /// A shard is closed before it would exceed this many bytes (a single
  /// larger tensor gets a shard of its own).
  int64_t maxShardBytes = int64_t(2) << 30;
  /// Small checkpoints are still split into this many shards, so readers
  /// always meet an index and more than one file.
  int64_t minShards = 2;
  /// Generator threads at most, of the process's worker pool
  /// (WorkerPool::shared(), one thread per hardware thread); 0 = all of it.
  int threads = 0;
};

struct SynthStats {
  int64_t tensors = 0;
  int64_t bytes = 0; // tensor bytes (the index's total_size)
  int64_t shards = 0;
  double seconds = 0;
};

/// The config written to config.json: `config` with the quantization and MTP
/// count the options choose.
ModelConfig synthConfig(const ModelConfig &config, const SynthOptions &options);

/// How synth draws tensor `t` of `config` under `seed` (values listed at
/// writeSynthCheckpoint); scales get BlockScale, made with their weight.
WeightRecipe synthRecipe(const ExpectedTensor &t, const ModelConfig &config,
                         uint64_t seed);

/// The element dtype and shape the generator fills for `t`: its stored shape,
/// except packed FP4 experts, which are generated (and stored in artifacts)
/// with their logical [out, in] shape and dtype `t.element`.
std::vector<int64_t> synthShape(const ExpectedTensor &t);

/// A byte-level BPE tokenizer.json of DeepSeek's kind (its Split
/// pre-tokenizers, then ByteLevel; the ByteLevel decoder) with exactly
/// `config.vocabSize` ids: BOS and EOS as special added tokens at their ids,
/// the 256 byte tokens (GPT-2's byte-to-unicode mapping) at the lowest other
/// ids, then merges: every pair of single-byte tokens, all pairs among the k
/// most frequent English characters before those with the next one, then
/// those pairs followed by one more byte, until the vocabulary is full. Empty
/// when the vocabulary cannot hold 256 bytes and the special tokens (or BOS/EOS
/// lie outside it).
std::string synthTokenizerJson(const ModelConfig &config);

/// The generation_config.json of DeepSeek-V4's release (Flash and Pro share
/// it: do_sample true, temperature 1.0, top_p 1.0, and its bookkeeping keys),
/// with `config`'s BOS and EOS ids.
std::string synthGenerationConfigJson(const ModelConfig &config);

/// Writes `dir`/config.json, `dir`/model-0000i-of-0000n.safetensors,
/// `dir`/model.safetensors.index.json, `dir`/generation_config.json and
/// `dir`/tokenizer.json (unless synthTokenizerJson is empty); creates `dir`
/// if needed and replaces
/// files of those names. Values (V4_SPEC §7.4): norms 1 + N(0, 0.1); linears,
/// experts and projections N(0, 1/sqrt(in)); embedding N(0, 1); hc_*_fn
/// N(0, 0.02), hc_*_base N(0, 0.5), hc_*_scale U(0.5, 1.5); ape N(0, 0.5);
/// sinks N(0, 1); gate bias N(0, 0.1); tid2eid rows of distinct experts.
/// FP8 and FP4 quantization follow the ue8m0 rule of V4_SPEC P4 exactly as
/// the goldens' generator does.
Status writeSynthCheckpoint(const ModelConfig &config,
                            const SynthOptions &options, const std::string &dir,
                            SynthStats *stats = nullptr);

} // namespace birkhoff::v4

#endif // BIRKHOFF_MODELS_DEEPSEEK_V4_SYNTH_H
