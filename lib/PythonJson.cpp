//===- PythonJson.cpp - JSON text as Python's json.dumps writes it --------===//
#include "birkhoff/PythonJson.h"

#include <charconv>
#include <cstdio>
#include <cstdlib>

namespace birkhoff {

void appendPythonJsonEscaped(std::string &out, std::string_view text) {
  for (char c : text) {
    switch (c) {
    case '"':
      out += "\\\"";
      break;
    case '\\':
      out += "\\\\";
      break;
    case '\n':
      out += "\\n";
      break;
    case '\r':
      out += "\\r";
      break;
    case '\t':
      out += "\\t";
      break;
    case '\b':
      out += "\\b";
      break;
    case '\f':
      out += "\\f";
      break;
    default:
      if (static_cast<unsigned char>(c) < 0x20) {
        char buf[8];
        std::snprintf(buf, sizeof(buf), "\\u%04x", unsigned(c));
        out += buf;
      } else {
        out += c;
      }
    }
  }
}

std::string pythonJsonQuote(std::string_view text) {
  std::string out = "\"";
  appendPythonJsonEscaped(out, text);
  out += '"';
  return out;
}

std::string pythonFloatRepr(double value) {
  // The shortest round-trip digits, then Python's layout of them
  // (float_repr_style "short", mode 'r'): positional while the decimal point
  // sits in (-4, 16] digits from the first one, else an exponent of at least
  // two digits; a positional integer gets ".0".
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof(buf), value,
                           std::chars_format::scientific);
  std::string_view sci(buf, res.ptr - buf);
  std::string out;
  if (sci.front() == '-') {
    out += '-';
    sci.remove_prefix(1);
  }
  size_t e = sci.find('e');
  std::string digits;
  for (char c : sci.substr(0, e))
    if (c != '.')
      digits += c;
  int exp = std::atoi(std::string(sci.substr(e + 1)).c_str());
  int decpt = exp + 1;
  int n = int(digits.size());
  if (decpt > -4 && decpt <= 16) {
    if (decpt <= 0) {
      out += "0.";
      out.append(size_t(-decpt), '0');
      out += digits;
    } else if (decpt >= n) {
      out += digits;
      out.append(size_t(decpt - n), '0');
      out += ".0";
    } else {
      out.append(digits, 0, size_t(decpt));
      out += '.';
      out.append(digits, size_t(decpt));
    }
    return out;
  }
  out += digits[0];
  if (n > 1) {
    out += '.';
    out.append(digits, 1);
  }
  char expBuf[16];
  std::snprintf(expBuf, sizeof(expBuf), "e%c%02d", exp < 0 ? '-' : '+',
                exp < 0 ? -exp : exp);
  return out + expBuf;
}

namespace {

void dump(std::string &out, const nlohmann::ordered_json &v) {
  using T = nlohmann::ordered_json::value_t;
  switch (v.type()) {
  case T::object: {
    out += '{';
    bool first = true;
    for (const auto &[key, item] : v.items()) {
      if (!first)
        out += ", ";
      first = false;
      out += pythonJsonQuote(key);
      out += ": ";
      dump(out, item);
    }
    out += '}';
    return;
  }
  case T::array: {
    out += '[';
    for (size_t i = 0; i < v.size(); ++i) {
      if (i)
        out += ", ";
      dump(out, v[i]);
    }
    out += ']';
    return;
  }
  case T::string:
    out += pythonJsonQuote(v.get_ref<const std::string &>());
    return;
  case T::boolean:
    out += v.get<bool>() ? "true" : "false";
    return;
  case T::number_integer:
    out += std::to_string(v.get<int64_t>());
    return;
  case T::number_unsigned:
    out += std::to_string(v.get<uint64_t>());
    return;
  case T::number_float:
    out += pythonFloatRepr(v.get<double>());
    return;
  case T::null:
  case T::binary:
  case T::discarded:
    out += "null";
    return;
  }
}

} // namespace

std::string pythonJsonDumps(const nlohmann::ordered_json &value) {
  std::string out;
  dump(out, value);
  return out;
}

} // namespace birkhoff
