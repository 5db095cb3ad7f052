//===- ChatEncoding.h - DeepSeek-V4 chat messages as prompt text ----------===//
//
// Writes a conversation as the prompt DeepSeek-V4 reads, byte for byte what
// DeepSeek's encoder (encoding/encoding_dsv4.py of the DeepSeek-V4-Flash
// release, `encode_messages`) writes for the same messages (docs/chat.md):
//
//   <｜begin▁of▁sentence｜>{system}<｜User｜>{user}<｜Assistant｜></think>
//   {reply}<｜end▁of▁sentence｜><｜User｜>{user}<｜Assistant｜></think>
//
// with `<think>` in place of `</think>` in thinking mode; earlier turns'
// reasoning dropped unless tools are in use; tools described in the system
// (or developer) text; assistant tool calls in DSML; tool results merged into
// the next user turn as <tool_result> blocks, in the order of the calls.
//
//===----------------------------------------------------------------------===//
#ifndef BIRKHOFF_CHATENCODING_H
#define BIRKHOFF_CHATENCODING_H

#include "birkhoff/ChatRequest.h"

namespace birkhoff::chat {

/// The prompt of `messages`: thinking mode (`<think>` opens each reply the
/// prompt asks for) or chat mode (`</think>` closes the reasoning at once),
/// and in thinking mode the effort prompt for Max before everything else.
std::string encodeMessages(const std::vector<Message> &messages, bool thinking,
                           ReasoningEffort effort);

struct EncodeOptions {
  /// Overrides the request's `thinking`; with neither, chat mode.
  std::optional<bool> thinking;
  /// Overrides the request's `reasoning_effort`; with neither, High.
  std::optional<ReasoningEffort> effort;
};

struct EncodedPrompt {
  std::string text;
  /// The mode the prompt was written in; an output parser (ChatParsing.h)
  /// needs it to know whether the reply starts with reasoning.
  bool thinking = false;
  ReasoningEffort effort = ReasoningEffort::High;
};

/// How an assistant's DSML tool calls begin, as the encoder writes them after
/// the reply's content: the block's opening, then each call's invoke opening
/// (`serve` appends them to a prompt to force a call, tool_choice).
std::string toolCallsOpening();
std::string invokeOpening(std::string_view name);

/// The prompt of an OpenAI chat-completions request body (ChatRequest.h).
Expected<EncodedPrompt> encodeRequest(std::string_view json,
                                      const EncodeOptions &options = {});

} // namespace birkhoff::chat

#endif // BIRKHOFF_CHATENCODING_H
