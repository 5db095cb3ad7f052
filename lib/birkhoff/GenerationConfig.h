//===- GenerationConfig.h - A checkpoint's generation defaults --*- C++ -*-===//
//
// The part of a Hugging Face checkpoint's generation_config.json that
// Birkhoff reads: the sampling defaults, the generation length and the
// end-of-sequence ids. `birkhoff compile` parses the file and stores it in
// the artifact (Artifact.generation_config); the runtime hands it out as
// ModelInfo::generationConfig. Every field is set only when the file gives
// it (a JSON null counts as not given): nothing is filled in with
// transformers' defaults.
//
//===----------------------------------------------------------------------===//
#ifndef BIRKHOFF_GENERATIONCONFIG_H
#define BIRKHOFF_GENERATIONCONFIG_H

#include "birkhoff/Status.h"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace birkhoff {

struct GenerationConfig {
  /// do_sample: false is greedy decoding; true samples with temperature,
  /// top_p and top_k, which (as in transformers) apply only then.
  std::optional<bool> doSample;
  std::optional<float> temperature;    // >= 0; 0 is greedy
  std::optional<float> topP;           // in (0, 1]
  std::optional<int64_t> topK;         // >= 0; 0 is no limit
  std::optional<int64_t> maxNewTokens; // >= 1
  std::optional<int64_t> maxLength;    // >= 1: prompt + generated tokens
  /// eos_token_id (one id or a list): every id that ends a sequence, in the
  /// file's order.
  std::vector<int32_t> eosTokenIds;
  /// > 0; stored and reported, not applied: Birkhoff's sampler has no
  /// penalties.
  std::optional<float> repetitionPenalty;

  bool operator==(const GenerationConfig &) const = default;
  /// Whether it states any sampling field (do_sample, temperature, top_p,
  /// top_k).
  bool hasSamplingFields() const {
    return doSample || temperature || topP || topK;
  }
};

/// Reads the text of a generation_config.json. `origin` names the file in
/// errors; `vocabSize` bounds the eos ids. Fields Birkhoff does not read are
/// ignored. Errors are InvalidArgument and read "generation config
/// '<origin>': <field>: ..." (or "... is not valid JSON: ...").
Expected<GenerationConfig> parseGenerationConfig(std::string_view json,
                                                 const std::string &origin,
                                                 int64_t vocabSize);

/// The range checks parseGenerationConfig applies, for values that come from
/// elsewhere (an artifact): the message names the field first
/// ("temperature: -1 is negative").
Status checkGenerationConfig(const GenerationConfig &config, int64_t vocabSize);

} // namespace birkhoff

#endif // BIRKHOFF_GENERATIONCONFIG_H
