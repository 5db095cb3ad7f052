//===- HttpServer.h - `birkhoff serve`'s HTTP/1.1 binding -----------------===//
//
// The routes of docs/serve.md on cpp-httplib (HTTP/1.1, keep-alive, a pool of
// connection threads): POST /v1/chat/completions and /v1/completions (whole
// or streamed as server-sent events), GET /v1/models, /health and /metrics.
// A request is read and checked (RequestParsing.h), submitted to the
// scheduler, and answered from its updates (ResponseWriter.h); a client that
// goes away cancels its request. Every error, httplib's own included (a
// malformed request, an unknown route, a body over the limit), is OpenAI's
// JSON error shape.
//
//===----------------------------------------------------------------------===//
#ifndef BIRKHOFF_TOOLS_SERVE_HTTPSERVER_H
#define BIRKHOFF_TOOLS_SERVE_HTTPSERVER_H

#include "RequestParsing.h"

#include <chrono>
#include <memory>
#include <string>

namespace birkhoff::serve {

class Metrics;
class Scheduler;

struct HttpOptions {
  std::string host = "127.0.0.1";
  int port = 8000; // 0: any free port
  /// Request bodies above this are answered 413.
  size_t maxBodyBytes = size_t(8) << 20;
  /// Connection threads: each holds one connection at a time (keep-alive
  /// included), so this bounds concurrent clients; more wait to be read.
  int threads = 64;
  ServeLimits limits;
};

class HttpServer {
public:
  /// `scheduler` and `metrics` must outlive the server.
  HttpServer(Scheduler &scheduler, Metrics &metrics, HttpOptions options);
  ~HttpServer();

  /// Binds the listening socket; returns its port.
  Expected<int> bind();
  /// Serves until stop(); returns an error if listening failed.
  Status serve();
  /// From now on, generation requests and /health answer 503.
  void refuseNew();
  /// Waits until no request is being answered, at most `timeout`. Returns
  /// whether none is.
  bool waitIdle(std::chrono::milliseconds timeout);
  /// Closes the listening socket; serve() returns once the connections in
  /// hand are done.
  void stop();

private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

} // namespace birkhoff::serve

#endif // BIRKHOFF_TOOLS_SERVE_HTTPSERVER_H
