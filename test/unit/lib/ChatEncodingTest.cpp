//===- ChatEncodingTest.cpp - Prompts against DeepSeek's encoder ----------===//
//
// DeepSeek's own test vectors (test/data/chat/deepseek), the prompts its
// encoder writes for the requests of test/data/chat/cases.json
// (reference.json, by tools/chatref.py), how options and request fields pick
// the mode, and the errors of bad requests.
//
//===----------------------------------------------------------------------===//
#include "birkhoff/ChatEncoding.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <sstream>

using namespace birkhoff;
using namespace birkhoff::chat;
using ojson = nlohmann::ordered_json;

namespace {

const std::string kDataDir = BIRKHOFF_SOURCE_DIR "/test/data/chat";

std::string readFile(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in) << path;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

/// A bare message list as a request body.
std::string asRequest(const std::string &json) {
  ojson j = ojson::parse(json);
  return j.is_array() ? ojson{{"messages", j}}.dump() : json;
}

std::string encode(const std::string &request, EncodeOptions options = {}) {
  auto prompt = encodeRequest(request, options);
  EXPECT_TRUE(prompt) << prompt.status().toString();
  return prompt ? prompt->text : "";
}

std::string errorOf(const std::string &request) {
  auto prompt = encodeRequest(request);
  EXPECT_FALSE(prompt) << "accepted: " << request;
  if (prompt)
    return "";
  EXPECT_EQ(prompt.status().code(), StatusCode::InvalidArgument);
  return prompt.status().message();
}

TEST(ChatEncodingTest, DeepSeekVectors) {
  // test_encoding_dsv4.py: thinking mode for cases 1-3, chat mode for 4.
  for (int i = 1; i <= 4; ++i) {
    SCOPED_TRACE("case " + std::to_string(i));
    std::string dir = kDataDir + "/deepseek/";
    std::string input =
        asRequest(readFile(dir + "test_input_" + std::to_string(i) + ".json"));
    std::string gold =
        readFile(dir + "test_output_" + std::to_string(i) + ".txt");
    EXPECT_EQ(encode(input, {.thinking = i != 4}), gold);
  }
}

TEST(ChatEncodingTest, ReferenceCases) {
  ojson cases = ojson::parse(readFile(kDataDir + "/cases.json"))["encode"];
  ojson refs = ojson::parse(readFile(kDataDir + "/reference.json"))["encode"];
  ASSERT_EQ(cases.size(), refs.size());
  ASSERT_GT(cases.size(), 20u);
  for (size_t i = 0; i < cases.size(); ++i) {
    const ojson &c = cases[i];
    SCOPED_TRACE(c["name"].get<std::string>());
    ASSERT_EQ(c["name"], refs[i]["name"]);
    ASSERT_TRUE(refs[i].contains("prompt")) << refs[i]["error"];
    EncodeOptions options;
    if (c.contains("thinking"))
      options.thinking = c["thinking"].get<bool>();
    if (c.contains("effort"))
      options.effort = *parseReasoningEffort(c["effort"].get<std::string>());
    EXPECT_EQ(encode(c["request"].dump(), options), refs[i]["prompt"]);
  }
}

TEST(ChatEncodingTest, ModeAndEffortFromRequestAndOptions) {
  std::string plain = R"({"messages": [{"role": "user", "content": "u"}]})";
  auto chat = encodeRequest(plain);
  ASSERT_TRUE(chat);
  EXPECT_FALSE(chat->thinking);
  EXPECT_EQ(chat->effort, ReasoningEffort::High);
  EXPECT_EQ(chat->text,
            "<｜begin▁of▁sentence｜><｜User｜>u<｜Assistant｜></think>");

  std::string enabled = R"({"thinking": {"type": "enabled"},
      "reasoning_effort": "max", "messages": [{"role": "user", "content": "u"}]})";
  auto thinking = encodeRequest(enabled);
  ASSERT_TRUE(thinking);
  EXPECT_TRUE(thinking->thinking);
  EXPECT_EQ(thinking->effort, ReasoningEffort::Max);
  EXPECT_TRUE(thinking->text.starts_with(
      "<｜begin▁of▁sentence｜>Reasoning Effort: Absolute maximum"));
  EXPECT_TRUE(thinking->text.ends_with("<｜Assistant｜><think>"));

  // Options win over the request.
  auto overridden = encodeRequest(
      enabled, {.thinking = false, .effort = ReasoningEffort::Low});
  ASSERT_TRUE(overridden);
  EXPECT_FALSE(overridden->thinking);
  EXPECT_EQ(overridden->effort, ReasoningEffort::Low);
  EXPECT_EQ(overridden->text, chat->text);
  auto lowThinking = encodeRequest(enabled, {.effort = ReasoningEffort::Low});
  ASSERT_TRUE(lowThinking);
  EXPECT_EQ(lowThinking->text,
            "<｜begin▁of▁sentence｜><｜User｜>u<｜Assistant｜><think>");
}

