//===- Scheduler.cpp - Continuous batching of requests on an Engine -------===//
#include "Scheduler.h"

#include "StopStrings.h"

#include <algorithm>
#include <map>

namespace birkhoff::serve {

using Clock = std::chrono::steady_clock;

namespace {

/// Why the requests left at shutdown end.
Status shutDown() {
  return resourceExhausted("the server shut down before the request finished");
}

} // namespace

void SchedulerSignal::notify() {
  {
    std::lock_guard<std::mutex> lock(mu);
    pending = true;
  }
  cv.notify_all();
}

RequestHandle::RequestHandle(std::shared_ptr<SchedulerSignal> signal)
    : signal_(std::move(signal)) {}

bool RequestHandle::wait(RequestUpdate &update,
                         std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  if (!cv_.wait_for(lock, timeout, [&] { return hasPending_; }))
    return false;
  update.append(std::move(pending_));
  pending_ = RequestUpdate();
  hasPending_ = false;
  return true;
}

void RequestHandle::cancel() {
  if (cancelled_.exchange(true))
    return;
  signal_->notify();
}

void RequestHandle::post(RequestUpdate update) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    pending_.append(std::move(update));
    hasPending_ = true;
  }
  cv_.notify_all();
}

struct Scheduler::Active {
  std::shared_ptr<RequestHandle> handle;
  GenerationRequest request;
  /// The prompt, then each sampled token that is still to be fed.
  std::vector<int32_t> context;
  /// Tokens of `context` the engine holds.
  int64_t fed = 0;
  SequenceId sequence = -1;
  int64_t generated = 0;
  uint64_t rng = 0;
  std::unique_ptr<TextDecoder> decoder;
  StopStrings stops;
  Clock::time_point submitted, lastToken;
  bool admittedBefore = false;
  bool done = false;
};

Expected<std::unique_ptr<Scheduler>>
Scheduler::create(std::shared_ptr<const Model> model,
                  const SchedulerOptions &options, Metrics *metrics) {
  if (!model)
    return invalidArgument("Scheduler::create: no model");
  if (options.stepTokens <= int64_t(options.engine.maxSequences))
    return invalidArgument(
        "tokens per step (" + std::to_string(options.stepTokens) +
        ") must be more than the sequences (" +
        std::to_string(options.engine.maxSequences) +
        "), so that prefill chunks run beside every decoding sequence");
  if (options.maxQueue < 0)
    return invalidArgument("the queue length must not be negative");
  if (options.samplingThreads < 0)
    return invalidArgument("the sampling threads must not be negative");
  std::unique_ptr<Scheduler> s(new Scheduler());
  BK_ASSIGN_OR_RETURN(s->engine_, Engine::create(model, options.engine));
  s->model_ = std::move(model);
  s->options_ = options;
  // Sampling runs between steps, never beside the engine's kernels, so it
  // takes the threads they leave idle rather than threads of its own.
  s->samplers_ =
      Workers(*s->model_->options().workers,
              options.samplingThreads > 0 ? options.samplingThreads : 16);
  s->metrics_ = metrics;
  s->capacity_ = s->engine_->capacity();
  // pagesFor grows with the context: the longest that fits the pool.
  int64_t lo = 0, hi = s->capacity_;
  while (lo < hi) {
    int64_t mid = lo + (hi - lo + 1) / 2;
    if (s->engine_->pagesFor(mid) <= s->engine_->pagesTotal())
      lo = mid;
    else
      hi = mid - 1;
  }
  s->poolTokens_ = lo;
  s->signal_ = std::make_shared<SchedulerSignal>();
  s->publishStats();
  return s;
}

Scheduler::~Scheduler() { stopAndAbort(); }

void Scheduler::stopAndAbort() {
  if (!thread_.joinable()) {
    abortAll(FinishReason::Aborted, shutDown());
    return;
  }
  {
    std::lock_guard<std::mutex> lock(signal_->mu);
    abortAll_ = stopThread_ = true;
  }
  signal_->cv.notify_all();
  thread_.join(); // the thread aborts what is left first
}

