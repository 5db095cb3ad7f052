//===- HttpServer.cpp - `birkhoff serve`'s HTTP/1.1 binding ---------------===//
#include "HttpServer.h"

#include "ApiError.h"
#include "Metrics.h"
#include "PeerSocket.h"
#include "ResponseWriter.h"
#include "Scheduler.h"

#include <httplib.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <cinttypes>
#include <condition_variable>
#include <cstdio>
#include <ctime>
#include <mutex>
#include <random>

#include <sys/socket.h>

namespace birkhoff::serve {
namespace {

constexpr auto kPoll = std::chrono::milliseconds(50);

const char *kChat = "/v1/chat/completions";
const char *kCompletions = "/v1/completions";

/// The route label of /metrics: a known path, or "other" (unbounded paths
/// would make unbounded series).
std::string routeOf(const std::string &path) {
  for (const char *known :
       {kChat, kCompletions, "/v1/models", "/health", "/metrics"})
    if (path == known)
      return known;
  return "other";
}

void sendError(httplib::Response &res, const ApiError &e) {
  res.status = e.httpStatus;
  res.set_content(errorBody(e), "application/json");
}

/// What a streamed response's provider keeps between its calls.
struct Stream {
  std::shared_ptr<RequestHandle> handle;
  std::unique_ptr<Responder> responder;
  int socket = -1;
};

} // namespace

struct HttpServer::Impl {
  Impl(Scheduler &s, Metrics &m, HttpOptions o)
      : scheduler(s), metrics(m), options(std::move(o)),
        idPrefix(std::random_device()()), seeds(std::random_device()()) {}

  Scheduler &scheduler;
  Metrics &metrics;
  HttpOptions options;
  httplib::Server server;
  std::atomic<bool> refusing{false};
  const int64_t started = int64_t(std::time(nullptr));

  std::mutex mu; // ids, seeds, busy
  std::condition_variable idle;
  uint32_t idPrefix;
  uint64_t nextId = 0;
  std::mt19937_64 seeds;
  int busy = 0; // generation requests being answered

