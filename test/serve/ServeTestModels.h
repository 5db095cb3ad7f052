//===- ServeTestModels.h - Small artifacts for the server's tests ---------===//
#ifndef BIRKHOFF_TEST_SERVE_SERVETESTMODELS_H
#define BIRKHOFF_TEST_SERVE_SERVETESTMODELS_H

#include "birkhoff/Runtime.h"

#include <memory>

namespace birkhoff::test {

/// `birkhoff compile --synth-preset tiny` (4 layers, vocab 1024, a
/// tokenizer; weights generated at load), compiled once per build.
Expected<std::shared_ptr<const Model>> tinySynthModel();

/// The golden case tiny_mix (vocab 512, no tokenizer); NotFound when
/// ../shared/goldens is not there.
Expected<std::shared_ptr<const Model>> tokenizerlessModel();

} // namespace birkhoff::test

#endif // BIRKHOFF_TEST_SERVE_SERVETESTMODELS_H
