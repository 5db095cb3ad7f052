//===- Runtime.h - The Birkhoff session API --------------------*- C++ -*-===//
//
// Load a compiled artifact once, create any number of sessions on it, and feed
// each session tokens: prefill in one or more calls, decode, or generate with
// sampling. This is the only header a service needs; it links
// `birkhoff_runtime` and nothing of the compiler.
//
//   auto model = birkhoff::Model::load("model.bkart");
//   if (!model) { report(model.status()); return; }
//   auto session = birkhoff::Session::create(*model);
//   birkhoff::GenerateOptions opts;
//   opts.maxNewTokens = 32;
//   auto result = (*session)->generate(prompt, opts);
//
// Threading: a Model is immutable after load and may be shared by sessions on
// any threads. A Session is not thread-safe: use each from one thread at a
// time. Different sessions run concurrently.
//
//===----------------------------------------------------------------------===//
#ifndef BIRKHOFF_RUNTIME_H
#define BIRKHOFF_RUNTIME_H

#include "birkhoff/Status.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace birkhoff {

class Tokenizer;

namespace rt {
struct LoadedArtifact;
class ModelBackend;
class ThreadPool;
} // namespace rt

/// What `Model::info` reports about a loaded artifact.
struct ModelInfo {
  std::string modelName;
  std::string numerics; // "reference" | "official"
  std::string target;   // "host" | "cuda"
  int64_t vocabSize = 0;
  int64_t nLayers = 0;
  int64_t maxContext = 0; // default capacity of a session
  // Tokens per internal prefill step (longer prompts are split).
  int64_t maxPrefillTokens = 0;
  int32_t bosTokenId = 0;
  int32_t eosTokenId = 1;
  uint64_t weightBytes = 0;
  std::string device; // where it runs: "host" or "cuda:0 (<GPU name>)"
};

struct ModelOptions {
  /// Threads of the host backend per session; 0 = one per hardware thread.
  int numThreads = 0;
  /// Where the model runs: "host" (artifacts compiled with --target host) or
  /// "cuda" / "cuda:<ordinal>" (--target cuda; needs a CUDA driver and GPU).
  std::string device = "host";
  /// Device "cuda": replay decode steps (one-token calls) as CUDA graphs,
  /// captured on a session's first one (false: launch kernel by kernel).
  bool cudaGraphs = true;
};

/// A loaded, verified artifact. Immutable; share it with std::shared_ptr.
class Model {
public:
  /// Maps and verifies `path` and loads it on `options.device`. Fails with a
  /// message naming the file and the problem (truncated, corrupted, wrong
  /// format version, bad tables, an artifact compiled for another target, no
  /// CUDA driver or device, too little device memory).
  static Expected<std::shared_ptr<const Model>>
  load(const std::string &path, const ModelOptions &options = {});
  ~Model();
  const ModelInfo &info() const;

  /// Whether the artifact carries a tokenizer (compiled with the checkpoint's
  /// tokenizer.json or `--tokenizer`). Without one, encode, decode and
  /// TextDecoder::create fail with an Unsupported error that
  /// says the artifact has no tokenizer.
  bool hasTokenizer() const;
  /// The token ids of `text` (valid UTF-8); added tokens written in the text,
  /// such as "<｜User｜>", become their ids. No BOS is added.
  Expected<std::vector<int32_t>> encode(std::string_view text) const;
  /// The text of `ids`; special tokens are left out with `skipSpecial`.
  Expected<std::string> decode(std::span<const int32_t> ids,
                               bool skipSpecial = false) const;

