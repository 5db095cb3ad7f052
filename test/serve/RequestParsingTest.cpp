//===- RequestParsingTest.cpp - OpenAI bodies, read and checked -----------===//
//
// Every field the server reads, its defaults (OpenAI's, or the artifact's
// generation config), and one test per way a body is refused, with the HTTP
// status and error fields it is answered with.
//
//===----------------------------------------------------------------------===//
#include "RequestParsing.h"
#include "ApiError.h"
#include "ServeTestModels.h"

#include "birkhoff/ChatEncoding.h"
#include "birkhoff/JsonInput.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace birkhoff::serve {
namespace {

using nlohmann::json;

class RequestParsingTest : public ::testing::Test {
protected:
  void SetUp() override {
    auto m = test::tinySynthModel();
    ASSERT_TRUE(m.isOk()) << m.status().toString();
    model_ = m.take();
    limits_.modelName = "tiny";
    limits_.capacity = 256;
    limits_.poolTokens = 256;
  }

  Expected<ParsedRequest> chat(const json &body) {
    return parseChatCompletionRequest(body.dump(), *model_, limits_, 77);
  }
  Expected<ParsedRequest> completion(const json &body) {
    return parseCompletionRequest(body.dump(), *model_, limits_, 77);
  }
  /// The error `r` is answered with; fails the test when `r` is a request.
  ApiError error(const Expected<ParsedRequest> &r) {
    EXPECT_FALSE(r.isOk());
    return r.isOk() ? ApiError{} : apiErrorOf(r.status());
  }

  /// One function tool, get_weather, as OpenAI's `tools` list.
  static json weatherTools() {
    return {
        {{"type", "function"},
         {"function",
          {{"name", "get_weather"}, {"parameters", {{"type", "object"}}}}}}};
  }
  static json hello() {
    return {{"messages", {{{"role", "user"}, {"content", "Hello"}}}}};
  }

