//===- ChatLoop.h - `birkhoff run --chat` -----------------------*- C++ -*-===//
#ifndef BIRKHOFF_TOOLS_CHATLOOP_H
#define BIRKHOFF_TOOLS_CHATLOOP_H

#include "birkhoff/ChatRequest.h"
#include "birkhoff/Runtime.h"

namespace birkhoff::tools {

struct ChatLoopOptions {
  std::string system;    // a system message first, when not empty
  bool thinking = false; // thinking mode (reasoning shown on stderr)
  chat::ReasoningEffort effort = chat::ReasoningEffort::High;
  GenerateOptions generate; // maxNewTokens bounds each reply
};

/// Chats on stdin/stdout until end of input or `/exit`.
Status runChatLoop(const std::shared_ptr<const Model> &model, Session &session,
                   const ChatLoopOptions &options);

} // namespace birkhoff::tools

#endif // BIRKHOFF_TOOLS_CHATLOOP_H
