//===- ChatEncoding.cpp - DeepSeek-V4 chat messages as prompt text --------===//
//
// Follows encode_messages of DeepSeek's encoding_dsv4.py step by step:
// merge_tool_messages, sort_tool_results_by_call_order, _drop_thinking_messages
// and render_message, under the same names where they fit. The texts below
// are DeepSeek's templates with their placeholders for the DSML and thinking
// tokens filled in.
//
//===----------------------------------------------------------------------===//
#include "birkhoff/ChatEncoding.h"
#include "birkhoff/ChatTokens.h"

#include <algorithm>
#include <map>

namespace birkhoff::chat {
namespace {

// TOOLS_TEMPLATE, before and after {tool_schemas}.
constexpr std::string_view kToolsHead = R"txt(## Tools

You have access to a set of tools to help answer the user's question. You can invoke tools by writing a "<｜DSML｜tool_calls>" block like the following:

<｜DSML｜tool_calls>
<｜DSML｜invoke name="$TOOL_NAME">
<｜DSML｜parameter name="$PARAMETER_NAME" string="true|false">$PARAMETER_VALUE</｜DSML｜parameter>
...
</｜DSML｜invoke>
<｜DSML｜invoke name="$TOOL_NAME2">
...
</｜DSML｜invoke>
</｜DSML｜tool_calls>

String parameters should be specified as is and set `string="true"`. For all other types (numbers, booleans, arrays, objects), pass the value in JSON format and set `string="false"`.

If thinking_mode is enabled (triggered by <think>), you MUST output your complete reasoning inside <think>...</think> BEFORE any tool calls or final response.

Otherwise, output directly after </think> with tool calls or final response.

### Available Tool Schemas

)txt";
constexpr std::string_view kToolsTail = R"txt(

You MUST strictly follow the above defined tool name and parameter schemas to invoke tool calls.
)txt";

// response_format_template, before {schema}.
constexpr std::string_view kResponseFormatHead =
    "## Response Format:\n\nYou MUST strictly adhere to the following schema "
    "to reply:\n";

// REASONING_EFFORT_MAX.
constexpr std::string_view kEffortMax =
    R"txt(Reasoning Effort: Absolute maximum with no shortcuts permitted.
You MUST be very thorough in your thinking and comprehensively decompose the problem to resolve the root cause, rigorously stress-testing your logic against all potential paths, edge cases, and adversarial scenarios.
Explicitly write out your entire deliberation process, documenting every intermediate step, considered alternative, and rejected hypothesis to ensure absolutely no assumption is left unchecked.

)txt";

std::string taskToken(const std::string &task) { return "<｜" + task + "｜>"; }

/// A user turn's pieces after merge_tool_messages: its text and the tool
/// results merged into it.
struct Block {
  bool toolResult = false;
  std::string text;
  std::string toolCallId;
};

/// A message as render_message sees it: the request's message, or for a user
/// turn the blocks merged into it.
struct Turn {
  Role role;
  const Message *msg = nullptr;
  std::vector<Block> blocks;
  std::optional<std::string> task;
};

/// merge_tool_messages: a tool result joins the user turn before it (a tool
/// result or a user message), else starts one; a user message joins a user
/// turn before it unless that turn has a task.
std::vector<Turn> mergeToolMessages(const std::vector<Message> &messages) {
  std::vector<Turn> turns;
  for (const Message &m : messages) {
    bool afterUser = !turns.empty() && turns.back().role == Role::User;
    if (m.role == Role::Tool) {
      Block block{true, m.content, m.toolCallId};
      if (afterUser)
        turns.back().blocks.push_back(std::move(block));
      else
        turns.push_back({Role::User, &m, {std::move(block)}, std::nullopt});
    } else if (m.role == Role::User) {
      Block block{false, m.content, ""};
      if (afterUser && !turns.back().task)
        turns.back().blocks.push_back(std::move(block));
      else
        turns.push_back({Role::User, &m, {std::move(block)}, m.task});
    } else {
      turns.push_back({m.role, &m, {}, m.task});
    }
  }
  return turns;
}

