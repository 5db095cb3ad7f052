//===- ServeCommand.cpp - `birkhoff serve`: an OpenAI-compatible server ---===//
#include "../Commands.h"
#include "../ModelLoad.h"
#include "HttpServer.h"
#include "Metrics.h"
#include "Scheduler.h"
#include "birkhoff/CheckedMath.h"
#include "birkhoff/Log.h"

#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <climits>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>
#include <thread>

namespace birkhoff::tools {
namespace {

int fail(const Status &st) {
  std::fprintf(stderr, "birkhoff serve: %s\n", st.toString().c_str());
  return 1;
}

/// The command line, as the declarations read it.
struct ServeArgs {
  std::string path, host = "127.0.0.1", device = "host";
  std::optional<std::string> modelName;
  int64_t port = 8000, threads = 0, maxSequences = 8, maxContext = 0,
          stepTokens = 512, maxQueue = 256, statePages = 0, pageTokens = 0,
          maxBodyBytes = int64_t(8) << 20, maxMessages = 1024, httpThreads = 0;
  double shutdownGrace = 30;
  bool noCudaGraphs = false, verify = false;
};

int runServe(const ServeArgs &args) {
  // Every thread started from here on inherits the blocked signals: only
  // sigwait below receives them.
  sigset_t stopSignals;
  sigemptyset(&stopSignals);
  sigaddset(&stopSignals, SIGINT);
  sigaddset(&stopSignals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stopSignals, nullptr);
  signal(SIGPIPE, SIG_IGN); // a client that went away fails a write instead

  ModelOptions modelOptions;
  modelOptions.numThreads = int(args.threads);
  modelOptions.device = args.device;
  modelOptions.cudaGraphs = !args.noCudaGraphs;
  modelOptions.verifyWeights = args.verify;
  auto model = loadWithProgress(args.path, modelOptions, "serve");
  if (!model)
    return fail(model.status());
  serve::SchedulerOptions so;
  so.engine.maxSequences = int(args.maxSequences);
  so.engine.maxContext = args.maxContext;
  so.engine.statePages = args.statePages;
  so.engine.pageTokens = args.pageTokens;
  so.stepTokens = args.stepTokens;
  so.maxQueue = args.maxQueue;
  serve::Metrics metrics;
  auto scheduler = serve::Scheduler::create(*model, so, &metrics);
  if (!scheduler)
    return fail(scheduler.status());
  const ModelInfo &info = (*model)->info();
  if (std::optional<std::string> w = info.contextWarning(
          args.maxContext ? args.maxContext : info.maxContext))
    logf(LogLevel::Warning, "birkhoff serve: warning: %s\n", w->c_str());
  serve::HttpOptions ho;
  ho.host = args.host;
  ho.port = int(args.port);
  ho.maxBodyBytes = size_t(args.maxBodyBytes);
  // Every running sequence and every waiting request may hold a
  // connection, and a few more answer /health and /metrics meanwhile.
  ho.threads =
      args.httpThreads > 0
          ? int(args.httpThreads)
          : int(std::min<int64_t>(1024, args.maxSequences + args.maxQueue + 8));
  ho.limits.modelName = args.modelName.value_or(
      info.modelName.empty() ? std::filesystem::path(args.path).stem().string()
                             : info.modelName);
  ho.limits.capacity = (*scheduler)->capacity();
  ho.limits.poolTokens = (*scheduler)->poolTokens();
  ho.limits.maxMessages = args.maxMessages;
  ho.limits.generationConfig = info.generationConfig;
  serve::HttpServer server(**scheduler, metrics, ho);
  auto bound = server.bind();
  if (!bound)
    return fail(bound.status());
  serve::SchedulerStats stats = (*scheduler)->stats();
  logf(LogLevel::Info,
       "birkhoff serve: model '%s' on %s%s; %lld sequences of %lld "
       "tokens, %lld state pages; %s\n",
       ho.limits.modelName.c_str(), info.device.c_str(),
       (*model)->hasTokenizer() ? ""
                                : " (no tokenizer: token-id "
                                  "completions only)",
       (long long)args.maxSequences, (long long)ho.limits.capacity,
       (long long)stats.pagesTotal,
       (*model)->hasTokenizer() ? "chat and completions" : "completions");
  logf(LogLevel::Info, "birkhoff serve: listening on http://%s:%d\n",
       ho.host.c_str(), *bound);
  std::fflush(stderr);

  (*scheduler)->start();
  const pthread_t mainThread = pthread_self();
  std::atomic<bool> serverEnded{false};
  Status served = Status::ok();
  std::thread http([&] {
    served = server.serve();
    serverEnded = true;
    pthread_kill(mainThread, SIGTERM); // wakes sigwait below
  });
  int sig = 0;
  sigwait(&stopSignals, &sig);
  if (!serverEnded)
    logf(LogLevel::Info,
         "birkhoff serve: %s: shutting down (%.0f s for the requests "
         "in flight)\n",
         sig == SIGINT ? "SIGINT" : "SIGTERM", args.shutdownGrace);
  server.refuseNew();
  const bool clean = (*scheduler)
                         ->drain(std::chrono::milliseconds(
                             int64_t(args.shutdownGrace * 1000)));
  // Their last events go out; a client that stopped reading gets a second.
  server.waitIdle(std::chrono::seconds(1));
  server.stop();
  http.join();
  if (!served.isOk())
    return fail(served);
  logf(LogLevel::Info, "birkhoff serve: stopped (%s)\n",
       clean ? "every request finished" : "requests still running were ended");
  return 0;
}

cli::Runner declareServe(CLI::App &app) {
  auto args = std::make_shared<ServeArgs>();
  cli::addPositional(app, "artifact", args->path, "the artifact to serve");
  cli::addText(app, "--host ADDRESS", args->host, "the address to listen on");
  cli::addInt(app, "--port N", args->port, 0, 65535,
              "the port to listen on (0: a free one)");
  cli::addDevice(app, args->device);
  cli::addInt(app, "--threads N", args->threads, 0, cli::kMaxThreads,
              "host threads one engine step uses, of the process's worker "
              "pool (0: all cores)");
  cli::addFlag(app, "--no-cuda-graphs", args->noCudaGraphs,
               "--device cuda: launch decode steps one by one instead of "
               "replaying them as CUDA graphs");
  cli::addFlag(app, "--verify", args->verify,
               "check every stored weight's checksum before serving (the CUDA "
               "device always does)");
  cli::addInt(app, "--max-sequences N", args->maxSequences, 1, 1 << 20,
              "sequences the engine runs together");
  cli::addInt(app, "--max-context N", args->maxContext, 0, kMaxContextTokens,
              "tokens of context per sequence", "0 (the artifact's)");
  cli::addInt(app, "--step-tokens N", args->stepTokens, 2, int64_t(1) << 30,
              "tokens one engine step carries at most: every decoding "
              "sequence's next token and prefill chunks of the others");
  cli::addInt(app, "--max-queue N", args->maxQueue, 0, 1 << 20,
              "requests that wait for a sequence and state pages; more are "
              "answered 429");
  cli::addInt(app, "--state-pages N", args->statePages, 0, INT32_MAX,
              "pages of the shared state pool",
              "0 (every sequence at full context)");
  cli::addInt(app, "--page-tokens N", args->pageTokens, 0, int64_t(1) << 30,
              "tokens of context per state page",
              "0 (256, or the largest compress ratio if more)");
  cli::addInt(app, "--max-body-bytes N", args->maxBodyBytes, 1,
              int64_t(1) << 32,
              "the largest request body; larger are "
              "answered 413");
  cli::addInt(app, "--max-messages N", args->maxMessages, 1, 1 << 20,
              "the most messages a chat request may hold");
  cli::addInt(app, "--http-threads N", args->httpThreads, 0, cli::kMaxThreads,
              "threads answering HTTP connections",
              "0 (max-sequences + max-queue + 8, at most 1024)");
  // Seconds; a day is more than any drain needs.
  cli::addReal(app, "--shutdown-grace S", args->shutdownGrace, {0, 86400},
               "seconds the requests in flight get to finish after SIGTERM or "
               "SIGINT");
  cli::addText(app, "--model-name NAME", args->modelName,
               "the name requests give as \"model\"",
               "the artifact's model name");
  return [args] { return runServe(*args); };
}

} // namespace

cli::Command serveCommand() {
  return {"serve", "serve an artifact over HTTP with OpenAI's API",
          "birkhoff serve <artifact> [--host 127.0.0.1] [--port 8000] "
          "[--device host|cuda|cuda:N]\n"
          "               [--threads N] [--no-cuda-graphs] [--verify] "
          "[--max-sequences 8]\n"
          "               [--max-context N] [--step-tokens 512] "
          "[--max-queue 256] [--state-pages N]\n"
          "               [--page-tokens N] [--max-body-bytes 8388608] "
          "[--max-messages 1024]\n"
          "               [--http-threads N] [--shutdown-grace 30] "
          "[--model-name NAME]",
          "Serves the artifact over HTTP/1.1 with OpenAI's API: POST "
          "/v1/chat/completions and /v1/completions (streamed with \"stream\": "
          "true), GET /v1/models, /health and /metrics (docs/serve.md). "
          "Requests run together on one engine of --max-sequences sequences "
          "of --max-context tokens. The address goes to stderr as \"listening "
          "on http://HOST:PORT\". SIGTERM or SIGINT stop taking requests, "
          "give those in flight --shutdown-grace seconds to finish (then end "
          "them with an error) and exit 0.",
          declareServe};
}

} // namespace birkhoff::tools
