//===- Runtime.h - The Birkhoff runtime API --------------------*- C++ -*-===//
//
// Load a compiled artifact once, then run it in one of two shapes:
//  - an Engine steps many sequences at once: each step is a Batch of tokens,
//    each token with its sequence and position (decode tokens and prefill
//    chunks of different sequences mixed), as a server's continuous batching
//    needs. The sequences' growing state lives in pages of one pool, taken as
//    their contexts grow and returned when they end.
//  - a Session is one sequence (an Engine of one): prefill in one or more
//    calls, decode, or generate with sampling.
// This is the only header a service needs; it links `birkhoff_runtime` and
// nothing of the compiler.
//
//   auto model = birkhoff::Model::load("model.bkart");
//   if (!model) { report(model.status()); return; }
//   auto session = birkhoff::Session::create(*model);
//   birkhoff::GenerateOptions opts;
//   opts.maxNewTokens = 32;
//   auto result = (*session)->generate(prompt, opts);
//
// Threading: a Model is immutable after load and may be shared by engines and
// sessions on any threads. An Engine or Session is not thread-safe: use each
// from one thread at a time. Different ones run concurrently; on the host
// their kernels share one pool of threads (ModelOptions::workers), so many
// sessions do not multiply threads.
//
//===----------------------------------------------------------------------===//
#ifndef BIRKHOFF_RUNTIME_H
#define BIRKHOFF_RUNTIME_H

#include "birkhoff/GenerationConfig.h"
#include "birkhoff/Status.h"
#include "birkhoff/Version.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace birkhoff {

class Tokenizer;
class WorkerPool; // birkhoff/WorkerPool.h

namespace rt {
struct LoadedArtifact;
class ModelBackend;
} // namespace rt

/// What this runtime library was built from (`birkhoff --version` prints it).
struct BuildInfo {
  std::string version;  // CMake's project(VERSION): "major.minor.patch"
  std::string revision; // the git revision it was configured from, or "unknown"
  /// The CUDA backend (device "cuda") is built in; today it always is. It
  /// loads the CUDA driver and NVRTC at run time, so this says nothing of the
  /// machine: Model::load on device "cuda" reports a missing driver or GPU.
  bool cuda = false;
};

/// The library's build. Compare version with BIRKHOFF_VERSION_STRING
/// (birkhoff/Version.h) to tell whether the headers a program was compiled
/// with are the library's. Thread-safe; the object lives as long as the
/// program.
const BuildInfo &buildInfo();

/// What `Model::info` reports about a loaded artifact.
struct ModelInfo {
  std::string modelName;
  std::string numerics; // "reference" | "official"
  std::string target;   // "host" | "cuda"
  int64_t vocabSize = 0;
  int64_t nLayers = 0;
  int64_t maxContext = 0; // default capacity of a session
  /// The context the model was trained for (its config's
  /// max_position_embeddings); 0 when the artifact does not record it.
  int64_t trainedContext = 0;
  // Tokens per internal prefill step (longer prompts are split).
  int64_t maxPrefillTokens = 0;
  int32_t bosTokenId = 0;
  int32_t eosTokenId = 1;
  uint64_t weightBytes = 0;
  std::string device; // where it runs: "host" or "cuda:0 (<GPU name>)"
  /// The checkpoint's generation_config.json as `birkhoff compile` stored it
  /// (sampling defaults, lengths, end-of-sequence ids); nullopt when the
  /// artifact has none. applyGenerationConfig turns it into GenerateOptions.
  std::optional<GenerationConfig> generationConfig;

  /// A warning for a session or engine of `context` tokens beyond what the
  /// model was trained for (the positions past it were never seen in
  /// training, so quality there is unknown); nullopt within it, or when the
  /// artifact does not say. A caller decides where it goes (the CLI prints
  /// it to stderr, serve logs it at start).
  std::optional<std::string> contextWarning(int64_t context) const;

