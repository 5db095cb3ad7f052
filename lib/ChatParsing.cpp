//===- ChatParsing.cpp - DeepSeek-V4 output as an OpenAI assistant message ===//
//
// The grammar is the one parse_message_from_completion_text and
// parse_tool_calls of DeepSeek's encoding_dsv4.py accept:
//
//   [reasoning "</think>"] content
//     ["\n\n<｜DSML｜tool_calls>\n" invoke* "</｜DSML｜tool_calls>"] EOS
//   invoke = "<｜DSML｜invoke" ws* "name=\"" NAME "\">\n" ["\n"]
//            param* "</｜DSML｜invoke>\n"
//   param  = "<｜DSML｜parameter name=\"" KEY "\" string=\"" ("true"|"false")
//            "\">" VALUE "</｜DSML｜parameter>\n"
//
// read one element at a time from a buffer: an element is consumed only when
// it is all there (or the text has ended), so every decision is the same
// whatever the split of the text. Three places are more lenient than
// DeepSeek's parser, which raises on them: the output may end without EOS,
// text after a block is content, and reasoning may hold DSML. Names and keys
// end at their first quote (DeepSeek's regexes would read on to a later
// `">`, which no tool name or JSON key written by the model has).
//
//===----------------------------------------------------------------------===//
#include "birkhoff/ChatParsing.h"
#include "birkhoff/ChatTokens.h"
#include "birkhoff/PythonJson.h"

#include <algorithm>
#include <initializer_list>

namespace birkhoff::chat {
namespace {

enum class Match { Yes, No, Partial };

/// Whether `literal` is at `pos`, or the text ends inside it.
Match matchAt(std::string_view buf, size_t pos, std::string_view literal) {
  size_t n = std::min(buf.size() - pos, literal.size());
  if (buf.substr(pos, n) != literal.substr(0, n))
    return Match::No;
  return n == literal.size() ? Match::Yes : Match::Partial;
}

/// `end` moved back to the start of a UTF-8 character it would cut.
size_t wholeCharacters(std::string_view buf, size_t from, size_t end) {
  for (size_t i = end, back = 1; i > from && back <= 4; --i, ++back) {
    auto c = static_cast<unsigned char>(buf[i - 1]);
    if ((c & 0xC0) == 0x80)
      continue; // a continuation byte
    size_t need = c < 0xC0 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
    return back < need ? i - 1 : end;
  }
  return end;
}

/// Where the text from `from` stops: at the first of `stops` found (`stop`
/// its index), or else (stop -1) where a tail that may begin one starts,
/// never inside a UTF-8 character. When `final`, nothing is held back.
struct Cut {
  size_t end;
  int stop;
};
Cut findStop(std::string_view buf, size_t from,
             std::initializer_list<std::string_view> stops, bool final) {
  Cut cut{std::string_view::npos, -1};
  size_t longest = 0;
  int i = 0;
  for (std::string_view s : stops) {
    size_t at = buf.find(s, from);
    if (at < cut.end)
      cut = {at, i};
    longest = std::max(longest, s.size());
    ++i;
  }
  if (cut.stop >= 0)
    return cut;
  if (final)
    return {buf.size(), -1};
  size_t start = std::max(from, buf.size() - std::min(buf.size(), longest));
  for (size_t at = start; at < buf.size(); ++at)
    for (std::string_view s : stops)
      if (matchAt(buf, at, s) == Match::Partial)
        return {at, -1};
  return {wholeCharacters(buf, from, buf.size()), -1};
}

/// A name after `opening` at `at`, which ends at its quote (`end`); a
/// newline or a tag before the quote means the name is broken.
Match quotedName(std::string_view buf, size_t at, std::string_view opening,
                 size_t &end) {
  Match m = matchAt(buf, at, opening);
  if (m != Match::Yes)
    return m;
  end = buf.find_first_of("\"\n<", at + opening.size());
  if (end == std::string_view::npos)
    return Match::Partial;
  return buf[end] == '"' ? Match::Yes : Match::No;
}

bool isSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' ||
         c == '\v';
}

} // namespace

void ParsedMessage::append(const OutputDelta &delta) {
  reasoning += delta.reasoning;
  content += delta.content;
  for (const ToolCallDelta &d : delta.toolCalls) {
    if (d.index >= toolCalls.size())
      toolCalls.resize(d.index + 1);
    ParsedToolCall &call = toolCalls[d.index];
    if (!d.id.empty())
      call.id = d.id;
    if (!d.name.empty())
      call.name = d.name;
    call.arguments += d.arguments;
  }
}

OutputParser::OutputParser(ParseOptions options)
    : options_(std::move(options)),
      state_(options_.thinking ? State::Reasoning : State::Content) {}

OutputDelta OutputParser::push(std::string_view text) {
  if (finished_ || state_ == State::Done)
    return {};
  buf_ += text;
  return run(/*final=*/false);
}

OutputDelta OutputParser::finish() {
  if (finished_)
    return {};
  OutputDelta out = run(/*final=*/true);
  finished_ = true;
  return out;
}

