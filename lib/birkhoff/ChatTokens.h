//===- ChatTokens.h - The special texts of DeepSeek-V4's chat format ------===//
//
// The strings DeepSeek's encoder (encoding_dsv4.py) writes around messages and
// the model writes around its reasoning and tool calls. The bars are U+FF5C
// (FULLWIDTH VERTICAL LINE) and the word joiner in the sentence tokens is
// U+2581 (LOWER ONE EIGHTH BLOCK), as in the tokenizer's added tokens.
//
//===----------------------------------------------------------------------===//
#ifndef BIRKHOFF_CHATTOKENS_H
#define BIRKHOFF_CHATTOKENS_H

#include <string_view>

namespace birkhoff::chat {

inline constexpr std::string_view kBos = "<｜begin▁of▁sentence｜>";
inline constexpr std::string_view kEos = "<｜end▁of▁sentence｜>";
inline constexpr std::string_view kUser = "<｜User｜>";
inline constexpr std::string_view kAssistant = "<｜Assistant｜>";
inline constexpr std::string_view kLatestReminder = "<｜latest_reminder｜>";
inline constexpr std::string_view kThinkStart = "<think>";
inline constexpr std::string_view kThinkEnd = "</think>";

// DSML, the markup of tool calls: `｜DSML｜` inside XML-like tags.
inline constexpr std::string_view kToolCallsOpen = "<｜DSML｜tool_calls>";
inline constexpr std::string_view kToolCallsClose = "</｜DSML｜tool_calls>";
inline constexpr std::string_view kInvokeOpen = "<｜DSML｜invoke";
inline constexpr std::string_view kInvokeClose = "</｜DSML｜invoke";
inline constexpr std::string_view kParameterOpen = "<｜DSML｜parameter";
inline constexpr std::string_view kParameterClose = "</｜DSML｜parameter";

/// Where a tool-call block starts in the model's output: the encoder writes
/// "\n\n" between an assistant's content and its block, and DeepSeek's parser
/// splits the content there.
inline constexpr std::string_view kToolCallsStart = "\n\n<｜DSML｜tool_calls";

} // namespace birkhoff::chat

#endif // BIRKHOFF_CHATTOKENS_H
