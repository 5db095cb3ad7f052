//===- ChatParsingTest.cpp - Output parsed whole and streamed -------------===//
//
// The parses DeepSeek's parser gives for the outputs of
// test/data/chat/cases.json (reference.json, by tools/chatref.py), what
// Birkhoff makes of the outputs DeepSeek's parser rejects, and streaming: the
// deltas of every split of every output add up to the whole parse and never
// hold half a UTF-8 character.
//
//===----------------------------------------------------------------------===//
#include "birkhoff/ChatParsing.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <map>
#include <random>
#include <sstream>

using namespace birkhoff::chat;
using json = nlohmann::json;

namespace {

const std::string kDataDir = BIRKHOFF_SOURCE_DIR "/test/data/chat";
const std::string kEos = "<｜end▁of▁sentence｜>";

json readJson(const std::string &path) {
  std::ifstream in(path);
  EXPECT_TRUE(in) << path;
  return json::parse(in);
}

struct Case {
  std::string name;
  std::string text;
  bool thinking;
};

std::vector<Case> parseCases() {
  json all = readJson(kDataDir + "/cases.json");
  std::vector<Case> cases;
  for (const json &c : all["parse"])
    cases.push_back({c["name"], c["text"], c["thinking"]});
  EXPECT_GE(cases.size(), 20u);
  return cases;
}

/// A message written out for comparisons and failure messages.
std::string show(const ParsedMessage &m) {
  json j = {{"reasoning", m.reasoning},
            {"content", m.content},
            {"tool_calls", json::array()}};
  for (const ParsedToolCall &c : m.toolCalls)
    j["tool_calls"].push_back(
        {{"id", c.id}, {"name", c.name}, {"arguments", c.arguments}});
  return j.dump(1, ' ', false, json::error_handler_t::replace);
}

ParsedMessage message(std::string reasoning, std::string content,
                      std::vector<ParsedToolCall> calls = {}) {
  return {std::move(reasoning), std::move(content), std::move(calls)};
}

bool validUtf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    auto c = static_cast<unsigned char>(s[i]);
    size_t n = c < 0x80 ? 1 : c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 0;
    if (n == 0 || i + n > s.size())
      return false;
    for (size_t k = 1; k < n; ++k)
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80)
        return false;
    i += n;
  }
  return true;
}

/// Feeds `text` in pieces that end at `cuts` and checks each delta.
ParsedMessage stream(const Case &c, const std::vector<size_t> &cuts) {
  OutputParser parser({.thinking = c.thinking});
  ParsedMessage m;
  size_t callsSeen = 0;
  auto take = [&](const OutputDelta &d) {
    EXPECT_TRUE(validUtf8(d.reasoning) && validUtf8(d.content));
    size_t last = 0;
    for (const ToolCallDelta &t : d.toolCalls) {
      EXPECT_TRUE(validUtf8(t.arguments));
      EXPECT_TRUE(t.index >= last);
      last = t.index;
      // id and name come once, with the call's first delta.
      EXPECT_EQ(!t.id.empty(), t.index == callsSeen);
      callsSeen = std::max(callsSeen, t.index + 1);
    }
    m.append(d);
  };
  size_t from = 0;
  for (size_t cut : cuts) {
    take(parser.push(std::string_view(c.text).substr(from, cut - from)));
    from = cut;
  }
  take(parser.push(std::string_view(c.text).substr(from)));
  take(parser.finish());
  return m;
}

TEST(ChatParsingTest, MatchesDeepSeeksParser) {
  std::vector<Case> cases = parseCases();
  json refs = readJson(kDataDir + "/reference.json")["parse"];
  ASSERT_EQ(cases.size(), refs.size());
  int compared = 0;
  for (size_t i = 0; i < cases.size(); ++i) {
    SCOPED_TRACE(cases[i].name);
    ASSERT_EQ(refs[i]["name"], cases[i].name);
    if (!refs[i].contains("message"))
      continue;
    const json &ref = refs[i]["message"];
    ParsedMessage m =
        parseOutput(cases[i].text, {.thinking = cases[i].thinking});
    EXPECT_EQ(m.reasoning, ref["reasoning_content"]);
    EXPECT_EQ(m.content, ref["content"]);
    ASSERT_EQ(m.toolCalls.size(), ref["tool_calls"].size());
    for (size_t k = 0; k < m.toolCalls.size(); ++k) {
      EXPECT_EQ(m.toolCalls[k].id, "call_" + std::to_string(k));
      EXPECT_EQ(m.toolCalls[k].name, ref["tool_calls"][k]["function"]["name"]);
      EXPECT_EQ(m.toolCalls[k].arguments,
                ref["tool_calls"][k]["function"]["arguments"]);
    }
    ++compared;
  }
  EXPECT_GE(compared, 12);
}

