//===- TokenizerFuzzer.cpp - Fuzzes encoding arbitrary bytes --------------===//
//
// An input is text, any bytes. The tokenizer is synth's (DeepSeek-V3's
// pre-tokenizer regexes and special tokens over a small vocabulary), or the
// tokenizer.json that BIRKHOFF_FUZZ_TOKENIZER names (scripts/fuzz.sh passes
// the real DeepSeek-V3 one from ../shared/tokenizers when it is there).
// Encoding valid UTF-8 succeeds and decodes back to the same bytes, also
// piece by piece; other bytes are an error, never a crash.
//
//===----------------------------------------------------------------------===//
#include "FuzzSupport.h"

#include "birkhoff/Tokenizer.h"
#include "deepseek_v4/ModelConfig.h"
#include "deepseek_v4/Synth.h"

#include <cstdio>
#include <cstdlib>
#include <memory>

using namespace birkhoff;

namespace {

std::unique_ptr<Tokenizer> tokenizer;

/// Whether `s` is UTF-8 as Unicode defines it: no overlong forms, no
/// surrogates, nothing past U+10FFFF.
bool isValidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const uint8_t c = uint8_t(s[i]);
    size_t n;
    uint32_t cp;
    if (c < 0x80) {
      ++i;
      continue;
    }
    if (c >= 0xC2 && c <= 0xDF) {
      n = 1;
      cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
      n = 2;
      cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      n = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (s.size() - i <= n)
      return false;
    for (size_t k = 1; k <= n; ++k) {
      const uint8_t cc = uint8_t(s[i + k]);
      if ((cc & 0xC0) != 0x80)
        return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF))
      return false;
    i += n + 1;
  }
  return true;
}

} // namespace

extern "C" int LLVMFuzzerInitialize(int *, char ***) {
  Expected<std::unique_ptr<Tokenizer>> loaded = [] {
    if (const char *path = std::getenv("BIRKHOFF_FUZZ_TOKENIZER");
        path && *path)
      return Tokenizer::fromJsonFile(path);
    return Tokenizer::fromJson(
        v4::synthTokenizerJson(*v4::presetConfig("tiny")));
  }();
  if (!loaded) {
    std::fprintf(stderr, "fuzz: %s\n", loaded.status().toString().c_str());
    std::exit(1);
  }
  tokenizer = loaded.take();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const std::string_view text(reinterpret_cast<const char *>(data), size);
  Expected<std::vector<int32_t>> ids = tokenizer->encode(text);
  if (!isValidUtf8(text)) {
    fuzz::check(!ids, "invalid UTF-8 was encoded");
    return 0;
  }
  fuzz::check(ids.isOk(),
              "valid UTF-8 failed to encode: " + ids.status().toString());
  Expected<std::string> back = tokenizer->decode(*ids);
  fuzz::check(back && *back == text, "decode(encode(text)) != text");
  Tokenizer::IncrementalDecoder pieces(*tokenizer);
  std::string joined;
  for (int32_t id : *ids) {
    Expected<std::string> piece = pieces.push(id);
    fuzz::check(piece.isOk(), "incremental decode failed");
    joined += *piece;
  }
  joined += pieces.finish();
  fuzz::check(joined == text, "incremental decode != text");
  return 0;
}
