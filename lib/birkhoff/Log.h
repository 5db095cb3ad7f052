//===- Log.h - What the tools say on stderr, by level -----------*- C++ -*-===//
//
// One process-wide level decides which of the tools' stderr messages appear:
// errors always, warnings at `warning` and above, progress and the
// informational lines (what was written, timings, the device) at `info`
// (the default), detail at `debug`. `--quiet` is `--log-level error`.
// Results (token ids, JSON, tables) go to stdout and do not depend on it.
//
//===----------------------------------------------------------------------===//
#ifndef BIRKHOFF_LOG_H
#define BIRKHOFF_LOG_H

#include <optional>
#include <string_view>

namespace birkhoff {

enum class LogLevel { Error = 0, Warning = 1, Info = 2, Debug = 3 };

void setLogLevel(LogLevel level);
LogLevel logLevel();
/// Whether messages of `level` appear.
inline bool logs(LogLevel level) { return level <= logLevel(); }

/// "error", "warning", "info", "debug"; nullopt for anything else.
std::optional<LogLevel> parseLogLevel(std::string_view text);

/// printf to stderr when `level` appears.
[[gnu::format(printf, 2, 3)]] void logf(LogLevel level, const char *format,
                                        ...);

} // namespace birkhoff

#endif // BIRKHOFF_LOG_H
