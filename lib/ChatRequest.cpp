//===- ChatRequest.cpp - An OpenAI chat request, checked, for DeepSeek-V4 -===//
#include "birkhoff/ChatRequest.h"
#include "birkhoff/JsonInput.h"
#include "birkhoff/PythonJson.h"

#include <array>
#include <utility>

namespace birkhoff::chat {

using ojson = nlohmann::ordered_json;

namespace {

constexpr std::pair<std::string_view, Role> kRoles[] = {
    {"system", Role::System},       {"user", Role::User},
    {"assistant", Role::Assistant}, {"tool", Role::Tool},
    {"developer", Role::Developer}, {"latest_reminder", Role::LatestReminder},
};

constexpr std::array<std::string_view, 6> kTasks = {
    "action", "query", "authority", "domain", "title", "read_url"};

Expected<Role> parseRole(const ojson &role, const std::string &where) {
  if (!role.is_string())
    return invalidArgument(where + ": \"role\" must be a string");
  const std::string &name = role.get_ref<const std::string &>();
  for (auto [known, value] : kRoles)
    if (name == known)
      return value;
  return invalidArgument(where + ": unknown role '" + name +
                         "' (system, user, assistant, tool, developer or "
                         "latest_reminder)");
}

/// Python's truthiness of a JSON value, which the encoder's `if x:` tests.
bool truthy(const ojson &v) {
  if (v.is_null())
    return false;
  if (v.is_boolean())
    return v.get<bool>();
  if (v.is_number())
    return v.get<double>() != 0;
  if (v.is_string() || v.is_array() || v.is_object())
    return !v.empty();
  return true;
}

/// A content that is a string, null (empty) or an array of OpenAI text parts,
/// joined as DeepSeek's later encoders join them (with nothing between).
Expected<std::string> textContent(const ojson &content,
                                  const std::string &where) {
  if (content.is_null())
    return std::string();
  if (content.is_string())
    return content.get<std::string>();
  if (!content.is_array())
    return invalidArgument(where +
                           " must be a string, null or an array of text parts");
  std::string text;
  for (size_t i = 0; i < content.size(); ++i) {
    const ojson &part = content[i];
    std::string at = where + "[" + std::to_string(i) + "]";
    if (!part.is_object() || !part.contains("type") ||
        !part["type"].is_string())
      return invalidArgument(at + " must be an object with a \"type\"");
    if (part["type"] != "text")
      return invalidArgument(at + ": content part type '" +
                             part["type"].get<std::string>() +
                             "' is not supported (DeepSeek-V4 reads text)");
    if (!part.contains("text") || !part["text"].is_string())
      return invalidArgument(at + ": a text part needs a string \"text\"");
    text += part["text"].get<std::string>();
  }
  return text;
}

/// A tool message's content. DeepSeek's encoder takes a string, or a list of
/// blocks whose text ones it joins with blank lines, writing
/// "[Unsupported <type>]" for the others.
Expected<std::string> toolResultContent(const ojson &content,
                                        const std::string &where) {
  if (content.is_string())
    return content.get<std::string>();
  if (!content.is_array())
    return invalidArgument(where + ": a tool message needs a string content "
                                   "or an array of content parts");
  std::string text;
  for (size_t i = 0; i < content.size(); ++i) {
    const ojson &part = content[i];
    std::string at = where + ".content[" + std::to_string(i) + "]";
    if (!part.is_object())
      return invalidArgument(at + " must be an object");
    std::string type = "None"; // Python's str() of a missing type
    if (part.contains("type") && !part["type"].is_null()) {
      if (!part["type"].is_string())
        return invalidArgument(at + ": \"type\" must be a string");
      type = part["type"].get<std::string>();
    }
    if (i)
      text += "\n\n";
    if (type != "text") {
      text += "[Unsupported " + type + "]";
      continue;
    }
    if (part.contains("text")) {
      if (!part["text"].is_string())
        return invalidArgument(at + ": \"text\" must be a string");
      text += part["text"].get<std::string>();
    }
  }
  return text;
}

/// `tools` in OpenAI's form: the function object of each, as Python writes
/// it.
Expected<std::vector<std::string>> toolSchemas(const ojson &tools,
                                               const std::string &where) {
  if (!tools.is_array())
    return invalidArgument(where + " must be an array of tools");
  std::vector<std::string> schemas;
  for (size_t i = 0; i < tools.size(); ++i) {
    const ojson &tool = tools[i];
    if (!tool.is_object() || !tool.contains("function") ||
        !tool["function"].is_object())
      return invalidArgument(where + "[" + std::to_string(i) +
                             "] needs a \"function\" object");
    schemas.push_back(pythonJsonDumps(tool["function"]));
  }
  return schemas;
}

/// The DSML parameters of a call's arguments. A string that is not JSON
/// becomes one string parameter named "arguments", as DeepSeek's encoder does.
/// An arguments object (not OpenAI's form) is taken as the parsed JSON.
Expected<std::vector<ToolCallParameter>>
toolCallParameters(const ojson &arguments, const std::string &where) {
  ojson parsed;
  if (arguments.is_string()) {
    const std::string &text = arguments.get_ref<const std::string &>();
    // Nested too deep counts as "not JSON": kept as the string it is.
    Expected<ojson> json = parseOrderedJsonInput(text, where);
    if (!json)
      return std::vector<ToolCallParameter>{{"arguments", true, text}};
    parsed = json.take();
  } else if (arguments.is_object()) {
    parsed = arguments;
  } else {
    return invalidArgument(where + " must be a JSON string");
  }
  if (!parsed.is_object())
    return invalidArgument(where + " is JSON but not an object");
  std::vector<ToolCallParameter> params;
  for (const auto &[key, value] : parsed.items()) {
    if (value.is_string())
      params.push_back({key, true, value.get<std::string>()});
    else
      params.push_back({key, false, pythonJsonDumps(value)});
  }
  return params;
}

Expected<ToolCall> parseToolCall(const ojson &call, const std::string &where) {
  if (!call.is_object() || !call.contains("function") ||
      !call["function"].is_object())
    return invalidArgument(where + " needs a \"function\" object");
  const ojson &function = call["function"];
  ToolCall out;
  // The encoder looks for the id on the call, then on its function.
  for (const ojson *holder : {&call, &function})
    if (out.id.empty() && holder->contains("id") && (*holder)["id"].is_string())
      out.id = (*holder)["id"].get<std::string>();
  if (!function.contains("name") || !function["name"].is_string())
    return invalidArgument(where + ".function needs a string \"name\"");
  out.name = function["name"].get<std::string>();
  if (!function.contains("arguments"))
    return invalidArgument(where + ".function needs \"arguments\"");
  BK_ASSIGN_OR_RETURN(
      out.parameters,
      toolCallParameters(function["arguments"], where + ".function.arguments"));
  return out;
}

/// `key` of `msg` when present and not null.
const ojson *field(const ojson &msg, const char *key) {
  auto it = msg.find(key);
  return it == msg.end() || it->is_null() ? nullptr : &*it;
}

Expected<Message> parseMessage(const ojson &msg, const std::string &where) {
  if (!msg.is_object())
    return invalidArgument(where + " must be an object");
  if (!msg.contains("role"))
    return invalidArgument(where + " has no \"role\"");
  Message out;
  BK_ASSIGN_OR_RETURN(out.role, parseRole(msg["role"], where));
  const ojson *content = field(msg, "content");
  bool needsContent = out.role == Role::Tool || out.role == Role::User ||
                      out.role == Role::LatestReminder;
  if (!content && needsContent)
    return invalidArgument(where + ": a " + msg["role"].get<std::string>() +
                           " message needs content");
  if (content && out.role == Role::Tool) {
    BK_ASSIGN_OR_RETURN(out.content, toolResultContent(*content, where));
  } else if (content) {
    BK_ASSIGN_OR_RETURN(out.content, textContent(*content, where + ".content"));
  }
  if (out.role == Role::Developer && out.content.empty())
    return invalidArgument(where + ": a developer message needs content");

  bool instructs = out.role == Role::System || out.role == Role::Developer;
  if (const ojson *tools = field(msg, "tools")) {
    if (!instructs)
      return invalidArgument(where + ": tools belong on a system or developer "
                                     "message (or the request's top level)");
    BK_ASSIGN_OR_RETURN(out.toolSchemas, toolSchemas(*tools, where + ".tools"));
  }
  if (const ojson *format = field(msg, "response_format")) {
    if (!instructs)
      return invalidArgument(where + ": response_format belongs on a system "
                                     "or developer message");
    if (truthy(*format))
      out.responseFormat = pythonJsonDumps(*format);
  }
  if (const ojson *calls = field(msg, "tool_calls")) {
    if (out.role != Role::Assistant)
      return invalidArgument(where + ": only assistant messages have "
                                     "tool_calls");
    if (!calls->is_array())
      return invalidArgument(where + ".tool_calls must be an array");
    for (size_t i = 0; i < calls->size(); ++i) {
      BK_ASSIGN_OR_RETURN(
          ToolCall call,
          parseToolCall((*calls)[i],
                        where + ".tool_calls[" + std::to_string(i) + "]"));
      out.toolCalls.push_back(std::move(call));
    }
  }
  if (const ojson *reasoning = field(msg, "reasoning_content")) {
    if (!reasoning->is_string())
      return invalidArgument(where + ".reasoning_content must be a string");
    if (out.role == Role::Assistant)
      out.reasoning = reasoning->get<std::string>();
  }
  if (const ojson *id = field(msg, "tool_call_id")) {
    if (!id->is_string())
      return invalidArgument(where + ".tool_call_id must be a string");
    out.toolCallId = id->get<std::string>();
  }
  if (const ojson *task = field(msg, "task")) {
    bool known = false;
    for (std::string_view t : kTasks)
      known |= task->is_string() && *task == t;
    if (!known)
      return invalidArgument(where + ": unknown task " + jsonSnippet(*task) +
                             " (action, query, authority, domain, title or "
                             "read_url)");
    out.task = task->get<std::string>();
  }
  if (const ojson *open = field(msg, "wo_eos")) {
    if (!open->is_boolean())
      return invalidArgument(where + ".wo_eos must be true or false");
    out.withoutEos = open->get<bool>();
  }
  return out;
}

/// OpenAI's rule, which DeepSeek's encoder assumes: tool results answer the
/// tool calls of the assistant message just before them.
Status checkToolMessages(const std::vector<Message> &messages) {
  for (size_t i = 0; i < messages.size(); ++i) {
    if (messages[i].role != Role::Tool)
      continue;
    size_t j = i;
    while (j > 0 && messages[j - 1].role == Role::Tool)
      --j;
    if (j == 0 || messages[j - 1].role != Role::Assistant ||
        messages[j - 1].toolCalls.empty())
      return invalidArgument("messages[" + std::to_string(i) +
                             "]: a tool message must follow an assistant "
                             "message with tool_calls");
  }
  return Status::ok();
}

} // namespace

Expected<ReasoningEffort> parseReasoningEffort(std::string_view name) {
  if (name == "minimal" || name == "low")
    return ReasoningEffort::Low;
  if (name == "medium" || name == "high" || name == "xhigh")
    return ReasoningEffort::High;
  if (name == "max" || name == "ultra")
    return ReasoningEffort::Max;
  return invalidArgument("unknown reasoning effort '" + std::string(name) +
                         "' (minimal, low, medium, high, xhigh, max or "
                         "ultra)");
}

Expected<ChatRequest> parseChatRequest(std::string_view json) {
  Expected<ojson> parsed = parseOrderedJsonInput(json, "the request");
  if (!parsed)
    return invalidArgument(parsed.status().message());
  ojson body = parsed.take();
  if (!body.is_object())
    return invalidArgument("the request must be a JSON object");
  if (!body.contains("messages"))
    return invalidArgument("the request has no \"messages\"");
  const ojson &messages = body["messages"];
  if (!messages.is_array())
    return invalidArgument("\"messages\" must be an array");
  if (messages.empty())
    return invalidArgument("\"messages\" is empty");

  ChatRequest out;
  for (size_t i = 0; i < messages.size(); ++i) {
    BK_ASSIGN_OR_RETURN(
        Message msg,
        parseMessage(messages[i], "messages[" + std::to_string(i) + "]"));
    out.messages.push_back(std::move(msg));
  }
  BK_RETURN_IF_ERROR(checkToolMessages(out.messages));

  if (const ojson *tools = field(body, "tools")) {
    BK_ASSIGN_OR_RETURN(std::vector<std::string> schemas,
                        toolSchemas(*tools, "tools"));
    if (!schemas.empty()) {
      Message &first = out.messages.front();
      if (first.role == Role::System && !first.toolSchemas.empty())
        return invalidArgument("tools are given both at the top level and "
                               "in messages[0]");
      if (first.role == Role::System)
        first.toolSchemas = std::move(schemas);
      else {
        Message system;
        system.role = Role::System;
        system.toolSchemas = std::move(schemas);
        out.messages.insert(out.messages.begin(), std::move(system));
      }
    }
  }

  if (const ojson *thinking = field(body, "thinking")) {
    if (!thinking->is_object() || !thinking->contains("type") ||
        ((*thinking)["type"] != "enabled" && (*thinking)["type"] != "disabled"))
      return invalidArgument("\"thinking\" must be {\"type\": \"enabled\"} or "
                             "{\"type\": \"disabled\"}");
    out.thinking = (*thinking)["type"] == "enabled";
  }
  if (const ojson *effort = field(body, "reasoning_effort")) {
    if (!effort->is_string())
      return invalidArgument("\"reasoning_effort\" must be a string");
    BK_ASSIGN_OR_RETURN(out.effort,
                        parseReasoningEffort(effort->get<std::string>()));
  }
  return out;
}

} // namespace birkhoff::chat