  void routes();
  void generate(const httplib::Request &req, httplib::Response &res, bool chat);
  void done() {
    std::lock_guard<std::mutex> lock(mu);
    if (--busy == 0)
      idle.notify_all();
  }
};

HttpServer::HttpServer(Scheduler &scheduler, Metrics &metrics,
                       HttpOptions options)
    : impl_(std::make_unique<Impl>(scheduler, metrics, std::move(options))) {
  impl_->routes();
}

HttpServer::~HttpServer() = default;

void HttpServer::Impl::routes() {
  const int threads = std::max(1, options.threads);
  server.new_task_queue = [threads] {
    return new httplib::ThreadPool(threads);
  };
  server.set_payload_max_length(options.maxBodyBytes);
  server.set_keep_alive_max_count(100000);
  server.set_keep_alive_timeout(5);

  server.Post(kChat,
              [this](const httplib::Request &req, httplib::Response &res) {
                generate(req, res, /*chat=*/true);
              });
  server.Post(kCompletions,
              [this](const httplib::Request &req, httplib::Response &res) {
                generate(req, res, /*chat=*/false);
              });
  server.Get(
      "/v1/models", [this](const httplib::Request &, httplib::Response &res) {
        nlohmann::json model = {{"id", options.limits.modelName},
                                {"object", "model"},
                                {"created", started},
                                {"owned_by", "birkhoff"},
                                {"max_model_len", options.limits.capacity}};
        nlohmann::json list = {{"object", "list"},
                               {"data", nlohmann::json::array({model})}};
        res.set_content(list.dump(), "application/json");
      });
  server.Get("/health", [this](const httplib::Request &,
                               httplib::Response &res) {
    Status failure = scheduler.failure();
    if (refusing.load()) {
      res.status = 503;
      res.set_content(R"({"status":"shutting down"})", "application/json");
    } else if (!failure.isOk()) {
      res.status = 503;
      nlohmann::json j = {{"status", "failed"}, {"error", failure.toString()}};
      res.set_content(j.dump(), "application/json");
    } else {
      res.set_content(R"({"status":"ok"})", "application/json");
    }
  });
  server.Get("/metrics",
             [this](const httplib::Request &, httplib::Response &res) {
               res.set_content(metrics.render(scheduler.stats()),
                               "text/plain; version=0.0.4");
             });
  // httplib's own errors (a malformed request, no route, a body over the
  // limit) get OpenAI's shape; the handlers' errors have their body already.
  server.set_error_handler(httplib::Server::HandlerWithResponse(
      [this](const httplib::Request &req, httplib::Response &res) {
        if (!res.body.empty())
          return httplib::Server::HandlerResponse::Unhandled;
        ApiError e;
        if (res.status == 404)
          e = notFoundError("no route for " + req.method + " " + req.path);
        else if (res.status == 413)
          e = payloadTooLargeError("the request body is larger than the " +
                                   std::to_string(options.maxBodyBytes) +
                                   " bytes this server takes");
        else
          e = ApiError{res.status, "malformed HTTP request",
                       "invalid_request_error", "", "bad_request"};
        e.httpStatus = res.status;
        res.set_content(errorBody(e), "application/json");
        return httplib::Server::HandlerResponse::Handled;
      }));
  server.set_exception_handler([](const httplib::Request &,
                                  httplib::Response &res,
                                  std::exception_ptr ep) {
    std::string what = "unknown exception";
    try {
      std::rethrow_exception(ep);
    } catch (const std::exception &e) {
      what = e.what();
    } catch (...) {
    }
    sendError(res, serverError(what));
  });
  server.set_logger(
      [this](const httplib::Request &req, const httplib::Response &res) {
        metrics.countRequest(routeOf(req.path), res.status);
      });
}

void HttpServer::Impl::generate(const httplib::Request &req,
                                httplib::Response &res, bool chat) {
  if (refusing.load())
    return sendError(res, shuttingDownError("the server is shutting down"));
  uint64_t seed, id;
  {
    std::lock_guard<std::mutex> lock(mu);
    seed = seeds();
    id = nextId++;
  }
  const Model &model = scheduler.model();
  Expected<ParsedRequest> parsed =
      chat ? parseChatCompletionRequest(req.body, model, options.limits, seed)
           : parseCompletionRequest(req.body, model, options.limits, seed);
  if (!parsed)
    return sendError(res, apiErrorOf(parsed.status()));
  char idText[48];
  std::snprintf(idText, sizeof idText, "%s-%08" PRIx32 "%08" PRIx64,
                chat ? "chatcmpl" : "cmpl", idPrefix, id);
  ResponseInfo info{idText, int64_t(std::time(nullptr)),
                    options.limits.modelName, parsed->includeUsage};
  std::unique_ptr<Responder> responder =
      chat ? makeChatResponder(std::move(info), parsed->thinking,
                               parsed->forcedOutput)
           : makeCompletionResponder(std::move(info));
  const bool stream = parsed->stream;
  Scheduler::Submission sub = scheduler.submit(std::move(parsed->generation));
  if (sub.admission == Scheduler::Admission::QueueFull)
    return sendError(res, queueFullError("the queue of waiting requests is "
                                         "full: try again later"));
  if (sub.admission == Scheduler::Admission::ShuttingDown)
    return sendError(res, shuttingDownError("the server is shutting down"));
  {
    std::lock_guard<std::mutex> lock(mu);
    ++busy;
  }
  const int socket =
      findConnectionSocket(req.local_port, req.remote_addr, req.remote_port);
  if (!stream) {
    RequestUpdate all;
    auto checked = std::chrono::steady_clock::now();
    while (!all.finished()) {
      sub.handle->wait(all, kPoll);
      const auto now = std::chrono::steady_clock::now();
      if (now - checked >= kPoll) {
        checked = now;
        if (peerHungUp(socket))
          sub.handle->cancel();
      }
    }
    if (all.finish == FinishReason::Stop || all.finish == FinishReason::Length)
      res.set_content(responder->body(all), "application/json");
    else if (all.finish == FinishReason::Cancelled)
      res.status = 499; // nginx's "client closed request": nobody reads it
    else
      sendError(res, finishError(all));
    return done();
  }
  auto state = std::make_shared<Stream>();
  state->handle = sub.handle;
  state->responder = std::move(responder);
  state->socket = socket;
  res.set_header("Cache-Control", "no-cache");
  res.set_chunked_content_provider(
      "text/event-stream",
      [state](size_t, httplib::DataSink &sink) {
        RequestUpdate u;
        if (!state->handle->wait(u, kPoll)) {
          if (!peerHungUp(state->socket))
            return true; // called again
          state->handle->cancel();
          return false;
        }
        if (u.finish == FinishReason::Cancelled)
          return false;
        const std::string events = state->responder->events(u);
        if (!events.empty() && !sink.write(events.data(), events.size())) {
          state->handle->cancel();
          return false;
        }
        if (u.finished())
          sink.done();
        return true;
      },
      [this, state](bool success) {
        if (!success)
          state->handle->cancel();
        done();
      });
}

Expected<int> HttpServer::bind() {
  Impl &s = *impl_;
  // SO_REUSEADDR only: a server restarted while its old connections linger
  // in TIME_WAIT binds again, but a port another socket listens on is
  // refused. cpp-httplib's default sets SO_REUSEPORT on Linux, with which a
  // second server binds the same port and takes part of its connections.
  s.server.set_socket_options([](socket_t sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });
  if (s.options.port == 0) {
    int port = s.server.bind_to_any_port(s.options.host);
    if (port <= 0)
      return ioError("cannot listen on " + s.options.host + " (any port)");
    return port;
  }
  if (!s.server.bind_to_port(s.options.host, s.options.port))
    return ioError("cannot listen on " + s.options.host + ":" +
                   std::to_string(s.options.port) +
                   " (in use, or not an address of this machine)");
  return s.options.port;
}

Status HttpServer::serve() {
  if (!impl_->server.listen_after_bind())
    return ioError("the server stopped listening");
  return Status::ok();
}

void HttpServer::refuseNew() { impl_->refusing = true; }

bool HttpServer::waitIdle(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(impl_->mu);
  return impl_->idle.wait_for(lock, timeout, [&] { return impl_->busy == 0; });
}

void HttpServer::stop() { impl_->server.stop(); }

} // namespace birkhoff::serve
