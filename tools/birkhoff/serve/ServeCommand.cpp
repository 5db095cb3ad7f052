//===- ServeCommand.cpp - `birkhoff serve`: an OpenAI-compatible server ---===//
#include "../Args.h"
#include "../Commands.h"
#include "HttpServer.h"
#include "Metrics.h"
#include "Scheduler.h"
#include "birkhoff/CheckedMath.h"

#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <climits>
#include <cstdio>
#include <filesystem>
#include <map>
#include <thread>

namespace birkhoff::tools {
namespace {

const char *kUsage =
    "usage: birkhoff serve <artifact> [--host 127.0.0.1] [--port 8000]\n"
    "         [--device host|cuda|cuda:N] [--threads N] [--no-cuda-graphs]\n"
    "         [--verify]\n"
    "         [--max-sequences 8] [--max-context N] [--step-tokens 512]\n"
    "         [--max-queue 256] [--state-pages N] [--page-tokens N]\n"
    "         [--max-body-bytes 8388608] [--max-messages 1024]\n"
    "         [--http-threads N] [--shutdown-grace 30] [--model-name NAME]\n"
    "Serves the artifact over HTTP/1.1 with OpenAI's API: POST\n"
    "/v1/chat/completions and /v1/completions (streamed with \"stream\": "
    "true),\n"
    "GET /v1/models, /health and /metrics (docs/serve.md). Requests run\n"
    "together on one engine of --max-sequences sequences of --max-context\n"
    "tokens (default: the artifact's), each step holding every decoding\n"
    "sequence's token and prefill chunks up to --step-tokens tokens; up to\n"
    "--max-queue requests wait for a sequence (more are answered 429).\n"
    "--port 0 takes a free port; the address goes to stderr as\n"
    "\"listening on http://HOST:PORT\". SIGTERM or SIGINT stop taking\n"
    "requests, give those in flight --shutdown-grace seconds to finish (then\n"
    "end them with an error) and exit 0. --model-name is the name requests\n"
    "give as \"model\" (default: the artifact's model name). --verify checks\n"
    "every stored weight's checksum before serving (the CUDA device always\n"
    "does).\n";

int fail(const Status &st) {
  std::fprintf(stderr, "birkhoff serve: %s\n", st.toString().c_str());
  return 1;
}

} // namespace

int runServeCommand(int argc, char **argv) {
  // Every thread started from here on inherits the blocked signals: only
  // sigwait below receives them.
  sigset_t stopSignals;
  sigemptyset(&stopSignals);
  sigaddset(&stopSignals, SIGINT);
  sigaddset(&stopSignals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stopSignals, nullptr);
  signal(SIGPIPE, SIG_IGN); // a client that went away fails a write instead

  // The integer options: name, default, and the range they must be in.
  struct IntOption {
    const char *name;
    int64_t fallback, min, max;
  };
  const IntOption intOptions[] = {
      {"port", 8000, 0, 65535},
      {"threads", 0, 0, kMaxThreads},
      {"max-sequences", 8, 1, 1 << 20},
      {"max-context", 0, 0, kMaxContextTokens},
      {"step-tokens", 512, 2, int64_t(1) << 30},
      {"max-queue", 256, 0, 1 << 20},
      {"state-pages", 0, 0, INT32_MAX},
      {"page-tokens", 0, 0, int64_t(1) << 30},
      {"max-body-bytes", int64_t(8) << 20, 1, int64_t(1) << 32},
      {"max-messages", 1024, 1, 1 << 20},
      {"http-threads", 0, 0, kMaxThreads},
  };
  std::vector<std::string> valued = {"host", "device", "shutdown-grace",
                                     "model-name"};
  for (const IntOption &o : intOptions)
    valued.push_back(o.name);
  auto args =
      parseArgs(argc, argv, valued, {"help", "no-cuda-graphs", "verify"});
  if (!args) {
    std::fprintf(stderr, "birkhoff serve: %s\n%s",
                 args.status().message().c_str(), kUsage);
    return 2;
  }
  if (args->has("help")) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (args->positional.size() != 1) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  std::map<std::string, int64_t> opt;
  for (const IntOption &o : intOptions) {
    Expected<int64_t> v = args->getInt(o.name, o.fallback, o.min, o.max);
    if (!v) {
      std::fprintf(stderr, "birkhoff serve: %s\n",
                   v.status().message().c_str());
      return 2;
    }
    opt[o.name] = *v;
  }
  // Seconds; a day is more than any drain needs.
  auto grace = args->getDouble("shutdown-grace", 30.0, 0.0, 86400.0);
  if (!grace) {
    std::fprintf(stderr, "birkhoff serve: %s\n",
                 grace.status().message().c_str());
    return 2;
  }

  ModelOptions modelOptions;
  modelOptions.numThreads = int(opt["threads"]);
  modelOptions.device = args->get("device", "host");
  modelOptions.cudaGraphs = !args->has("no-cuda-graphs");
  modelOptions.verifyWeights = args->has("verify");
  auto model = Model::load(args->positional[0], modelOptions);
  if (!model)
    return fail(model.status());
  serve::SchedulerOptions so;
  so.engine.maxSequences = int(opt["max-sequences"]);
  so.engine.maxContext = opt["max-context"];
  so.engine.statePages = opt["state-pages"];
  so.engine.pageTokens = opt["page-tokens"];
  so.stepTokens = opt["step-tokens"];
  so.maxQueue = opt["max-queue"];
  serve::Metrics metrics;
  auto scheduler = serve::Scheduler::create(*model, so, &metrics);
  if (!scheduler)
    return fail(scheduler.status());
  const ModelInfo &info = (*model)->info();
  serve::HttpOptions ho;
  ho.host = args->get("host", "127.0.0.1");
  ho.port = int(opt["port"]);
  ho.maxBodyBytes = size_t(opt["max-body-bytes"]);
  // Every running sequence and every waiting request may hold a
  // connection, and a few more answer /health and /metrics meanwhile.
  ho.threads = opt["http-threads"] > 0
                   ? int(opt["http-threads"])
                   : int(std::min<int64_t>(1024, opt["max-sequences"] +
                                                     opt["max-queue"] + 8));
  ho.limits.modelName =
      args->get("model-name",
                info.modelName.empty()
                    ? std::filesystem::path(args->positional[0]).stem().string()
                    : info.modelName);
  ho.limits.capacity = (*scheduler)->capacity();
  ho.limits.poolTokens = (*scheduler)->poolTokens();
  ho.limits.maxMessages = opt["max-messages"];
  ho.limits.generationConfig = info.generationConfig;
  serve::HttpServer server(**scheduler, metrics, ho);
  auto bound = server.bind();
  if (!bound)
    return fail(bound.status());
  serve::SchedulerStats stats = (*scheduler)->stats();
  std::fprintf(stderr,
               "birkhoff serve: model '%s' on %s%s; %lld sequences of %lld "
               "tokens, %lld state pages; %s\n",
               ho.limits.modelName.c_str(), info.device.c_str(),
               (*model)->hasTokenizer() ? ""
                                        : " (no tokenizer: token-id "
                                          "completions only)",
               (long long)opt["max-sequences"], (long long)ho.limits.capacity,
               (long long)stats.pagesTotal,
               (*model)->hasTokenizer() ? "chat and completions"
                                        : "completions");
  std::fprintf(stderr, "birkhoff serve: listening on http://%s:%d\n",
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
    std::fprintf(stderr,
                 "birkhoff serve: %s: shutting down (%.0f s for the requests "
                 "in flight)\n",
                 sig == SIGINT ? "SIGINT" : "SIGTERM", *grace);
  server.refuseNew();
  const bool clean =
      (*scheduler)->drain(std::chrono::milliseconds(int64_t(*grace * 1000)));
  // Their last events go out; a client that stopped reading gets a second.
  server.waitIdle(std::chrono::seconds(1));
  server.stop();
  http.join();
  if (!served.isOk())
    return fail(served);
  std::fprintf(stderr, "birkhoff serve: stopped (%s)\n",
               clean ? "every request finished"
                     : "requests still running were ended");
  return 0;
}

} // namespace birkhoff::tools