  // Internal: the verified program (runtime use).
  const rt::LoadedArtifact &artifact() const;
  const ModelOptions &options() const;
  const rt::ModelBackend &backend() const;

private:
  Model();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// Turns a stream of generated ids into text as they come, never emitting
/// half a UTF-8 character: the bytes of an unfinished character wait for the
/// next id. The concatenation of every push() and finish() equals
/// Model::decode of all ids. Holds the model's tokenizer (it may outlive the
/// Model). Not thread-safe.
class TextDecoder {
public:
  /// Fails (Unsupported, "... has no tokenizer") when `model` has none.
  static Expected<std::unique_ptr<TextDecoder>>
  create(const Model &model, bool skipSpecial = false);
  ~TextDecoder();
  /// The text completed by `id` (possibly empty); an id outside the
  /// vocabulary is an OutOfRange error.
  Expected<std::string> push(int32_t id);
  /// What is left (an unfinished character becomes U+FFFD); the decoder then
  /// starts over.
  std::string finish();

private:
  TextDecoder();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

struct SessionOptions {
  /// Tokens of context this session can hold; 0 = the artifact's default.
  int64_t maxContext = 0;
};

/// Called with each generated token; return false to stop generating.
using TokenCallback = std::function<bool(int32_t token)>;

struct GenerateOptions {
  int64_t maxNewTokens = 16;
  /// 0 = greedy (argmax, lowest id on ties). Otherwise softmax(logits / T).
  float temperature = 0.0f;
  int64_t topK = 0;  // 0 = no top-k filter
  float topP = 1.0f; // 1 = no nucleus filter
  uint64_t seed = 0;
  bool stopAtEos = true;
  // Generation ends after emitting one of these.
  std::vector<int32_t> stopTokens;
};

struct GenerateResult {
  std::vector<int32_t> tokens; // the new tokens, stop token included
  enum class Stop { MaxTokens, Eos, StopToken, Callback, ContextFull };
  Stop stop = Stop::MaxTokens;
};

/// Time spent in one catalogue kernel while a session was profiling.
struct KernelTime {
  std::string kernel;   // e.g. "moe", "linear"
  int64_t launches = 0; // launches timed
  double milliseconds = 0;
};

/// One sequence's state (window ring buffers, compressor tails, compressed KV,
/// indexer keys) and its position. Not thread-safe.
class Session {
public:
  /// The model must outlive nothing: the session holds a reference to it.
  static Expected<std::unique_ptr<Session>>
  create(std::shared_ptr<const Model> model,
         const SessionOptions &options = {});
  ~Session();

  /// Feeds tokens at the current position. When `logits` is non-null it
  /// receives the logits of every fed token, row-major [tokens.size(), vocab].
  /// Any split of a sequence into calls gives the same logits. Errors: bad
  /// token ids, context overflow (the session is unchanged after an error).
  Status prefill(std::span<const int32_t> tokens,
                 std::vector<float> *logits = nullptr);
  /// One token; same as prefill of a single token.
  Status decode(int32_t token, std::vector<float> *logits = nullptr);
  /// Logits of the last token fed ([vocab]); empty before the first call.
  std::span<const float> lastLogits() const;

  /// Prefills `prompt` (may be empty to continue), then samples up to
  /// `maxNewTokens` tokens, feeding each back. `onToken` streams each token.
  Expected<GenerateResult> generate(std::span<const int32_t> prompt,
                                    const GenerateOptions &options,
                                    const TokenCallback &onToken = nullptr);

  /// Forgets the sequence: position 0, state cleared.
  void reset();
  int64_t position() const;
  int64_t capacity() const;
  /// Bytes of per-session state committed now: the host backend allocates
  /// the whole capacity up front; the CUDA backend reserves it and commits
  /// the growing states' memory as the context grows (docs/cuda.md).
  uint64_t stateBytes() const;

  /// Profiling times every launch of the calls that follow (host: the wall
  /// time of each kernel; CUDA: device events around each launch, with
  /// decode graphs off, so calls get a little slower). kernelTimes() sums
  /// them per kernel, slowest first; clearKernelTimes() starts over.
  void setProfiling(bool on);
  std::vector<KernelTime> kernelTimes() const;
  void clearKernelTimes();

private:
  Session();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// Picks the next token from logits per `options` (greedy or sampled); `rng`
/// is the caller's state, advanced on each sampled draw.
int32_t sampleToken(std::span<const float> logits,
                    const GenerateOptions &options, uint64_t &rng);

} // namespace birkhoff

#endif // BIRKHOFF_RUNTIME_H
