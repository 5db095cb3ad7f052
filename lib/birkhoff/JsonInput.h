//===- JsonInput.h - Parsing JSON that Birkhoff did not write -------------===//
//
// Every JSON text from outside (config.json, safetensors headers,
// tokenizer.json, generation_config.json, HTTP bodies) is parsed here, so
// that three rules hold everywhere:
//  - nesting is bounded (kMaxJsonDepth) before the parser runs: code that
//    walks a value recursively (dump(), conversions, our own readers) cannot
//    overflow the stack on `[[[[...]]]]`;
//  - duplicate object keys can be refused instead of "the last one wins";
//  - messages never echo unbounded input: values are shown through
//    jsonSnippet and parser messages are cut to a few dozen characters.
//
//===----------------------------------------------------------------------===//
#ifndef BIRKHOFF_JSONINPUT_H
#define BIRKHOFF_JSONINPUT_H

#include "birkhoff/Status.h"

#include <nlohmann/json.hpp>

#include <cstddef>
#include <string>
#include <string_view>

namespace birkhoff {

/// The deepest nesting of arrays and objects any input may have. The deepest
/// legitimate files (tokenizer.json, chat requests with JSON-schema tool
/// parameters) stay far below it.
inline constexpr int kMaxJsonDepth = 64;

/// How many characters of a value or a parser message go into an error.
inline constexpr size_t kJsonSnippetChars = 64;

struct JsonParseOptions {
  int maxDepth = kMaxJsonDepth;
  /// Refuse an object that names a key twice (at any depth).
  bool rejectDuplicateKeys = false;
};

/// Fails when `text` nests arrays/objects deeper than `maxDepth`. A linear
/// scan over brackets outside strings; it does not validate the JSON.
Status checkJsonDepth(std::string_view text, int maxDepth = kMaxJsonDepth);

/// Parses untrusted JSON under `options`. Errors are Corrupt and start with
/// `what` (a path, "request body", ...): "<what> is not valid JSON: ...".
Expected<nlohmann::json> parseJsonInput(std::string_view text,
                                        const std::string &what,
                                        const JsonParseOptions &options = {});
/// The same, keeping the members' order.
Expected<nlohmann::ordered_json>
parseOrderedJsonInput(std::string_view text, const std::string &what,
                      const JsonParseOptions &options = {});

/// `v` as compact JSON for a message, cut to about `maxChars` characters
/// ("..." marks the cut). Stops walking once the budget is spent, so its
/// cost and recursion are bounded by `maxChars`, not by the value.
std::string jsonSnippet(const nlohmann::json &v,
                        size_t maxChars = kJsonSnippetChars);
std::string jsonSnippet(const nlohmann::ordered_json &v,
                        size_t maxChars = kJsonSnippetChars);

/// `text` cut to `maxChars` characters plus "..." when longer, for putting
/// untrusted strings (keys, parser messages) into messages.
std::string truncateForMessage(std::string_view text,
                               size_t maxChars = kJsonSnippetChars);

} // namespace birkhoff

#endif // BIRKHOFF_JSONINPUT_H
