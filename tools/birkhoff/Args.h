//===- Args.h - Small option parsing shared by the subcommands -------------===//
#ifndef BIRKHOFF_TOOLS_ARGS_H
#define BIRKHOFF_TOOLS_ARGS_H

#include "birkhoff/Status.h"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace birkhoff::tools {

/// `--name value`, `--name=value` and bare `--flag` options plus positionals.
/// Options not in `valued` or `flags` are errors, so typos never pass silently.
struct ParsedArgs {
  std::vector<std::string> positional;
  std::map<std::string, std::string> values;

  bool has(const std::string &name) const { return values.count(name) != 0; }
  std::string get(const std::string &name, const std::string &fallback = "") const;
  /// The option as an integer in [min, max], else `fallback` when absent.
  /// A value that is not an integer, does not fit 64 bits or is outside the
  /// range is an InvalidArgument naming the option, the value and the range
  /// (a usage error, exit 2): no value is narrowed or wrapped on its way in.
  Expected<int64_t> getInt(const std::string &name, int64_t fallback,
                           int64_t min, int64_t max) const;
  /// The option as a finite number in [min, max] (NaN and infinities are
  /// refused), else `fallback` when absent.
  Expected<double> getDouble(const std::string &name, double fallback,
                             double min, double max) const;
  /// A comma-separated integer list (parseIntList) with each item in
  /// [min, max], else an empty list when absent.
  Expected<std::vector<int64_t>> getIntList(const std::string &name,
                                            int64_t min, int64_t max) const;
};

Expected<ParsedArgs> parseArgs(int argc, char **argv,
                               const std::vector<std::string> &valued,
                               const std::vector<std::string> &flags);

/// "1,2,3" -> {1,2,3}, each item in [min, max]; errors name the bad item.
Expected<std::vector<int64_t>> parseIntList(const std::string &text,
                                            int64_t min, int64_t max);

/// The range of a token id given on the command line: an int32, the type
/// every token travels in (the model then checks it against its vocabulary).
inline constexpr int64_t kMaxTokenId = INT32_MAX;
/// The most threads a flag may ask for: a thread pool of more is a typo, and
/// creating them would fail with an exception rather than an error.
inline constexpr int64_t kMaxThreads = 4096;

} // namespace birkhoff::tools

#endif // BIRKHOFF_TOOLS_ARGS_H
