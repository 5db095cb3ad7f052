//===- RequestParsing.h - OpenAI request bodies, read and checked ---------===//
//
// Reads the body of `POST /v1/chat/completions` or `POST /v1/completions`
// into what the scheduler runs (prompt ids, sampling, limits, stop
// conditions), checking every field against the model and the server's
// limits. Errors are Status values whose message names the field first
// ("max_tokens: ..."): InvalidArgument or OutOfRange for a bad value,
// Unsupported for an OpenAI feature Birkhoff does not offer, NotFound for
// another model's name (docs/serve.md lists each).
//
//===----------------------------------------------------------------------===//
#ifndef BIRKHOFF_TOOLS_SERVE_REQUESTPARSING_H
#define BIRKHOFF_TOOLS_SERVE_REQUESTPARSING_H

#include "Generation.h"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace birkhoff::serve {

struct ServeLimits {
  /// The name requests may give as `model` (any other is NotFound).
  std::string modelName;
  /// Tokens of context a sequence holds (the engine's capacity).
  int64_t capacity = 0;
  /// The longest context the state page pool can hold at all.
  int64_t poolTokens = 0;
  int64_t maxMessages = 1024;
  int64_t maxStopStrings = 16;
  int64_t maxStopBytes = 256;
  /// Defaults for the fields a request leaves out (the artifact's generation
  /// config, ModelInfo::generationConfig): its sampling fields over OpenAI's
  /// (applyGenerationConfig), and max_new_tokens or max_length bounding the
  /// default max_tokens. A field the request gives wins.
  std::optional<GenerationConfig> generationConfig;
};

struct ParsedRequest {
  GenerationRequest generation;
  bool stream = false;
  /// stream_options.include_usage.
  bool includeUsage = false;
  /// Chat: the prompt was written in thinking mode (the output starts with
  /// reasoning).
  bool thinking = false;
  /// Chat: the start of the assistant's output that the prompt already
  /// holds, so the model goes on from it: the opening of a tool-call block
  /// for `tool_choice` "required", and of the named function's call for a
  /// named one. The output parser reads it before the generated text.
  std::string forcedOutput;
};

/// A chat-completions body: messages through DeepSeek-V4's chat encoding
/// (ChatEncoding.h), tokenized; needs a tokenizer. `seed` is used when the
/// request gives none.
Expected<ParsedRequest> parseChatCompletionRequest(std::string_view body,
                                                   const Model &model,
                                                   const ServeLimits &limits,
                                                   uint64_t seed);

/// A completions body: `prompt` as text (BOS, then its ids; needs a
/// tokenizer) or as token ids (taken as they are).
Expected<ParsedRequest> parseCompletionRequest(std::string_view body,
                                               const Model &model,
                                               const ServeLimits &limits,
                                               uint64_t seed);

} // namespace birkhoff::serve

#endif // BIRKHOFF_TOOLS_SERVE_REQUESTPARSING_H
