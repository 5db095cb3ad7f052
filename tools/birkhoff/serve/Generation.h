//===- Generation.h - One request's generation, as the scheduler runs it --===//
//
// What `birkhoff serve` asks of the scheduler for one request (its prompt ids,
// sampling, limits and stop conditions) and what comes back as it runs (new
// token ids, new text, and at the end why it finished). Independent of HTTP.
//
//===----------------------------------------------------------------------===//
#ifndef BIRKHOFF_TOOLS_SERVE_GENERATION_H
#define BIRKHOFF_TOOLS_SERVE_GENERATION_H

#include "birkhoff/Runtime.h"

#include <cstdint>
#include <string>
#include <vector>

namespace birkhoff::serve {

struct GenerationRequest {
  std::vector<int32_t> prompt;
  /// Tokens to generate at most (>= 1).
  int64_t maxTokens = 16;
  /// temperature, topK, topP, seed, stopAtEos and stopTokens as
  /// Session::generate reads them (maxNewTokens is not read: maxTokens is).
  GenerateOptions sampling;
  /// Generation ends when the decoded text holds one of these; the text from
  /// the stop string on is not returned. Needs `text`.
  std::vector<std::string> stop;
  /// Decode the generated ids into text (the model has a tokenizer).
  bool text = true;
};

enum class FinishReason {
  None,      // still running
  Stop,      // end of sequence, a stop token or a stop string
  Length,    // maxTokens, or the context is full
  Cancelled, // the client went away (RequestHandle::cancel)
  Aborted,   // the server shut down before it finished
  Error,     // the engine failed; RequestUpdate::error says why
};

/// "stop", "length", "cancelled", "aborted", "error" (OpenAI's names where
/// it has them).
const char *finishReasonName(FinishReason reason);

/// What a request produced since the last look: every sampled id but an
/// end-of-sequence or stop token, the text those ids complete (whole UTF-8
/// characters, text that may begin a stop string held back), and once it
/// ends, why.
struct RequestUpdate {
  std::vector<int32_t> tokens;
  std::string text;
  FinishReason finish = FinishReason::None;
  Status error;
  /// Totals so far: the prompt's ids and every sampled id (end of sequence
  /// included).
  int64_t promptTokens = 0;
  int64_t completionTokens = 0;

  bool finished() const { return finish != FinishReason::None; }
  /// Appends a later update to this one.
  void append(RequestUpdate &&later);
};

} // namespace birkhoff::serve

#endif // BIRKHOFF_TOOLS_SERVE_GENERATION_H