/// sort_tool_results_by_call_order: in a user turn with several tool results,
/// the results are put in the order of the latest assistant's calls (an
/// unknown id counting as the first call), other blocks staying in place.
void sortToolResultsByCallOrder(std::vector<Turn> &turns) {
  std::map<std::string, size_t> order;
  for (Turn &t : turns) {
    if (t.role == Role::Assistant && !t.msg->toolCalls.empty()) {
      order.clear();
      for (size_t i = 0; i < t.msg->toolCalls.size(); ++i)
        if (!t.msg->toolCalls[i].id.empty())
          order[t.msg->toolCalls[i].id] = i;
      continue;
    }
    if (t.role != Role::User || order.empty())
      continue;
    std::vector<Block> results;
    for (const Block &b : t.blocks)
      if (b.toolResult)
        results.push_back(b);
    if (results.size() < 2)
      continue;
    auto rank = [&](const Block &b) {
      auto it = order.find(b.toolCallId);
      return it == order.end() ? size_t(0) : it->second;
    };
    std::stable_sort(
        results.begin(), results.end(),
        [&](const Block &a, const Block &b) { return rank(a) < rank(b); });
    size_t next = 0;
    for (Block &b : t.blocks)
      if (b.toolResult)
        b = results[next++];
  }
}

/// find_last_user_index: the last user or developer turn, or -1.
long lastUserIndex(const std::vector<Turn> &turns) {
  for (size_t i = turns.size(); i-- > 0;)
    if (turns[i].role == Role::User || turns[i].role == Role::Developer)
      return long(i);
  return -1;
}

/// _drop_thinking_messages: developer turns before the last user turn go.
/// (It also strips earlier assistants' reasoning, which render_message leaves
/// out anyway when thinking is dropped.)
void dropThinkingMessages(std::vector<Turn> &turns) {
  long last = lastUserIndex(turns);
  std::vector<Turn> kept;
  for (size_t i = 0; i < turns.size(); ++i)
    if (turns[i].role != Role::Developer || long(i) >= last)
      kept.push_back(std::move(turns[i]));
  turns = std::move(kept);
}

std::string renderTools(const std::vector<std::string> &schemas) {
  std::string out(kToolsHead);
  for (size_t i = 0; i < schemas.size(); ++i)
    out += (i ? "\n" : "") + schemas[i];
  return out += kToolsTail;
}

/// The tools and response format a system or developer message adds.
std::string renderInstructions(const Message &m) {
  std::string out;
  if (!m.toolSchemas.empty())
    out += "\n\n" + renderTools(m.toolSchemas);
  if (!m.responseFormat.empty())
    out += "\n\n" + std::string(kResponseFormatHead) + m.responseFormat;
  return out;
}

std::string renderToolCalls(const std::vector<ToolCall> &calls) {
  std::string out = toolCallsOpening();
  for (size_t i = 0; i < calls.size(); ++i) {
    if (i)
      out += "\n";
    out += invokeOpening(calls[i].name);
    for (size_t p = 0; p < calls[i].parameters.size(); ++p) {
      const ToolCallParameter &param = calls[i].parameters[p];
      if (p)
        out += "\n";
      out += std::string(kParameterOpen) + " name=\"" + param.name +
             "\" string=\"" + (param.isString ? "true" : "false") + "\">" +
             param.value + std::string(kParameterClose) + ">";
    }
    out += "\n" + std::string(kInvokeClose) + ">";
  }
  return out += "\n" + std::string(kToolCallsClose);
}

std::string renderUserBlocks(const std::vector<Block> &blocks) {
  std::string out;
  for (size_t i = 0; i < blocks.size(); ++i) {
    if (i)
      out += "\n\n";
    out += blocks[i].toolResult
               ? "<tool_result>" + blocks[i].text + "</tool_result>"
               : blocks[i].text;
  }
  return out;
}

