//===- ServeTestModels.cpp - Small artifacts for the server's tests -------===//
#include "ServeTestModels.h"

#include "GoldenCase.h"

#include <filesystem>
#include <fstream>
#include <functional>

namespace birkhoff::test {

Expected<std::shared_ptr<const Model>>
tinySynthModel(const std::string &generationConfig) {
  const std::string dir = std::string(BIRKHOFF_BIN_DIR) + "/../serve-artifacts";
  if (generationConfig.empty()) {
    const std::string path = dir + "/tiny.bkart";
    BK_RETURN_IF_ERROR(compileArtifact("--synth-preset=tiny", path));
    return Model::load(path);
  }
  // One artifact per config text.
  const std::string name =
      "tiny-gen-" + std::to_string(std::hash<std::string>()(generationConfig));
  const std::string json = dir + "/" + name + ".json";
  const std::string path = dir + "/" + name + ".bkart";
  std::filesystem::create_directories(dir);
  {
    std::ofstream out(json, std::ios::binary | std::ios::trunc);
    out << generationConfig;
    if (!out.good())
      return ioError("cannot write " + json);
  }
  BK_RETURN_IF_ERROR(compileArtifact("--synth-preset=tiny", path,
                                     "--generation-config '" + json + "'"));
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
