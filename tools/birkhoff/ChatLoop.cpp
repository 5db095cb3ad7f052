//===- ChatLoop.cpp - `birkhoff run --chat`: a chat on the terminal -------===//
//
// Reads one user message per line, writes the conversation in DeepSeek-V4's
// chat format (ChatEncoding.h), feeds the session what it has not seen yet
// and streams the reply: the reasoning (thinking mode) to stderr, the answer
// to stdout, parsed as it comes (ChatParsing.h) so no markup shows.
//
// The session keeps the tokens it was fed. A turn whose prompt extends them
// feeds only the new tokens; one that does not (the re-encoded reply may
// tokenize differently from the ids the model sampled, and earlier turns'
// reasoning is dropped from the prompt) starts the session over.
//
//===----------------------------------------------------------------------===//
#include "ChatLoop.h"

#include "birkhoff/ChatEncoding.h"
#include "birkhoff/ChatParsing.h"

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <string>

namespace birkhoff::tools {

namespace {

void write(FILE *f, const std::string &text) {
  std::fwrite(text.data(), 1, text.size(), f);
  std::fflush(f);
}

} // namespace

Status runChatLoop(const std::shared_ptr<const Model> &model, Session &session,
                   const ChatLoopOptions &options) {
  if (!model->hasTokenizer())
    return unsupported("--chat needs an artifact with a tokenizer");
  std::vector<chat::Message> messages;
  if (!options.system.empty()) {
    chat::Message m;
    m.role = chat::Role::System;
    m.content = options.system;
    messages.push_back(m);
  }
  std::vector<int32_t> fed; // what the session holds
  const ModelInfo &info = model->info();
  std::fprintf(stderr, "chat: one message per line; /reset starts over, "
                       "/exit or end of input quits\n");
  std::string line;
  for (;;) {
    std::fprintf(stderr, "> ");
    std::fflush(stderr);
    if (!std::getline(std::cin, line) || line == "/exit")
      return Status::ok();
    if (line == "/reset") {
      messages.resize(options.system.empty() ? 0 : 1);
      session.reset();
      fed.clear();
      continue;
    }
    if (line.empty())
      continue;
    chat::Message user;
    user.role = chat::Role::User;
    user.content = line;
    messages.push_back(user);
    const std::string prompt =
        chat::encodeMessages(messages, options.thinking, options.effort);
    BK_ASSIGN_OR_RETURN(std::vector<int32_t> ids, model->encode(prompt));
    const bool extends = ids.size() > fed.size() &&
                         std::equal(fed.begin(), fed.end(), ids.begin());
    if (!extends) {
      session.reset();
      fed.clear();
    }
    if (int64_t(ids.size()) + 1 > session.capacity()) {
      messages.pop_back();
      std::fprintf(stderr,
                   "chat: the conversation (%zu tokens) no longer fits the "
                   "context (%lld): /reset to start over\n",
                   ids.size(), (long long)session.capacity());
      continue;
    }
    GenerateOptions g = options.generate;
    g.maxNewTokens = std::min<int64_t>(g.maxNewTokens, session.capacity() -
                                                           int64_t(ids.size()));
    BK_ASSIGN_OR_RETURN(std::unique_ptr<TextDecoder> text,
                        TextDecoder::create(*model));
    chat::ParseOptions po;
    po.thinking = options.thinking;
    chat::OutputParser parser(po);
    chat::ParsedMessage reply;
    Status streamError = Status::ok();
    auto show = [&](const chat::OutputDelta &d) {
      if (!d.reasoning.empty())
        write(stderr, d.reasoning);
      write(stdout, d.content);
      reply.append(d);
    };
    std::vector<int32_t> generated;
    auto result = session.generate(
        std::span<const int32_t>(ids).subspan(fed.size()), g, [&](int32_t tok) {
          generated.push_back(tok);
          Expected<std::string> piece = text->push(tok);
          if (!piece) {
            streamError = piece.status();
            return false;
          }
          show(parser.push(*piece));
          return true;
        });
    BK_RETURN_IF_ERROR(result.status());
    BK_RETURN_IF_ERROR(streamError);
    show(parser.push(text->finish()));
    show(parser.finish());
    write(stdout, "\n");
    fed = ids;
    fed.insert(fed.end(), generated.begin(), generated.end());
    if (result->stop != GenerateResult::Stop::Eos &&
        !(generated.size() > 0 && info.isEndOfSequence(generated.back())))
      std::fprintf(
          stderr, "chat: reply cut at %zu tokens (%s)\n", generated.size(),
          result->stop == GenerateResult::Stop::ContextFull ? "context full"
                                                            : "--generate");
    chat::Message assistant;
    assistant.role = chat::Role::Assistant;
    assistant.content = reply.content;
    assistant.reasoning = reply.reasoning;
    messages.push_back(assistant);
  }
}

} // namespace birkhoff::tools