  /// Whether `token` ends a sequence: eosTokenId, or one of the generation
  /// config's eos_token_id ids.
  bool isEndOfSequence(int32_t token) const {
    if (token == eosTokenId)
      return true;
    if (!generationConfig)
      return false;
    for (int32_t id : generationConfig->eosTokenIds)
      if (token == id)
        return true;
    return false;
  }
};

struct ModelOptions {
  /// Host backend: the most threads one call of an engine or session (and
  /// the generation of weights at load) runs on, the caller's included;
  /// 0 = all of `workers`. A cap, not threads of its own: every engine and
  /// session of the model shares `workers`.
  int numThreads = 0;
  /// The pool the host backend's kernels and the weights generated at load
  /// run on; null = WorkerPool::shared(), the process's one pool with a
  /// thread per hardware thread. Pass one for a pool of another size.
  std::shared_ptr<WorkerPool> workers;
  /// Where the model runs: "host" (artifacts compiled with --target host) or
  /// "cuda" / "cuda:<ordinal>" (--target cuda; needs a CUDA driver and GPU).
  std::string device = "host";
  /// Device "cuda": replay decode steps (one-token calls) as CUDA graphs,
  /// captured on a session's first one (false: launch kernel by kernel).
  bool cudaGraphs = true;
  /// Check every stored weight's CRC-32C at load, on `workers` (all of its
  /// threads): a damaged weight fails the load, naming it. Device "cuda"
  /// always checks (it reads every weight to upload it anyway); the host
  /// backend reads weights in place, where it needs them, so the check
  /// (which reads the whole file once) is its caller's choice. The program
  /// itself is checked on every load.
  bool verifyWeights = false;
  /// Called as the load's long steps advance: `task` ("verifying weights",
  /// "generating weights", "uploading weights"), the bytes finished since
  /// the task's last call and the task's total. From any of `workers`'
  /// threads, possibly at once; null: not called. (The CLI draws
  /// birkhoff/Progress.h lines from it.)
  using Progress = std::function<void(std::string_view task, uint64_t bytes,
                                      uint64_t total)>;
  Progress progress;
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

/// Time spent in one catalogue kernel while an engine or session was profiling.
struct KernelTime {
  std::string kernel;   // e.g. "moe", "linear"
  int64_t launches = 0; // launches timed
  double milliseconds = 0;
};

/// Time spent in one launch of an entry while profiling, over the calls
/// that ran it: where a step's time goes within a kernel's launches (the LM
/// head among the linears, one layer's moe).
struct LaunchTime {
  std::string entry;  // the artifact's entry ("decode", "batch", "prefill")
  int64_t launch = 0; // its index in the entry's launches
  std::string kernel;
  int64_t layer = -1; // -1: no layer's (the embedding, the head)
  int64_t calls = 0;  // calls timed
  double milliseconds = 0;
};

/// Identifies a sequence of an Engine; never reused by that engine.
using SequenceId = int64_t;

struct EngineOptions {
  /// Sequences the engine holds at once (its slots).
  int maxSequences = 1;
  /// Tokens of context each sequence can hold, at most 2^30; 0 = the
  /// artifact's default.
  int64_t maxContext = 0;
  /// Tokens of context per state page: a multiple of every compression ratio
  /// of the model; 0 = 256 (or the largest ratio, when larger).
  int64_t pageTokens = 0;
  /// Pages in the pool shared by all sequences; 0 = enough for every
  /// sequence at maxContext. The CUDA backend commits device memory for
  /// pages only as they are first used.
  int64_t statePages = 0;
};

/// The tokens of one Engine::step, in the shape of llama.cpp's llama_batch:
/// per token its id, its sequence, its position and whether its logits are
/// wanted. A sequence's tokens appear in position order, starting at the
/// sequence's position (Engine::position); other sequences' tokens may come
/// between them.
struct Batch {
  std::vector<int32_t> tokens;
  std::vector<SequenceId> sequences;
  std::vector<int64_t> positions;
  std::vector<uint8_t> wantLogits;