Scheduler::Submission Scheduler::submit(GenerationRequest request) {
  auto a = std::make_unique<Active>();
  a->handle = std::make_shared<RequestHandle>(signal_);
  a->context = request.prompt;
  a->rng = request.sampling.seed;
  if (request.text && model_->hasTokenizer()) {
    auto decoder = TextDecoder::create(*model_);
    if (decoder)
      a->decoder = decoder.take();
  }
  a->stops =
      StopStrings(a->decoder ? request.stop : std::vector<std::string>());
  a->request = std::move(request);
  a->submitted = Clock::now();
  Submission out;
  {
    std::lock_guard<std::mutex> lock(signal_->mu);
    if (!accepting_) {
      out.admission = Admission::ShuttingDown;
      return out;
    }
    if (queued_.load() >= options_.maxQueue) {
      out.admission = Admission::QueueFull;
      return out;
    }
    out.handle = a->handle;
    incoming_.push_back(std::move(a));
    ++queued_;
    ++unfinished_;
    signal_->pending = true;
  }
  signal_->cv.notify_all();
  return out;
}

void Scheduler::start() {
  thread_ = std::thread([this] { threadMain(); });
}

void Scheduler::stopAccepting() {
  std::lock_guard<std::mutex> lock(signal_->mu);
  accepting_ = false;
}

bool Scheduler::drain(std::chrono::milliseconds grace) {
  stopAccepting();
  const auto deadline = Clock::now() + grace;
  auto idle = [&] { return unfinished_.load() == 0; };
  while (!idle() && Clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  const bool clean = idle();
  stopAndAbort();
  return clean;
}

void Scheduler::threadMain() {
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(signal_->mu);
      if (abortAll_) {
        lock.unlock();
        abortAll(FinishReason::Aborted, shutDown());
        lock.lock();
      }
      if (stopThread_)
        return;
    }
    Expected<bool> ran = step();
    if (ran.isOk() && *ran)
      continue;
    std::unique_lock<std::mutex> lock(signal_->mu);
    signal_->cv.wait(lock, [&] {
      return stopThread_ || abortAll_ || signal_->pending || !incoming_.empty();
    });
    signal_->pending = false;
  }
}

void Scheduler::takeSubmissions() {
  std::lock_guard<std::mutex> lock(signal_->mu);
  signal_->pending = false;
  while (!incoming_.empty()) {
    waiting_.push_back(std::move(incoming_.front()));
    incoming_.pop_front();
  }
}

void Scheduler::finish(Active &a, RequestUpdate &update, FinishReason reason,
                       Status error) {
  if (a.sequence >= 0) {
    // Only an unknown id fails, and the scheduler holds its own ids.
    (void)engine_->removeSequence(a.sequence);
    a.sequence = -1;
  }
  update.finish = reason;
  update.error = std::move(error);
  update.promptTokens = int64_t(a.request.prompt.size());
  update.completionTokens = a.generated;
  a.handle->post(std::move(update));
  a.done = true;
  --unfinished_;
}

void Scheduler::dropCancelled() {
  for (auto it = waiting_.begin(); it != waiting_.end();) {
    if ((*it)->handle->cancelled()) {
      RequestUpdate u;
      finish(**it, u, FinishReason::Cancelled);
      it = waiting_.erase(it);
      --queued_;
    } else {
      ++it;
    }
  }
  for (auto &a : running_)
    if (a->handle->cancelled()) {
      RequestUpdate u;
      finish(*a, u, FinishReason::Cancelled);
    }
  std::erase_if(running_, [](const auto &a) { return a->done; });
}

