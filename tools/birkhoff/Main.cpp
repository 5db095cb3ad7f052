//===- Main.cpp - The `birkhoff` command-line tool -------------------------===//
#include "Commands.h"

#include <cstdio>
#include <cstring>
#include <exception>
#include <new>

namespace {

struct Subcommand {
  const char *name;
  int (*run)(int, char **);
  const char *summary;
};

const Subcommand kSubcommands[] = {
#ifdef BIRKHOFF_WITH_COMPILER
    {"compile", birkhoff::tools::runCompileCommand,
     "compile a DeepSeek-V4 checkpoint into an artifact"},
    {"synth", birkhoff::tools::runSynthCommand,
     "write a random-weight checkpoint in DeepSeek's layout"},
#endif
    {"run", birkhoff::tools::runRunCommand, "run an artifact on token ids"},
    {"inspect", birkhoff::tools::runInspectCommand,
     "show an artifact's config, program, weights and state"},
    {"bench", birkhoff::tools::runBenchCommand,
     "time prefill and decode of an artifact"},
#ifdef BIRKHOFF_WITH_SERVE
    {"serve", birkhoff::tools::runServeCommand,
     "serve an artifact over HTTP with OpenAI's API"},
#endif
    {"tokenize", birkhoff::tools::runTokenizeCommand,
     "encode text to token ids and decode ids to text"},
    {"chat-template", birkhoff::tools::runChatTemplateCommand,
     "write a chat request as DeepSeek-V4's prompt; parse its output"},
    {"version", birkhoff::tools::runVersionCommand,
     "print the version, git revision and CUDA support (also --version)"},
};

void printUsage(FILE *out) {
  std::fprintf(out, "usage: birkhoff <command> [options]\n\ncommands:\n");
  for (const Subcommand &c : kSubcommands)
    std::fprintf(out, "  %-14s %s\n", c.name, c.summary);
  std::fprintf(out, "\n`birkhoff <command> --help` describes each command.\n");
}

/// Runs `c`, turning an exception that got this far into exit status 1.
/// Errors travel as Status values; an exception here is a bug (or the system
/// refusing memory), and a message beats std::terminate's abort.
int runGuarded(const Subcommand &c, int argc, char **argv) {
  try {
    return c.run(argc, argv);
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

int main(int argc, char **argv) {
  if (argc < 2) {
    printUsage(stderr);
    return 2;
  }
  if (!std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h")) {
    printUsage(stdout);
    return 0;
  }
  if (!std::strcmp(argv[1], "--version"))
    return birkhoff::tools::runVersionCommand(argc - 1, argv + 1);
  for (const Subcommand &c : kSubcommands)
    if (!std::strcmp(argv[1], c.name))
      return runGuarded(c, argc - 1, argv + 1);
  std::fprintf(stderr, "birkhoff: unknown command '%s'\n\n", argv[1]);
  printUsage(stderr);
  return 2;
}
