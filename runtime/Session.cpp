//===- Session.cpp - Per-sequence state and the program executor ----------===//
#include "ArtifactLoader.h"
#include "birkhoff/Runtime.h"
#include "host/HostKernels.h"
#include "host/ThreadPool.h"

#include <algorithm>
#include <cstring>
#include <unistd.h>

namespace birkhoff {

struct Session::Impl {
  std::shared_ptr<const Model> model;
  const rt::Program *program = nullptr;
  std::unique_ptr<rt::ThreadPool> pool;
  int64_t capacity = 0;
  int64_t position = 0;
  std::vector<std::vector<float>> stateData;
  std::vector<rt::StateView> states;
  std::vector<float> arena;
  std::vector<float *> bufferPtrs;
  std::vector<float> lastLogits;

  Status runChunk(std::span<const int32_t> tokens, float *logitsOut);
};

Session::Session() : impl_(std::make_unique<Impl>()) {}
Session::~Session() = default;

Expected<std::unique_ptr<Session>> Session::create(std::shared_ptr<const Model> model,
                                                   const SessionOptions &options) {
  if (!model)
    return invalidArgument("Session::create: no model");
  const rt::Program &prog = model->artifact().program;
  int64_t capacity = options.maxContext > 0 ? options.maxContext : prog.maxContext;
  if (options.maxContext < 0)
    return invalidArgument("Session::create: negative maxContext");
  // Refuse up front what cannot fit, rather than letting the allocation or
  // the first touch of its pages take the process down.
  double stateBytes = 0.0, arenaBytes = 0.0;
  for (const rt::StateDesc &d : prog.states)
    stateBytes += double(d.bytesPerRow) * double(d.rowsFor(capacity));
  for (const rt::EntryDesc &e : prog.entries)
    arenaBytes = std::max(arenaBytes, 4.0 * double(e.arenaElemsPerToken) * e.maxTokens);
  double physical = double(sysconf(_SC_PHYS_PAGES)) * double(sysconf(_SC_PAGE_SIZE));
  if (stateBytes + arenaBytes > physical)
    return outOfRange("a session of " + std::to_string(capacity) + " tokens needs " +
                      std::to_string(uint64_t(stateBytes)) + " bytes of state and " +
                      std::to_string(uint64_t(arenaBytes)) +
                      " bytes of activations, more than this machine's " +
                      std::to_string(uint64_t(physical)) + " bytes of memory");
  std::unique_ptr<Session> session(new Session());
  Impl &s = *session->impl_;
  s.model = std::move(model);
  s.program = &prog;
  s.capacity = capacity;
  s.pool = std::make_unique<rt::ThreadPool>(s.model->options().numThreads);
  for (const rt::StateDesc &d : prog.states) {
    int64_t rows = d.rowsFor(capacity);
    int64_t bytes = rows * int64_t(d.bytesPerRow);
    // Stored as floats so f32 rows are aligned; packed rows use the bytes.
    s.stateData.emplace_back(size_t((bytes + 3) / 4), 0.0f);
    s.states.push_back({reinterpret_cast<uint8_t *>(s.stateData.back().data()), rows,
                        int64_t(d.bytesPerRow)});
  }
  int64_t arenaElems = 0;
  size_t maxBuffers = 0;
  for (const rt::EntryDesc &e : prog.entries) {
    arenaElems = std::max(arenaElems, e.arenaElemsPerToken * e.maxTokens);
    maxBuffers = std::max(maxBuffers, e.buffers.size());
  }
  s.arena.assign(size_t(arenaElems), 0.0f);
  s.bufferPtrs.resize(maxBuffers);
  return session;
}

Status Session::Impl::runChunk(std::span<const int32_t> tokens, float *logitsOut) {
  int64_t n = int64_t(tokens.size());
  const rt::EntryDesc *entry = program->entry(n == 1 ? "decode" : "prefill");
  for (size_t b = 0; b < entry->buffers.size(); ++b)
    bufferPtrs[b] = arena.data() + entry->buffers[b].offsetPerToken * n;
  rt::KernelArgs args;
  args.tokens = n;
  args.start = position;
  args.tokenIds = tokens.data();
  args.program = program;
  args.buffers = bufferPtrs.data();
  args.states = states.data();
  args.pool = pool.get();
  for (const rt::LaunchDesc &launch : entry->launches) {
    args.launch = &launch;
    rt::HostKernelFn fn = rt::findHostKernel(launch.kernel);
    Status st = fn(args);
    if (!st.isOk())
      return st.withContext("kernel '" + launch.kernel + "' of layer " +
                            std::to_string(launch.layer));
  }
  int64_t vocab = program->config.vocabSize;
  const float *logits = bufferPtrs[entry->logitsBuffer];
  if (logitsOut)
    std::memcpy(logitsOut, logits, size_t(n * vocab) * sizeof(float));
  lastLogits.assign(logits + (n - 1) * vocab, logits + n * vocab);
  position += n;
  return Status::ok();
}

Status Session::prefill(std::span<const int32_t> tokens, std::vector<float> *logits) {
  Impl &s = *impl_;
  int64_t vocab = s.program->config.vocabSize;
  for (size_t i = 0; i < tokens.size(); ++i)
    if (tokens[i] < 0 || tokens[i] >= vocab)
      return invalidArgument("token " + std::to_string(i) + " has id " +
                             std::to_string(tokens[i]) + ", outside the vocabulary [0, " +
                             std::to_string(vocab) + ")");
  int64_t n = int64_t(tokens.size());
  if (s.position + n > s.capacity)
    return outOfRange("context overflow: the session holds " +
                      std::to_string(s.position) + " of " + std::to_string(s.capacity) +
                      " tokens and this call adds " + std::to_string(n));
  if (logits)
    logits->resize(size_t(n * vocab));
  int64_t step = s.program->entry("prefill")->maxTokens;
  for (int64_t done = 0; done < n;) {
    int64_t len = std::min(step, n - done);
    BK_RETURN_IF_ERROR(s.runChunk(tokens.subspan(size_t(done), size_t(len)),
                                  logits ? logits->data() + done * vocab : nullptr));
    done += len;
  }
  return Status::ok();
}

Status Session::decode(int32_t token, std::vector<float> *logits) {
  return prefill(std::span<const int32_t>(&token, 1), logits);
}

std::span<const float> Session::lastLogits() const { return impl_->lastLogits; }

Expected<GenerateResult> Session::generate(std::span<const int32_t> prompt,
                                           const GenerateOptions &options,
                                           const TokenCallback &onToken) {
  if (options.maxNewTokens < 0 || options.temperature < 0.0f ||
      options.topP <= 0.0f || options.topP > 1.0f || options.topK < 0)
    return invalidArgument("generate: maxNewTokens, temperature and topK must be "
                           ">= 0 and topP in (0, 1]");
  if (!prompt.empty())
    BK_RETURN_IF_ERROR(prefill(prompt));
  if (impl_->lastLogits.empty())
    return invalidArgument("generate: nothing to continue from (empty prompt at "
                           "position 0)");
  GenerateResult result;
  uint64_t rng = options.seed;
  int32_t eos = impl_->model->info().eosTokenId;
  while (int64_t(result.tokens.size()) < options.maxNewTokens) {
    int32_t token = sampleToken(impl_->lastLogits, options, rng);
    result.tokens.push_back(token);
    if (onToken && !onToken(token)) {
      result.stop = GenerateResult::Stop::Callback;
      break;
    }
    if (options.stopAtEos && token == eos) {
      result.stop = GenerateResult::Stop::Eos;
      break;
    }
    if (std::find(options.stopTokens.begin(), options.stopTokens.end(), token) !=
        options.stopTokens.end()) {
      result.stop = GenerateResult::Stop::StopToken;
      break;
    }
    if (int64_t(result.tokens.size()) == options.maxNewTokens)
      break;
    if (impl_->position >= impl_->capacity) {
      result.stop = GenerateResult::Stop::ContextFull;
      break;
    }
    BK_RETURN_IF_ERROR(decode(token));
  }
  return result;
}

void Session::reset() {
  for (auto &d : impl_->stateData)
    std::fill(d.begin(), d.end(), 0.0f);
  impl_->position = 0;
  impl_->lastLogits.clear();
}

int64_t Session::position() const { return impl_->position; }
int64_t Session::capacity() const { return impl_->capacity; }

uint64_t Session::stateBytes() const {
  uint64_t total = 0;
  for (const auto &d : impl_->stateData)
    total += d.size() * sizeof(float);
  return total;
}

} // namespace birkhoff
