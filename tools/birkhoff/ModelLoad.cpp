//===- ModelLoad.cpp - Model::load with its progress lines ----------------===//
#include "ModelLoad.h"

#include "birkhoff/Progress.h"

namespace birkhoff::tools {

Expected<std::shared_ptr<const Model>> loadWithProgress(const std::string &path,
                                                        ModelOptions options,
                                                        const char *command) {
  ProgressGroup loading(command);
  options.progress = [&loading](std::string_view task, uint64_t n,
                                uint64_t total) {
    loading.report(task, n, total);
  };
  auto model = Model::load(path, options);
  loading.finish();
  return model;
}

} // namespace birkhoff::tools
