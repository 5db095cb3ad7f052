//===- Generation.cpp - One request's generation --------------------------===//
#include "Generation.h"

namespace birkhoff::serve {

const char *finishReasonName(FinishReason reason) {
  switch (reason) {
  case FinishReason::None:
    return "none";
  case FinishReason::Stop:
    return "stop";
  case FinishReason::Length:
    return "length";
  case FinishReason::Cancelled:
    return "cancelled";
  case FinishReason::Aborted:
    return "aborted";
  case FinishReason::Error:
    return "error";
  }
  return "unknown";
}

void RequestUpdate::append(RequestUpdate &&later) {
  tokens.insert(tokens.end(), later.tokens.begin(), later.tokens.end());
  text += later.text;
  if (later.finished()) {
    finish = later.finish;
    error = std::move(later.error);
  }
  promptTokens = later.promptTokens;
  completionTokens = later.completionTokens;
}

} // namespace birkhoff::serve
