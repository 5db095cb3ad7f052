//===- MetricsTest.cpp - Prometheus text of the server's metrics ----------===//
#include "Metrics.h"

#include <gtest/gtest.h>

namespace birkhoff::serve {
namespace {

bool has(const std::string &text, const std::string &line) {
  return text.find("\n" + line + "\n") != std::string::npos;
}

TEST(MetricsTest, CountersGaugesAndHistogramsRender) {
  Metrics m;
  m.countRequest("/v1/completions", 200);
  m.countRequest("/v1/completions", 200);
  m.countRequest("other", 404);
  m.addPromptTokens(12);
  m.addGeneratedTokens(5);
  m.observeTimeToFirstToken(0.02);
  m.observeTimeToFirstToken(3);
  m.observeInterToken(0.004);
  EXPECT_EQ(m.requests("/v1/completions", 200), 2);
  EXPECT_EQ(m.requests("/v1/completions", 400), 0);
  Gauges g{3, 2, 7, 16};
  std::string t = "\n" + m.render(g);
  EXPECT_TRUE(has(
      t, R"(birkhoff_requests_total{route="/v1/completions",status="200"} 2)"));
  EXPECT_TRUE(
      has(t, R"(birkhoff_requests_total{route="other",status="404"} 1)"));
  EXPECT_TRUE(has(t, "birkhoff_prompt_tokens_total 12"));
  EXPECT_TRUE(has(t, "birkhoff_generated_tokens_total 5"));
  EXPECT_TRUE(has(t, "birkhoff_queue_length 3"));
  EXPECT_TRUE(has(t, "birkhoff_running_sequences 2"));
  EXPECT_TRUE(has(t, "birkhoff_state_pages_in_use 7"));
  EXPECT_TRUE(has(t, "birkhoff_state_pages_total 16"));
  EXPECT_TRUE(has(t, "# TYPE birkhoff_time_to_first_token_seconds histogram"));
  // Cumulative buckets.
  EXPECT_TRUE(
      has(t, R"(birkhoff_time_to_first_token_seconds_bucket{le="0.01"} 0)"));
  EXPECT_TRUE(
      has(t, R"(birkhoff_time_to_first_token_seconds_bucket{le="0.025"} 1)"));
  EXPECT_TRUE(
      has(t, R"(birkhoff_time_to_first_token_seconds_bucket{le="2.5"} 1)"));
  EXPECT_TRUE(
      has(t, R"(birkhoff_time_to_first_token_seconds_bucket{le="5"} 2)"));
  EXPECT_TRUE(
      has(t, R"(birkhoff_time_to_first_token_seconds_bucket{le="+Inf"} 2)"));
  EXPECT_TRUE(has(t, "birkhoff_time_to_first_token_seconds_sum 3.02"));
  EXPECT_TRUE(has(t, "birkhoff_time_to_first_token_seconds_count 2"));
  EXPECT_TRUE(has(t, R"(birkhoff_inter_token_seconds_bucket{le="0.005"} 1)"));
  EXPECT_TRUE(has(t, "birkhoff_inter_token_seconds_count 1"));
  EXPECT_EQ(t.back(), '\n');
}

TEST(MetricsTest, AValueOnABoundIsInThatBucket) {
  Histogram h({1, 2});
  h.observe(1);
  h.observe(2.5);
  std::string out;
  h.render("x", out);
  EXPECT_EQ(out, "x_bucket{le=\"1\"} 1\nx_bucket{le=\"2\"} 1\n"
                 "x_bucket{le=\"+Inf\"} 2\nx_sum 3.5\nx_count 2\n");
}

} // namespace
} // namespace birkhoff::serve
