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
  Expected<int64_t> getInt(const std::string &name, int64_t fallback) const;
  Expected<double> getDouble(const std::string &name, double fallback) const;
};

Expected<ParsedArgs> parseArgs(int argc, char **argv,
                               const std::vector<std::string> &valued,
                               const std::vector<std::string> &flags);

/// "1,2,3" -> {1,2,3}; errors name the bad item.
Expected<std::vector<int64_t>> parseIntList(const std::string &text);

} // namespace birkhoff::tools

#endif // BIRKHOFF_TOOLS_ARGS_H
