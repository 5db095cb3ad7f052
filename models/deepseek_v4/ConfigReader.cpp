//===- ConfigReader.cpp - Typed key lookup in a config.json object --------===//
//
// Alias resolution and checked conversions for ConfigReader. A value that has
// the wrong JSON type is refused, never coerced (except integral floats, which
// some writers emit for integers).
//
//===----------------------------------------------------------------------===//
#include "deepseek_v4/ConfigReader.h"

#include "birkhoff/JsonInput.h"

#include <cmath>
#include <limits>

namespace birkhoff::v4::detail {

// Config values come from the file: shown cut short, never whole.
std::string describe(const Json &v) { return jsonSnippet(v); }

Status ConfigReader::keyError(const std::string &key,
                              const std::string &message,
                              StatusCode code) const {
  return makeError(code, origin_ + ": key '" + prefix_ + key + "': " + message);
}

Expected<const Json *>
ConfigReader::lookup(std::initializer_list<const char *> names,
                     std::string *used) const {
  const Json *found = nullptr;
  std::string foundName;
  for (const char *name : names) {
    auto it = object_.find(name);
    if (it == object_.end() || it->is_null())
      continue;
    if (!found) {
      found = &*it;
      foundName = name;
      continue;
    }
    // 4096 and 4096.0 are the same setting.
    bool same = *found == *it;
    if (!same && found->is_number() && it->is_number())
      same = found->get<double>() == it->get<double>();
    if (!same)
      return invalidArgument(origin_ + ": keys '" + prefix_ + foundName +
                             "' (" + describe(*found) + ") and '" + prefix_ +
                             name + "' (" + describe(*it) +
                             ") name the same setting but disagree");
  }
  if (used)
    *used = foundName;
  return found;
}

Status ConfigReader::convert(const Json &v, const std::string &key,
                             int64_t &out) const {
  if (v.is_number_integer()) {
    if (v.is_number_unsigned() &&
        v.get<uint64_t>() > uint64_t(std::numeric_limits<int64_t>::max()))
      return keyError(key, "integer out of range");
    out = v.get<int64_t>();
    return Status::ok();
  }
  if (v.is_number_float()) {
    // Below 2^53 every integral double converts exactly.
    double d = v.get<double>();
    if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9.0e15) {
      out = int64_t(d);
      return Status::ok();
    }
  }
  return typeError(key, "an integer", v);
}

Status ConfigReader::convert(const Json &v, const std::string &key,
                             double &out) const {
  if (!v.is_number())
    return typeError(key, "a number", v);
  out = v.get<double>();
  if (!std::isfinite(out))
    return keyError(key, "expected a finite number");
  return Status::ok();
}

Status ConfigReader::convert(const Json &v, const std::string &key,
                             std::string &out) const {
  if (!v.is_string())
    return typeError(key, "a string", v);
  out = v.get<std::string>();
  return Status::ok();
}

Status ConfigReader::convert(const Json &v, const std::string &key,
                             bool &out) const {
  if (!v.is_boolean())
    return typeError(key, "true or false", v);
  out = v.get<bool>();
  return Status::ok();
}

Status ConfigReader::typeError(const std::string &key, const char *what,
                               const Json &v) const {
  return keyError(key,
                  std::string("expected ") + what + ", got " + describe(v));
}

Status ConfigReader::missing(std::initializer_list<const char *> names,
                             bool *present) const {
  if (present) {
    *present = false;
    return Status::ok();
  }
  std::string list;
  for (const char *name : names)
    list += (list.empty() ? "'" : " or '") + prefix_ + name + "'";
  return notFound(origin_ + ": missing required key " + list);
}

} // namespace birkhoff::v4::detail
