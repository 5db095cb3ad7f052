//===- ResponseWriter.h - OpenAI responses and server-sent events ---------===//
//
// Turns a request's updates (Generation.h) into what OpenAI's API returns:
// for chat, `chat.completion` (whole) or `chat.completion.chunk` events, the
// model's text read by DeepSeek-V4's output parser (ChatParsing.h) into
// content, reasoning_content and tool_calls, so that no delta holds part of
// a DSML tag; for completions, `text_completion` objects with the text and
// the generated ids (`token_ids`, a Birkhoff field: an artifact without a
// tokenizer gives ids only).
//
// Streams are server-sent events: `data: <json>\n\n` per chunk, the last
// chunk with finish_reason, and `data: [DONE]\n\n`. With
// stream_options.include_usage a last chunk with empty choices carries the
// usage (OpenAI's form); otherwise the finish_reason chunk carries it. A
// request that ends with an error streams `data: {"error": ...}` then
// [DONE].
//
//===----------------------------------------------------------------------===//
#ifndef BIRKHOFF_TOOLS_SERVE_RESPONSEWRITER_H
#define BIRKHOFF_TOOLS_SERVE_RESPONSEWRITER_H

#include "ApiError.h"
#include "Generation.h"

#include <cstdint>
#include <memory>
#include <string>

namespace birkhoff::serve {

struct ResponseInfo {
  std::string id; // "chatcmpl-..." or "cmpl-..."
  int64_t created = 0;
  std::string model;
  bool includeUsage = false;
};

class Responder {
public:
  virtual ~Responder() = default;
  /// Streaming: the events for `update` (the first call also opens the
  /// message; the finishing update closes it and adds [DONE]).
  virtual std::string events(const RequestUpdate &update) = 0;
  /// Not streaming: the response body of a request whose updates, appended,
  /// are `update` (finished with Stop or Length).
  virtual std::string body(const RequestUpdate &update) = 0;
};

/// Chat completions; `thinking`: the prompt's mode; `forcedOutput`: the start
/// of the output that the prompt holds (ParsedRequest::forcedOutput), parsed
/// before the generated text.
std::unique_ptr<Responder>
makeChatResponder(ResponseInfo info, bool thinking,
                  std::string forcedOutput = std::string());
std::unique_ptr<Responder> makeCompletionResponder(ResponseInfo info);

/// The error a request that ended with `update` (Aborted or Error) answers.
ApiError finishError(const RequestUpdate &update);

/// `data: <text>\n\n`.
std::string sseEvent(const std::string &data);

} // namespace birkhoff::serve

#endif // BIRKHOFF_TOOLS_SERVE_RESPONSEWRITER_H
