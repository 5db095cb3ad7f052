//===- Metrics.h - The server's counters, gauges and histograms -----------===//
//
// What `GET /metrics` reports, in Prometheus' text format (version 0.0.4):
//   birkhoff_requests_total{route,status}      requests answered
//   birkhoff_prompt_tokens_total               prompt tokens admitted
//   birkhoff_generated_tokens_total            tokens sampled
//   birkhoff_time_to_first_token_seconds       from submission to the first
//                                              sampled token (histogram)
//   birkhoff_inter_token_seconds               between a request's tokens
//                                              (histogram)
//   birkhoff_queue_length, birkhoff_running_sequences,
//   birkhoff_state_pages_in_use, birkhoff_state_pages_total  (gauges, read
//                                              from the scheduler at render)
// Thread-safe.
//
//===----------------------------------------------------------------------===//
#ifndef BIRKHOFF_TOOLS_SERVE_METRICS_H
#define BIRKHOFF_TOOLS_SERVE_METRICS_H

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace birkhoff::serve {

/// Cumulative buckets over fixed upper bounds (seconds), plus +Inf.
class Histogram {
public:
  explicit Histogram(std::vector<double> bounds);
  void observe(double value);
  /// The `<name>_bucket`, `_sum` and `_count` lines.
  void render(const std::string &name, std::string &out) const;
  int64_t count() const { return count_; }

private:
  std::vector<double> bounds_;
  std::vector<int64_t> counts_; // per bound, not cumulative; last is +Inf
  double sum_ = 0;
  int64_t count_ = 0;
};

/// The scheduler's state at one moment.
struct Gauges {
  int64_t queueLength = 0;
  int64_t runningSequences = 0;
  int64_t pagesInUse = 0;
  int64_t pagesTotal = 0;
};

class Metrics {
public:
  Metrics();

  void countRequest(const std::string &route, int status);
  void addPromptTokens(int64_t n);
  void addGeneratedTokens(int64_t n);
  void observeTimeToFirstToken(double seconds);
  void observeInterToken(double seconds);

  /// Every metric as Prometheus text.
  std::string render(const Gauges &gauges) const;

  /// For tests: requests counted for (route, status).
  int64_t requests(const std::string &route, int status) const;

private:
  mutable std::mutex mu_;
  std::map<std::pair<std::string, int>, int64_t> requests_;
  int64_t promptTokens_ = 0;
  int64_t generatedTokens_ = 0;
  Histogram timeToFirstToken_;
  Histogram interToken_;
};

} // namespace birkhoff::serve

#endif // BIRKHOFF_TOOLS_SERVE_METRICS_H
