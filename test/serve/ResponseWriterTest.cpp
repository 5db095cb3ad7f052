//===- ResponseWriterTest.cpp - OpenAI responses and server-sent events ---===//
#include "ResponseWriter.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace birkhoff::serve {
namespace {

using nlohmann::json;

/// The JSON of each `data:` event; "[DONE]" as a string.
std::vector<json> parseEvents(const std::string &sse) {
  std::vector<json> out;
  size_t pos = 0;
  while (pos < sse.size()) {
    EXPECT_EQ(sse.compare(pos, 6, "data: "), 0) << sse.substr(pos);
    size_t end = sse.find("\n\n", pos);
    EXPECT_NE(end, std::string::npos);
    if (end == std::string::npos)
      break;
    std::string data = sse.substr(pos + 6, end - pos - 6);
    EXPECT_EQ(data.find('\n'), std::string::npos) << "one line per event";
    out.push_back(data == "[DONE]" ? json("[DONE]") : json::parse(data));
    pos = end + 2;
  }
  return out;
}

RequestUpdate update(std::string text, FinishReason finish = FinishReason::None,
                     int64_t completion = 1) {
  RequestUpdate u;
  u.text = std::move(text);
  u.finish = finish;
  u.promptTokens = 10;
  u.completionTokens = completion;
  return u;
}

ResponseInfo info(bool usage = false) {
  return {"chatcmpl-abc", 1700000000, "tiny", usage};
}

TEST(ResponseWriterTest, ChatStreamIsFramedAndEndsWithDone) {
  auto r = makeChatResponder(info(), /*thinking=*/false);
  std::string sse = r->events(update("Hel"));
  sse += r->events(update("lo"));
  sse += r->events(update("!", FinishReason::Stop, 3));
  std::vector<json> events = parseEvents(sse);
  ASSERT_EQ(events.size(), 6u) << sse;
  EXPECT_EQ(events[0]["choices"][0]["delta"],
            json({{"role", "assistant"}, {"content", ""}}));
  std::string content;
  for (size_t i = 0; i + 1 < events.size(); ++i) {
    EXPECT_EQ(events[i]["object"], "chat.completion.chunk");
    EXPECT_EQ(events[i]["id"], "chatcmpl-abc");
    EXPECT_EQ(events[i]["model"], "tiny");
    content += events[i]["choices"][0]["delta"].value("content", "");
  }
  EXPECT_EQ(content, "Hello!");
  EXPECT_TRUE(events[3]["choices"][0]["finish_reason"].is_null());
  EXPECT_EQ(events[4]["choices"][0]["finish_reason"], "stop");
  EXPECT_EQ(events[4]["usage"], json({{"prompt_tokens", 10},
                                      {"completion_tokens", 3},
                                      {"total_tokens", 13}}));
  EXPECT_EQ(events[5], "[DONE]");
}

TEST(ResponseWriterTest, IncludeUsageAddsAChunkWithoutChoices) {
  auto r = makeChatResponder(info(/*usage=*/true), false);
  std::vector<json> events =
      parseEvents(r->events(update("a", FinishReason::Length, 1)));
  ASSERT_EQ(events.size(), 5u); // role, "a", finish, usage, [DONE]
  EXPECT_EQ(events[2]["choices"][0]["finish_reason"], "length");
  EXPECT_TRUE(events[2]["usage"].is_null());
  EXPECT_TRUE(events[3]["choices"].empty());
  EXPECT_EQ(events[3]["usage"]["total_tokens"], 11);
  EXPECT_EQ(events[4], "[DONE]");
}

/// Reasoning, content and a DSML tool call, cut into pieces anywhere: the
/// deltas add up to the whole response's message, and no delta holds DSML.
TEST(ResponseWriterTest, ChatDeltasNeverHoldPartialDsml) {
  const std::string output =
      "Let me check.</think>I will look it up.\n\n"
      "<\uff5cDSML\uff5ctool_calls>\n"
      "<\uff5cDSML\uff5cinvoke name=\"get_weather\">\n"
      "<\uff5cDSML\uff5cparameter name=\"city\" string=\"true\">Paris"
      "</\uff5cDSML\uff5cparameter>\n"
      "</\uff5cDSML\uff5cinvoke>\n"
      "</\uff5cDSML\uff5ctool_calls>";
  const std::string dsml = "\uff5cDSML\uff5c";
  auto whole = makeChatResponder(info(), /*thinking=*/true);
  RequestUpdate all = update(output, FinishReason::Stop, 40);
  json body = json::parse(whole->body(all));
  const json &message = body["choices"][0]["message"];
  EXPECT_EQ(body["object"], "chat.completion");
  EXPECT_EQ(body["choices"][0]["finish_reason"], "tool_calls");
  EXPECT_EQ(message["reasoning_content"], "Let me check.");
  EXPECT_EQ(message["content"], "I will look it up.");
  ASSERT_EQ(message["tool_calls"].size(), 1u);
  EXPECT_EQ(message["tool_calls"][0]["function"]["name"], "get_weather");
  EXPECT_EQ(
      json::parse(
          message["tool_calls"][0]["function"]["arguments"].get<std::string>()),
      json({{"city", "Paris"}}));
  for (size_t step : {1, 3, 7}) {
    auto streamed = makeChatResponder(info(), true);
    std::string sse;
    for (size_t i = 0; i < output.size(); i += step) {
      const bool last = i + step >= output.size();
      sse += streamed->events(
          update(output.substr(i, step),
                 last ? FinishReason::Stop : FinishReason::None, 40));
    }
    std::string reasoning, content, name, arguments, id;
    std::string finish;
    for (const json &e : parseEvents(sse)) {
      if (e == "[DONE]")
        continue;
      const json &c = e["choices"][0];
      const json &d = c["delta"];
      reasoning += d.value("reasoning_content", "");
      content += d.value("content", "");
      for (const json &call : d.value("tool_calls", json::array())) {
        EXPECT_EQ(call["index"], 0);
        id += call.value("id", "");
        name += call["function"].value("name", "");
        arguments += call["function"].value("arguments", "");
      }
      EXPECT_EQ(d.dump().find(dsml), std::string::npos) << d.dump();
      if (!c["finish_reason"].is_null())
        finish = c["finish_reason"];
    }
    EXPECT_EQ(reasoning, message["reasoning_content"]) << step;
    EXPECT_EQ(content, message["content"]) << step;
    EXPECT_EQ(id, message["tool_calls"][0]["id"]) << step;
    EXPECT_EQ(name, "get_weather") << step;
    EXPECT_EQ(arguments, message["tool_calls"][0]["function"]["arguments"])
        << step;
    EXPECT_EQ(finish, "tool_calls") << step;
  }
}

/// tool_choice naming a function: the prompt holds the call's opening, the
/// model writes its parameters; the message is the call either way.
TEST(ResponseWriterTest, ForcedOutputIsParsedBeforeTheGeneratedText) {
  const std::string forced = "\n\n<\uff5cDSML\uff5ctool_calls>\n"
                             "<\uff5cDSML\uff5cinvoke name=\"get_weather\">\n";
  const std::string generated =
      "<\uff5cDSML\uff5cparameter name=\"city\" string=\"true\">Paris"
      "</\uff5cDSML\uff5cparameter>\n"
      "</\uff5cDSML\uff5cinvoke>\n"
      "</\uff5cDSML\uff5ctool_calls>";
  auto whole = makeChatResponder(info(), /*thinking=*/false, forced);
  json body =
      json::parse(whole->body(update(generated, FinishReason::Stop, 20)));
  const json &message = body["choices"][0]["message"];
  EXPECT_EQ(body["choices"][0]["finish_reason"], "tool_calls");
  EXPECT_TRUE(message["content"].is_null() || message["content"] == "")
      << message.dump();
  ASSERT_EQ(message["tool_calls"].size(), 1u) << message.dump();
  EXPECT_EQ(message["tool_calls"][0]["function"]["name"], "get_weather");
  EXPECT_EQ(json::parse(message["tool_calls"][0]["function"]["arguments"]
                            .get<std::string>()),
            json({{"city", "Paris"}}));

  auto streamed = makeChatResponder(info(), false, forced);
  std::string sse;
  for (size_t i = 0; i < generated.size(); i += 5)
    sse += streamed->events(update(generated.substr(i, 5),
                                   i + 5 >= generated.size()
                                       ? FinishReason::Stop
                                       : FinishReason::None,
                                   20));
  std::string name, arguments, content, finish;
  for (const json &e : parseEvents(sse)) {
    if (e == "[DONE]")
      continue;
    const json &c = e["choices"][0];
    content += c["delta"].value("content", "");
    for (const json &call : c["delta"].value("tool_calls", json::array())) {
      name += call["function"].value("name", "");
      arguments += call["function"].value("arguments", "");
    }
    if (!c["finish_reason"].is_null())
      finish = c["finish_reason"];
  }
  EXPECT_EQ(content, "");
  EXPECT_EQ(name, "get_weather");
  EXPECT_EQ(arguments, message["tool_calls"][0]["function"]["arguments"]);
  EXPECT_EQ(finish, "tool_calls");
}

TEST(ResponseWriterTest, CompletionsCarryTextAndIds) {
  auto r = makeCompletionResponder({"cmpl-x", 1, "tiny", false});
  RequestUpdate a = update("ab"), b = update("", FinishReason::Length, 2);
  a.tokens = {7};
  b.tokens = {9};
  std::string sse = r->events(a);
  sse += r->events(b);
  std::vector<json> events = parseEvents(sse);
  ASSERT_EQ(events.size(), 4u);
  EXPECT_EQ(events[0]["object"], "text_completion");
  EXPECT_EQ(events[0]["choices"][0]["text"], "ab");
  EXPECT_EQ(events[0]["choices"][0]["token_ids"], json({7}));
  EXPECT_EQ(events[1]["choices"][0]["token_ids"], json({9}));
  EXPECT_EQ(events[2]["choices"][0]["finish_reason"], "length");
  EXPECT_EQ(events[3], "[DONE]");
  a.append(std::move(b));
  json body = json::parse(r->body(a));
  EXPECT_EQ(body["choices"][0]["text"], "ab");
  EXPECT_EQ(body["choices"][0]["token_ids"], json({7, 9}));
  EXPECT_EQ(body["usage"]["completion_tokens"], 2);
}

TEST(ResponseWriterTest, AStreamThatFailsEndsWithAnErrorThenDone) {
  auto r = makeCompletionResponder({"cmpl-x", 1, "tiny", false});
  RequestUpdate u = update("", FinishReason::Aborted);
  std::vector<json> events = parseEvents(r->events(u));
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0]["error"]["code"], "shutting_down");
  EXPECT_EQ(events[1], "[DONE]");
  u = update("", FinishReason::Error);
  u.error = internalError("the engine broke");
  EXPECT_EQ(finishError(u).httpStatus, 500);
  EXPECT_NE(finishError(u).message.find("the engine broke"), std::string::npos);
}

} // namespace
} // namespace birkhoff::serve
