//===- Args.cpp -----------------------------------------------------------===//
#include "Args.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <optional>

namespace birkhoff::tools {

std::string ParsedArgs::get(const std::string &name, const std::string &fallback) const {
  auto it = values.find(name);
  return it == values.end() ? fallback : it->second;
}

namespace {

/// "[min, max]" with the ends written as integers.
std::string rangeText(int64_t min, int64_t max) {
  return "[" + std::to_string(min) + ", " + std::to_string(max) + "]";
}

/// `text` as an integer in [min, max]; nullopt when it is not one.
std::optional<int64_t> parseInt(const std::string &text, int64_t min,
                                int64_t max) {
  errno = 0;
  char *end = nullptr;
  long long v = std::strtoll(text.c_str(), &end, 10);
  if (text.empty() || errno || *end || v < min || v > max)
    return std::nullopt;
  return int64_t(v);
}

} // namespace

Expected<int64_t> ParsedArgs::getInt(const std::string &name, int64_t fallback,
                                     int64_t min, int64_t max) const {
  auto it = values.find(name);
  if (it == values.end())
    return fallback;
  if (std::optional<int64_t> v = parseInt(it->second, min, max))
    return *v;
  return invalidArgument("--" + name + " expects an integer in " +
                         rangeText(min, max) + ", got '" + it->second + "'");
}

Expected<double> ParsedArgs::getDouble(const std::string &name, double fallback,
                                       double min, double max) const {
  auto it = values.find(name);
  if (it == values.end())
    return fallback;
  errno = 0;
  char *end = nullptr;
  double v = std::strtod(it->second.c_str(), &end);
  // strtod takes "nan" and "inf"; no option means either.
  if (errno || end == it->second.c_str() || *end || !std::isfinite(v) ||
      v < min || v > max) {
    char range[64];
    std::snprintf(range, sizeof(range), "[%g, %g]", min, max);
    return invalidArgument("--" + name + " expects a finite number in " +
                           range + ", got '" + it->second + "'");
  }
  return v;
}

Expected<std::vector<int64_t>> ParsedArgs::getIntList(const std::string &name,
                                                      int64_t min,
                                                      int64_t max) const {
  auto it = values.find(name);
  if (it == values.end())
    return std::vector<int64_t>();
  Expected<std::vector<int64_t>> list = parseIntList(it->second, min, max);
  if (!list)
    return list.status().withContext("--" + name);
  return list;
}

Expected<ParsedArgs> parseArgs(int argc, char **argv,
                               const std::vector<std::string> &valued,
                               const std::vector<std::string> &flags) {
  ParsedArgs out;
  auto isIn = [](const std::vector<std::string> &v, const std::string &s) {
    return std::find(v.begin(), v.end(), s) != v.end();
  };
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg.rfind("--", 0) != 0 || arg == "--") {
      out.positional.push_back(arg);
      continue;
    }
    std::string name = arg.substr(2), value;
    bool inlineValue = false;
    if (auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      inlineValue = true;
    }
    if (isIn(flags, name)) {
      if (inlineValue)
        return invalidArgument("--" + name + " takes no value");
      out.values[name] = "1";
    } else if (isIn(valued, name)) {
      if (!inlineValue) {
        if (i + 1 >= argc)
          return invalidArgument("--" + name + " needs a value");
        value = argv[++i];
      }
      out.values[name] = value;
    } else {
      return invalidArgument("unknown option --" + name);
    }
  }
  return out;
}

Expected<std::vector<int64_t>> parseIntList(const std::string &text,
                                            int64_t min, int64_t max) {
  std::vector<int64_t> out;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t comma = text.find(',', pos);
    std::string item = text.substr(pos, comma == std::string::npos ? std::string::npos
                                                                    : comma - pos);
    std::optional<int64_t> v = parseInt(item, min, max);
    if (!v)
      return invalidArgument("'" + item + "' in '" + text +
                             "' is not an integer in " + rangeText(min, max));
    out.push_back(*v);
    if (comma == std::string::npos)
      break;
    pos = comma + 1;
  }
  return out;
}

} // namespace birkhoff::tools