void Scheduler::admit() {
  const int64_t total = engine_->pagesTotal();
  int64_t free = total - engine_->pagesInUse();
  // Pages the running sequences' unfed tokens will take.
  for (const auto &a : running_)
    free -= std::max<int64_t>(0, engine_->pagesFor(int64_t(a->context.size())) -
                                     engine_->pagesFor(a->fed));
  while (!waiting_.empty() &&
         engine_->activeSequences() < engine_->maxSequences()) {
    Active &a = *waiting_.front();
    const int64_t need = engine_->pagesFor(int64_t(a.context.size()));
    if (need > free)
      break;
    Expected<SequenceId> id = engine_->addSequence();
    if (!id)
      break; // no slot after all; the next iteration tries again
    a.sequence = *id;
    a.fed = 0;
    free -= need;
    if (!a.admittedBefore && metrics_)
      metrics_->addPromptTokens(int64_t(a.request.prompt.size()));
    a.admittedBefore = true;
    running_.push_back(std::move(waiting_.front()));
    waiting_.pop_front();
    --queued_;
  }
}

void Scheduler::emit(Active &a, int32_t tok) {
  ++a.generated;
  const auto now = Clock::now();
  if (metrics_) {
    metrics_->addGeneratedTokens(1);
    if (a.generated == 1)
      metrics_->observeTimeToFirstToken(
          std::chrono::duration<double>(now - a.submitted).count());
    else
      metrics_->observeInterToken(
          std::chrono::duration<double>(now - a.lastToken).count());
  }
  a.lastToken = now;
  const GenerateOptions &g = a.request.sampling;
  RequestUpdate u;
  u.promptTokens = int64_t(a.request.prompt.size());
  u.completionTokens = a.generated;
  FinishReason reason = FinishReason::None;
  bool matched = false;
  if ((g.stopAtEos && model_->info().isEndOfSequence(tok)) ||
      std::find(g.stopTokens.begin(), g.stopTokens.end(), tok) !=
          g.stopTokens.end()) {
    reason = FinishReason::Stop;
  } else {
    u.tokens.push_back(tok);
    if (a.decoder) {
      Expected<std::string> piece = a.decoder->push(tok);
      if (!piece) {
        finish(a, u, FinishReason::Error, piece.status());
        return;
      }
      u.text += a.stops.push(*piece, matched);
      if (matched)
        reason = FinishReason::Stop;
    }
    if (reason == FinishReason::None &&
        (a.generated >= a.request.maxTokens ||
         int64_t(a.context.size()) >= capacity_))
      reason = FinishReason::Length;
  }
  if (reason == FinishReason::None) {
    a.context.push_back(tok);
    a.handle->post(std::move(u));
    return;
  }
  if (a.decoder && !matched) {
    u.text += a.stops.push(a.decoder->finish(), matched);
    u.text += a.stops.flush();
    if (matched)
      reason = FinishReason::Stop;
  }
  finish(a, u, reason);
}

void Scheduler::preempt(std::vector<Active *> &preempted) {
  if (preempted.empty())
    return;
  std::vector<std::unique_ptr<Active>> back;
  for (auto &a : running_) {
    if (std::find(preempted.begin(), preempted.end(), a.get()) ==
        preempted.end())
      continue;
    (void)engine_->removeSequence(a->sequence);
    a->sequence = -1;
    a->fed = 0;
    back.push_back(std::move(a));
  }
  std::erase_if(running_, [](const auto &a) { return !a; });
  for (auto it = back.rbegin(); it != back.rend(); ++it) {
    waiting_.push_front(std::move(*it));
    ++queued_;
  }
  std::lock_guard<std::mutex> lock(statsMu_);
  stats_.preemptions += int64_t(preempted.size());
}