// What DeepSeek's parser raises on: a reply cut short, text it does not
// allow where it is, broken DSML. Worked out by hand from the rules in
// ChatParsing.h.
TEST(ChatParsingTest, OutputsDeepSeeksParserRejects) {
  auto call = [](std::string name, std::string arguments, size_t i = 0) {
    return ParsedToolCall{"call_" + std::to_string(i), std::move(name),
                          std::move(arguments)};
  };
  std::map<std::string, ParsedMessage> expected = {
      {"chat-tags-in-text",
       message("", "a < b, <think> and </think>? \n\n not a block; <｜end of "
                   "story; </｜DSML｜ and \n\n<｜DSM")},
      {"no-eos", message("", "Hello")},
      {"thinking-no-end", message("still thinking", "")},
      {"block-broken-at-start",
       message("", "Hi\n\n<｜DSML｜tool_calls>\nnot an invoke")},
      {"text-after-block", message("", " trailing", {call("f", "{}")})},
      {"duplicate-key",
       message("",
               "<｜DSML｜parameter name=\"a\" string=\"true\">2</"
               "｜DSML｜parameter>\n</｜DSML｜invoke>\n</｜DSML｜tool_calls>",
               {call("f", R"({"a": "1"})")})},
      {"cut-in-string-value", message("", "", {call("f", R"({"a": "par"})")})},
      {"cut-in-json-value",
       message("", "<｜DSML｜parameter name=\"b\" string=\"false\">[1, 2",
               {call("f", R"({"a": "x"})")})},
      {"eos-in-value", message("", "", {call("f", R"({"a": "par"})")})},
      {"bad-string-flag",
       message("",
               "ok<｜DSML｜parameter name=\"a\" string=\"yes\">1</"
               "｜DSML｜parameter>\n</｜DSML｜invoke>\n</｜DSML｜tool_calls>",
               {call("f", "{}")})},
      {"second-invoke-broken",
       message("",
               "<｜DSML｜invoke name=g>\n</｜DSML｜invoke>\n</"
               "｜DSML｜tool_calls>",
               {call("f", "{}")})},
      {"tool-calls-in-reasoning",
       message("I could call\n\n<｜DSML｜tool_calls>\n</｜DSML｜tool_calls>",
               "Answer")},
  };
  json refs = readJson(kDataDir + "/reference.json")["parse"];
  size_t rejected = 0;
  for (const Case &c : parseCases()) {
    SCOPED_TRACE(c.name);
    bool deepseekRejects = false;
    for (const json &r : refs)
      if (r["name"] == c.name)
        deepseekRejects = r.contains("error");
    auto it = expected.find(c.name);
    EXPECT_EQ(deepseekRejects, it != expected.end());
    if (it == expected.end())
      continue;
    ++rejected;
    EXPECT_EQ(show(parseOutput(c.text, {.thinking = c.thinking})),
              show(it->second));
  }
  EXPECT_EQ(rejected, expected.size());
}

TEST(ChatParsingTest, EveryStreamSplitGivesTheWholeParse) {
  std::mt19937 rng(7);
  for (const Case &c : parseCases()) {
    SCOPED_TRACE(c.name);
    std::string whole = show(parseOutput(c.text, {.thinking = c.thinking}));
    // Every split in two.
    for (size_t cut = 0; cut <= c.text.size(); ++cut)
      ASSERT_EQ(show(stream(c, {cut})), whole) << "split at " << cut;
    // One byte at a time.
    std::vector<size_t> bytes;
    for (size_t i = 1; i < c.text.size(); ++i)
      bytes.push_back(i);
    ASSERT_EQ(show(stream(c, bytes)), whole) << "byte by byte";
    // Pieces of 1 to 8 bytes, as tokens come.
    for (int trial = 0; trial < 50; ++trial) {
      std::vector<size_t> cuts;
      for (size_t at = 1 + rng() % 8; at < c.text.size(); at += 1 + rng() % 8)
        cuts.push_back(at);
      ASSERT_EQ(show(stream(c, cuts)), whole) << "trial " << trial;
    }
  }
}

