//===- JsonInputTest.cpp - Bounded parsing of untrusted JSON --------------===//
#include "birkhoff/JsonInput.h"

#include <gtest/gtest.h>

#include <string>

namespace birkhoff {
namespace {

std::string nested(int depth, const char *open = "[", const char *close = "]") {
  std::string s;
  for (int i = 0; i < depth; ++i)
    s += open;
  for (int i = 0; i < depth; ++i)
    s += close;
  return s;
}

// 100,000 nested arrays (issue 15) are refused before anything recurses.
TEST(JsonInput, DeepNestingIsRefused) {
  Expected<nlohmann::json> j = parseJsonInput(nested(100000), "f.json");
  ASSERT_FALSE(j.isOk());
  EXPECT_EQ(j.status().code(), StatusCode::Corrupt);
  EXPECT_NE(j.status().message().find("f.json: nesting deeper than 64"),
            std::string::npos)
      << j.status().message();
  // Unclosed brackets count too, and objects as much as arrays.
  EXPECT_FALSE(parseJsonInput(std::string(100000, '['), "f").isOk());
  EXPECT_FALSE(parseOrderedJsonInput(
                   "{\"a\":" + nested(kMaxJsonDepth, "[", "]") + "}", "f")
                   .isOk());
}

// The limit itself is allowed; brackets inside strings do not count.
TEST(JsonInput, DepthAtTheLimitAndBracketsInStrings) {
  EXPECT_TRUE(parseJsonInput(nested(kMaxJsonDepth), "f").isOk());
  EXPECT_FALSE(parseJsonInput(nested(kMaxJsonDepth + 1), "f").isOk());
  std::string s = "[\"" + std::string(1000, '[') + "\\\"[\"]";
  EXPECT_TRUE(parseJsonInput(s, "f").isOk());
  EXPECT_TRUE(checkJsonDepth(nested(3), 3).isOk());
  EXPECT_FALSE(checkJsonDepth(nested(4), 3).isOk());
}

// Duplicate keys at any depth are refused when asked, kept otherwise.
TEST(JsonInput, DuplicateKeys) {
  JsonParseOptions strict;
  strict.rejectDuplicateKeys = true;
  Expected<nlohmann::json> j =
      parseJsonInput("{\"a\": 1, \"b\": {\"c\": 1, \"c\": 2}}", "cfg", strict);
  ASSERT_FALSE(j.isOk());
  EXPECT_NE(j.status().message().find("cfg: key 'c' appears twice"),
            std::string::npos)
      << j.status().message();
  EXPECT_FALSE(parseJsonInput("{\"a\": 1, \"a\": 1}", "cfg", strict).isOk());
  // The same key in sibling objects is no duplicate.
  EXPECT_TRUE(parseJsonInput("[{\"a\": 1}, {\"a\": 2}, {\"b\": {\"a\": 3}}]",
                             "cfg", strict)
                  .isOk());
  EXPECT_TRUE(parseJsonInput("{\"a\": 1, \"a\": 2}", "cfg").isOk());
}

// A parser error quotes at most a snippet of the text, however long the
// token it stopped on.
TEST(JsonInput, ParserMessagesAreShort) {
  std::string text = "{\"a\": \"" + std::string(1 << 20, 'x');
  Expected<nlohmann::json> j = parseJsonInput(text, "body");
  ASSERT_FALSE(j.isOk());
  const std::string &m = j.status().message();
  EXPECT_EQ(m.rfind("body is not valid JSON: ", 0), 0u) << m;
  EXPECT_LT(m.size(), 400u) << m;
  j = parseJsonInput("{\n  \"a\": 1,\n}", "f");
  ASSERT_FALSE(j.isOk());
  EXPECT_NE(j.status().message().find("line 3"), std::string::npos)
      << j.status().message();
}

// Values in messages are cut, and rendering a huge value stays cheap.
TEST(JsonInput, SnippetIsTruncated) {
  EXPECT_EQ(jsonSnippet(nlohmann::json{1, 2}), "[1,2]");
  EXPECT_EQ(jsonSnippet(nlohmann::json{{"k", "v"}}), "{\"k\":\"v\"}");
  nlohmann::json big = nlohmann::json::array();
  for (int i = 0; i < 100000; ++i)
    big.push_back(i);
  std::string s = jsonSnippet(big);
  EXPECT_LE(s.size(), kJsonSnippetChars + 3);
  EXPECT_EQ(s.substr(s.size() - 3), "...");
  EXPECT_EQ(s.rfind("[0,1,2,", 0), 0u);
  std::string longString = jsonSnippet(nlohmann::json(std::string(5000, 'a')));
  EXPECT_LE(longString.size(), kJsonSnippetChars + 3);
  // A value nested deeper than any parse allows (built in code) renders
  // without walking all of it.
  nlohmann::json deep = nlohmann::json::array();
  for (int i = 0; i < 10000; ++i)
    deep = nlohmann::json::array({std::move(deep)});
  EXPECT_LE(jsonSnippet(deep).size(), kJsonSnippetChars + 3);
  nlohmann::ordered_json o = {{"z", 1}, {"a", 2}};
  EXPECT_EQ(jsonSnippet(o), "{\"z\":1,\"a\":2}");
}

TEST(JsonInput, TruncateKeepsUtf8Whole) {
  EXPECT_EQ(truncateForMessage("abc", 5), "abc");
  EXPECT_EQ(truncateForMessage("abcdef", 3), "abc...");
  // "é" is two bytes: a cut between them backs up before it.
  EXPECT_EQ(truncateForMessage("ab\xc3\xa9", 3), "ab...");
}

} // namespace
} // namespace birkhoff
