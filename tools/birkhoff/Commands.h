//===- Commands.h - Subcommands of the `birkhoff` tool ---------------------===//
#ifndef BIRKHOFF_TOOLS_COMMANDS_H
#define BIRKHOFF_TOOLS_COMMANDS_H

namespace birkhoff::tools {

// Each takes the arguments after the subcommand name (argv[0] is the
// subcommand) and returns the process exit code: 0 success, 1 failure with a
// message on stderr, 2 usage error.
int runCompileCommand(int argc, char **argv);
int runSynthCommand(int argc, char **argv);
int runRunCommand(int argc, char **argv);
int runInspectCommand(int argc, char **argv);
int runBenchCommand(int argc, char **argv);
int runTokenizeCommand(int argc, char **argv);
int runChatTemplateCommand(int argc, char **argv);
int runServeCommand(int argc, char **argv);
int runVersionCommand(int argc, char **argv);

} // namespace birkhoff::tools

#endif // BIRKHOFF_TOOLS_COMMANDS_H
