//===- Engine.cpp - Sequences, pages and steps, over an engine backend ----===//
//
// What every backend shares: sequence ids and slots, positions, the page
// pool's free list and each sequence's pages, checking a batch, ordering its
// tokens by sequence and cutting it into calls. The backend (Backend.h) only
// runs calls and holds the memory.
//
//===----------------------------------------------------------------------===//
#include "ArtifactLoader.h"
#include "Backend.h"
#include "EngineInternals.h"
#include "LogitsCheck.h"
#include "birkhoff/Runtime.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <numeric>
#include <optional>
#include <set>

namespace birkhoff {

std::span<const float> StepResult::logitsOf(int32_t i) const {
  auto it = std::lower_bound(rows.begin(), rows.end(), i);
  if (it == rows.end() || *it != i)
    return {};
  return std::span<const float>(logits).subspan(
      size_t(it - rows.begin()) * size_t(vocab), size_t(vocab));
}

struct Engine::Impl {
  // Declared first so it is destroyed last: the backend's device memory
  // belongs to the model's context.
  std::shared_ptr<const Model> model;
  const rt::Program *program = nullptr;
  std::unique_ptr<rt::EngineBackend> backend;
  rt::EngineShape shape;
  int64_t capacity = 0;
  std::vector<const rt::EntryDesc *> entries; // by maxTokens, ascending

  struct Sequence {
    SequenceId id = 0;
    int64_t position = 0;
    std::vector<int32_t> pages;
  };
  std::vector<std::optional<Sequence>> slots;
  std::map<SequenceId, int> slotOf;
  SequenceId nextId = 1;
  std::set<int32_t> freePages; // the lowest first: the pool's touched part
                               // stays small
  Status broken; // a failed call: the state is unknown from then on

  /// Pages a sequence of `tokens` tokens of context needs.
  int64_t pagesFor(int64_t tokens) const {
    int64_t pages = 0;
    for (const rt::StateDesc &d : program->states)
      if (d.growing()) {
        int64_t rows = tokens / d.tokensPerRow, per = shape.pageRows(d);
        pages = std::max(pages, (rows + per - 1) / per);
      }
    return pages;
  }

  /// The slot of `id`; NotFound for a sequence never added or removed.
  Expected<int> slotIndex(SequenceId id) const {
    auto it = slotOf.find(id);
    if (it == slotOf.end())
      return notFound("sequence " + std::to_string(id) +
                      " is not in this engine (never added, or removed)");
    return it->second;
  }

