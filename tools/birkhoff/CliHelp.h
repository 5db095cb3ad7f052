//===- CliHelp.h - The help text of `birkhoff` and its commands -*- C++ -*-===//
//
// CLI11's formatter, replaced: a command's usage, what it does, then each
// argument and option with its description, its default and its range (the
// range from the option's validator, as Cli.cpp declares it).
//
//===----------------------------------------------------------------------===//
#ifndef BIRKHOFF_TOOLS_CLIHELP_H
#define BIRKHOFF_TOOLS_CLIHELP_H

#include <CLI/CLI.hpp>

#include <string>

namespace birkhoff::tools::cli {

/// The help of every app: its usage, what it does, its commands (the main
/// app's), arguments and options, each option with its default and range.
class HelpFormatter : public CLI::Formatter {
public:
  /// `usage`: the forms, one a line; `about`: paragraphs, one a line.
  HelpFormatter(std::string usage, std::string about)
      : usage_(std::move(usage)), about_(std::move(about)) {}

  /// "usage: <first form>" and the other forms below it.
  std::string usageText() const;

  std::string make_help(const CLI::App *app, std::string,
                        CLI::AppFormatMode) const override;

private:
  std::string usage_, about_;
};

} // namespace birkhoff::tools::cli

#endif // BIRKHOFF_TOOLS_CLIHELP_H
