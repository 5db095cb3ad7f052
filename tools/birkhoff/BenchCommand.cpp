//===- BenchCommand.cpp - `birkhoff bench`: prefill and decode timings ----===//
//
// Times one prefill and decode steps at one or more context lengths, and
// prints next to each time what the step must at least move or compute, from
// the artifact itself: the weight bytes one token reads (every launch's
// weights and scales; of the routed experts only top-k of E; one embedding
// row), the session state, and the matrix FLOPs per token. Those are the
// numbers to hold against a device's copy bandwidth and GEMM rate
// (scripts/gpu-bench.sh measures both in the same run).
//
//===----------------------------------------------------------------------===//
#include "ArtifactLoader.h"
#include "Commands.h"
#include "JsonOut.h"
#include "EngineInternals.h"
#include "ModelLoad.h"
#include "TextOut.h"
#include "birkhoff/CheckedMath.h"
#include "birkhoff/Log.h"
#include "birkhoff/Progress.h"
#include "birkhoff/Runtime.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace birkhoff::tools {
namespace {

double seconds(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
      .count();
}

/// What one token of an entry reads and computes in its weights.
struct TokenCost {
  double weightBytes = 0; // weights + scales one token reads
  double matrixFlops = 0; // 2 · (weight elements one token multiplies)
  // Per catalogue kernel: the weight bytes its launches of one call read
  // for one token, and how many launches a call makes.
  std::map<std::string, double> bytesByKernel;
  std::map<std::string, int64_t> launchesByKernel;
  int64_t cudaKernels = 0; // kernels a call runs (an op may lower to several)
  // A batch reads each weight once, one embedding row per token and the
  // routed experts it routes to: these split weightBytes for that count.
  double embedRowBytes = 0;
  double routedBytes = 0;                // of the top-k experts one token reads
  std::vector<double> expertBytesPerMoe; // one expert's bytes, per moe launch
};

/// A weight's bytes with its scale's.
double weightBytes(const rt::Program &prog, int w) {
  const rt::WeightDesc &d = prog.weights[size_t(w)];
  double b = double(d.size);
  if (d.scale >= 0)
    b += double(prog.weights[size_t(d.scale)].size);
  return b;
}

TokenCost tokenCost(const rt::Program &prog, const rt::EntryDesc &entry) {
  TokenCost c;
  auto bytes = [&](int w) { return weightBytes(prog, w); };
  auto elements = [&](int w) {
    double n = 1;
    for (int64_t s : prog.weights[size_t(w)].shape)
      n *= double(s);
    return n;
  };
  for (const rt::LaunchDesc &l : entry.launches) {
    const std::string kernel(kernelName(l.id));
    ++c.launchesByKernel[kernel];
    if (l.cudaKernel >= 0)
      c.cudaKernels += int64_t(l.cudaKernelSequence().size());
    double &kernelBytes = c.bytesByKernel[kernel];
    if (l.id == KernelId::Embed) {
      // One row of the table per token.
      for (int w : l.weights)
        if (w >= 0) {
          const rt::WeightDesc &d = prog.weights[size_t(w)];
          const double row =
              bytes(w) / double(std::max<int64_t>(d.shape[0], 1));
          c.weightBytes += row;
          c.embedRowBytes += row;
          kernelBytes += row;
        }
      continue;
    }
    // moe: w1, w2, w3 of experts 0..E-1, then the shared expert's; a token
    // uses top-k of the routed ones.
    double routedShare = 1;
    size_t routed = 0;
    if (const auto *moe = std::get_if<MoeParams>(&l.params)) {
      routed = size_t(3 * moe->experts);
      routedShare = double(moe->topk) / double(moe->experts);
    }
    double oneExpert = 0;
    for (size_t i = 0; i < l.weights.size(); ++i) {
      int w = l.weights[i];
      if (w < 0)
        continue;
      double share = i < routed ? routedShare : 1.0;
      if (i < routed) {
        c.routedBytes += share * bytes(w);
        oneExpert += bytes(w);
      }
      c.weightBytes += share * bytes(w);
      kernelBytes += share * bytes(w);
      if (prog.weights[size_t(w)].shape.size() == 2)
        c.matrixFlops += share * 2.0 * elements(w);
    }
    if (const auto *moe = std::get_if<MoeParams>(&l.params))
      c.expertBytesPerMoe.push_back(oneExpert / double(moe->experts));
  }
  return c;
}

/// A session's state bytes at a context of `ctx` tokens, for the bandwidth
/// estimates. `ctx` is at most kMaxContextTokens (the flags' range) and a
/// session of it already ran, so every state's size fits.
double stateBytesAt(const rt::Program &prog, int64_t ctx) {
  double total = 0;
  for (const rt::StateDesc &d : prog.states)
    if (Expected<uint64_t> bytes = d.bytesFor(ctx))
      total += double(*bytes);
  return total;
}

/// What the per-launch table needs to say what a launch read: the program
/// and, per moe launch of a call (in launch order), the distinct experts it
/// ran, averaged over the profiled calls; none known: top-k for one-token
/// calls (`oneToken`), else a moe's bytes are not given.
struct LaunchBytes {
  const rt::Program &prog;
  std::vector<double> expertsPerMoe;
  bool oneToken = false;
};

/// One call's weight bytes of `l`: every weight and scale it reads, of the
/// routed experts `experts` of them; 0 for the embedding (a row a token).
double launchWeightBytes(const rt::Program &prog, const rt::LaunchDesc &l,
                         double experts) {
  if (l.id == KernelId::Embed)
    return 0;
  size_t routed = 0;
  double perExpert = 1;
  if (const auto *moe = std::get_if<MoeParams>(&l.params)) {
    routed = size_t(3 * moe->experts);
    perExpert = experts / double(moe->experts);
  }
  double total = 0;
  for (size_t i = 0; i < l.weights.size(); ++i)
    if (l.weights[i] >= 0)
      total += (i < routed ? perExpert : 1.0) * weightBytes(prog, l.weights[i]);
  return total;
}

/// The slowest launches (at most kSlowestLaunches) of the profiled calls:
/// per call, its time and, where its weights are known, the bytes it read
/// and the rate (a rate far below the device's read bandwidth marks a
/// launch that re-reads its weights or waits on something else).
constexpr size_t kSlowestLaunches = 12;

template <typename Runner>
nlohmann::json printLaunchTimes(Runner &session, const TextOut &say,
                                const LaunchBytes &lb) {
  nlohmann::json j = nlohmann::json::array();
  std::vector<LaunchTime> times = session.launchTimes();
  if (times.empty())
    return j;
  say("         slowest launches, per call:\n");
  for (size_t n = 0; n < times.size() && n < kSlowestLaunches; ++n) {
    const LaunchTime &t = times[n];
    const double ms = t.calls > 0 ? t.milliseconds / double(t.calls) : 0.0;
    nlohmann::json lj = {{"entry", t.entry},   {"launch", t.launch},
                         {"kernel", t.kernel}, {"layer", t.layer},
                         {"calls", t.calls},   {"ms_per_call", ms}};
    say("         %-8s #%-4lld %-18s layer %-3lld %9.3f ms", t.entry.c_str(),
        (long long)t.launch, t.kernel.c_str(), (long long)t.layer, ms);
    const rt::EntryDesc *entry = lb.prog.entry(t.entry);
    if (entry && t.launch < int64_t(entry->launches.size())) {
      const rt::LaunchDesc &l = entry->launches[size_t(t.launch)];
      // The moe launches before this one give its index among them.
      size_t moeIndex = 0;
      for (int64_t i = 0; i < t.launch; ++i)
        moeIndex += entry->launches[size_t(i)].id == KernelId::Moe;
      double experts = 0;
      bool known = true;
      if (const auto *moe = std::get_if<MoeParams>(&l.params)) {
        known = moeIndex < lb.expertsPerMoe.size() || lb.oneToken;
        experts = moeIndex < lb.expertsPerMoe.size()
                      ? lb.expertsPerMoe[moeIndex]
                      : double(moe->topk);
      }
      const double bytes = known ? launchWeightBytes(lb.prog, l, experts) : 0;
      if (bytes > 0 && ms > 0) {
        say(" %10.2f MB %8.1f GB/s", bytes / 1e6, bytes / (ms / 1e3) / 1e9);
        lj["weight_bytes"] = bytes;
        lj["read_gb_per_s"] = bytes / (ms / 1e3) / 1e9;
      }
    }
    say("\n");
    j.push_back(std::move(lj));
  }
  return j;
}

/// The per-kernel times a profiling session gathered since the last call,
/// slowest first, then the slowest launches (printLaunchTimes), then starts
/// over. With `decode` (the costs of one-token calls), each kernel's weight
/// bytes per step and the rate it read them at. Returns the same as JSON.
template <typename Runner>
nlohmann::json printKernelTimes(Runner &session, const TextOut &say,
                                const char *what, const LaunchBytes &lb,
                                const TokenCost *decode = nullptr) {
  std::vector<KernelTime> times = session.kernelTimes();
  double total = 0;
  for (const KernelTime &k : times)
    total += k.milliseconds;
  say("profile  %s: %.3f ms in kernels\n", what, total);
  nlohmann::json j = {{"kernels_ms", total},
                      {"kernels", nlohmann::json::array()}};
  for (const KernelTime &k : times) {
    const double percent = total > 0 ? 100.0 * k.milliseconds / total : 0.0;
    say("         %-20s %8lld launches %10.3f ms %5.1f %%", k.kernel.c_str(),
        (long long)k.launches, k.milliseconds, percent);
    nlohmann::json kj = {{"kernel", k.kernel},
                         {"launches", k.launches},
                         {"ms", k.milliseconds},
                         {"percent", percent}};
    auto perStep = decode ? decode->launchesByKernel.find(k.kernel)
                          : std::map<std::string, int64_t>::const_iterator();
    if (decode && perStep != decode->launchesByKernel.end() &&
        perStep->second > 0 && k.milliseconds > 0) {
      const double steps = double(k.launches) / double(perStep->second);
      const double bytes = decode->bytesByKernel.at(k.kernel);
      const double rate = bytes * steps / (k.milliseconds / 1e3) / 1e9;
      say("  %9.2f MB/step %8.1f GB/s", bytes / 1e6, rate);
      kj["weight_bytes_per_step"] = bytes;
      kj["read_gb_per_s"] = rate;
    }
    say("\n");
    j["kernels"].push_back(std::move(kj));
  }
  j["launches"] = printLaunchTimes(session, say, lb);
  session.clearKernelTimes();
  return j;
}

/// `bench --batch N`: decode steps of N sequences at each context. The
/// sequences reach a context by skipping positions over zeroed state (no
/// prefill: a step moves the bytes of a real context of that length, its
/// logits mean nothing), then each step feeds one token per sequence and
/// copies every sequence's logits out, as a server would. One more step,
/// profiled, finds the experts the batch routes to, which set the bytes a
/// step reads.
/// The warning of `run` and `serve` for a session or engine beyond the
/// context the model was trained for: bench may time one there, but says so.
void warnBeyondTrainedContext(const Model &model, int64_t context) {
  if (std::optional<std::string> w = model.info().contextWarning(context))
    logf(LogLevel::Warning, "birkhoff bench: warning: %s\n", w->c_str());
}

int benchBatch(std::shared_ptr<const Model> model, int64_t batchSize,
               const std::vector<int64_t> &ctxs, int64_t decode, bool profile,
               const std::function<int32_t()> &nextToken, const TextOut &say,
               nlohmann::json &out) {
  const rt::Program &prog = model->artifact().program;
  const rt::EntryDesc *prefillEntry = prog.entry("prefill");
  const TokenCost cost = tokenCost(prog, *prefillEntry);
  EngineOptions eo;
  eo.maxSequences = int(batchSize);
  eo.maxContext = ctxs.back() + decode + 2;
  auto engine = Engine::create(model, eo);
  if (!engine) {
    std::fprintf(stderr, "birkhoff bench: %s\n",
                 engine.status().toString().c_str());
    return 1;
  }
  Engine &eng = **engine;
  warnBeyondTrainedContext(*model, eo.maxContext);
  std::vector<SequenceId> ids;
  for (int64_t i = 0; i < batchSize; ++i)
    ids.push_back(*eng.addSequence());
  auto fail = [](const Status &st) {
    std::fprintf(stderr, "birkhoff bench: %s\n", st.toString().c_str());
    return 1;
  };
  Batch batch;
  StepResult result;
  auto step = [&]() -> Status {
    batch.clear();
    for (SequenceId id : ids)
      batch.add(nextToken(), id, *eng.position(id), true);
    BK_RETURN_IF_ERROR(eng.step(batch, result));
    if (!result.failed.empty())
      return result.failed.front().second;
    return Status::ok();
  };
  say("batch    %lld sequences per step, one decode token each; "
      "contexts skipped to over zeroed state\n",
      (long long)batchSize);
  out["batch"] = batchSize;
  out["decode"] = nlohmann::json::array();
  for (int64_t ctx : ctxs) {
    for (SequenceId id : ids)
      if (Status st =
              EngineInternals::skipTokens(eng, id, ctx - *eng.position(id));
          !st.isOk())
        return fail(st);
    rt::EngineBackend &backend = EngineInternals::backend(eng);
    backend.routes.clear();
    eng.setProfiling(profile);
    std::vector<double> steps;
    for (int64_t i = 0; i < decode; ++i) {
      auto t1 = std::chrono::steady_clock::now();
      if (Status st = step(); !st.isOk())
        return fail(st);
      steps.push_back(seconds(t1));
    }
    nlohmann::json kernels;
    if (profile) {
      // Each moe launch's distinct experts over the profiled steps (the
      // routes come in launch order, step after step).
      const size_t moes = cost.expertBytesPerMoe.size();
      LaunchBytes lb{prog, std::vector<double>(moes, 0.0)};
      for (size_t m = 0; m < backend.routes.size() && moes > 0; ++m) {
        std::vector<int32_t> e = backend.routes[m];
        std::sort(e.begin(), e.end());
        lb.expertsPerMoe[m % moes] +=
            double(std::unique(e.begin(), e.end()) - e.begin()) /
            double(backend.routes.size() / moes);
      }
      kernels = printKernelTimes(
          eng, say, ("decode batch at context " + std::to_string(ctx)).c_str(),
          lb);
    }
    // The experts this batch routes to, from one profiled step.
    backend.routes.clear();
    eng.setProfiling(true);
    if (Status st = step(); !st.isOk())
      return fail(st);
    eng.setProfiling(false);
    eng.clearKernelTimes();
    double expertBytes = 0, distinctSum = 0;
    const size_t moes = cost.expertBytesPerMoe.size();
    for (size_t m = 0; m < backend.routes.size() && moes > 0; ++m) {
      std::vector<int32_t> e = backend.routes[m];
      std::sort(e.begin(), e.end());
      const double distinct =
          double(std::unique(e.begin(), e.end()) - e.begin());
      distinctSum += distinct;
      expertBytes += distinct * cost.expertBytesPerMoe[m % moes];
    }
    if (steps.empty())
      continue;
    std::sort(steps.begin(), steps.end());
    const double median = steps[steps.size() / 2];
    const double stateBytes = stateBytesAt(prog, ctx) * double(batchSize);
    const double dense =
        cost.weightBytes - cost.routedBytes - cost.embedRowBytes;
    const double weights =
        dense + cost.embedRowBytes * double(batchSize) + expertBytes;
    const double logitsBytes =
        4.0 * double(prog.config.vocabSize) * double(batchSize);
    say("decode   batch %lld context %lld  median %.3f ms/step  min %.3f  max "
        "%.3f (%zu steps)  %.1f tokens/s\n"
        "         reads %.1f MB/step (weights %.1f with %.1f distinct "
        "experts a moe of %lld-token steps, state <= %.1f): %.1f GB/s; "
        "logits out %.1f MB/step\n",
        (long long)batchSize, (long long)ctx, 1e3 * median, 1e3 * steps.front(),
        1e3 * steps.back(), steps.size(), double(batchSize) / median,
        (weights + stateBytes) / 1e6, weights / 1e6,
        moes ? distinctSum / double(backend.routes.size()) : 0.0,
        (long long)batchSize, stateBytes / 1e6,
        (weights + stateBytes) / median / 1e9, logitsBytes / 1e6);
    nlohmann::json dj = {
        {"context_tokens", ctx},
        {"steps", steps.size()},
        {"median_ms_per_step", 1e3 * median},
        {"min_ms_per_step", 1e3 * steps.front()},
        {"max_ms_per_step", 1e3 * steps.back()},
        {"tokens_per_s", double(batchSize) / median},
        {"read_bytes_per_step", weights + stateBytes},
        {"weight_bytes_per_step", weights},
        {"distinct_experts_per_moe",
         moes ? distinctSum / double(backend.routes.size()) : 0.0},
        {"state_bytes_per_step_max", stateBytes},
        {"read_gb_per_s", (weights + stateBytes) / median / 1e9},
        {"logits_bytes_per_step", logitsBytes}};
    if (profile)
      dj["profile"] = std::move(kernels);
    out["decode"].push_back(std::move(dj));
  }
  return 0;
}

/// The command line, as the declarations read it.
struct BenchArgs {
  std::string path, device = "host";
  int64_t prompt = 512, decode = 16, threads = 0, seed = 1, batch = 0;
  /// --contexts, or --context (the same list under another name); empty
  /// for neither.
  std::vector<int64_t> contexts;
  bool noCudaGraphs = false, profile = false, json = false, verify = false;
};

int runBench(const BenchArgs &args) {
  // Without --contexts (or --context), decode runs at the prompt's length.
  std::vector<int64_t> ctxs = args.contexts;
  if (ctxs.empty())
    ctxs.push_back(args.prompt);
  std::sort(ctxs.begin(), ctxs.end());
  ctxs.erase(std::unique(ctxs.begin(), ctxs.end()), ctxs.end());

  ModelOptions mo;
  mo.numThreads = int(args.threads);
  mo.device = args.device;
  mo.cudaGraphs = !args.noCudaGraphs;
  mo.verifyWeights = args.verify;
  auto t0 = std::chrono::steady_clock::now();
  auto model = loadWithProgress(args.path, mo, "bench");
  if (!model) {
    std::fprintf(stderr, "birkhoff bench: %s\n",
                 model.status().toString().c_str());
    return 1;
  }
  double loadSec = seconds(t0);
  SessionOptions so;
  so.maxContext =
      std::max(args.prompt, ctxs.back() + args.decode * int64_t(ctxs.size()));
  auto session = Session::create(*model, so);
  if (!session) {
    std::fprintf(stderr, "birkhoff bench: %s\n",
                 session.status().toString().c_str());
    return 1;
  }
  if (args.batch == 0) // --batch warns for its engine
    warnBeyondTrainedContext(**model, (*session)->capacity());
  const bool profile = args.profile;
  (*session)->setProfiling(profile);
  const rt::Program &prog = (*model)->artifact().program;
  const rt::EntryDesc *decodeEntry = prog.entry("decode");
  const rt::EntryDesc *prefillEntry = prog.entry("prefill");
  TokenCost decodeCost =
      decodeEntry ? tokenCost(prog, *decodeEntry) : TokenCost{};
  TokenCost prefillCost =
      prefillEntry ? tokenCost(prog, *prefillEntry) : TokenCost{};

  int64_t vocab = (*model)->info().vocabSize;
  uint64_t state = uint64_t(args.seed);
  auto nextToken = [&] {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    return int32_t((state >> 33) % uint64_t(vocab));
  };
  const TextOut say{!args.json};
  nlohmann::json out = {
      {"device", (*model)->info().device},
      {"numerics", prog.numerics},
      {"load_s", loadSec},
      {"decode_weight_bytes_per_token", decodeCost.weightBytes},
      {"activated_experts", prog.config.nActivatedExperts},
      {"matrix_flops_per_token", prefillCost.matrixFlops}};
  // Invalid UTF-8 (a device name) dumps as U+FFFD rather than throwing.
  auto printResult = [&] {
    if (!say.on)
      printJson(out);
  };
  say("device   %s (%s numerics), loaded in %.2f s\n",
      (*model)->info().device.c_str(), prog.numerics.c_str(), loadSec);
  say("weights  %.1f MB read per decode token (top-%s routed experts, "
      "one embedding row); %.2f GFLOP per token in matrices\n",
      decodeCost.weightBytes / 1e6,
      prog.config.nActivatedExperts > 0
          ? std::to_string(prog.config.nActivatedExperts).c_str()
          : "k",
      prefillCost.matrixFlops / 1e9);
  if (args.batch > 0) {
    int rc = benchBatch(*model, args.batch, ctxs, args.decode, args.profile,
                        nextToken, say, out);
    if (rc == 0)
      printResult();
    return rc;
  }
  if (decodeEntry) {
    out["launches_per_decode_step"] = decodeEntry->launches.size();
    out["cuda_kernels_per_decode_step"] = decodeCost.cudaKernels;
  }
  if (decodeEntry)
    say("launches %zu per decode step%s\n", decodeEntry->launches.size(),
        decodeCost.cudaKernels > 0
            ? (" (" + std::to_string(decodeCost.cudaKernels) + " CUDA kernels)")
                  .c_str()
            : "");

  std::vector<int32_t> tokens(static_cast<size_t>(args.prompt));
  for (auto &t : tokens)
    t = nextToken();
  t0 = std::chrono::steady_clock::now();
  Status st = (*session)->prefill(tokens);
  double prefillSec = seconds(t0);
  if (!st.isOk()) {
    std::fprintf(stderr, "birkhoff bench: %s\n", st.toString().c_str());
    return 1;
  }
  const double tflops =
      prefillCost.matrixFlops * double(args.prompt) / prefillSec / 1e12;
  say("prefill  %lld tokens  %.3f s  %.1f tokens/s  %.2f TFLOP/s in "
      "matrices\n",
      (long long)args.prompt, prefillSec, double(args.prompt) / prefillSec,
      tflops);
  out["prefill"] = {{"tokens", args.prompt},
                    {"s", prefillSec},
                    {"tokens_per_s", double(args.prompt) / prefillSec},
                    {"matrix_tflop_per_s", tflops}};
  if (profile)
    out["prefill"]["profile"] =
        printKernelTimes(**session, say, "prefill", LaunchBytes{prog, {}});

  (*session)->reset();
  out["decode"] = nlohmann::json::array();
  for (int64_t ctx : ctxs) {
    nlohmann::json dj = {{"context_tokens", ctx}};
    int64_t have = (*session)->position();
    if (ctx > have) {
      std::vector<int32_t> fill(static_cast<size_t>(ctx - have));
      for (auto &t : fill)
        t = nextToken();
      auto tf = std::chrono::steady_clock::now();
      // In the entry's calls, so that a long fill shows its progress (any
      // split of a prompt gives the same state).
      const size_t step =
          size_t(std::max<int64_t>(1, (*model)->info().maxPrefillTokens));
      Progress filling("bench: fill to context " + std::to_string(ctx),
                       fill.size(), Progress::Unit::Items);
      for (size_t at = 0; at < fill.size() && st.isOk(); at += step) {
        const size_t n = std::min(step, fill.size() - at);
        st = (*session)->prefill(std::span(fill).subspan(at, n));
        filling.add(n);
      }
      filling.finish();
      double fillSec = seconds(tf);
      if (!st.isOk()) {
        std::fprintf(stderr, "birkhoff bench: %s\n", st.toString().c_str());
        return 1;
      }
      say("fill     %lld tokens to context %lld  %.3f s  %.1f "
          "tokens/s\n",
          (long long)(ctx - have), (long long)ctx, fillSec,
          double(ctx - have) / fillSec);
      dj["fill"] = {{"tokens", ctx - have},
                    {"s", fillSec},
                    {"tokens_per_s", double(ctx - have) / fillSec}};
      (*session)->clearKernelTimes();
    }
    std::vector<double> steps;
    for (int64_t i = 0; i < args.decode; ++i) {
      auto t1 = std::chrono::steady_clock::now();
      st = (*session)->decode(nextToken());
      steps.push_back(seconds(t1));
      if (!st.isOk()) {
        std::fprintf(stderr, "birkhoff bench: %s\n", st.toString().c_str());
        return 1;
      }
    }
    if (steps.empty()) {
      out["decode"].push_back(std::move(dj));
      continue;
    }
    std::sort(steps.begin(), steps.end());
    double median = steps[steps.size() / 2];
    // The state a step may read: everything the session keeps for this
    // context (an upper bound: CSA attention reads only its top-k entries).
    const double stateBytes = stateBytesAt(prog, ctx);
    double bytes = decodeCost.weightBytes + stateBytes;
    say("decode   context %lld  median %.3f ms/step  min %.3f  max "
        "%.3f (%zu steps)\n"
        "         reads %.1f MB/step (weights %.1f + state <= %.1f): "
        "%.1f GB/s\n",
        (long long)ctx, 1e3 * median, 1e3 * steps.front(), 1e3 * steps.back(),
        steps.size(), bytes / 1e6, decodeCost.weightBytes / 1e6,
        stateBytes / 1e6, bytes / median / 1e9);
    dj["steps"] = steps.size();
    dj["median_ms_per_step"] = 1e3 * median;
    dj["min_ms_per_step"] = 1e3 * steps.front();
    dj["max_ms_per_step"] = 1e3 * steps.back();
    dj["read_bytes_per_step"] = bytes;
    dj["weight_bytes_per_step"] = decodeCost.weightBytes;
    dj["state_bytes_per_step_max"] = stateBytes;
    dj["read_gb_per_s"] = bytes / median / 1e9;
    if (profile)
      dj["profile"] = printKernelTimes(
          **session, say, ("decode at context " + std::to_string(ctx)).c_str(),
          LaunchBytes{prog, {}, /*oneToken=*/true}, &decodeCost);
    out["decode"].push_back(std::move(dj));
  }
  say("state    %llu bytes for %lld tokens of context\n",
      (unsigned long long)(*session)->stateBytes(),
      (long long)(*session)->capacity());
  out["state"] = {{"bytes", (*session)->stateBytes()},
                  {"context_tokens", (*session)->capacity()}};
  printResult();
  return 0;
}

cli::Runner declareBench(CLI::App &app) {
  auto args = std::make_shared<BenchArgs>();
  cli::addPositional(app, "artifact", args->path, "the artifact to time");
  cli::addInt(app, "--prompt N", args->prompt, 1, kMaxContextTokens,
              "random tokens of the timed prefill");
  CLI::Option *contexts = cli::addIntList(
      app, "--contexts N,M,...", args->contexts, 1, kMaxContextTokens,
      "the contexts at which to time decode steps (ascending; default: the "
      "prompt's length)");
  cli::addIntList(app, "--context N", args->contexts, 1, kMaxContextTokens,
                  "--contexts N")
      ->excludes(contexts);
  cli::addInt(app, "--decode N", args->decode, 0, kMaxContextTokens,
              "single-token decode steps timed at each context");
  cli::addInt(app, "--threads N", args->threads, 0, cli::kMaxThreads,
              "host threads, of the process's worker pool (0: all cores)");
  cli::addInt(app, "--seed S", args->seed, INT64_MIN, INT64_MAX,
              "seed of the random tokens");
  cli::addDevice(app, args->device);
  cli::addFlag(app, "--no-cuda-graphs", args->noCudaGraphs,
               "--device cuda: launch decode steps one by one instead of "
               "replaying them as CUDA graphs");
  cli::addFlag(app, "--profile", args->profile,
               "time every launch and print the time per kernel after the "
               "prefill and each context's steps (a little slower)");
  cli::addInt(app, "--batch N", args->batch, 0, 1 << 16,
              "time decode steps of N sequences instead (no prefill; each "
              "context is reached over zeroed state)",
              "0 (one sequence, with a prefill)");
  cli::addFlag(app, "--verify", args->verify,
               "check every stored weight's checksum at load (the CUDA device "
               "always does)");
  cli::addFlag(app, "--json", args->json,
               "print every figure as one JSON object instead");
  return [args] { return runBench(*args); };
}

} // namespace

cli::Command benchCommand() {
  return {"bench", "time prefill and decode of an artifact",
          "birkhoff bench <artifact> [--prompt N] [--contexts N,M,...] "
          "[--decode N] [--threads N]\n"
          "               [--seed S] [--device host|cuda|cuda:N] "
          "[--no-cuda-graphs] [--profile]\n"
          "               [--batch N] [--verify] [--json]",
          "Times a prefill of --prompt random tokens; then, from a reset "
          "session, for each context (ascending) fills the session to it and "
          "times --decode single-token steps there. Each line also gives the "
          "bytes a step reads and the matrix FLOPs per token, from the "
          "artifact.",
          declareBench};
}

} // namespace birkhoff::tools
