//===- JsonOut.h - A command's --json object on stdout ----------*- C++ -*-===//
#ifndef BIRKHOFF_TOOLS_JSONOUT_H
#define BIRKHOFF_TOOLS_JSONOUT_H

#include <nlohmann/json.hpp>

#include <cstdio>

namespace birkhoff::tools {

/// Prints `j` indented by 2, then a newline. Invalid UTF-8 in a string (a
/// generated text cut mid-character, a device name) becomes U+FFFD rather
/// than throwing out of the command.
inline void printJson(const nlohmann::json &j) {
  std::printf("%s\n",
              j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace)
                  .c_str());
}

} // namespace birkhoff::tools

#endif // BIRKHOFF_TOOLS_JSONOUT_H