Expected<bool> Scheduler::step() {
  takeSubmissions();
  dropCancelled();
  admit();
  // The step: each decoding sequence's token, then prefill chunks.
  batch_.clear();
  struct Slice {
    Active *a;
    int64_t count;
    int32_t logitsRow; // -1: no logits wanted
  };
  std::vector<Slice> slices;
  auto add = [&](Active &a, int64_t count) {
    for (int64_t i = 0; i < count; ++i)
      batch_.add(a.context[size_t(a.fed + i)], a.sequence, a.fed + i,
                 a.fed + i + 1 == int64_t(a.context.size()));
    const bool last = a.fed + count == int64_t(a.context.size());
    slices.push_back({&a, count, last ? int32_t(batch_.size() - 1) : -1});
  };
  for (auto &a : running_)
    if (int64_t(a->context.size()) - a->fed == 1)
      add(*a, 1);
  int64_t budget = options_.stepTokens - int64_t(batch_.size());
  for (auto &a : running_) {
    const int64_t left = int64_t(a->context.size()) - a->fed;
    if (left <= 1)
      continue;
    if (budget <= 0)
      break;
    const int64_t count = std::min(left, budget);
    add(*a, count);
    budget -= count;
  }
  if (batch_.size() == 0) {
    publishStats();
    return false;
  }
  Status st = engine_->step(batch_, result_);
  if (!st.isOk()) {
    {
      std::lock_guard<std::mutex> lock(statsMu_);
      failure_ = st;
    }
    abortAll(FinishReason::Error, st);
    publishStats();
    return st;
  }
  std::map<SequenceId, Status> failed(result_.failed.begin(),
                                      result_.failed.end());
  // Every next token first, in parallel (each request draws from its own
  // rng, so the order of the draws changes nothing), then posted in order.
  std::vector<size_t> drawing;
  for (size_t i = 0; i < slices.size(); ++i)
    if (slices[i].logitsRow >= 0 && !failed.count(slices[i].a->sequence))
      drawing.push_back(i);
  std::vector<int32_t> drawn(slices.size(), -1);
  samplers_.run(int64_t(drawing.size()), [&](int64_t k) {
    const Slice &s = slices[drawing[size_t(k)]];
    drawn[drawing[size_t(k)]] = sampleToken(result_.logitsOf(s.logitsRow),
                                            s.a->request.sampling, s.a->rng);
  });
  std::vector<Active *> preempted;
  for (size_t i = 0; i < slices.size(); ++i) {
    const Slice &s = slices[i];
    auto f = failed.find(s.a->sequence);
    if (f == failed.end()) {
      s.a->fed += s.count;
      if (s.logitsRow >= 0)
        emit(*s.a, drawn[i]);
      continue;
    }
    // Out of pages: preempted, unless nothing else holds pages (then it can
    // never run). A full context is prevented by the request checks.
    if (f->second.code() == StatusCode::ResourceExhausted &&
        running_.size() > 1) {
      preempted.push_back(s.a);
    } else {
      RequestUpdate u;
      finish(*s.a, u, FinishReason::Error, f->second);
    }
  }
  std::erase_if(running_, [](const auto &a) { return a->done; });
  preempt(preempted);
  {
    std::lock_guard<std::mutex> lock(statsMu_);
    ++stats_.steps;
  }
  publishStats();
  return true;
}

void Scheduler::abortAll(FinishReason reason, const Status &error) {
  std::deque<std::unique_ptr<Active>> incoming;
  {
    std::lock_guard<std::mutex> lock(signal_->mu);
    incoming.swap(incoming_);
  }
  auto end = [&](Active &a) {
    RequestUpdate u;
    finish(a, u, reason, error);
  };
  for (auto &a : incoming)
    end(*a);
  for (auto &a : waiting_)
    end(*a);
  for (auto &a : running_)
    end(*a);
  queued_ -= int64_t(incoming.size() + waiting_.size());
  waiting_.clear();
  running_.clear();
  publishStats();
}

void Scheduler::publishStats() {
  std::lock_guard<std::mutex> lock(statsMu_);
  stats_.queueLength = queued_.load();
  stats_.runningSequences = int64_t(running_.size());
  stats_.pagesInUse = engine_->pagesInUse();
  stats_.pagesTotal = engine_->pagesTotal();
}

SchedulerStats Scheduler::stats() const {
  std::lock_guard<std::mutex> lock(statsMu_);
  SchedulerStats s = stats_;
  s.queueLength = queued_.load(); // fresher than the last step's
  return s;
}

Status Scheduler::failure() const {
  std::lock_guard<std::mutex> lock(statsMu_);
  return failure_;
}

} // namespace birkhoff::serve
