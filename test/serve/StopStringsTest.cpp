//===- StopStringsTest.cpp - Stop strings over streamed text --------------===//
#include "StopStrings.h"

#include <gtest/gtest.h>

namespace birkhoff::serve {
namespace {

/// Pushes `pieces` and returns what came out, and whether a stop matched.
std::pair<std::string, bool> run(StopStrings s,
                                 const std::vector<std::string> &pieces) {
  std::string out;
  bool matched = false;
  for (const std::string &p : pieces) {
    out += s.push(p, matched);
    if (matched)
      return {out, true};
  }
  return {out + s.flush(), false};
}

TEST(StopStringsTest, WithoutStopsTextPassesAtOnce) {
  StopStrings s;
  bool matched = false;
  EXPECT_EQ(s.push("abc", matched), "abc");
  EXPECT_FALSE(matched);
  EXPECT_EQ(s.flush(), "");
}

TEST(StopStringsTest, TextThatMayStartAStopWaits) {
  StopStrings s({"END"});
  bool matched = false;
  EXPECT_EQ(s.push("abcE", matched), "abc");
  EXPECT_EQ(s.push("N", matched), "");
  EXPECT_EQ(s.push("x", matched), "ENx"); // not END after all
  EXPECT_FALSE(matched);
  EXPECT_EQ(s.push("yEND and more", matched), "y");
  EXPECT_TRUE(matched);
  EXPECT_EQ(s.push("later", matched), "");
  EXPECT_EQ(s.flush(), "");
}

TEST(StopStringsTest, EverySplitGivesTheSameText) {
  const std::string text = "one two\nthree STOP four";
  for (size_t cut = 0; cut <= text.size(); ++cut) {
    auto [out, matched] = run(StopStrings({"STOP", "\n\n"}),
                              {text.substr(0, cut), text.substr(cut)});
    EXPECT_TRUE(matched) << cut;
    EXPECT_EQ(out, "one two\nthree ") << cut;
  }
  // Byte by byte.
  std::vector<std::string> bytes;
  for (char c : text)
    bytes.push_back(std::string(1, c));
  EXPECT_EQ(run(StopStrings({"STOP"}), bytes).first, "one two\nthree ");
}

TEST(StopStringsTest, TheEarliestOfSeveralStopsWins) {
  auto [out, matched] = run(StopStrings({"cd", "b"}), {"abcd"});
  EXPECT_TRUE(matched);
  EXPECT_EQ(out, "a");
}

TEST(StopStringsTest, AHeldTailComesOutAtTheEnd) {
  auto [out, matched] = run(StopStrings({"</end>"}), {"text </en"});
  EXPECT_FALSE(matched);
  EXPECT_EQ(out, "text </en");
}

TEST(StopStringsTest, UnicodeStopsCutOnCharacters) {
  // "é" is two bytes; the held tail starts where the stop string could.
  auto [out, matched] = run(StopStrings({"\u00e9t\u00e9"}),
                            {"caf\xc3", "\xa9 d'\xc3\xa9", "t\xc3\xa9"});
  EXPECT_TRUE(matched);
  EXPECT_EQ(out, "caf\u00e9 d'");
}

} // namespace
} // namespace birkhoff::serve
