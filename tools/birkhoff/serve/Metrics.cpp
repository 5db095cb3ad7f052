//===- Metrics.cpp - The server's counters, gauges and histograms ---------===//
#include "Metrics.h"

#include <cstdio>

namespace birkhoff::serve {
namespace {

std::string number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

void header(std::string &out, const char *name, const char *type,
            const char *help) {
  out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " +
         type + "\n";
}

void line(std::string &out, const std::string &name, double value) {
  out += name + " " + number(value) + "\n";
}

} // namespace

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), counts_(bounds_.size() + 1, 0) {}

void Histogram::observe(double value) {
  size_t i = 0;
  while (i < bounds_.size() && value > bounds_[i])
    ++i;
  ++counts_[i];
  sum_ += value;
  ++count_;
}

void Histogram::render(const std::string &name, std::string &out) const {
  int64_t cumulative = 0;
  for (size_t i = 0; i < bounds_.size(); ++i) {
    cumulative += counts_[i];
    line(out, name + "_bucket{le=\"" + number(bounds_[i]) + "\"}",
         double(cumulative));
  }
  line(out, name + "_bucket{le=\"+Inf\"}", double(count_));
  line(out, name + "_sum", sum_);
  line(out, name + "_count", double(count_));
}

Metrics::Metrics()
    : timeToFirstToken_(
          {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}),
      interToken_({0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
                   2.5, 5}) {}

void Metrics::countRequest(const std::string &route, int status) {
  std::lock_guard<std::mutex> lock(mu_);
  ++requests_[{route, status}];
}

void Metrics::addPromptTokens(int64_t n) {
  std::lock_guard<std::mutex> lock(mu_);
  promptTokens_ += n;
}

void Metrics::addGeneratedTokens(int64_t n) {
  std::lock_guard<std::mutex> lock(mu_);
  generatedTokens_ += n;
}

void Metrics::observeTimeToFirstToken(double seconds) {
  std::lock_guard<std::mutex> lock(mu_);
  timeToFirstToken_.observe(seconds);
}

void Metrics::observeInterToken(double seconds) {
  std::lock_guard<std::mutex> lock(mu_);
  interToken_.observe(seconds);
}

int64_t Metrics::requests(const std::string &route, int status) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = requests_.find({route, status});
  return it == requests_.end() ? 0 : it->second;
}

std::string Metrics::render(const Gauges &gauges) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::string out;
  header(out, "birkhoff_requests_total", "counter",
         "HTTP requests answered, by route and status.");
  for (const auto &[key, n] : requests_)
    line(out,
         "birkhoff_requests_total{route=\"" + key.first + "\",status=\"" +
             std::to_string(key.second) + "\"}",
         double(n));
  const struct {
    const char *name, *type, *help;
    int64_t value;
  } scalars[] = {
      {"birkhoff_prompt_tokens_total", "counter",
       "Prompt tokens of the requests admitted.", promptTokens_},
      {"birkhoff_generated_tokens_total", "counter", "Tokens sampled.",
       generatedTokens_},
      {"birkhoff_queue_length", "gauge",
       "Requests waiting for a sequence slot or state pages.",
       gauges.queueLength},
      {"birkhoff_running_sequences", "gauge",
       "Sequences in the engine (prefilling or decoding).",
       gauges.runningSequences},
      {"birkhoff_state_pages_in_use", "gauge", "State pages held by sequences.",
       gauges.pagesInUse},
      {"birkhoff_state_pages_total", "gauge",
       "State pages in the engine's pool.", gauges.pagesTotal},
  };
  for (const auto &m : scalars) {
    header(out, m.name, m.type, m.help);
    line(out, m.name, double(m.value));
  }
  header(out, "birkhoff_time_to_first_token_seconds", "histogram",
         "From a request's submission to its first sampled token.");
  timeToFirstToken_.render("birkhoff_time_to_first_token_seconds", out);
  header(out, "birkhoff_inter_token_seconds", "histogram",
         "Between consecutive sampled tokens of a request.");
  interToken_.render("birkhoff_inter_token_seconds", out);
  return out;
}

} // namespace birkhoff::serve