  void add(int32_t token, SequenceId sequence, int64_t position, bool logits) {
    tokens.push_back(token);
    sequences.push_back(sequence);
    positions.push_back(position);
    wantLogits.push_back(logits ? 1 : 0);
  }
  void clear() {
    tokens.clear();
    sequences.clear();
    positions.clear();
    wantLogits.clear();
  }
  size_t size() const { return tokens.size(); }
};

/// What a step returns.
struct StepResult {
  /// The batch indices of the tokens whose logits were wanted and computed,
  /// ascending; `logits` holds one row of `vocab` floats per index.
  std::vector<int32_t> rows;
  std::vector<float> logits;
  int64_t vocab = 0;
  /// Sequences none of whose tokens ran, each with why (out of state pages,
  /// context full); their state and position are unchanged. The other
  /// sequences of the step ran.
  std::vector<std::pair<SequenceId, Status>> failed;

  /// The logits of batch index `i`, empty when it wanted none or failed.
  std::span<const float> logitsOf(int32_t i) const;
};

/// Steps a set of sequences together (continuous batching). Not thread-safe.
class Engine {
public:
  /// Allocates the slots' fixed state and reserves the page pool. Fails with
  /// OutOfRange when that does not fit the device, InvalidArgument for bad
  /// options (a page size that is not a multiple of the model's ratios).
  static Expected<std::unique_ptr<Engine>>
  create(std::shared_ptr<const Model> model, const EngineOptions &options = {});
  ~Engine();

  /// A new, empty sequence at position 0. ResourceExhausted when every slot
  /// holds a sequence.
  Expected<SequenceId> addSequence();
  /// Ends `sequence`: its slot and pages return to the engine (zeroed before
  /// reuse). NotFound for an unknown or ended sequence.
  Status removeSequence(SequenceId sequence);

  /// Runs every token of `batch` (split into calls of at most the
  /// artifact's largest entry as needed). A malformed batch (bad token id,
  /// unknown sequence, a position that is not the sequence's next one) is an
  /// InvalidArgument error and nothing runs. A sequence that cannot run
  /// (context full, no free state page) is listed in result.failed and the
  /// others run. So is one whose logits hold a NaN or an infinity (Internal,
  /// naming the position); its rows are dropped, and since it did run, its
  /// state holds the step: end it.
  Status step(const Batch &batch, StepResult &result);

  /// The next position of `sequence` (tokens it has consumed).
  Expected<int64_t> position(SequenceId sequence) const;
  /// Tokens of context each sequence can hold.
  int64_t capacity() const;
  int maxSequences() const;
  int activeSequences() const;
  int64_t pageTokens() const;
  int64_t pagesTotal() const;
  int64_t pagesInUse() const;
  /// State pages a sequence holds once it has `tokens` tokens of context
  /// (a scheduler's admission check: compare with pagesTotal - pagesInUse).
  int64_t pagesFor(int64_t tokens) const;
  /// Bytes of state committed now (fixed rows of every slot and the pages
  /// of the pool touched so far).
  uint64_t stateBytes() const;
  const Model &model() const;

