//===- ResponseWriter.cpp - OpenAI responses and server-sent events -------===//
#include "ResponseWriter.h"

#include "birkhoff/ChatParsing.h"

#include <nlohmann/json.hpp>

namespace birkhoff::serve {
namespace {

using json = nlohmann::ordered_json;

std::string dump(const json &j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

json usageOf(const RequestUpdate &u) {
  return {{"prompt_tokens", u.promptTokens},
          {"completion_tokens", u.completionTokens},
          {"total_tokens", u.promptTokens + u.completionTokens}};
}

/// What the streams of both endpoints share: the envelope of each chunk,
/// usage placement, errors and [DONE].
class StreamBase : public Responder {
protected:
  StreamBase(ResponseInfo info, const char *object, const char *chunkObject)
      : info_(std::move(info)), object_(object), chunkObject_(chunkObject) {}

  json envelope(const char *object) const {
    return {{"id", info_.id},
            {"object", object},
            {"created", info_.created},
            {"model", info_.model}};
  }

  std::string chunk(json choice, const RequestUpdate *usage = nullptr) const {
    json j = envelope(chunkObject_);
    j["choices"] = json::array({std::move(choice)});
    if (usage && !info_.includeUsage)
      j["usage"] = usageOf(*usage);
    else if (info_.includeUsage)
      j["usage"] = nullptr;
    return sseEvent(dump(j));
  }

  /// After the finish_reason chunk: the usage chunk (include_usage) and
  /// [DONE]; or the error and [DONE].
  std::string close(const RequestUpdate &u) const {
    std::string out;
    if (u.finish == FinishReason::Stop || u.finish == FinishReason::Length) {
      if (info_.includeUsage) {
        json j = envelope(chunkObject_);
        j["choices"] = json::array();
        j["usage"] = usageOf(u);
        out += sseEvent(dump(j));
      }
    } else {
      out += sseEvent(errorBody(finishError(u)));
    }
    return out + sseEvent("[DONE]");
  }

  json whole(json choice, const RequestUpdate &u) const {
    json j = envelope(object_);
    j["choices"] = json::array({std::move(choice)});
    j["usage"] = usageOf(u);
    return j;
  }

  ResponseInfo info_;
  const char *object_;
  const char *chunkObject_;
};

class ChatResponder : public StreamBase {
public:
  ChatResponder(ResponseInfo info, bool thinking, std::string forcedOutput)
      : StreamBase(std::move(info), "chat.completion", "chat.completion.chunk"),
        thinking_(thinking), forcedOutput_(std::move(forcedOutput)),
        parser_(parseOptions()) {}

  std::string events(const RequestUpdate &u) override {
    std::string out;
    if (!opened_) {
      opened_ = true;
      out += deltaChunk({{"role", "assistant"}, {"content", ""}});
      if (!forcedOutput_.empty())
        out += deltaChunks(parser_.push(forcedOutput_));
    }
    if (!u.text.empty())
      out += deltaChunks(parser_.push(u.text));
    if (!u.finished())
      return out;
    if (u.finish == FinishReason::Stop || u.finish == FinishReason::Length) {
      out += deltaChunks(parser_.finish());
      json choice = {{"index", 0},
                     {"delta", json::object()},
                     {"logprobs", nullptr},
                     {"finish_reason", finishName(u)}};
      out += chunk(std::move(choice), &u);
    }
    return out + close(u);
  }

  std::string body(const RequestUpdate &u) override {
    chat::ParsedMessage m =
        chat::parseOutput(forcedOutput_ + u.text, parseOptions());
    sawToolCall_ = !m.toolCalls.empty();
    json message = json::parse(chat::toOpenAIJson(m, thinking_));
    json choice = {{"index", 0},
                   {"message", std::move(message)},
                   {"logprobs", nullptr},
                   {"finish_reason", finishName(u)}};
    return dump(whole(std::move(choice), u));
  }

private:
  chat::ParseOptions parseOptions() const {
    chat::ParseOptions o;
    o.thinking = thinking_;
    // Tool call ids unique to the request: "call_<id>_<i>".
    o.toolCallIdPrefix =
        "call_" + info_.id.substr(info_.id.find('-') + 1) + "_";
    return o;
  }

  std::string finishName(const RequestUpdate &u) const {
    if (sawToolCall_ && u.finish == FinishReason::Stop)
      return "tool_calls";
    return finishReasonName(u.finish);
  }

  std::string deltaChunk(json delta) const {
    return chunk({{"index", 0},
                  {"delta", std::move(delta)},
                  {"logprobs", nullptr},
                  {"finish_reason", nullptr}});
  }

  std::string deltaChunks(const chat::OutputDelta &d) {
    if (d.empty())
      return "";
    json delta = json::object();
    if (!d.reasoning.empty())
      delta["reasoning_content"] = d.reasoning;
    if (!d.content.empty())
      delta["content"] = d.content;
    if (!d.toolCalls.empty()) {
      json calls = json::array();
      for (const chat::ToolCallDelta &c : d.toolCalls) {
        json call = {{"index", c.index}};
        if (!c.id.empty()) {
          call["id"] = c.id;
          call["type"] = "function";
        }
        json function = json::object();
        if (!c.name.empty())
          function["name"] = c.name;
        function["arguments"] = c.arguments;
        call["function"] = std::move(function);
        calls.push_back(std::move(call));
      }
      delta["tool_calls"] = std::move(calls);
      sawToolCall_ = true;
    }
    return deltaChunk(std::move(delta));
  }

  bool thinking_;
  std::string forcedOutput_;
  chat::OutputParser parser_;
  bool opened_ = false;
  bool sawToolCall_ = false;
};

class CompletionResponder : public StreamBase {
public:
  explicit CompletionResponder(ResponseInfo info)
      : StreamBase(std::move(info), "text_completion", "text_completion") {}

  std::string events(const RequestUpdate &u) override {
    std::string out;
    if (!u.text.empty() || !u.tokens.empty())
      out += chunk(choice(u.text, u.tokens, nullptr));
    if (!u.finished())
      return out;
    if (u.finish == FinishReason::Stop || u.finish == FinishReason::Length)
      out += chunk(choice("", {}, finishReasonName(u.finish)), &u);
    return out + close(u);
  }

  std::string body(const RequestUpdate &u) override {
    return dump(whole(choice(u.text, u.tokens, finishReasonName(u.finish)), u));
  }

private:
  static json choice(const std::string &text,
                     const std::vector<int32_t> &tokens, json finish) {
    return {{"index", 0},
            {"text", text},
            {"token_ids", tokens},
            {"logprobs", nullptr},
            {"finish_reason", std::move(finish)}};
  }
};

} // namespace

std::unique_ptr<Responder> makeChatResponder(ResponseInfo info, bool thinking,
                                             std::string forcedOutput) {
  return std::make_unique<ChatResponder>(std::move(info), thinking,
                                         std::move(forcedOutput));
}

std::unique_ptr<Responder> makeCompletionResponder(ResponseInfo info) {
  return std::make_unique<CompletionResponder>(std::move(info));
}

ApiError finishError(const RequestUpdate &update) {
  if (update.finish == FinishReason::Aborted)
    return shuttingDownError(update.error.isOk()
                                 ? "the server shut down before the request "
                                   "finished"
                                 : update.error.message());
  return serverError(update.error.isOk() ? std::string("the request ended: ") +
                                               finishReasonName(update.finish)
                                         : update.error.toString());
}

std::string sseEvent(const std::string &data) {
  return "data: " + data + "\n\n";
}

} // namespace birkhoff::serve
