//===- Log.cpp - What the tools say on stderr, by level -------------------===//
#include "birkhoff/Log.h"

#include <atomic>
#include <cstdarg>
#include <cstdio>

namespace birkhoff {
namespace {
std::atomic<int> gLevel{int(LogLevel::Info)};
} // namespace

void setLogLevel(LogLevel level) { gLevel.store(int(level)); }

LogLevel logLevel() { return LogLevel(gLevel.load()); }

std::optional<LogLevel> parseLogLevel(std::string_view text) {
  if (text == "error")
    return LogLevel::Error;
  if (text == "warning")
    return LogLevel::Warning;
  if (text == "info")
    return LogLevel::Info;
  if (text == "debug")
    return LogLevel::Debug;
  return std::nullopt;
}

void logf(LogLevel level, const char *format, ...) {
  if (!logs(level))
    return;
  va_list args;
  va_start(args, format);
  std::vfprintf(stderr, format, args);
  va_end(args);
}

} // namespace birkhoff
