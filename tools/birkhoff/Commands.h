//===- Commands.h - Subcommands of the `birkhoff` tool ----------*- C++ -*-===//
#ifndef BIRKHOFF_TOOLS_COMMANDS_H
#define BIRKHOFF_TOOLS_COMMANDS_H

#include "Cli.h"

#include <string>
#include <vector>

namespace birkhoff::tools {

/// The presets v4::presetConfig knows: synth --preset, compile --synth-preset.
inline const std::vector<std::string> kSynthPresets = {"tiny", "flash", "pro"};

// Each command's name, help and options (Cli.h); cli::runTool parses the
// command line against them and runs the one it names.
cli::Command compileCommand();
cli::Command synthCommand();
cli::Command runCommand();
cli::Command inspectCommand();
cli::Command benchCommand();
cli::Command perplexityCommand();
cli::Command tokenizeCommand();
cli::Command chatTemplateCommand();
cli::Command serveCommand();
cli::Command versionCommand();

} // namespace birkhoff::tools

#endif // BIRKHOFF_TOOLS_COMMANDS_H