  std::shared_ptr<const Model> model_;
  ServeLimits limits_;
};

TEST_F(RequestParsingTest, ChatPromptIsTheEncodedConversation) {
  json body = hello();
  body["model"] = "tiny";
  auto r = chat(body);
  ASSERT_TRUE(r.isOk()) << r.status().toString();
  auto text = chat::encodeRequest(body.dump());
  ASSERT_TRUE(text.isOk());
  EXPECT_EQ(r->generation.prompt, *model_->encode(text->text));
  EXPECT_EQ(r->generation.prompt.front(), model_->info().bosTokenId);
  EXPECT_FALSE(r->thinking);
  EXPECT_TRUE(r->generation.text);
  // OpenAI's defaults: sampled at temperature 1, as long as the context
  // allows, the server's seed.
  EXPECT_EQ(r->generation.sampling.temperature, 1.0f);
  EXPECT_EQ(r->generation.sampling.topP, 1.0f);
  EXPECT_EQ(r->generation.sampling.seed, 77u);
  EXPECT_TRUE(r->generation.sampling.stopAtEos);
  EXPECT_EQ(r->generation.maxTokens,
            256 - int64_t(r->generation.prompt.size()));
  EXPECT_FALSE(r->stream);
}

TEST_F(RequestParsingTest, ChatReadsSamplingStopsAndStreaming) {
  json body = hello();
  body.update({{"temperature", 0.5},
               {"top_p", 0.9},
               {"top_k", 40},
               {"seed", -1},
               {"max_completion_tokens", 12},
               {"stop", {"\n\n", "END"}},
               {"stop_token_ids", {5, 6}},
               {"ignore_eos", true},
               {"stream", true},
               {"stream_options", {{"include_usage", true}}},
               {"presence_penalty", 0},
               {"thinking", {{"type", "enabled"}}},
               {"user", "ignored"}});
  auto r = chat(body);
  ASSERT_TRUE(r.isOk()) << r.status().toString();
  const GenerateOptions &g = r->generation.sampling;
  EXPECT_EQ(g.temperature, 0.5f);
  EXPECT_EQ(g.topP, 0.9f);
  EXPECT_EQ(g.topK, 40);
  EXPECT_EQ(g.seed, ~uint64_t(0));
  EXPECT_FALSE(g.stopAtEos);
  EXPECT_EQ(g.stopTokens, (std::vector<int32_t>{5, 6}));
  EXPECT_EQ(r->generation.maxTokens, 12);
  EXPECT_EQ(r->generation.stop, (std::vector<std::string>{"\n\n", "END"}));
  EXPECT_TRUE(r->stream);
  EXPECT_TRUE(r->includeUsage);
  EXPECT_TRUE(r->thinking);
  // max_tokens, the older name, and a single stop string.
  body = hello();
  body.update({{"max_tokens", 3}, {"stop", "x"}, {"top_k", -1}});
  r = chat(body);
  ASSERT_TRUE(r.isOk()) << r.status().toString();
  EXPECT_EQ(r->generation.maxTokens, 3);
  EXPECT_EQ(r->generation.stop, std::vector<std::string>{"x"});
  EXPECT_EQ(r->generation.sampling.topK, 0);
}

// The artifact's generation config fills the fields a request leaves out;
// a field the request gives wins, even at its neutral value.
TEST_F(RequestParsingTest, GenerationConfigFillsWhatTheRequestLeavesOut) {
  limits_.generationConfig = GenerationConfig{.doSample = true,
                                              .temperature = 0.6f,
                                              .topP = 0.95f,
                                              .topK = 20,
                                              .maxNewTokens = 10};
  auto r = chat(hello());
  ASSERT_TRUE(r.isOk()) << r.status().toString();
  EXPECT_EQ(r->generation.sampling.temperature, 0.6f);
  EXPECT_EQ(r->generation.sampling.topP, 0.95f);
  EXPECT_EQ(r->generation.sampling.topK, 20);
  EXPECT_EQ(r->generation.maxTokens, 10);
  EXPECT_EQ(r->generation.sampling.seed, 77u);
  json body = hello();
  body.update(
      {{"temperature", 0}, {"top_p", 1}, {"top_k", 0}, {"max_tokens", 30}});
  r = chat(body);
  ASSERT_TRUE(r.isOk()) << r.status().toString();
  EXPECT_EQ(r->generation.sampling.temperature, 0.0f);
  EXPECT_EQ(r->generation.sampling.topP, 1.0f);
  EXPECT_EQ(r->generation.sampling.topK, 0);
  EXPECT_EQ(r->generation.maxTokens, 30);
  // Completions too; max_new_tokens never passes what the context leaves.
  limits_.generationConfig->maxNewTokens = 1000;
  r = completion({{"prompt", {3, 1, 4}}});
  ASSERT_TRUE(r.isOk()) << r.status().toString();
  EXPECT_EQ(r->generation.sampling.temperature, 0.6f);
  EXPECT_EQ(r->generation.maxTokens, 253);

  // do_sample false: greedy unless the request asks for a temperature.
  limits_.generationConfig =
      GenerationConfig{.doSample = false, .temperature = 0.6f};
  r = chat(hello());
  ASSERT_TRUE(r.isOk());
  EXPECT_EQ(r->generation.sampling.temperature, 0.0f);
  body = hello();
  body["temperature"] = 0.8;
  r = chat(body);
  ASSERT_TRUE(r.isOk());
  EXPECT_EQ(r->generation.sampling.temperature, 0.8f);

  // Without do_sample its sampling fields do not apply: OpenAI's defaults.
  limits_.generationConfig = GenerationConfig{.temperature = 0.6f, .topK = 20};
  r = chat(hello());
  ASSERT_TRUE(r.isOk());
  EXPECT_EQ(r->generation.sampling.temperature, 1.0f);
  EXPECT_EQ(r->generation.sampling.topK, 0);
  EXPECT_EQ(r->generation.maxTokens,
            256 - int64_t(r->generation.prompt.size()));
}

// max_length bounds prompt + generated tokens when max_tokens is left out
// (max_new_tokens, when also given, wins); a prompt that reaches it needs
// max_tokens, as in transformers.
TEST_F(RequestParsingTest, GenerationConfigMaxLengthBoundsTheDefault) {
  limits_.generationConfig = GenerationConfig{.maxLength = 8};
  auto r = completion({{"prompt", {3, 1, 4}}});
  ASSERT_TRUE(r.isOk()) << r.status().toString();
  EXPECT_EQ(r->generation.maxTokens, 5);
  r = completion({{"prompt", {3, 1, 4}}, {"max_tokens", 20}});
  ASSERT_TRUE(r.isOk());
  EXPECT_EQ(r->generation.maxTokens, 20);
  ApiError e = error(completion({{"prompt", {1, 2, 3, 4, 5, 6, 7, 8}}}));
  EXPECT_EQ(e.httpStatus, 400);
  EXPECT_EQ(e.param, "prompt");
  EXPECT_NE(e.message.find("max_length 8"), std::string::npos) << e.message;
  limits_.generationConfig->maxNewTokens = 2;
  r = completion({{"prompt", {1, 2, 3, 4, 5, 6, 7, 8}}});
  ASSERT_TRUE(r.isOk()) << r.status().toString();
  EXPECT_EQ(r->generation.maxTokens, 2);
  // A max_length past the context bounds nothing.
  limits_.generationConfig = GenerationConfig{.maxLength = 100000};
  r = completion({{"prompt", {3, 1, 4}}});
  ASSERT_TRUE(r.isOk());
  EXPECT_EQ(r->generation.maxTokens, 253);
}

TEST_F(RequestParsingTest, ToolChoiceNoneLeavesTheToolsOut) {
  limits_.capacity = limits_.poolTokens = 4096; // the tools' text is long
  json body = hello();
  body["tools"] = weatherTools();
  auto withTools = chat(body);
  body["tool_choice"] = "none";
  auto none = chat(body);
  body["tool_choice"] = "auto";
  auto automatic = chat(body);
  ASSERT_TRUE(withTools.isOk()) << withTools.status().toString();
  ASSERT_TRUE(none.isOk()) << none.status().toString();
  ASSERT_TRUE(automatic.isOk()) << automatic.status().toString();
  EXPECT_EQ(automatic->generation.prompt, withTools->generation.prompt);
  EXPECT_EQ(none->generation.prompt, chat(hello())->generation.prompt);
  EXPECT_LT(none->generation.prompt.size(),
            withTools->generation.prompt.size());
}

TEST_F(RequestParsingTest, ToolChoiceRequiredOrNamedOpensTheCall) {
  limits_.capacity = limits_.poolTokens = 4096; // the tools' text is long
  json body = hello();
  body["tools"] = weatherTools();
  auto automatic = chat(body);
  ASSERT_TRUE(automatic.isOk()) << automatic.status().toString();
  EXPECT_EQ(automatic->forcedOutput, "");
  const std::string block = "\n\n<\uff5cDSML\uff5ctool_calls>\n";
  const std::string invoke =
      block + "<\uff5cDSML\uff5cinvoke name=\"get_weather\">\n";
  for (const auto &[choice, forced] :
       {std::pair<json, std::string>{"required", block},
        {{{"type", "function"}, {"function", {{"name", "get_weather"}}}},
         invoke}}) {
    body["tool_choice"] = choice;
    auto r = chat(body);
    ASSERT_TRUE(r.isOk()) << choice.dump() << ": " << r.status().toString();
    EXPECT_EQ(r->forcedOutput, forced) << choice.dump();
    // The prompt is the "auto" prompt with the forced text after it.
    auto text = model_->decode(r->generation.prompt);
    auto autoText = model_->decode(automatic->generation.prompt);
    ASSERT_TRUE(text.isOk() && autoText.isOk());
    EXPECT_EQ(*text, *autoText + forced) << choice.dump();
  }
}

TEST_F(RequestParsingTest, ToolChoiceErrorsNameTheProblem) {
  limits_.capacity = limits_.poolTokens = 4096;
  const json tools = weatherTools();
  struct Case {
    json patch;
    std::string code, says;
  };
  const std::vector<Case> cases = {
      {{{"tool_choice", "required"}}, "invalid_request_error", "needs"},
      {{{"tools", tools},
        {"tool_choice",
         {{"type", "function"}, {"function", {{"name", "nope"}}}}}},
       "invalid_request_error",
       "does not hold"},
      {{{"tools", tools}, {"tool_choice", "sometimes"}},
       "invalid_request_error",
       "not"},
      {{{"tools", tools}, {"tool_choice", {{"type", "function"}}}},
       "invalid_request_error",
       "not"},
      {{{"tools", tools},
        {"tool_choice", "required"},
        {"thinking", {{"type", "enabled"}}}},
       "unsupported",
       "thinking mode"},
  };
  for (const Case &c : cases) {
    json body = hello();
    body.update(c.patch);
    ApiError e = error(chat(body));
    EXPECT_EQ(e.httpStatus, 400) << c.patch.dump();
    EXPECT_EQ(e.param, "tool_choice") << c.patch.dump() << ": " << e.message;
    EXPECT_NE(e.message.find(c.says), std::string::npos) << e.message;
    if (c.code == "unsupported")
      EXPECT_EQ(e.code, "unsupported") << e.message;
  }
}

TEST_F(RequestParsingTest, CompletionPromptsAsTextOrIds) {
  auto r = completion({{"prompt", "Hello"}});
  ASSERT_TRUE(r.isOk()) << r.status().toString();
  std::vector<int32_t> want = {model_->info().bosTokenId};
  auto ids = *model_->encode("Hello");
  want.insert(want.end(), ids.begin(), ids.end());
  EXPECT_EQ(r->generation.prompt, want);
  r = completion({{"prompt", {"Hello"}}});
  ASSERT_TRUE(r.isOk());
  EXPECT_EQ(r->generation.prompt, want);
  r = completion({{"prompt", {3, 1, 4}}, {"max_tokens", 5}});
  ASSERT_TRUE(r.isOk());
  EXPECT_EQ(r->generation.prompt, (std::vector<int32_t>{3, 1, 4}));
  r = completion({{"prompt", {{3, 1, 4}}}});
  ASSERT_TRUE(r.isOk());
  EXPECT_EQ(r->generation.prompt, (std::vector<int32_t>{3, 1, 4}));
  EXPECT_EQ(r->generation.maxTokens, 253);
}

TEST_F(RequestParsingTest, MalformedBodiesAre400) {
  for (const char *bad : {"{", "", "[1, 2]", "\"text\"", "{\"a\": }", "nul"}) {
    auto r = parseChatCompletionRequest(bad, *model_, limits_, 0);
    ApiError e = error(r);
    EXPECT_EQ(e.httpStatus, 400) << bad;
    EXPECT_EQ(e.type, "invalid_request_error") << bad;
  }
  EXPECT_NE(error(completion(json::array())).message.find("JSON object"),
            std::string::npos);
}

// Issue 15: a body nested 100,000 deep is a 400 (no stack overflow), and an
// unterminated megabyte string is not echoed back.
TEST_F(RequestParsingTest, DeepOrHugeBodiesAre400WithShortMessages) {
  std::string deep = "{\"messages\": " + std::string(100000, '[') +
                     std::string(100000, ']') + "}";
  ApiError e = error(parseChatCompletionRequest(deep, *model_, limits_, 0));
  EXPECT_EQ(e.httpStatus, 400);
  EXPECT_NE(e.message.find("nesting deeper than"), std::string::npos)
      << e.message;
  std::string huge = "{\"messages\": \"" + std::string(1 << 20, 'x');
  e = error(parseChatCompletionRequest(huge, *model_, limits_, 0));
  EXPECT_EQ(e.httpStatus, 400);
  EXPECT_LT(e.message.size(), 400u) << e.message.substr(0, 400);
  // Tool-call arguments nested too deep stay the string they are (and are
  // encoded as such: room for them in the context).
  limits_.capacity = limits_.poolTokens = 1024;
  json body = hello();
  body["messages"].push_back(
      {{"role", "assistant"},
       {"content", ""},
       {"tool_calls",
        {{{"id", "c1"},
          {"type", "function"},
          {"function",
           {{"name", "f"},
            {"arguments", "{\"a\": " + std::string(kMaxJsonDepth, '[') +
                              std::string(kMaxJsonDepth, ']') + "}"}}}}}}});
  body["messages"].push_back(
      {{"role", "tool"}, {"tool_call_id", "c1"}, {"content", "ok"}});
  auto r = chat(body);
  EXPECT_TRUE(r.isOk()) << r.status().toString();
}

TEST_F(RequestParsingTest, BadFieldsAre400AndNameTheField) {
  struct Case {
    json patch;
    const char *param;
  };
  const Case cases[] = {
      {{{"messages", json::array()}}, "messages"},
      {{{"messages", "hi"}}, "messages"},
      {{{"messages", {{{"role", "robot"}, {"content", "x"}}}}}, "messages[0]"},
      {{{"temperature", 2.5}}, "temperature"},
      {{{"temperature", "hot"}}, "temperature"},
      {{{"top_p", 0}}, "top_p"},
      {{{"top_k", -2}}, "top_k"},
      {{{"top_k", 1.5}}, "top_k"},
      {{{"seed", "x"}}, "seed"},
      {{{"max_tokens", 0}}, "max_tokens"},
      {{{"max_tokens", "many"}}, "max_tokens"},
      {{{"max_completion_tokens", -3}}, "max_completion_tokens"},
      {{{"max_tokens", 1000}}, "max_tokens"},
      {{{"stream", "yes"}}, "stream"},
      {{{"stream_options", {{"include_usage", true}}}}, "stream_options"},
      {{{"stop", 5}}, "stop"},
      {{{"stop", {""}}}, "stop"},
      {{{"stop", {"a", "b", "c", "d", "e"}}}, "stop"},
      {{{"stop", std::string(300, 'x')}}, "stop"},
      {{{"stop_token_ids", {1024}}}, "stop_token_ids"},
      {{{"ignore_eos", 1}}, "ignore_eos"},
      {{{"model", 5}}, "model"},
  };
  limits_.maxStopStrings = 4;
  for (const Case &c : cases) {
    json body = hello();
    body.update(c.patch);
    ApiError e = error(chat(body));
    EXPECT_EQ(e.httpStatus, 400) << c.patch.dump();
    EXPECT_EQ(e.param, c.param) << c.patch.dump() << ": " << e.message;
  }
}

TEST_F(RequestParsingTest, FeaturesNotOfferedAre400Unsupported) {
  for (const json &patch :
       {json{{"n", 2}}, json{{"presence_penalty", 0.5}},
        json{{"frequency_penalty", -1}}, json{{"logit_bias", {{"5", 10}}}},
        json{{"logprobs", true}}, json{{"top_logprobs", 2}},
        json{{"response_format", {{"type", "json_object"}}}}}) {
    json body = hello();
    body.update(patch);
    ApiError e = error(chat(body));
    EXPECT_EQ(e.httpStatus, 400) << patch.dump();
    EXPECT_EQ(e.code, "unsupported") << patch.dump();
    EXPECT_EQ(e.param, patch.begin().key()) << patch.dump();
  }
  for (const json &patch :
       {json{{"echo", true}}, json{{"suffix", "x"}}, json{{"best_of", 3}},
        json{{"logprobs", 1}}, json{{"prompt", {"a", "b"}}}}) {
    json body = {{"prompt", "x"}};
    body.update(patch);
    ApiError e = error(completion(body));
    EXPECT_EQ(e.code, "unsupported") << patch.dump();
  }
}

TEST_F(RequestParsingTest, AnotherModelsNameIs404) {
  json body = hello();
  body["model"] = "gpt-4o";
  ApiError e = error(chat(body));
  EXPECT_EQ(e.httpStatus, 404);
  EXPECT_EQ(e.code, "model_not_found");
  EXPECT_EQ(e.param, "model");
}

TEST_F(RequestParsingTest, PromptAndMaxTokensMustFitTheContextAndThePool) {
  auto ids = [](int n) { return std::vector<int32_t>(size_t(n), 7); };
  EXPECT_TRUE(completion({{"prompt", ids(255)}}).isOk());
  ApiError e = error(completion({{"prompt", ids(256)}}));
  EXPECT_EQ(e.httpStatus, 400);
  EXPECT_EQ(e.param, "prompt");
  EXPECT_TRUE(completion({{"prompt", ids(200)}, {"max_tokens", 56}}).isOk());
  e = error(completion({{"prompt", ids(200)}, {"max_tokens", 57}}));
  EXPECT_EQ(e.param, "max_tokens");
  EXPECT_NE(e.message.find("at most 56"), std::string::npos) << e.message;
  // A pool smaller than one whole context bounds every request.
  limits_.poolTokens = 128;
  e = error(completion({{"prompt", ids(100)}, {"max_tokens", 29}}));
  EXPECT_NE(e.message.find("at most 28"), std::string::npos) << e.message;
  EXPECT_EQ(completion({{"prompt", ids(100)}})->generation.maxTokens, 28);
  // Token ids outside the vocabulary.
  e = error(completion({{"prompt", {1, 1024}}}));
  EXPECT_EQ(e.param, "prompt");
  e = error(completion({{"prompt", {1, -1}}}));
  EXPECT_EQ(e.param, "prompt");
  e = error(completion({{"prompt", json::array()}}));
  EXPECT_EQ(e.param, "prompt");
}

TEST_F(RequestParsingTest, TooManyMessagesAre400) {
  limits_.maxMessages = 3;
  json body = {{"messages", json::array()}};
  for (int i = 0; i < 4; ++i)
    body["messages"].push_back({{"role", "user"}, {"content", "x"}});
  ApiError e = error(chat(body));
  EXPECT_EQ(e.param, "messages");
  EXPECT_NE(e.message.find("at most 3"), std::string::npos);
  body["messages"].erase(0);
  EXPECT_TRUE(chat(body).isOk());
}

TEST_F(RequestParsingTest, WithoutATokenizerOnlyIdPromptsAreServed) {
  auto m = test::tokenizerlessModel();
  if (!m.isOk())
    GTEST_SKIP() << m.status().toString();
  std::shared_ptr<const Model> ids = m.take();
  ASSERT_FALSE(ids->hasTokenizer());
  auto r = parseCompletionRequest(
      R"({"prompt": [1, 2, 3], "stop_token_ids": [4]})", *ids, limits_, 0);
  ASSERT_TRUE(r.isOk()) << r.status().toString();
  EXPECT_FALSE(r->generation.text);
  for (auto [body, isChat] :
       {std::pair{R"({"prompt": "text"})", false},
        std::pair{R"({"prompt": [1], "stop": "x"})", false},
        std::pair{R"({"messages": [{"role": "user", "content": "x"}]})",
                  true}}) {
    auto bad = isChat ? parseChatCompletionRequest(body, *ids, limits_, 0)
                      : parseCompletionRequest(body, *ids, limits_, 0);
    ApiError e = error(bad);
    EXPECT_EQ(e.httpStatus, 400) << body;
    EXPECT_EQ(e.code, "unsupported") << body;
    EXPECT_TRUE(e.message.find("no tokenizer") != std::string::npos ||
                e.message.find("need a tokenizer") != std::string::npos)
        << e.message;
  }
}

TEST(ApiErrorTest, StatusCodesAndTheErrorShape) {
  EXPECT_EQ(apiErrorOf(invalidArgument("a.b[2]: bad")).param, "a.b[2]");
  EXPECT_EQ(apiErrorOf(invalidArgument("no field here")).param, "");
  EXPECT_EQ(apiErrorOf(outOfRange("x: y")).httpStatus, 400);
  EXPECT_EQ(apiErrorOf(notFound("model: m")).httpStatus, 404);
  EXPECT_EQ(apiErrorOf(resourceExhausted("full")).httpStatus, 429);
  EXPECT_EQ(apiErrorOf(internalError("boom")).httpStatus, 500);
  json j = json::parse(errorBody(apiErrorOf(invalidArgument("top_p: bad"))));
  EXPECT_EQ(j, json::parse(R"({"error": {"message": "top_p: bad",
      "type": "invalid_request_error", "param": "top_p", "code": null}})"));
  EXPECT_EQ(json::parse(errorBody(queueFullError("q")))["error"]["code"],
            "queue_full");
  EXPECT_EQ(shuttingDownError("s").httpStatus, 503);
  EXPECT_EQ(payloadTooLargeError("p").httpStatus, 413);
}

} // namespace
} // namespace birkhoff::serve