TEST(ChatEncodingTest, ReasoningEffortNames) {
  EXPECT_EQ(*parseReasoningEffort("minimal"), ReasoningEffort::Low);
  EXPECT_EQ(*parseReasoningEffort("low"), ReasoningEffort::Low);
  EXPECT_EQ(*parseReasoningEffort("medium"), ReasoningEffort::High);
  EXPECT_EQ(*parseReasoningEffort("high"), ReasoningEffort::High);
  EXPECT_EQ(*parseReasoningEffort("xhigh"), ReasoningEffort::High);
  EXPECT_EQ(*parseReasoningEffort("max"), ReasoningEffort::Max);
  EXPECT_EQ(*parseReasoningEffort("ultra"), ReasoningEffort::Max);
  auto bad = parseReasoningEffort("extreme");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.status().message().find("'extreme'"), std::string::npos);
}

TEST(ChatEncodingTest, TopLevelToolsMakeTheFirstMessageASystemOne) {
  auto request = parseChatRequest(R"({
    "tools": [{"type": "function", "function": {"name": "f"}}],
    "messages": [{"role": "user", "content": "u"}]})");
  ASSERT_TRUE(request) << request.status().toString();
  ASSERT_EQ(request->messages.size(), 2u);
  EXPECT_EQ(request->messages[0].role, Role::System);
  EXPECT_EQ(request->messages[0].content, "");
  EXPECT_EQ(request->messages[0].toolSchemas,
            std::vector<std::string>{R"({"name": "f"})"});
  // An empty list is no tools, as in the encoder's `if tools:`.
  auto none = parseChatRequest(
      R"({"tools": [], "messages": [{"role": "user", "content": "u"}]})");
  ASSERT_TRUE(none);
  EXPECT_EQ(none->messages.size(), 1u);
}

TEST(ChatEncodingTest, ToolCallArgumentsBecomeDsmlParameters) {
  auto request = parseChatRequest(R"({"messages": [
    {"role": "user", "content": "u"},
    {"role": "assistant", "tool_calls": [
      {"id": "a", "type": "function",
       "function": {"name": "f", "arguments": "{\"s\": \"x\", \"n\": 1.0}"}},
      {"type": "function",
       "function": {"id": "b", "name": "g", "arguments": "oops"}},
      {"type": "function",
       "function": {"name": "h", "arguments": {"k": [1, "2"]}}}]}]})");
  ASSERT_TRUE(request) << request.status().toString();
  const std::vector<ToolCall> &calls = request->messages[1].toolCalls;
  ASSERT_EQ(calls.size(), 3u);
  EXPECT_EQ(calls[0].id, "a");
  ASSERT_EQ(calls[0].parameters.size(), 2u);
  EXPECT_TRUE(calls[0].parameters[0].isString);
  EXPECT_EQ(calls[0].parameters[0].value, "x");
  EXPECT_FALSE(calls[0].parameters[1].isString);
  EXPECT_EQ(calls[0].parameters[1].value, "1.0");
  // The encoder's fallback for text that is not JSON, and its id lookup.
  EXPECT_EQ(calls[1].id, "b");
  ASSERT_EQ(calls[1].parameters.size(), 1u);
  EXPECT_EQ(calls[1].parameters[0].name, "arguments");
  EXPECT_TRUE(calls[1].parameters[0].isString);
  EXPECT_EQ(calls[1].parameters[0].value, "oops");
  // An arguments object is read as the JSON it is.
  ASSERT_EQ(calls[2].parameters.size(), 1u);
  EXPECT_EQ(calls[2].parameters[0].value, R"([1, "2"])");
}

