//===- ConfigReader.h - Typed key lookup in a config.json object ----------===//
//
// Internal to birkhoff_deepseek_v4 (it exposes nlohmann::json, which the
// library links privately): the checked key lookup the config.json reader and
// its sub-object readers share, plus the spellings of the layer types that
// both the reader and the writer (modelConfigToJson) use.
//
//===----------------------------------------------------------------------===//
#ifndef BIRKHOFF_MODELS_DEEPSEEK_V4_CONFIGREADER_H
#define BIRKHOFF_MODELS_DEEPSEEK_V4_CONFIGREADER_H

#include "birkhoff/Status.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <initializer_list>
#include <string>

namespace birkhoff::v4::detail {

using Json = nlohmann::json;

/// The HF `layer_types` / `compress_rates` spellings.
constexpr const char *kSliding = "sliding_attention";
constexpr const char *kCsa = "compressed_sparse_attention";
constexpr const char *kHca = "heavily_compressed_attention";
/// The rates the legacy `compress_ratios` form implies (V4_SPEC §1.2).
constexpr int64_t kDefaultCsaRate = 4;
constexpr int64_t kDefaultHcaRate = 128;

/// A JSON value as it appears in error messages.
std::string describe(const Json &v);

/// Looks keys up in one JSON object and converts values with checked types.
/// Every error names the key (with `prefix`, for a nested object) and the
/// config's origin. The object must outlive the reader.
class ConfigReader {
public:
  ConfigReader(const Json &object, std::string origin, std::string prefix = "")
      : object_(object), origin_(std::move(origin)),
        prefix_(std::move(prefix)) {}

  Status keyError(const std::string &key, const std::string &message,
                  StatusCode code = StatusCode::InvalidArgument) const;
  const std::string &origin() const { return origin_; }

  /// The first of `names` present with a non-null value, or nullptr; when two
  /// aliases are both present their values must be equal. `used` receives the
  /// name found.
  Expected<const Json *> lookup(std::initializer_list<const char *> names,
                                std::string *used) const;

  /// Reads the first present spelling of `names` into `out` (int64_t, double,
  /// std::string or bool; see `convert`). `present` tells whether the key was
  /// there and leaves `out` at its default if not; without it the key is
  /// required.
  template <typename T>
  Status read(std::initializer_list<const char *> names, T &out,
              bool *present = nullptr) const {
    std::string used;
    BK_ASSIGN_OR_RETURN(const Json *v, lookup(names, &used));
    if (!v)
      return missing(names, present);
    if (present)
      *present = true;
    return convert(*v, used, out);
  }

  /// Checked conversions of a value found under `key` (also used directly for
  /// list elements and nested values). An integer may be written as a float
  /// with an integral value, as some writers emit `4096.0`; a double must be
  /// finite.
  Status convert(const Json &v, const std::string &key, int64_t &out) const;
  Status convert(const Json &v, const std::string &key, double &out) const;
  Status convert(const Json &v, const std::string &key, std::string &out) const;
  Status convert(const Json &v, const std::string &key, bool &out) const;

private:
  /// The one type-mismatch message: "expected <what>, got <value>".
  Status typeError(const std::string &key, const char *what,
                   const Json &v) const;
  /// Absent key: fine when the caller asked whether it is present (the
  /// default stays), an error naming every accepted spelling otherwise.
  Status missing(std::initializer_list<const char *> names,
                 bool *present) const;

  const Json &object_;
  std::string origin_;
  std::string prefix_;
};

} // namespace birkhoff::v4::detail

#endif // BIRKHOFF_MODELS_DEEPSEEK_V4_CONFIGREADER_H
