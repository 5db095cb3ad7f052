//===- ServeTestModels.cpp - Small artifacts for the server's tests -------===//
#include "ServeTestModels.h"

#include "GoldenCase.h"

#include <filesystem>

namespace birkhoff::test {

Expected<std::shared_ptr<const Model>> tinySynthModel() {
  const std::string path =
      std::string(BIRKHOFF_BIN_DIR) + "/../serve-artifacts/tiny.bkart";
  BK_RETURN_IF_ERROR(compileArtifact("--synth-preset=tiny", path));
  return Model::load(path);
}

Expected<std::shared_ptr<const Model>> tokenizerlessModel() {
  const std::string dir = std::string(BIRKHOFF_GOLDENS_DIR) + "/tiny_mix";
  if (!std::filesystem::exists(dir))
    return notFound("no golden case at " + dir);
  const std::string path =
      std::string(BIRKHOFF_BIN_DIR) + "/../serve-artifacts/tiny_mix.bkart";
  BK_RETURN_IF_ERROR(compileArtifact(dir, path));
  return Model::load(path);
}

} // namespace birkhoff::test