TEST(ChatParsingTest, DeltasWaitForWholeTags) {
  OutputParser parser({.thinking = true});
  EXPECT_EQ(parser.push("Hmm </thi").reasoning, "Hmm ");
  EXPECT_EQ(parser.push("nk").reasoning, "");
  OutputDelta d = parser.push(">Yes\n");
  EXPECT_EQ(d.reasoning, "");
  EXPECT_EQ(d.content, "Yes"); // "\n" may start a tool-call block
  d = parser.push("\n<｜DSML｜tool_calls>\n<｜DSML｜invoke name=\"f");
  EXPECT_TRUE(d.empty());
  d = parser.push("\">\n<｜DSML｜parameter name=\"k\" string=\"true\">v1 <");
  ASSERT_EQ(d.toolCalls.size(), 1u);
  EXPECT_EQ(d.toolCalls[0].id, "call_0");
  EXPECT_EQ(d.toolCalls[0].name, "f");
  EXPECT_EQ(d.toolCalls[0].arguments, R"({"k": "v1 )");
  d = parser.push("b> 東");
  EXPECT_EQ(d.toolCalls[0].arguments, "<b> 東");
  d = parser.push("\xE4\xBA"); // the first two bytes of 京
  EXPECT_TRUE(d.empty());
  d = parser.push("\xAC</｜DSML｜parameter>\n</｜DSML｜invoke>\n</｜DSML｜"
                  "tool_calls><｜end▁of▁sentence｜>ignored");
  ASSERT_EQ(d.toolCalls.size(), 1u);
  EXPECT_TRUE(d.toolCalls[0].id.empty());
  EXPECT_EQ(d.toolCalls[0].arguments, "京\"}");
  EXPECT_TRUE(parser.sawEndOfSentence());
  EXPECT_TRUE(parser.push("more").empty());
  EXPECT_TRUE(parser.finish().empty());
}

TEST(ChatParsingTest, FinishReleasesWhatWaited) {
  OutputParser parser;
  EXPECT_EQ(parser.push("a\n\n<｜DSML｜tool").content, "a");
  EXPECT_EQ(parser.finish().content, "\n\n<｜DSML｜tool");
  EXPECT_FALSE(parser.sawEndOfSentence());
  EXPECT_TRUE(parser.push("late").empty());
}

TEST(ChatParsingTest, ToolCallIdPrefix) {
  ParsedMessage m = parseOutput(
      "\n\n<｜DSML｜tool_calls>\n<｜DSML｜invoke name=\"f\">\n</｜DSML｜invoke>"
      "\n<｜DSML｜invoke name=\"g\">\n</｜DSML｜invoke>\n</｜DSML｜tool_calls>",
      {.toolCallIdPrefix = "call_req7_"});
  ASSERT_EQ(m.toolCalls.size(), 2u);
  EXPECT_EQ(m.toolCalls[0].id, "call_req7_0");
  EXPECT_EQ(m.toolCalls[1].id, "call_req7_1");
  EXPECT_EQ(m.toolCalls[1].name, "g");
}

TEST(ChatParsingTest, RoundTripOfDeepSeeksVectors) {
  // As test_encoding_dsv4.py does: the assistant turns of the encoded
  // conversations parse back to the messages they were written from.
  auto read = [](const std::string &path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  };
  const std::string marker = "<｜Assistant｜><think>";
  std::string prompt = read(kDataDir + "/deepseek/test_output_1.txt");
  size_t first = prompt.find(marker) + marker.size();
  ParsedMessage call = parseOutput(
      prompt.substr(first, prompt.find("<｜User｜>", first) - first),
      {.thinking = true});
  EXPECT_EQ(call.reasoning, "The user wants to know the weather in Beijing. I "
                            "should use the get_weather tool.");
  EXPECT_EQ(call.content, "");
  ASSERT_EQ(call.toolCalls.size(), 1u);
  EXPECT_EQ(call.toolCalls[0].name, "get_weather");
  EXPECT_EQ(call.toolCalls[0].arguments,
            R"({"location": "Beijing", "unit": "celsius"})");
  ParsedMessage last = parseOutput(
      prompt.substr(prompt.rfind(marker) + marker.size()), {.thinking = true});
  EXPECT_EQ(last.reasoning,
            "Got the weather data. Let me format a nice response.");
  EXPECT_NE(last.content.find("22°C"), std::string::npos);
  EXPECT_TRUE(last.toolCalls.empty());

  prompt = read(kDataDir + "/deepseek/test_output_2.txt");
  ParsedMessage answer = parseOutput(
      prompt.substr(prompt.rfind(marker) + marker.size()), {.thinking = true});
  EXPECT_EQ(answer.reasoning,
            "The user asks about the capital of France. It is Paris.");
  EXPECT_EQ(answer.content, "The capital of France is Paris.");
}

TEST(ChatParsingTest, OpenAIJson) {
  ParsedMessage m = message("why", "so", {{"call_0", "f", R"({"a": 1})"}});
  EXPECT_EQ(toOpenAIJson(m, /*thinking=*/true), R"({
  "role": "assistant",
  "content": "so",
  "reasoning_content": "why",
  "tool_calls": [
    {
      "id": "call_0",
      "type": "function",
      "function": {
        "name": "f",
        "arguments": "{\"a\": 1}"
      }
    }
  ]
})");
  EXPECT_EQ(toOpenAIJson(message("", "hi \xFF"), /*thinking=*/false), R"({
  "role": "assistant",
  "content": "hi �"
})");
}

} // namespace
