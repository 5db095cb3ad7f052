//===- Args.cpp -----------------------------------------------------------===//
#include "Args.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>

namespace birkhoff::tools {

std::string ParsedArgs::get(const std::string &name, const std::string &fallback) const {
  auto it = values.find(name);
  return it == values.end() ? fallback : it->second;
}

Expected<int64_t> ParsedArgs::getInt(const std::string &name, int64_t fallback) const {
  auto it = values.find(name);
  if (it == values.end())
    return fallback;
  errno = 0;
  char *end = nullptr;
  long long v = std::strtoll(it->second.c_str(), &end, 10);
  if (errno || end == it->second.c_str() || *end)
    return invalidArgument("--" + name + " expects an integer, got '" + it->second + "'");
  return int64_t(v);
}

Expected<double> ParsedArgs::getDouble(const std::string &name, double fallback) const {
  auto it = values.find(name);
  if (it == values.end())
    return fallback;
  errno = 0;
  char *end = nullptr;
  double v = std::strtod(it->second.c_str(), &end);
  if (errno || end == it->second.c_str() || *end)
    return invalidArgument("--" + name + " expects a number, got '" + it->second + "'");
  return v;
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

Expected<std::vector<int64_t>> parseIntList(const std::string &text) {
  std::vector<int64_t> out;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t comma = text.find(',', pos);
    std::string item = text.substr(pos, comma == std::string::npos ? std::string::npos
                                                                    : comma - pos);
    errno = 0;
    char *end = nullptr;
    long long v = std::strtoll(item.c_str(), &end, 10);
    if (item.empty() || errno || *end)
      return invalidArgument("'" + item + "' in '" + text + "' is not an integer");
    out.push_back(v);
    if (comma == std::string::npos)
      break;
    pos = comma + 1;
  }
  return out;
}

} // namespace birkhoff::tools
