//===- Cli.h - The commands' options, declared once over CLI11 --*- C++ -*-===//
//
// Every option of every `birkhoff` command is declared by one call here that
// names its range: the same declaration checks the value, before any work
// starts, and writes the option's help line (its default and its range).
//
// CLI11 splits the command line (subcommands, `--opt value`, `--opt=value`,
// `-o value`, flags, positionals); the values are read here, not by CLI11's
// converters: integers in base 10 into 64 bits (CLI11's would take "010" as
// octal), then range-checked, never narrowed or wrapped; reals finite and in
// range. A bad value is a usage error (exit 2) whose message names the option,
// the value and the range: "--threads expects an integer in [0, 4096], got
// '100000'" (docs/cli.md).
//
//===----------------------------------------------------------------------===//
#ifndef BIRKHOFF_TOOLS_CLI_H
#define BIRKHOFF_TOOLS_CLI_H

#include "birkhoff/Status.h"

#include <CLI/CLI.hpp>

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace birkhoff::tools::cli {

/// The range of a token id given on the command line: an int32, the type
/// every token travels in (the model then checks it against its vocabulary).
inline constexpr int64_t kMaxTokenId = INT32_MAX;
/// The most threads an option may ask for: a thread pool of more is a typo,
/// and creating them would fail with an exception rather than an error.
inline constexpr int64_t kMaxThreads = 4096;

/// A usage error (exit 2) carrying its whole message. The checks throw it
/// through CLI11 because CLI11 would put "--name: " before a validator's
/// message, and the documented messages read "--name expects ...".
class UsageError : public CLI::ParseError {
public:
  explicit UsageError(const std::string &message);
};

//===----------------------------------------------------------------------===//
// Values
//===----------------------------------------------------------------------===//

/// `text` as a base-10 integer in [min, max]; nullopt when it is not one.
std::optional<int64_t> parseInt(const std::string &text, int64_t min,
                                int64_t max);

/// "1,2,3" -> {1,2,3}, each item in [min, max]; the error names the bad item:
/// "'x' in '1,x' is not an integer in [0, 2147483647]".
Expected<std::vector<int64_t>> parseIntList(const std::string &text,
                                            int64_t min, int64_t max);

/// "[min, max]".
std::string rangeText(int64_t min, int64_t max);

/// A check of an option's text: "" when it takes it, else the whole error
/// message ("--arch expects a CUDA architecture like sm_90a, got 'x'").
using Check = std::function<std::string(const std::string &)>;

/// The reals an option takes: finite, in [min, max], or (min, max] when
/// `minOpen` (--top-p: 0 keeps no token).
struct RealRange {
  double min, max;
  bool minOpen = false;
};

//===----------------------------------------------------------------------===//
// Declarations
//===----------------------------------------------------------------------===//
//
// `spec` is the option's names and, for one that takes a value, the value's
// name as the help shows it: "--threads N", "-o,--output FILE", "--verify".
// Without a `defaultText` the help shows the variable's value at declaration
// as the default; an optional variable stays empty unless the option is given.
// Given twice, an option takes its last value (each value is still checked).

CLI::Option *addInt(CLI::App &app, const std::string &spec, int64_t &value,
                    int64_t min, int64_t max, const std::string &help,
                    const std::string &defaultText = "");
CLI::Option *addInt(CLI::App &app, const std::string &spec,
                    std::optional<int64_t> &value, int64_t min, int64_t max,
                    const std::string &help, const std::string &defaultText);
CLI::Option *addReal(CLI::App &app, const std::string &spec, double &value,
                     RealRange range, const std::string &help,
                     const std::string &defaultText = "");
CLI::Option *addReal(CLI::App &app, const std::string &spec,
                     std::optional<double> &value, RealRange range,
                     const std::string &help, const std::string &defaultText);
/// A comma-separated list of integers, each in [min, max]; an empty value is
/// an empty list only where `allowEmpty`.
CLI::Option *addIntList(CLI::App &app, const std::string &spec,
                        std::vector<int64_t> &value, int64_t min, int64_t max,
                        const std::string &help, bool allowEmpty = false);
/// One of `choices`; the help's value name is them joined by '|'.
CLI::Option *addChoice(CLI::App &app, const std::string &spec,
                       std::string &value,
                       const std::vector<std::string> &choices,
                       const std::string &help);
CLI::Option *addChoice(CLI::App &app, const std::string &spec,
                       std::optional<std::string> &value,
                       const std::vector<std::string> &choices,
                       const std::string &help, const std::string &defaultText);
/// Any text (a path, a name). `check`, when given, returns an error message
/// for a value it refuses, "" for one it takes.
CLI::Option *addText(CLI::App &app, const std::string &spec, std::string &value,
                     const std::string &help,
                     const std::string &defaultText = "",
                     Check check = nullptr);
CLI::Option *addText(CLI::App &app, const std::string &spec,
                     std::optional<std::string> &value, const std::string &help,
                     const std::string &defaultText);
/// A flag: on when given; `--flag=value` is refused.
CLI::Option *addFlag(CLI::App &app, const std::string &spec, bool &value,
                     const std::string &help);
/// A positional argument, e.g. "artifact".
CLI::Option *addPositional(CLI::App &app, const std::string &name,
                           std::string &value, const std::string &help,
                           bool required = true);

/// Adds a check of the option's value after the declaration's own (a shape
/// the range does not say: `--chunks P,C` with P >= 1); `check` returns the
/// whole error message for a value it refuses, "" for one it takes.
CLI::Option *alsoCheck(CLI::Option *opt, Check check);

/// `--device host|cuda|cuda:N`, as Model::load reads it.
CLI::Option *addDevice(CLI::App &app, std::string &value);

//===----------------------------------------------------------------------===//
// Commands
//===----------------------------------------------------------------------===//

/// What runs a command once its options are parsed and checked; it returns
/// the exit status: 0 success, 1 the work failed (message on stderr), 2 a
/// usage error (through usageError).
using Runner = std::function<int()>;

struct Command {
  const char *name;
  /// One line for `birkhoff --help`.
  const char *summary;
  /// The command's forms, one a line, each "birkhoff <name> ...".
  const char *usage;
  /// What it does, for its --help, before the options.
  const char *about;
  /// Declares the options on the command's CLI::App and returns its runner,
  /// which reads the variables the declarations bound.
  Runner (*declare)(CLI::App &app);
};

/// Parses `argv` ("birkhoff <command> ...") against `commands` and runs the
/// chosen one. Also `birkhoff --help`, `birkhoff --version` (the command named
/// "version"), `birkhoff help [<command>]` and `birkhoff <command> --help`.
/// Exit 2 for any usage error, printed as usageError prints it.
int runTool(std::span<const Command> commands, int argc,
            const char *const *argv);

/// Prints a usage error found after parsing (an option combination that the
/// declarations do not express) as the parser's are printed: "birkhoff
/// <command>: <message>", then the command's usage. Returns 2.
int usageError(const CLI::App &app, const std::string &message);

} // namespace birkhoff::tools::cli

#endif // BIRKHOFF_TOOLS_CLI_H
