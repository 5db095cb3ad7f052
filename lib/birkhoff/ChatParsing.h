//===- ChatParsing.h - DeepSeek-V4 output as an OpenAI assistant message --===//
//
// Reads what DeepSeek-V4 writes after a prompt (ChatEncoding.h), piece by
// piece as it is generated, into an assistant message: in thinking mode the
// reasoning up to `</think>`, then the content, and DSML tool-call blocks
// turned into OpenAI tool calls whose arguments are JSON text; the
// end-of-sentence token ends the message and is not part of it. On
// well-formed output the result is what DeepSeek's
// parse_message_from_completion_text returns (docs/chat.md).
//
// Streaming: each push() returns only text that is decided. Text that might
// be the start of `</think>`, of a tool-call block or of the end-of-sentence
// token waits for the next piece, and so does the end of a piece that splits
// a UTF-8 character, so no delta holds half a tag or half a character and the
// deltas of any split of a text add up to the same message.
//
// Malformed DSML is never an error. A tool call is committed once its
// `<｜DSML｜invoke name="...">` line is complete; until then the block's text
// waits, and if it breaks there it is returned as content. If a committed
// call breaks (or the text ends inside it), the call ends where it broke with
// its arguments closed as a JSON object of the parameters it had (a string
// value cut short stays cut short), and the text from there on is read as
// content. A break is what DeepSeek's parser rejects inside a block, and a
// name or key holding a newline or `<` before its closing quote (which
// DeepSeek's parser would read on through).
//
//===----------------------------------------------------------------------===//
#ifndef BIRKHOFF_CHATPARSING_H
#define BIRKHOFF_CHATPARSING_H

#include <cstddef>
#include <initializer_list>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace birkhoff::chat {

/// A piece of one tool call: its first delta has `id` and `name`; the
/// `arguments` fragments of all its deltas add up to its JSON arguments.
struct ToolCallDelta {
  size_t index = 0;
  std::string id;
  std::string name;
  std::string arguments;
};

/// What one push() or finish() adds to the message. Tool-call deltas come in
/// call order, at most one per call.
struct OutputDelta {
  std::string reasoning;
  std::string content;
  std::vector<ToolCallDelta> toolCalls;

  bool empty() const {
    return reasoning.empty() && content.empty() && toolCalls.empty();
  }
};

struct ParsedToolCall {
  std::string id;
  std::string name;
  /// JSON text, as DeepSeek's parser writes it: `{"key": value, ...}`.
  std::string arguments;
};

struct ParsedMessage {
  std::string reasoning;
  std::string content;
  std::vector<ParsedToolCall> toolCalls;

  /// Adds a delta: the text to its fields, the tool-call pieces to their
  /// calls.
  void append(const OutputDelta &delta);
};

struct ParseOptions {
  /// The prompt was written in thinking mode: the output starts with
  /// reasoning.
  bool thinking = false;
  /// Tool call i gets the id `<prefix><i>`. A server wants a prefix unique to
  /// the request.
  std::string toolCallIdPrefix = "call_";
};

/// An incremental parser of one reply. Not thread-safe; one per stream.
class OutputParser {
public:
  explicit OutputParser(ParseOptions options = {});

  /// Reads the next piece of the output (any split, even inside a UTF-8
  /// character) and returns what it decides.
  OutputDelta push(std::string_view text);
  /// The output is complete: returns what was waiting. Text pushed after
  /// finish() or after the end-of-sentence token is ignored.
  OutputDelta finish();
  /// Whether the end-of-sentence token has been read.
  bool sawEndOfSentence() const { return sawEos_; }

private:
  enum class State {
    Reasoning,
    Content,
    BlockOpen,   // after "\n\n<｜DSML｜tool_calls": ">\n"
    InvokeOrEnd, // "<｜DSML｜invoke" or "</｜DSML｜tool_calls>"
    InvokeName,  // ` name="NAME">\n`
    InvokeBody,  // after the name line: a parameter or the invoke's end
    ParamHeader, // ` name="KEY" string="true|false">`
    ParamValue,  // up to "</｜DSML｜parameter"
    ParamClose,  // ">\n"
    AfterParam,  // another parameter or the invoke's end
    InvokeClose, // ">\n" after "</｜DSML｜invoke"
    Done,
  };
  enum class Step { Progress, Wait };
  /// A literal that may come next and the state after it.
  struct Next {
    std::string_view literal;
    State state;
  };

  OutputDelta run(bool final);
  Step step(bool final, OutputDelta &out);
  Step readText(bool final, OutputDelta &out);
  Step expect(std::initializer_list<Next> choices, bool final,
              OutputDelta &out);
  Step readInvokeName(bool final, OutputDelta &out);
  Step readParamHeader(bool final, OutputDelta &out);
  Step readParamValue(bool final, OutputDelta &out);
  /// An element that is not all there: wait for more text, unless it is
  /// `broken` or the text has ended.
  Step waitOrFail(bool broken, bool final, OutputDelta &out);
  /// The DSML broke at `at`: close an open call and give the text not given
  /// to it to the content, which is read on from `at`.
  void fail(size_t at, OutputDelta &out);
  void endCall(OutputDelta &out);
  ToolCallDelta &callDelta(OutputDelta &out);

  ParseOptions options_;
  State state_;
  std::string buf_;
  size_t pos_ = 0; // next byte to read
  size_t raw_ = 0; // start of the text read but given to no field yet
  bool sawEos_ = false;
  bool finished_ = false;

  // The open tool call.
  bool callOpen_ = false;
  size_t calls_ = 0;
  bool argsStarted_ = false;
  std::set<std::string> keys_;
  std::string key_;
  bool keyIsString_ = false;
  /// Where to look on for the end of a JSON value that is not all there.
  size_t valueScan_ = 0;
};

/// The whole output at once: push(text) then finish().
ParsedMessage parseOutput(std::string_view text,
                          const ParseOptions &options = {});

/// The message as an OpenAI chat-completions assistant message, indented
/// JSON: role, content, reasoning_content (thinking mode), tool_calls (when
/// there are any) with id, type "function" and function.name/arguments.
/// Invalid UTF-8 in the model's text becomes U+FFFD.
std::string toOpenAIJson(const ParsedMessage &message, bool thinking);

} // namespace birkhoff::chat

#endif // BIRKHOFF_CHATPARSING_H