TEST(ChatEncodingTest, BadRequests) {
  auto contains = [](const std::string &message, const std::string &part) {
    EXPECT_NE(message.find(part), std::string::npos)
        << "'" << message << "' lacks '" << part << "'";
  };
  contains(errorOf("{\"messages\": ["), "not valid JSON");
  contains(errorOf("[1]"), "must be a JSON object");
  contains(errorOf("{}"), "has no \"messages\"");
  contains(errorOf(R"({"messages": {}})"), "\"messages\" must be an array");
  contains(errorOf(R"({"messages": []})"), "\"messages\" is empty");
  contains(errorOf(R"({"messages": [3]})"), "messages[0] must be an object");
  contains(errorOf(R"({"messages": [{"content": "x"}]})"),
           "messages[0] has no \"role\"");
  contains(errorOf(R"({"messages": [{"role": "user", "content": "u"},
                                    {"role": "robot", "content": "x"}]})"),
           "messages[1]: unknown role 'robot'");
  contains(errorOf(R"({"messages": [{"role": "user"}]})"),
           "messages[0]: a user message needs content");
  contains(errorOf(R"({"messages": [{"role": "user", "content": 5}]})"),
           "messages[0].content must be a string");
  contains(errorOf(R"({"messages": [{"role": "user", "content":
             [{"type": "image_url", "image_url": {"url": "u"}}]}]})"),
           "messages[0].content[0]: content part type 'image_url'");
  contains(errorOf(R"({"messages": [{"role": "tool", "content": "r"}]})"),
           "messages[0]: a tool message must follow an assistant message "
           "with tool_calls");
  contains(errorOf(R"({"messages": [{"role": "user", "content": "u"},
                                    {"role": "assistant", "content": "a"},
                                    {"role": "tool", "content": "r"}]})"),
           "messages[2]: a tool message must follow");
  contains(errorOf(R"({"messages": [{"role": "user", "content": "u"},
      {"role": "assistant", "tool_calls": [{"type": "function",
        "function": {"name": "f", "arguments": "{}"}}]},
      {"role": "tool"}]})"),
           "messages[2]: a tool message needs content");
  contains(errorOf(R"({"messages": [{"role": "developer", "content": ""}]})"),
           "a developer message needs content");
  contains(errorOf(R"({"messages": [{"role": "user", "content": "u",
                                     "task": "summarize"}]})"),
           "messages[0]: unknown task \"summarize\"");
  contains(errorOf(R"({"messages": [{"role": "user", "content": "u",
                                     "tools": []}]})"),
           "tools belong on a system or developer message");
  contains(errorOf(R"({"messages": [{"role": "assistant", "tool_calls": [
             {"function": {"arguments": "{}"}}]}]})"),
           "messages[0].tool_calls[0].function needs a string \"name\"");
  contains(errorOf(R"({"messages": [{"role": "assistant", "tool_calls": [
             {"function": {"name": "f"}}]}]})"),
           "messages[0].tool_calls[0].function needs \"arguments\"");
  contains(errorOf(R"({"messages": [{"role": "assistant", "tool_calls": [
             {"function": {"name": "f", "arguments": "[1]"}}]}]})"),
           "messages[0].tool_calls[0].function.arguments is JSON but not an "
           "object");
  contains(errorOf(R"({"messages": [{"role": "user", "content": "u",
                                     "tool_calls": []}]})"),
           "only assistant messages have tool_calls");
  contains(errorOf(R"({"tools": [{"type": "function"}],
                       "messages": [{"role": "user", "content": "u"}]})"),
           "tools[0] needs a \"function\" object");
  contains(errorOf(R"({"tools": [{"function": {"name": "f"}}],
      "messages": [{"role": "system", "content": "s",
                    "tools": [{"function": {"name": "g"}}]}]})"),
           "tools are given both at the top level and in messages[0]");
  contains(errorOf(R"({"thinking": {"type": "on"},
                       "messages": [{"role": "user", "content": "u"}]})"),
           "\"thinking\" must be");
  contains(errorOf(R"({"reasoning_effort": "extreme",
                       "messages": [{"role": "user", "content": "u"}]})"),
           "unknown reasoning effort 'extreme'");
  contains(errorOf(R"({"messages": [{"role": "assistant", "content": "a",
                                     "wo_eos": 1}]})"),
           "messages[0].wo_eos must be true or false");
}

} // namespace
