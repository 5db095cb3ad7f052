//===- ModelLoad.h - Model::load with its progress lines --------*- C++ -*-===//
#ifndef BIRKHOFF_TOOLS_MODELLOAD_H
#define BIRKHOFF_TOOLS_MODELLOAD_H

#include "birkhoff/Runtime.h"

#include <memory>
#include <string>

namespace birkhoff::tools {

/// Model::load(path, options), its long steps (the weights' checksums, the
/// weights generated at load, the GPU upload) shown as progress lines named
/// after `command` ("run: generating weights", birkhoff/Progress.h).
Expected<std::shared_ptr<const Model>>
loadWithProgress(const std::string &path, ModelOptions options,
                 const char *command);

} // namespace birkhoff::tools

#endif // BIRKHOFF_TOOLS_MODELLOAD_H