  /// Gives `seq` (in `slot`) the pages a context of `tokens` tokens needs.
  Status growTo(int slot, Sequence &seq, int64_t tokens);
  Status runCalls(const Batch &batch, const std::vector<int32_t> &order,
                  std::vector<float *> &dest);
};

Engine::Engine() : impl_(std::make_unique<Impl>()) {}
Engine::~Engine() = default;

Expected<std::unique_ptr<Engine>>
Engine::create(std::shared_ptr<const Model> model,
               const EngineOptions &options) {
  if (!model)
    return invalidArgument("Engine::create: no model");
  const rt::Program &prog = model->artifact().program;
  if (options.maxSequences < 1 || options.maxSequences > (1 << 20))
    return invalidArgument("Engine::create: maxSequences must be in [1, "
                           "2^20], not " +
                           std::to_string(options.maxSequences));
  if (options.maxContext < 0 || options.pageTokens < 0 ||
      options.statePages < 0)
    return invalidArgument("Engine::create: maxContext, pageTokens and "
                           "statePages must not be negative");
  rt::EngineShape shape;
  shape.slots = options.maxSequences;
  int64_t ratio = 1; // the largest ratio: a multiple of the others
  for (const rt::StateDesc &d : prog.states)
    if (d.growing())
      ratio = std::max(ratio, d.tokensPerRow);
  shape.pageTokens = options.pageTokens > 0 ? options.pageTokens
                                            : std::max<int64_t>(256, ratio);
  if (shape.pageTokens > kMaxContextTokens)
    return invalidArgument("Engine::create: pageTokens " +
                           std::to_string(shape.pageTokens) +
                           " is past the most tokens of context, 2^30");
  if (shape.pageTokens % ratio != 0 ||
      (shape.pageTokens & (shape.pageTokens - 1)) != 0)
    return invalidArgument(
        "Engine::create: pageTokens " + std::to_string(shape.pageTokens) +
        " must be a power of two and a multiple of the model's largest "
        "compression ratio, " +
        std::to_string(ratio));
  std::unique_ptr<Engine> engine(new Engine());
  Impl &e = *engine->impl_;
  e.program = &prog;
  e.shape = shape; // pageRows for pagesFor
  e.capacity = options.maxContext > 0 ? options.maxContext : prog.maxContext;
  if (e.capacity > kMaxContextTokens)
    return invalidArgument("Engine::create: maxContext " +
                           std::to_string(e.capacity) +
                           " is past the 2^30 positions the kernels address");
  e.shape.pagesPerSlot = e.pagesFor(e.capacity);
  // Bounded above (slots <= 2^20, pagesPerSlot <= 2^30), checked anyway: the
  // page table has this many entries.
  std::optional<int64_t> tableEntries =
      checkedMul<int64_t>(e.shape.pagesPerSlot, e.shape.slots);
  if (!tableEntries)
    return invalidArgument("Engine::create: a page table of " +
                           std::to_string(e.shape.slots) + " slots of " +
                           std::to_string(e.shape.pagesPerSlot) +
                           " pages overflows 64 bits");
  e.shape.pages = options.statePages > 0 ? options.statePages : *tableEntries;
  if (e.shape.pages > (int64_t(1) << 31) - 1)
    return invalidArgument("Engine::create: " + std::to_string(e.shape.pages) +
                           " state pages are more than a page table holds");
  // Every state's whole size fits 64 bits, so the backends' buffer sizes
  // cannot wrap (a wrapped size allocates too little; kernels then write
  // past it).
  for (const rt::StateDesc &d : prog.states) {
    Expected<uint64_t> bytes = e.shape.stateBytes(d);
    if (!bytes)
      return bytes.status().withContext("Engine::create");
  }
  BK_ASSIGN_OR_RETURN(e.backend, model->backend().createEngine(prog, e.shape));
  e.model = std::move(model);
  for (const rt::EntryDesc &d : prog.entries)
    e.entries.push_back(&d);
  std::stable_sort(e.entries.begin(), e.entries.end(),
                   [](const rt::EntryDesc *a, const rt::EntryDesc *b) {
                     return a->maxTokens < b->maxTokens;
                   });
  e.slots.resize(size_t(e.shape.slots));
  for (int64_t p = 0; p < e.shape.pages; ++p)
    e.freePages.insert(e.freePages.end(), int32_t(p));
  return engine;
}

Expected<SequenceId> Engine::addSequence() {
  Impl &e = *impl_;
  if (!e.broken.isOk())
    return e.broken;
  auto free = std::find_if(e.slots.begin(), e.slots.end(),
                           [](const auto &s) { return !s.has_value(); });
  if (free == e.slots.end())
    return resourceExhausted("every one of the engine's " +
                             std::to_string(e.shape.slots) +
                             " sequence slots is in use");
  int slot = int(free - e.slots.begin());
  Status cleared = e.backend->clearSlot(slot);
  if (!cleared.isOk()) {
    e.broken = cleared.withContext("clearing a sequence slot");
    return e.broken;
  }
  SequenceId id = e.nextId++;
  *free = Impl::Sequence{id, 0, {}};
  e.slotOf[id] = slot;
  return id;
}

Status Engine::removeSequence(SequenceId id) {
  Impl &e = *impl_;
  BK_ASSIGN_OR_RETURN(int slot, e.slotIndex(id));
  std::optional<Impl::Sequence> &seq = e.slots[size_t(slot)];
  for (int32_t p : seq->pages)
    e.freePages.insert(p);
  seq.reset();
  e.slotOf.erase(id);
  return Status::ok();
}

Status Engine::Impl::growTo(int slot, Sequence &seq, int64_t tokens) {
  int64_t need = pagesFor(tokens) - int64_t(seq.pages.size());
  if (need <= 0)
    return Status::ok();
  if (need > int64_t(freePages.size()))
    return resourceExhausted(
        "out of state pages: sequence " + std::to_string(seq.id) + " needs " +
        std::to_string(need) + " more page(s) of " +
        std::to_string(shape.pageTokens) + " tokens to reach a context of " +
        std::to_string(tokens) + ", and " + std::to_string(freePages.size()) +
        " of the pool's " + std::to_string(shape.pages) + " are free");
  for (int64_t i = 0; i < need; ++i) {
    int32_t page = *freePages.begin();
    BK_RETURN_IF_ERROR(backend->setPage(slot, int64_t(seq.pages.size()), page));
    freePages.erase(freePages.begin());
    seq.pages.push_back(page);
  }
  return Status::ok();
}

namespace rt {

namespace {
/// Whether `row` holds a NaN or an infinity: the largest magnitude's bits,
/// reduced without a branch over eight lanes (a decode step of 64 sequences
/// scans 8M logits; a test per element with an early exit took milliseconds).
bool hasNonFinite(const float *row, size_t n) {
  uint32_t lane[8] = {};
  size_t v = 0;
  for (; v + 8 <= n; v += 8)
    for (int k = 0; k < 8; ++k) {
      uint32_t bits;
      std::memcpy(&bits, row + v + size_t(k), 4);
      lane[k] = std::max(lane[k], bits & 0x7fffffffu);
    }
  uint32_t most = 0;
  for (uint32_t l : lane)
    most = std::max(most, l);
  for (; v < n; ++v) {
    uint32_t bits;
    std::memcpy(&bits, row + v, 4);
    most = std::max(most, bits & 0x7fffffffu);
  }
  return most >= 0x7f800000u; // exponent all ones: inf or NaN
}
} // namespace

// The check runs on the host copy, so the host and CUDA paths share it.
void refuseNonFiniteLogits(const Batch &batch, StepResult &result) {
  const size_t vocab = size_t(result.vocab);
  std::set<SequenceId> bad;
  for (size_t r = 0; r < result.rows.size(); ++r) {
    const int32_t i = result.rows[r];
    const SequenceId id = batch.sequences[size_t(i)];
    if (bad.count(id))
      continue;
    const float *row = result.logits.data() + r * vocab;
    if (!hasNonFinite(row, vocab))
      continue;
    for (size_t v = 0; v < vocab; ++v) {
      if (std::isfinite(row[v]))
        continue;
      bad.insert(id);
      result.failed.push_back(
          {id, internalError("non-finite logits: sequence " +
                             std::to_string(id) + " at position " +
                             std::to_string(batch.positions[size_t(i)]) +
                             " has " + (std::isnan(row[v]) ? "NaN" : "inf") +
                             " at vocabulary index " + std::to_string(v))});
      break;
    }
  }
  if (bad.empty())
    return;
  size_t kept = 0;
  for (size_t r = 0; r < result.rows.size(); ++r) {
    if (bad.count(batch.sequences[size_t(result.rows[r])]))
      continue;
    if (kept != r)
      std::copy_n(result.logits.begin() + std::ptrdiff_t(r * vocab), vocab,
                  result.logits.begin() + std::ptrdiff_t(kept * vocab));
    result.rows[kept++] = result.rows[r];
  }
  result.rows.resize(kept);
  result.logits.resize(kept * vocab);
}

} // namespace rt

Status Engine::step(const Batch &batch, StepResult &result) {
  Impl &e = *impl_;
  result.rows.clear();
  result.logits.clear();
  result.failed.clear();
  result.vocab = e.program->config.vocabSize;
  if (!e.broken.isOk())
    return e.broken;
  const size_t n = batch.tokens.size();
  if (batch.sequences.size() != n || batch.positions.size() != n ||
      batch.wantLogits.size() != n)
    return invalidArgument(
        "batch has " + std::to_string(n) + " tokens but " +
        std::to_string(batch.sequences.size()) + " sequence ids, " +
        std::to_string(batch.positions.size()) + " positions and " +
        std::to_string(batch.wantLogits.size()) + " logits flags");
  // Check everything before anything runs; `next` follows each sequence.
  std::map<SequenceId, int64_t> next;
  std::vector<SequenceId> seqOrder; // by first appearance
  for (size_t i = 0; i < n; ++i) {
    const int32_t tok = batch.tokens[i];
    if (tok < 0 || tok >= result.vocab)
      return invalidArgument("batch token " + std::to_string(i) + " has id " +
                             std::to_string(tok) +
                             ", outside the vocabulary [0, " +
                             std::to_string(result.vocab) + ")");
    const SequenceId id = batch.sequences[i];
    auto it = next.find(id);
    if (it == next.end()) {
      BK_ASSIGN_OR_RETURN(int slot, e.slotIndex(id));
      it = next.emplace(id, e.slots[size_t(slot)]->position).first;
      seqOrder.push_back(id);
    }
    if (batch.positions[i] != it->second)
      return invalidArgument(
          "batch token " + std::to_string(i) + " of sequence " +
          std::to_string(id) + " is at position " +
          std::to_string(batch.positions[i]) + ", expected " +
          std::to_string(it->second) +
          " (a sequence's tokens come in order from its position)");
    ++it->second;
  }
  // Context and pages, sequence by sequence: one that cannot grow fails
  // alone.
  std::set<SequenceId> runnable;
  for (SequenceId id : seqOrder) {
    const int slot = e.slotOf.at(id);
    Impl::Sequence &seq = *e.slots[size_t(slot)];
    const int64_t end = next.at(id);
    if (end > e.capacity) {
      result.failed.push_back(
          {id, outOfRange("context full: sequence " + std::to_string(id) +
                          " holds " + std::to_string(seq.position) + " of " +
                          std::to_string(e.capacity) +
                          " tokens and this step adds " +
                          std::to_string(end - seq.position))});
      continue;
    }
    Status grown = e.growTo(slot, seq, end);
    if (grown.code() == StatusCode::ResourceExhausted) {
      result.failed.push_back({id, grown});
      continue;
    }
    if (!grown.isOk()) {
      e.broken = grown.withContext("mapping a state page");
      return e.broken;
    }
    runnable.insert(id);
  }
  // The tokens that run, grouped by sequence in order of first appearance;
  // the result's rows are the wanted ones among them, ascending.
  std::vector<int32_t> order;
  for (SequenceId id : seqOrder)
    if (runnable.count(id))
      for (size_t i = 0; i < n; ++i)
        if (batch.sequences[i] == id)
          order.push_back(int32_t(i));
  for (size_t i = 0; i < n; ++i)
    if (batch.wantLogits[i] && runnable.count(batch.sequences[i]))
      result.rows.push_back(int32_t(i));
  result.logits.resize(result.rows.size() * size_t(result.vocab));
  std::vector<float *> dest(n, nullptr);
  for (size_t r = 0; r < result.rows.size(); ++r)
    dest[size_t(result.rows[r])] =
        result.logits.data() + r * size_t(result.vocab);
  Status ran = e.runCalls(batch, order, dest);
  if (!ran.isOk()) {
    e.broken = ran;
    return ran;
  }
  rt::refuseNonFiniteLogits(batch, result);
  return Status::ok();
}

/// Cuts the ordered tokens into calls of at most the largest entry's tokens
/// and runs each on the smallest entry that holds it.
Status Engine::Impl::runCalls(const Batch &batch,
                              const std::vector<int32_t> &order,
                              std::vector<float *> &dest) {
  const int64_t maxCall = entries.back()->maxTokens;
  std::vector<int32_t> ids;
  std::vector<cuda::BkToken> toks;
  std::vector<int32_t> logitRows;
  std::vector<float *> logitDest;
  for (size_t begin = 0; begin < order.size();) {
    const size_t end =
        std::min(order.size(), begin + size_t(std::max<int64_t>(maxCall, 1)));
    const int32_t s = int32_t(end - begin);
    ids.clear();
    toks.clear();
    logitRows.clear();
    logitDest.clear();
    for (int32_t r = 0; r < s; ++r) {
      const int32_t i = order[begin + size_t(r)];
      const int slot = slotOf.at(batch.sequences[size_t(i)]);
      const bool sameAsPrev = r > 0 && toks.back().slot == slot;
      cuda::BkToken t;
      t.pos = int32_t(batch.positions[size_t(i)]);
      t.slot = slot;
      t.first = sameAsPrev ? toks.back().first : r;
      toks.push_back(t);
      ids.push_back(batch.tokens[size_t(i)]);
      if (dest[size_t(i)]) {
        logitRows.push_back(r);
        logitDest.push_back(dest[size_t(i)]);
      }
    }
    for (int32_t r = s - 1; r >= 0; --r)
      toks[size_t(r)].last =
          r + 1 < s && toks[size_t(r) + 1].first == toks[size_t(r)].first
              ? toks[size_t(r) + 1].last
              : r;
    const rt::EntryDesc *entry = *std::find_if(
        entries.begin(), entries.end(),
        [&](const rt::EntryDesc *d) { return d->maxTokens >= s; });
    rt::BatchCall call;
    call.ids = ids;
    call.tokens = toks;
    call.logitRows = logitRows;
    call.logitDest = logitDest;
    BK_RETURN_IF_ERROR(backend->run(*entry, call));
    for (int32_t r = 0; r < s; ++r)
      ++slots[size_t(toks[size_t(r)].slot)]->position;
    begin = end;
  }
  return Status::ok();
}

Status EngineInternals::skipTokens(Engine &engine, SequenceId id,
                                   int64_t tokens) {
  Engine::Impl &e = *engine.impl_;
  BK_ASSIGN_OR_RETURN(int slot, e.slotIndex(id));
  Engine::Impl::Sequence &seq = *e.slots[size_t(slot)];
  if (tokens < 0 || seq.position + tokens > e.capacity)
    return outOfRange("cannot skip " + std::to_string(tokens) +
                      " tokens past the context capacity");
  BK_RETURN_IF_ERROR(e.growTo(slot, seq, seq.position + tokens));
  seq.position += tokens;
  return Status::ok();
}

rt::EngineBackend &EngineInternals::backend(Engine &engine) {
  return *engine.impl_->backend;
}

Expected<int64_t> Engine::position(SequenceId id) const {
  BK_ASSIGN_OR_RETURN(int slot, impl_->slotIndex(id));
  return impl_->slots[size_t(slot)]->position;
}

int64_t Engine::capacity() const { return impl_->capacity; }
int Engine::maxSequences() const { return impl_->shape.slots; }
int Engine::activeSequences() const { return int(impl_->slotOf.size()); }
int64_t Engine::pageTokens() const { return impl_->shape.pageTokens; }
int64_t Engine::pagesTotal() const { return impl_->shape.pages; }
int64_t Engine::pagesInUse() const {
  return impl_->shape.pages - int64_t(impl_->freePages.size());
}
int64_t Engine::pagesFor(int64_t tokens) const {
  return impl_->pagesFor(tokens);
}
uint64_t Engine::stateBytes() const { return impl_->backend->stateBytes(); }
const Model &Engine::model() const { return *impl_->model; }

void Engine::setProfiling(bool on) { impl_->backend->profiling = on; }

std::vector<KernelTime> Engine::kernelTimes() const {
  std::vector<KernelTime> out;
  for (const auto &[kernel, t] : impl_->backend->kernelTimes)
    out.push_back({kernel, t.first, t.second});
  std::stable_sort(out.begin(), out.end(),
                   [](const KernelTime &a, const KernelTime &b) {
                     return a.milliseconds > b.milliseconds;
                   });
  return out;
}

std::vector<LaunchTime> Engine::launchTimes() const {
  std::vector<LaunchTime> out;
  for (const auto &[key, t] : impl_->backend->launchTimes)
    out.push_back(t);
  std::stable_sort(out.begin(), out.end(),
                   [](const LaunchTime &a, const LaunchTime &b) {
                     return a.milliseconds > b.milliseconds;
                   });
  return out;
}

void Engine::clearKernelTimes() {
  impl_->backend->kernelTimes.clear();
  impl_->backend->launchTimes.clear();
}

} // namespace birkhoff
