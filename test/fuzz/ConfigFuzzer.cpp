//===- ConfigFuzzer.cpp - Fuzzes config.json parsing ----------------------===//
//
// An input is the text of a config.json. Parsing it gives a validated config
// or an error; a config it accepts writes back to config.json text
// (modelConfigToJson) that parses to an equal config, as ModelConfig.h
// promises.
//
//===----------------------------------------------------------------------===//
#include "FuzzSupport.h"

#include "deepseek_v4/ModelConfig.h"

using namespace birkhoff;

extern "C" int LLVMFuzzerInitialize(int *, char ***) { return 0; }

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const std::string text(reinterpret_cast<const char *>(data), size);
  Expected<v4::ModelConfig> config = v4::parseModelConfig(text, "fuzz");
  if (!config)
    return 0;
  Expected<v4::ModelConfig> again =
      v4::parseModelConfig(v4::modelConfigToJson(*config), "written back");
  fuzz::check(again.isOk(), "the written config does not parse: " +
                                again.status().toString());
  fuzz::check(*again == *config, "the written config reads back different");
  return 0;
}
