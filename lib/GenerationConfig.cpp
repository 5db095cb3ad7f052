//===- GenerationConfig.cpp - A checkpoint's generation defaults ----------===//
#include "birkhoff/GenerationConfig.h"

#include "birkhoff/JsonInput.h"

#include <cmath>
#include <cstdio>
#include <limits>
#include <type_traits>

namespace birkhoff {
namespace {

using json = nlohmann::json;

/// A short rendering of a bad value for an error message.
std::string shown(const json &v) { return jsonSnippet(v, 40); }

/// A float as the user wrote it, near enough ("0.95", "-1", "nan").
std::string number(float v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%g", double(v));
  return buf;
}

/// The field, or null when absent.
const json &field(const json &j, const char *name) {
  static const json null;
  auto it = j.find(name);
  return it == j.end() ? null : *it;
}

Status wrongType(const char *name, const char *want, const json &v) {
  return invalidArgument(std::string(name) + ": must be " + want + ", not " +
                         shown(v));
}

/// The field `name` of type T (bool, float or int64_t) into `out`; absent
/// or null leaves it unset.
template <typename T>
Status read(const json &j, const char *name, std::optional<T> &out) {
  const json &v = field(j, name);
  if (v.is_null())
    return Status::ok();
  if constexpr (std::is_same_v<T, bool>) {
    if (!v.is_boolean())
      return wrongType(name, "true or false", v);
    out = v.get<bool>();
  } else if constexpr (std::is_same_v<T, float>) {
    if (!v.is_number())
      return wrongType(name, "a number", v);
    const double d = v.get<double>();
    if (!std::isfinite(d) || std::fabs(d) > std::numeric_limits<float>::max())
      return invalidArgument(std::string(name) + ": " + shown(v) +
                             " is not a finite 32-bit float");
    out = float(d);
  } else {
    static_assert(std::is_same_v<T, int64_t>);
    if (!v.is_number_integer())
      return wrongType(name, "an integer", v);
    if (v.is_number_unsigned() &&
        v.get<uint64_t>() > uint64_t(std::numeric_limits<int64_t>::max()))
      return invalidArgument(std::string(name) + ": " + shown(v) +
                             " is too large");
    out = v.get<int64_t>();
  }
  return Status::ok();
}

/// eos_token_id: one id or a list of ids.
Status readEos(const json &j, std::vector<int32_t> &out) {
  const char *name = "eos_token_id";
  const json &v = field(j, name);
  if (v.is_null())
    return Status::ok();
  const json list = v.is_array() ? v : json::array({v});
  for (const json &e : list) {
    if (!e.is_number_integer())
      return wrongType(name, "a token id or a list of token ids", v);
    const int64_t id = e.get<int64_t>();
    if (id < 0 || id > std::numeric_limits<int32_t>::max() ||
        (e.is_number_unsigned() &&
         e.get<uint64_t>() > uint64_t(std::numeric_limits<int32_t>::max())))
      return invalidArgument(std::string(name) + ": " + shown(e) +
                             " is not a token id");
    out.push_back(int32_t(id));
  }
  return Status::ok();
}

/// Every field Birkhoff reads, type-checked; the others are ignored.
Status readFields(const json &j, GenerationConfig &c) {
  BK_RETURN_IF_ERROR(read(j, "do_sample", c.doSample));
  BK_RETURN_IF_ERROR(read(j, "temperature", c.temperature));
  BK_RETURN_IF_ERROR(read(j, "top_p", c.topP));
  BK_RETURN_IF_ERROR(read(j, "top_k", c.topK));
  BK_RETURN_IF_ERROR(read(j, "max_new_tokens", c.maxNewTokens));
  BK_RETURN_IF_ERROR(read(j, "max_length", c.maxLength));
  BK_RETURN_IF_ERROR(readEos(j, c.eosTokenIds));
  return read(j, "repetition_penalty", c.repetitionPenalty);
}

} // namespace

Status checkGenerationConfig(const GenerationConfig &c, int64_t vocabSize) {
  if (c.temperature &&
      !(*c.temperature >= 0.0f && std::isfinite(*c.temperature)))
    return invalidArgument("temperature: " + number(*c.temperature) +
                           " is not a number >= 0 (0 is greedy)");
  if (c.topP && !(*c.topP > 0.0f && *c.topP <= 1.0f))
    return invalidArgument("top_p: " + number(*c.topP) + " is outside (0, 1]");
  if (c.topK && *c.topK < 0)
    return invalidArgument("top_k: " + std::to_string(*c.topK) +
                           " is negative (0 is no limit)");
  if (c.maxNewTokens && *c.maxNewTokens < 1)
    return invalidArgument(
        "max_new_tokens: " + std::to_string(*c.maxNewTokens) +
        " is not a positive count");
  if (c.maxLength && *c.maxLength < 1)
    return invalidArgument("max_length: " + std::to_string(*c.maxLength) +
                           " is not a positive count");
  if (c.repetitionPenalty &&
      !(*c.repetitionPenalty > 0.0f && std::isfinite(*c.repetitionPenalty)))
    return invalidArgument(
        "repetition_penalty: " + number(*c.repetitionPenalty) +
        " is not positive (1 is no penalty)");
  for (int32_t id : c.eosTokenIds)
    if (id < 0 || id >= vocabSize)
      return invalidArgument("eos_token_id: " + std::to_string(id) +
                             " is not a token id of the vocabulary [0, " +
                             std::to_string(vocabSize) + ")");
  return Status::ok();
}

Expected<GenerationConfig> parseGenerationConfig(std::string_view text,
                                                 const std::string &origin,
                                                 int64_t vocabSize) {
  const std::string where = "generation config '" + origin + "'";
  JsonParseOptions limits;
  limits.rejectDuplicateKeys = true;
  Expected<json> parsed = parseJsonInput(text, where, limits);
  if (!parsed)
    return invalidArgument(parsed.status().message());
  json j = parsed.take();
  if (!j.is_object())
    return invalidArgument(where + " must be a JSON object, not " +
                           std::string(j.type_name()));
  GenerationConfig c;
  if (Status s = readFields(j, c); !s.isOk())
    return invalidArgument(where + ": " + s.message());
  if (Status s = checkGenerationConfig(c, vocabSize); !s.isOk())
    return invalidArgument(where + ": " + s.message());
  return c;
}

} // namespace birkhoff