OutputDelta OutputParser::run(bool final) {
  OutputDelta out;
  while (step(final, out) == Step::Progress) {
  }
  // Keep only what may still be needed: the text not yet given to a field.
  size_t done = std::min(pos_, raw_);
  buf_.erase(0, done);
  pos_ -= done;
  raw_ -= done;
  valueScan_ -= std::min(valueScan_, done);
  return out;
}

OutputParser::Step OutputParser::step(bool final, OutputDelta &out) {
  switch (state_) {
  case State::Reasoning:
  case State::Content:
    return readText(final, out);
  case State::BlockOpen:
    return expect({{">\n", State::InvokeOrEnd}}, final, out);
  case State::InvokeOrEnd:
    return expect(
        {{kInvokeOpen, State::InvokeName}, {kToolCallsClose, State::Content}},
        final, out);
  case State::InvokeName:
    return readInvokeName(final, out);
  case State::InvokeBody:
    // DeepSeek's name pattern ends in `">\n$`, and Python's `$` also matches
    // before a last "\n": a call without parameters is written
    // `name="f">\n\n</｜DSML｜invoke>`.
    return expect({{kParameterOpen, State::ParamHeader},
                   {kInvokeClose, State::InvokeClose},
                   {"\n<｜DSML｜parameter", State::ParamHeader},
                   {"\n</｜DSML｜invoke", State::InvokeClose}},
                  final, out);
  case State::ParamHeader:
    return readParamHeader(final, out);
  case State::ParamValue:
    return readParamValue(final, out);
  case State::ParamClose:
    return expect({{">\n", State::AfterParam}}, final, out);
  case State::AfterParam:
    return expect({{kParameterOpen, State::ParamHeader},
                   {kInvokeClose, State::InvokeClose}},
                  final, out);
  case State::InvokeClose:
    return expect({{">\n", State::InvokeOrEnd}}, final, out);
  case State::Done:
    return Step::Wait;
  }
  return Step::Wait;
}

OutputParser::Step OutputParser::readText(bool final, OutputDelta &out) {
  bool reasoning = state_ == State::Reasoning;
  Cut cut = reasoning ? findStop(buf_, pos_, {kEos, kThinkEnd}, final)
                      : findStop(buf_, pos_, {kEos, kToolCallsStart}, final);
  (reasoning ? out.reasoning : out.content).append(buf_, pos_, cut.end - pos_);
  pos_ = raw_ = cut.end;
  if (cut.stop < 0)
    return Step::Wait;
  if (cut.stop == 0) {
    pos_ = raw_ = pos_ + kEos.size();
    sawEos_ = true;
    state_ = State::Done;
  } else if (reasoning) {
    pos_ = raw_ = pos_ + kThinkEnd.size();
    state_ = State::Content;
  } else {
    // The block's text is content again if it breaks before a call starts.
    pos_ += kToolCallsStart.size();
    state_ = State::BlockOpen;
  }
  return Step::Progress;
}

OutputParser::Step OutputParser::expect(std::initializer_list<Next> choices,
                                        bool final, OutputDelta &out) {
  bool partial = false;
  for (const Next &next : choices) {
    Match m = matchAt(buf_, pos_, next.literal);
    if (m == Match::Partial)
      partial = true;
    if (m != Match::Yes)
      continue;
    pos_ += next.literal.size();
    State from = state_;
    state_ = next.state;
    if (from == State::InvokeClose)
      endCall(out);
    // Markup of a committed call, or the end of a block, is given to nobody.
    if (from == State::ParamClose || from == State::InvokeClose ||
        next.state == State::Content)
      raw_ = pos_;
    return Step::Progress;
  }
  return waitOrFail(!partial, final, out);
}

OutputParser::Step OutputParser::readInvokeName(bool final, OutputDelta &out) {
  size_t p = pos_;
  while (p < buf_.size() && isSpace(buf_[p]))
    ++p;
  size_t nameEnd = 0;
  Match m = quotedName(buf_, p, "name=\"", nameEnd);
  if (m == Match::Yes)
    m = matchAt(buf_, nameEnd, "\">\n");
  if (m != Match::Yes)
    return waitOrFail(m == Match::No, final, out);
  size_t nameStart = p + std::string_view("name=\"").size();
  ToolCallDelta &d = callDelta(out);
  d.id = options_.toolCallIdPrefix + std::to_string(calls_);
  d.name = buf_.substr(nameStart, nameEnd - nameStart);
  callOpen_ = true;
  argsStarted_ = false;
  keys_.clear();
  pos_ = raw_ = nameEnd + 3;
  state_ = State::InvokeBody;
  return Step::Progress;
}

