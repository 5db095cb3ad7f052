//===- ChatRequest.h - An OpenAI chat request, checked, for DeepSeek-V4 ---===//
//
// Reads the body of an OpenAI chat-completions request into the messages
// DeepSeek-V4's chat encoder takes (ChatEncoding.h), checking everything the
// encoder relies on and naming what is wrong ("messages[2]: unknown role
// 'robot'"). What it reads (docs/chat.md):
//
//   * `messages`: roles system, user, assistant, tool, and DeepSeek's
//     developer and latest_reminder; `content` a string, null, or an array of
//     text parts; assistant `reasoning_content` and `tool_calls` (OpenAI's
//     form, `function.arguments` a JSON string); tool `tool_call_id`; the
//     encoder's own fields `tools` and `response_format` on a system or
//     developer message, `task` and `wo_eos`;
//   * `tools` at the top level, as OpenAI puts them: they join the system
//     message, or a system message with no content is put first for them (as
//     vLLM does for DeepSeek-V4);
//   * DeepSeek API's `thinking: {"type": "enabled" | "disabled"}` and
//     `reasoning_effort`.
//
// Other fields (model, sampling, tool_choice, ...) do not change the prompt
// and are ignored.
//
//===----------------------------------------------------------------------===//
#ifndef BIRKHOFF_CHATREQUEST_H
#define BIRKHOFF_CHATREQUEST_H

#include "birkhoff/Status.h"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace birkhoff::chat {

enum class Role { System, User, Assistant, Tool, Developer, LatestReminder };

/// How hard the model is asked to think (thinking mode only). DeepSeek's
/// release encoder writes a prompt for Max only; Low and High add nothing.
enum class ReasoningEffort { Low, High, Max };

/// A `reasoning_effort` value of DeepSeek's API, mapped as its documentation
/// maps them: minimal and low to Low; medium, high and xhigh to High; max and
/// ultra to Max. Anything else is an InvalidArgument error.
Expected<ReasoningEffort> parseReasoningEffort(std::string_view name);

/// One DSML parameter of a tool call, as the encoder writes it: a JSON string
/// argument is written raw with string="true", any other value as JSON text.
struct ToolCallParameter {
  std::string name;
  bool isString = false;
  std::string value;
};

struct ToolCall {
  std::string id;
  std::string name;
  std::vector<ToolCallParameter> parameters;
};

struct Message {
  Role role = Role::User;
  /// The text; empty for a null or absent content.
  std::string content;
  /// `tools` of a system or developer message: each function object as
  /// Python's json.dumps writes it (PythonJson.h).
  std::vector<std::string> toolSchemas;
  /// `response_format` of a system or developer message as JSON text, or
  /// empty.
  std::string responseFormat;
  std::vector<ToolCall> toolCalls;
  std::string reasoning;
  /// A tool message's `tool_call_id`.
  std::string toolCallId;
  /// DeepSeek's quick-instruction task (action, query, authority, domain,
  /// title, read_url).
  std::optional<std::string> task;
  /// An assistant message left open: no end-of-sentence after it.
  bool withoutEos = false;
};

struct ChatRequest {
  std::vector<Message> messages;
  /// From `thinking.type`, when the request has it.
  std::optional<bool> thinking;
  /// From `reasoning_effort`, when the request has it.
  std::optional<ReasoningEffort> effort;
};

/// Parses and checks a request body. Errors are InvalidArgument and name the
/// field ("messages[3].tool_calls[0].function.name ...").
Expected<ChatRequest> parseChatRequest(std::string_view json);

} // namespace birkhoff::chat

#endif // BIRKHOFF_CHATREQUEST_H
