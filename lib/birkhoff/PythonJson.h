//===- PythonJson.h - JSON text as Python's json.dumps writes it ----------===//
//
// DeepSeek's chat encoder (encoding_dsv4.py) writes tool schemas, non-string
// tool-call arguments and parsed argument objects with Python's
// `json.dumps(value, ensure_ascii=False)`. The prompts the model was trained
// on hold that exact text, so Birkhoff writes JSON the same way:
//
//   * ", " between items and ": " after keys, keys in the order given;
//   * strings with `"` `\` `\n` `\r` `\t` `\b` `\f` escaped, the other control
//     characters as `\u00xx` (lowercase hex), everything else as itself;
//   * integers in full, floats as Python's repr: the shortest digits that
//     read back to the same double, `1.0`, `0.0001`, `1e-05`, `1e+16`.
//
// Integers beyond 64 bits arrive as doubles from nlohmann-json's parser and
// are written as floats, where Python would keep every digit.
//
//===----------------------------------------------------------------------===//
#ifndef BIRKHOFF_PYTHONJSON_H
#define BIRKHOFF_PYTHONJSON_H

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>

namespace birkhoff {

/// `value` as `json.dumps(value, ensure_ascii=False)` writes it.
std::string pythonJsonDumps(const nlohmann::ordered_json &value);

/// Appends the characters of `text` escaped as inside a Python JSON string,
/// without the quotes. Escaping works byte by byte, so the pieces of a text
/// escaped one after another equal the whole escaped at once.
void appendPythonJsonEscaped(std::string &out, std::string_view text);

/// `text` as a quoted Python JSON string.
std::string pythonJsonQuote(std::string_view text);

/// A double as Python's `repr(float)` writes it (finite values only).
std::string pythonFloatRepr(double value);

} // namespace birkhoff

#endif // BIRKHOFF_PYTHONJSON_H
