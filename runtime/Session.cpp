//===- Session.cpp - One sequence: an Engine of one slot
//-------------------===//
#include "ArtifactLoader.h"
#include "Backend.h"
#include "birkhoff/Runtime.h"

#include <algorithm>
#include <cstring>

namespace birkhoff {

struct Session::Impl {
  std::unique_ptr<Engine> engine;
  const rt::Program *program = nullptr;
  SequenceId sequence = 0;
  std::vector<float> lastLogits;
  Batch batch;
  StepResult step;
  Status broken; // a failed reset: every later call reports it
};

Session::Session() : impl_(std::make_unique<Impl>()) {}
Session::~Session() = default;

Expected<std::unique_ptr<Session>>
Session::create(std::shared_ptr<const Model> model,
                const SessionOptions &options) {
  if (!model)
    return invalidArgument("Session::create: no model");
  if (options.maxContext < 0)
    return invalidArgument("Session::create: negative maxContext");
  const rt::Program &prog = model->artifact().program;
  EngineOptions eo;
  eo.maxSequences = 1;
  eo.maxContext = options.maxContext;
  BK_ASSIGN_OR_RETURN(std::unique_ptr<Engine> engine,
                      Engine::create(std::move(model), eo));
  BK_ASSIGN_OR_RETURN(SequenceId id, engine->addSequence());
  std::unique_ptr<Session> session(new Session());
  Impl &s = *session->impl_;
  s.engine = std::move(engine);
  s.program = &prog;
  s.sequence = id;
  return session;
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
  const int64_t position = this->position(), capacity = this->capacity();
  if (position + n > capacity)
    return outOfRange("context overflow: the session holds " +
                      std::to_string(position) + " of " +
                      std::to_string(capacity) + " tokens and this call adds " +
                      std::to_string(n));
  if (n == 0) {
    if (logits)
      logits->clear();
    return Status::ok();
  }
  s.batch.clear();
  for (int64_t i = 0; i < n; ++i)
    s.batch.add(tokens[size_t(i)], s.sequence, position + i,
                logits != nullptr || i == n - 1);
  BK_RETURN_IF_ERROR(s.engine->step(s.batch, s.step));
  if (!s.step.failed.empty())
    return s.step.failed.front().second;
  std::span<const float> last = s.step.logitsOf(int32_t(n - 1));
  s.lastLogits.assign(last.begin(), last.end());
  if (logits)
    logits->swap(s.step.logits); // every row, in order
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
  const ModelInfo &info = impl_->engine->model().info();
  while (int64_t(result.tokens.size()) < options.maxNewTokens) {
    int32_t token = sampleToken(impl_->lastLogits, options, rng);
    result.tokens.push_back(token);
    if (onToken && !onToken(token)) {
      result.stop = GenerateResult::Stop::Callback;
      break;
    }
    if (std::optional<GenerateResult::Stop> stop =
            stopAfter(info, options, token, int64_t(result.tokens.size()),
                      position(), capacity())) {
      result.stop = *stop;
      break;
    }
    BK_RETURN_IF_ERROR(decode(token));
  }
  return result;
}

void Session::reset() {
  // The host backend cannot fail here; a device may. The API returns void, so
  // a failure is kept and reported by every later call.
  Impl &s = *impl_;
  Status st = s.engine->removeSequence(s.sequence);
  if (st.isOk()) {
    Expected<SequenceId> id = s.engine->addSequence();
    if (id)
      s.sequence = *id;
    else
      st = id.status();
  }
  s.broken = st.isOk() ? st : st.withContext("the session could not be reset");
  s.lastLogits.clear();
}

int64_t Session::position() const {
  Expected<int64_t> p = impl_->engine->position(impl_->sequence);
  return p ? *p : 0;
}
int64_t Session::capacity() const { return impl_->engine->capacity(); }

uint64_t Session::stateBytes() const { return impl_->engine->stateBytes(); }

void Session::setProfiling(bool on) { impl_->engine->setProfiling(on); }

std::vector<KernelTime> Session::kernelTimes() const {
  return impl_->engine->kernelTimes();
}

std::vector<LaunchTime> Session::launchTimes() const {
  return impl_->engine->launchTimes();
}

void Session::clearKernelTimes() { impl_->engine->clearKernelTimes(); }

} // namespace birkhoff
