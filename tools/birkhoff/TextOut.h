//===- TextOut.h - A command's text on stdout, off under --json -----------===//
#ifndef BIRKHOFF_TOOLS_TEXTOUT_H
#define BIRKHOFF_TOOLS_TEXTOUT_H

#include <cstdarg>
#include <cstdio>

namespace birkhoff::tools {

/// printf to stdout unless the command's --json is on: its one JSON object
/// then stands for all the text, and both come from the same figures.
struct TextOut {
  bool on = true;
  __attribute__((format(printf, 2, 3))) void operator()(const char *fmt,
                                                        ...) const {
    if (!on)
      return;
    va_list ap;
    va_start(ap, fmt);
    std::vprintf(fmt, ap);
    va_end(ap);
  }
};

} // namespace birkhoff::tools

#endif // BIRKHOFF_TOOLS_TEXTOUT_H
