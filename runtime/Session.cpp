//===- Session.cpp - Per-sequence state and the program executor ----------===//
#include "ArtifactLoader.h"
#include "Backend.h"
#include "birkhoff/Runtime.h"

#include <algorithm>
#include <cstring>

namespace birkhoff {

struct Session::Impl {
  // Declared first so it is destroyed last: the backend's device memory
  // belongs to the model's context.
  std::shared_ptr<const Model> model;
  const rt::Program *program = nullptr;
  std::unique_ptr<rt::SessionBackend> backend;
  int64_t capacity = 0;
  int64_t position = 0;
  std::vector<float> lastLogits;
  std::vector<float> scratchLogits; // the backend's last row, before commit
  Status broken; // a failed reset: every later call reports it

  Status runChunk(std::span<const int32_t> tokens, float *logitsOut);
};

Session::Session() : impl_(std::make_unique<Impl>()) {}
Session::~Session() = default;

Expected<std::unique_ptr<Session>>
Session::create(std::shared_ptr<const Model> model,
                const SessionOptions &options) {
  if (!model)
    return invalidArgument("Session::create: no model");
  const rt::Program &prog = model->artifact().program;
  int64_t capacity =
      options.maxContext > 0 ? options.maxContext : prog.maxContext;
  if (options.maxContext < 0)
    return invalidArgument("Session::create: negative maxContext");
  BK_ASSIGN_OR_RETURN(std::unique_ptr<rt::SessionBackend> backend,
                      model->backend().createSession(prog, capacity));
  std::unique_ptr<Session> session(new Session());
  Impl &s = *session->impl_;
  s.model = std::move(model);
  s.program = &prog;
  s.capacity = capacity;
  s.backend = std::move(backend);
  return session;
}

Status Session::Impl::runChunk(std::span<const int32_t> tokens,
                               float *logitsOut) {
  int64_t n = int64_t(tokens.size());
  const rt::EntryDesc *entry = program->entry(n == 1 ? "decode" : "prefill");
  scratchLogits.resize(size_t(program->config.vocabSize));
  BK_RETURN_IF_ERROR(
      backend->run(*entry, tokens, position, logitsOut, scratchLogits.data()));
  lastLogits.swap(scratchLogits);
  position += n;
  return Status::ok();
}

Status Session::prefill(std::span<const int32_t> tokens,
                        std::vector<float> *logits) {
  Impl &s = *impl_;
  if (!s.broken.isOk())
    return s.broken;
  int64_t vocab = s.program->config.vocabSize;
  for (size_t i = 0; i < tokens.size(); ++i)
    if (tokens[i] < 0 || tokens[i] >= vocab)
      return invalidArgument("token " + std::to_string(i) + " has id " +
                             std::to_string(tokens[i]) +
                             ", outside the vocabulary [0, " +
                             std::to_string(vocab) + ")");
  int64_t n = int64_t(tokens.size());
  if (s.position + n > s.capacity)
    return outOfRange("context overflow: the session holds " +
                      std::to_string(s.position) + " of " +
                      std::to_string(s.capacity) +
                      " tokens and this call adds " + std::to_string(n));
  if (logits)
    logits->resize(size_t(n * vocab));
  int64_t step = s.program->entry("prefill")->maxTokens;
  for (int64_t done = 0; done < n;) {
    int64_t len = std::min(step, n - done);
    BK_RETURN_IF_ERROR(
        s.runChunk(tokens.subspan(size_t(done), size_t(len)),
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
    return invalidArgument(
        "generate: maxNewTokens, temperature and topK must be "
        ">= 0 and topP in (0, 1]");
  if (!prompt.empty())
    BK_RETURN_IF_ERROR(prefill(prompt));
  if (impl_->lastLogits.empty())
    return invalidArgument(
        "generate: nothing to continue from (empty prompt at "
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
    if (std::find(options.stopTokens.begin(), options.stopTokens.end(),
                  token) != options.stopTokens.end()) {
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
  // The host backend cannot fail here; a device may. The API returns void, so
  // a failure is kept and reported by every later call.
  Status st = impl_->backend->reset();
  impl_->broken =
      st.isOk() ? st : st.withContext("the session could not be reset");
  impl_->position = 0;
  impl_->lastLogits.clear();
}

int64_t Session::position() const { return impl_->position; }
int64_t Session::capacity() const { return impl_->capacity; }

uint64_t Session::stateBytes() const { return impl_->backend->stateBytes(); }

void Session::setProfiling(bool on) { impl_->backend->profiling = on; }

std::vector<KernelTime> Session::kernelTimes() const {
  std::vector<KernelTime> out;
  for (const auto &[kernel, t] : impl_->backend->kernelTimes)
    out.push_back({kernel, t.first, t.second});
  std::stable_sort(out.begin(), out.end(),
                   [](const KernelTime &a, const KernelTime &b) {
                     return a.milliseconds > b.milliseconds;
                   });
  return out;
}

void Session::clearKernelTimes() { impl_->backend->kernelTimes.clear(); }

} // namespace birkhoff
