//===- StopStrings.h - Stop strings over streamed text --------------------===//
//
// Finds OpenAI's `stop` strings in text that arrives piece by piece. Text is
// let out as soon as no stop string can begin in it: the longest tail that is
// the start of a stop string waits for the next piece. When a stop string
// appears, the text before it is let out and the rest is dropped.
//
//===----------------------------------------------------------------------===//
#ifndef BIRKHOFF_TOOLS_SERVE_STOPSTRINGS_H
#define BIRKHOFF_TOOLS_SERVE_STOPSTRINGS_H

#include <string>
#include <string_view>
#include <vector>

namespace birkhoff::serve {

class StopStrings {
public:
  /// Empty strings are ignored.
  explicit StopStrings(std::vector<std::string> stops = {});

  /// Adds `text`; returns what can be let out. Sets `matched` once a stop
  /// string is found (then every later push returns nothing).
  std::string push(std::string_view text, bool &matched);
  /// The text is over: returns what was held back.
  std::string flush();

private:
  std::vector<std::string> stops_;
  std::string held_;
  bool matched_ = false;
};

} // namespace birkhoff::serve

#endif // BIRKHOFF_TOOLS_SERVE_STOPSTRINGS_H