OutputParser::Step OutputParser::readParamHeader(bool final, OutputDelta &out) {
  constexpr std::string_view kOpening = " name=\"";
  constexpr std::string_view kString = "\" string=\"true\">";
  constexpr std::string_view kJson = "\" string=\"false\">";
  size_t keyEnd = 0;
  Match m = quotedName(buf_, pos_, kOpening, keyEnd);
  bool isString = false;
  if (m == Match::Yes) {
    Match s = matchAt(buf_, keyEnd, kString);
    Match j = matchAt(buf_, keyEnd, kJson);
    isString = s == Match::Yes;
    if (!isString && j != Match::Yes)
      m = s == Match::Partial || j == Match::Partial ? Match::Partial
                                                     : Match::No;
  }
  std::string key;
  if (m == Match::Yes) {
    key = buf_.substr(pos_ + kOpening.size(), keyEnd - pos_ - kOpening.size());
    // DeepSeek's parser rejects a key given twice.
    if (keys_.count(key))
      m = Match::No;
  }
  if (m != Match::Yes)
    return waitOrFail(m == Match::No, final, out);
  keys_.insert(key);
  keyIsString_ = isString;
  pos_ = valueScan_ = keyEnd + (isString ? kString : kJson).size();
  if (isString) {
    callDelta(out).arguments +=
        (argsStarted_ ? ", " : "{") + pythonJsonQuote(key) + ": \"";
    argsStarted_ = true;
    raw_ = pos_;
  } else {
    key_ = std::move(key);
  }
  state_ = State::ParamValue;
  return Step::Progress;
}

OutputParser::Step OutputParser::readParamValue(bool final, OutputDelta &out) {
  if (keyIsString_) {
    // A string value streams as it comes, escaped as in JSON.
    Cut cut = findStop(buf_, pos_, {kEos, kParameterClose}, final);
    if (cut.end > pos_)
      appendPythonJsonEscaped(
          callDelta(out).arguments,
          std::string_view(buf_).substr(pos_, cut.end - pos_));
    pos_ = raw_ = cut.end;
    if (cut.stop < 0 && !final)
      return Step::Wait;
    if (cut.stop != 1) { // the output ended inside the value
      fail(cut.end, out);
      return Step::Progress;
    }
    callDelta(out).arguments += '"';
    pos_ = raw_ = cut.end + kParameterClose.size();
    state_ = State::ParamClose;
    return Step::Progress;
  }
  // Other values are JSON text, given whole so that a break never leaves
  // half of one in the arguments.
  Cut cut = findStop(buf_, valueScan_, {kEos, kParameterClose}, final);
  if (cut.stop < 0 && !final) {
    valueScan_ = cut.end;
    return Step::Wait;
  }
  if (cut.stop != 1) {
    fail(cut.end, out);
    return Step::Progress;
  }
  callDelta(out).arguments += (argsStarted_ ? ", " : "{") +
                              pythonJsonQuote(key_) + ": " +
                              buf_.substr(pos_, cut.end - pos_);
  argsStarted_ = true;
  pos_ = raw_ = cut.end + kParameterClose.size();
  state_ = State::ParamClose;
  return Step::Progress;
}

OutputParser::Step OutputParser::waitOrFail(bool broken, bool final,
                                            OutputDelta &out) {
  if (!broken && !final)
    return Step::Wait;
  fail(pos_, out);
  return Step::Progress;
}

void OutputParser::fail(size_t at, OutputDelta &out) {
  if (callOpen_) {
    if (state_ == State::ParamValue && keyIsString_)
      callDelta(out).arguments += '"';
    endCall(out);
  }
  out.content.append(buf_, raw_, at - raw_);
  pos_ = raw_ = at;
  state_ = State::Content;
}

void OutputParser::endCall(OutputDelta &out) {
  callDelta(out).arguments += argsStarted_ ? "}" : "{}";
  callOpen_ = false;
  ++calls_;
}

ToolCallDelta &OutputParser::callDelta(OutputDelta &out) {
  if (out.toolCalls.empty() || out.toolCalls.back().index != calls_)
    out.toolCalls.push_back({calls_, "", "", ""});
  return out.toolCalls.back();
}

ParsedMessage parseOutput(std::string_view text, const ParseOptions &options) {
  OutputParser parser(options);
  ParsedMessage message;
  message.append(parser.push(text));
  message.append(parser.finish());
  return message;
}

std::string toOpenAIJson(const ParsedMessage &message, bool thinking) {
  nlohmann::ordered_json j;
  j["role"] = "assistant";
  j["content"] = message.content;
  if (thinking)
    j["reasoning_content"] = message.reasoning;
  if (!message.toolCalls.empty()) {
    nlohmann::ordered_json &calls = j["tool_calls"];
    for (const ParsedToolCall &call : message.toolCalls) {
      nlohmann::ordered_json function;
      function["name"] = call.name;
      function["arguments"] = call.arguments;
      nlohmann::ordered_json entry;
      entry["id"] = call.id;
      entry["type"] = "function";
      entry["function"] = std::move(function);
      calls.push_back(std::move(entry));
    }
  }
  return j.dump(2, ' ', false,
                nlohmann::ordered_json::error_handler_t::replace);
}

} // namespace birkhoff::chat