/// render_message for turn `index`.
std::string renderMessage(size_t index, const std::vector<Turn> &turns,
                          bool thinking, bool dropThinking,
                          ReasoningEffort effort) {
  const Turn &turn = turns[index];
  long lastUser = lastUserIndex(turns);
  std::string out;
  if (index == 0 && thinking && effort == ReasoningEffort::Max)
    out += kEffortMax;

  switch (turn.role) {
  case Role::System:
    out += turn.msg->content + renderInstructions(*turn.msg);
    break;
  case Role::Developer:
    out +=
        std::string(kUser) + turn.msg->content + renderInstructions(*turn.msg);
    break;
  case Role::User:
    out += std::string(kUser) + renderUserBlocks(turn.blocks);
    break;
  case Role::LatestReminder:
    out += std::string(kLatestReminder) + turn.msg->content;
    break;
  case Role::Assistant: {
    // A reply to a task (a classification) has no thinking part.
    bool afterTask = index > 0 && turns[index - 1].task.has_value();
    if (thinking && !afterTask && (!dropThinking || long(index) > lastUser))
      out += turn.msg->reasoning + std::string(kThinkEnd);
    out += turn.msg->content;
    if (!turn.msg->toolCalls.empty())
      out += renderToolCalls(turn.msg->toolCalls);
    if (!turn.msg->withoutEos)
      out += kEos;
    break;
  }
  case Role::Tool: // merged into user turns
    break;
  }

  // What the next reply starts with, unless another message than an
  // assistant's or a reminder follows.
  if (index + 1 < turns.size() && turns[index + 1].role != Role::Assistant &&
      turns[index + 1].role != Role::LatestReminder)
    return out;
  if (turn.task) {
    if (*turn.task != "action")
      return out += taskToken(*turn.task);
    out += kAssistant;
    out += thinking ? kThinkStart : kThinkEnd;
    return out += taskToken(*turn.task);
  }
  if (turn.role == Role::User || turn.role == Role::Developer) {
    out += kAssistant;
    bool open = thinking && (!dropThinking || long(index) >= lastUser);
    out += open ? kThinkStart : kThinkEnd;
  }
  return out;
}

} // namespace

std::string toolCallsOpening() {
  return "\n\n" + std::string(kToolCallsOpen) + "\n";
}

std::string invokeOpening(std::string_view name) {
  return std::string(kInvokeOpen) + " name=\"" + std::string(name) + "\">\n";
}

std::string encodeMessages(const std::vector<Message> &messages, bool thinking,
                           ReasoningEffort effort) {
  std::vector<Turn> turns = mergeToolMessages(messages);
  sortToolResultsByCallOrder(turns);
  // With tools anywhere, every turn keeps its reasoning: the model needs it
  // to follow a chain of calls.
  bool dropThinking =
      std::none_of(turns.begin(), turns.end(), [](const Turn &t) {
        return t.role != Role::User && !t.msg->toolSchemas.empty();
      });
  if (thinking && dropThinking)
    dropThinkingMessages(turns);
  std::string prompt(kBos);
  for (size_t i = 0; i < turns.size(); ++i)
    prompt += renderMessage(i, turns, thinking, dropThinking, effort);
  return prompt;
}

Expected<EncodedPrompt> encodeRequest(std::string_view json,
                                      const EncodeOptions &options) {
  BK_ASSIGN_OR_RETURN(ChatRequest request, parseChatRequest(json));
  EncodedPrompt out;
  out.thinking = options.thinking.value_or(request.thinking.value_or(false));
  out.effort =
      options.effort.value_or(request.effort.value_or(ReasoningEffort::High));
  out.text = encodeMessages(request.messages, out.thinking, out.effort);
  return out;
}

} // namespace birkhoff::chat
