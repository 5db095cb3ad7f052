//===- ServeTestModels.h - Small artifacts for the server's tests ---------===//
#ifndef BIRKHOFF_TEST_SERVE_SERVETESTMODELS_H
#define BIRKHOFF_TEST_SERVE_SERVETESTMODELS_H

#include "birkhoff/Runtime.h"

#include <memory>
#include <string>

namespace birkhoff::test {

/// `birkhoff compile --synth-preset tiny` (4 layers, vocab 1024, a
/// tokenizer, synth's generation config; weights generated at load),
/// compiled once per build; with `generationConfig` (the text of a
/// generation_config.json) compiled with that one instead.
Expected<std::shared_ptr<const Model>>
tinySynthModel(const std::string &generationConfig = "");

/// The golden case tiny_mix (vocab 512, no tokenizer); NotFound when
/// ../shared/goldens is not there.
Expected<std::shared_ptr<const Model>> tokenizerlessModel();

} // namespace birkhoff::test

#endif // BIRKHOFF_TEST_SERVE_SERVETESTMODELS_H
