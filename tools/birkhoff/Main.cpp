//===- Main.cpp - The `birkhoff` command-line tool ------------------------===//
#include "Commands.h"

#include <cstdio>
#include <exception>
#include <new>

namespace {

/// Parses the command line and runs the command, turning an exception that
/// got this far into exit status 1. Errors travel as Status values (usage
/// errors as CLI11's exceptions, caught by runTool); an exception here is a
/// bug (or the system refusing memory), and a message beats std::terminate's
/// abort.
int runGuarded(int argc, char **argv) {
  using namespace birkhoff::tools;
  try {
    // clang-format off
    const cli::Command commands[] = {
#ifdef BIRKHOFF_WITH_COMPILER
        compileCommand(),
        synthCommand(),
#endif
        runCommand(),
        inspectCommand(),
        benchCommand(),
        perplexityCommand(),
#ifdef BIRKHOFF_WITH_SERVE
        serveCommand(),
#endif
        tokenizeCommand(),
        chatTemplateCommand(),
        versionCommand(),
    };
    // clang-format on
    return cli::runTool(commands, argc, argv);
  } catch (const std::bad_alloc &) {
    std::fprintf(stderr, "birkhoff: internal error: out of memory\n");
  } catch (const std::exception &e) {
    std::fprintf(stderr, "birkhoff: internal error: %s\n", e.what());
  } catch (...) {
    std::fprintf(stderr, "birkhoff: internal error: unknown exception\n");
  }
  return 1;
}

} // namespace

int main(int argc, char **argv) { return runGuarded(argc, argv); }
