//===- JsonInput.cpp - Parsing JSON that Birkhoff did not write -----------===//
#include "birkhoff/JsonInput.h"

#include <unordered_set>
#include <vector>

namespace birkhoff {

Status checkJsonDepth(std::string_view text, int maxDepth) {
  int depth = 0;
  bool inString = false, escaped = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (inString) {
      if (escaped)
        escaped = false;
      else if (c == '\\')
        escaped = true;
      else if (c == '"')
        inString = false;
      continue;
    }
    if (c == '"') {
      inString = true;
    } else if (c == '[' || c == '{') {
      if (++depth > maxDepth)
        return corrupt("nesting deeper than " + std::to_string(maxDepth) +
                       " arrays/objects at byte " + std::to_string(i));
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return Status::ok();
}

std::string truncateForMessage(std::string_view text, size_t maxChars) {
  if (text.size() <= maxChars)
    return std::string(text);
  // Never cut inside a UTF-8 sequence: back up to a lead byte.
  size_t cut = maxChars;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80)
    --cut;
  return std::string(text.substr(0, cut)) + "...";
}

namespace {

/// nlohmann's message without its "[json.exception...]" prefix, and with the
/// token it quotes ("last read: '...'", which can be a whole megabyte-long
/// string) cut short.
std::string parserMessage(const std::string &what) {
  std::string_view m = what;
  if (!m.empty() && m.front() == '[')
    if (size_t close = m.find("] "); close != std::string_view::npos)
      m.remove_prefix(close + 2);
  constexpr std::string_view kLastRead = "; last read: ";
  size_t at = m.find(kLastRead);
  if (at == std::string_view::npos)
    return truncateForMessage(m, 4 * kJsonSnippetChars);
  return truncateForMessage(m.substr(0, at), 3 * kJsonSnippetChars) +
         std::string(kLastRead) +
         truncateForMessage(m.substr(at + kLastRead.size()), kJsonSnippetChars);
}

/// Finds the first key named twice in one object, at any depth, in one
/// linear SAX pass (nlohmann's callback parser would rescan each object).
template <typename Json>
class DuplicateKeyScanner : public nlohmann::json_sax<Json> {
  using Base = nlohmann::json_sax<Json>;

public:
  std::string duplicate;

  bool null() override { return true; }
  bool boolean(bool) override { return true; }
  bool number_integer(typename Base::number_integer_t) override { return true; }
  bool number_unsigned(typename Base::number_unsigned_t) override {
    return true;
  }
  bool number_float(typename Base::number_float_t,
                    const typename Base::string_t &) override {
    return true;
  }
  bool string(typename Base::string_t &) override { return true; }
  bool binary(typename Base::binary_t &) override { return true; }
  bool start_object(std::size_t) override {
    objects_.emplace_back();
    return true;
  }
  bool end_object() override {
    objects_.pop_back();
    return true;
  }
  bool start_array(std::size_t) override { return true; }
  bool end_array() override { return true; }
  bool key(typename Base::string_t &k) override {
    if (!objects_.back().insert(k).second) {
      duplicate = k;
      return false; // stop: one is enough
    }
    return true;
  }
  bool parse_error(std::size_t, const std::string &,
                   const nlohmann::detail::exception &) override {
    return false;
  }

private:
  std::vector<std::unordered_set<std::string>> objects_;
};

template <typename Json>
Expected<Json> parseWith(std::string_view text, const std::string &what,
                         const JsonParseOptions &options) {
  if (Status s = checkJsonDepth(text, options.maxDepth); !s)
    return s.withContext(what);
  Json j;
  try {
    j = Json::parse(text.begin(), text.end());
  } catch (const nlohmann::json::exception &e) {
    return corrupt(what + " is not valid JSON: " + parserMessage(e.what()));
  }
  if (options.rejectDuplicateKeys) {
    DuplicateKeyScanner<Json> scanner;
    Json::sax_parse(text.begin(), text.end(), &scanner,
                    Json::input_format_t::json, /*strict=*/false);
    if (!scanner.duplicate.empty())
      return corrupt(what + ": key '" + truncateForMessage(scanner.duplicate) +
                     "' appears twice in one object");
  }
  return j;
}

template <typename Json>
void render(const Json &v, size_t maxChars, std::string &out) {
  if (out.size() > maxChars)
    return;
  if (v.is_array() || v.is_object()) {
    out += v.is_array() ? '[' : '{';
    bool first = true;
    for (auto it = v.begin(); it != v.end() && out.size() <= maxChars; ++it) {
      if (!first)
        out += ',';
      first = false;
      if (v.is_object()) {
        out +=
            Json(it.key()).dump(-1, ' ', false, Json::error_handler_t::replace);
        out += ':';
      }
      render(*it, maxChars, out);
    }
    out += v.is_array() ? ']' : '}';
    return;
  }
  // A scalar: numbers and literals are short; a long string is cut below.
  out += v.dump(-1, ' ', false, Json::error_handler_t::replace);
}

template <typename Json> std::string snippet(const Json &v, size_t maxChars) {
  std::string out;
  render(v, maxChars, out);
  return truncateForMessage(out, maxChars);
}

} // namespace

Expected<nlohmann::json> parseJsonInput(std::string_view text,
                                        const std::string &what,
                                        const JsonParseOptions &options) {
  return parseWith<nlohmann::json>(text, what, options);
}

Expected<nlohmann::ordered_json>
parseOrderedJsonInput(std::string_view text, const std::string &what,
                      const JsonParseOptions &options) {
  return parseWith<nlohmann::ordered_json>(text, what, options);
}

std::string jsonSnippet(const nlohmann::json &v, size_t maxChars) {
  return snippet(v, maxChars);
}

std::string jsonSnippet(const nlohmann::ordered_json &v, size_t maxChars) {
  return snippet(v, maxChars);
}

} // namespace birkhoff