  /// Profiling, as Session's: every launch of the steps that follow is timed.
  void setProfiling(bool on);
  std::vector<KernelTime> kernelTimes() const;
  std::vector<LaunchTime> launchTimes() const;
  void clearKernelTimes();

private:
  friend struct EngineInternals; // the bench's hooks (EngineInternals.h)
  Engine();
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
  /// Stop at an end-of-sequence token (ModelInfo::isEndOfSequence).
  bool stopAtEos = true;
  // Generation ends after emitting one of these.
  std::vector<int32_t> stopTokens;
};

/// `base` with the defaults `config` states put in, as transformers'
/// generate reads them: do_sample false sets temperature 0 (greedy); do_sample
/// true sets temperature (1 when the file gives none), and top_p and top_k
/// when given; without do_sample the sampling fields are left as in `base`.
/// max_new_tokens sets maxNewTokens. Nothing else changes (max_length is the
/// caller's to apply, knowing the prompt; repetition_penalty is not offered).
GenerateOptions applyGenerationConfig(const GenerationConfig &config,
                                      GenerateOptions base);

struct GenerateResult {
  std::vector<int32_t> tokens; // the new tokens, stop token included
  enum class Stop { MaxTokens, Eos, StopToken, Callback, ContextFull };
  Stop stop = Stop::MaxTokens;
};

/// One sequence's state (window ring buffers, compressor tails, compressed KV,
/// indexer keys) and its position: an Engine of one sequence. Not
/// thread-safe.
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
  /// them per kernel, launchTimes() per launch of an entry, each slowest
  /// first; clearKernelTimes() starts both over.
  void setProfiling(bool on);
  std::vector<KernelTime> kernelTimes() const;
  std::vector<LaunchTime> launchTimes() const;
  void clearKernelTimes();

private:
  Session();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// Why generation ends after emitting `token` as the `count`-th new token of
/// a sequence that held `position` of its `capacity` tokens before it: an
/// end-of-sequence token (ModelInfo::isEndOfSequence, with stopAtEos), one of
/// stopTokens, `count` reaching maxNewTokens, or a full context, checked in
/// that order; nullopt when it goes on. Session::generate stops by it.
std::optional<GenerateResult::Stop>
stopAfter(const ModelInfo &info, const GenerateOptions &options, int32_t token,
          int64_t count, int64_t position, int64_t capacity);

/// Picks the next token from logits per `options` (greedy or sampled); `rng`
/// is the caller's state, advanced on each sampled draw.
int32_t sampleToken(std::span<const float> logits,
                    const GenerateOptions &options, uint64_t &rng);

/// How scoreWindows runs.
struct ScoreOptions {
  /// Tokens of context a window may hold; 0 = the artifact's default
  /// (ModelInfo::maxContext).
  int64_t maxContext = 0;
  /// Tokens one engine step carries at most, windows packed into it one
  /// after another; 0 = ModelInfo::maxPrefillTokens. A step holds the logits
  /// of its tokens, stepTokens x vocab floats.
  int64_t stepTokens = 0;
  /// Called after each step with the tokens fed so far and the tokens of
  /// every window; null: not called.
  std::function<void(int64_t fed, int64_t total)> progress;
};

/// One window's score.
struct WindowScore {
  /// The sum, over every token of the window but its first, of
  /// -log softmax(logits of the token before it)[token], in nats.
  double nll = 0;
  int64_t tokens = 0; // tokens scored: the window's length - 1
};

struct ScoreResult {
  std::vector<WindowScore> windows; // in the order given
  double nll = 0;                   // the windows' nll, summed in order
  int64_t tokens = 0;               // tokens scored, over every window
  int64_t fed = 0;                  // tokens the model ran: every window's
  /// nll / tokens: the mean negative log-likelihood, in nats per token.
  double meanNll() const;
  /// exp(meanNll()).
  double perplexity() const;
};

/// Scores token windows for a perplexity: each window runs from a fresh
/// sequence, and each of its tokens but the first is scored by the logits of
/// the token before it. The windows run on one Engine, several to a step
/// where they fit (ScoreOptions::stepTokens); since a sequence's logits do
/// not depend on what runs beside it, neither does a window's score (on the
/// host backend, not by a bit). Each log-softmax is computed in double from
/// the float logits, their maximum subtracted before the exponentials.
///
/// Errors name the window: no windows, a window of fewer than 2 tokens, a
/// token outside the vocabulary (InvalidArgument), a window longer than the
/// context (OutOfRange), and a step that fails (non-finite logits).
Expected<ScoreResult>
scoreWindows(std::shared_ptr<const Model> model,
             std::span<const std::vector<int32_t>> windows,
             const ScoreOptions &options = {});

} // namespace birkhoff

#endif // BIRKHOFF_RUNTIME_H
