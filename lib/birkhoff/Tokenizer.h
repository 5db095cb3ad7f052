//===- Tokenizer.h - Byte-level BPE tokenizer from a HF tokenizer.json ----===//
//
// Reads a Hugging Face `tokenizer.json` of DeepSeek's kind and encodes and
// decodes with the same results as HF `tokenizers` (the Rust library):
//
//   * added tokens (special or not) are matched first, leftmost-longest, those
//     with `normalized: false` over the whole text, then those with
//     `normalized: true` in what is left (HF's two passes);
//   * the rest is pre-tokenized by the `Split` regexes in sequence (behaviour
//     `Isolated`), compiled with PCRE2 in UTF + UCP mode with `\s` rewritten to
//     Oniguruma's (Unicode White_Space) set;
//   * each piece is byte-level mapped and merged by BPE rank;
//   * decoding is the `ByteLevel` decoder: token bytes concatenated, invalid
//     UTF-8 replaced by U+FFFD as Rust's `from_utf8_lossy` does.
//
// Anything else in the file (a normalizer, another pre-tokenizer, model or
// decoder, unsupported added-token flags) is refused with an Unsupported
// status that names it. A Tokenizer is immutable after loading and safe to
// use from several threads at once.
//
//===----------------------------------------------------------------------===//
#ifndef BIRKHOFF_TOKENIZER_H
#define BIRKHOFF_TOKENIZER_H

#include "birkhoff/Status.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace birkhoff {

class Tokenizer {
public:
  /// Parses a tokenizer.json file.
  static Expected<std::unique_ptr<Tokenizer>>
  fromJsonFile(const std::string &path);
  /// Parses the text of a tokenizer.json.
  static Expected<std::unique_ptr<Tokenizer>> fromJson(std::string_view json);

  ~Tokenizer();
  Tokenizer(const Tokenizer &) = delete;
  Tokenizer &operator=(const Tokenizer &) = delete;

  /// Token ids of `text`, which must be valid UTF-8. `addSpecialTokens` applies
  /// the post-processor; the ones supported (none, ByteLevel) add no ids, as
  /// in HF.
  Expected<std::vector<int32_t>> encode(std::string_view text,
                                        bool addSpecialTokens = false) const;

  /// The text of `ids`; special added tokens are left out with `skipSpecial`.
  /// An id outside the vocabulary is an OutOfRange error.
  Expected<std::string> decode(std::span<const int32_t> ids,
                               bool skipSpecial = false) const;

  /// One more than the largest id (vocabulary and added tokens).
  int32_t vocabSize() const;
  /// How many added tokens the file declares (special or not).
  size_t addedTokenCount() const;
  /// How many ids are special added tokens.
  size_t specialTokenCount() const;
  /// The id of a vocabulary entry or added token, by its content.
  std::optional<int32_t> tokenToId(std::string_view token) const;
  /// Whether `id` is an added token marked special.
  bool isSpecial(int32_t id) const;
  /// The bytes `id` decodes to (not necessarily whole UTF-8 characters).
  Expected<std::string_view> tokenBytes(int32_t id) const;

  /// Decodes a stream of ids piece by piece and never emits half a UTF-8
  /// character: bytes of an unfinished character wait for the next id. The
  /// concatenation of every push() and finish() equals decode() of all ids.
  class IncrementalDecoder {
  public:
    explicit IncrementalDecoder(const Tokenizer &tok, bool skipSpecial = false)
        : tok_(&tok), skipSpecial_(skipSpecial) {}
    /// The text completed by `id` (possibly empty).
    Expected<std::string> push(int32_t id);
    /// What is left; an unfinished character becomes U+FFFD.
    std::string finish();
    /// Bytes waiting for the rest of their character (0..3).
    size_t pendingBytes() const { return pending_.size(); }

  private:
    const Tokenizer *tok_;
    bool skipSpecial_;
    std::string pending_;
  };

  struct Impl;

private:
  explicit Tokenizer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

/// The character (as UTF-8) that stands for byte `b` in a byte-level
/// vocabulary: GPT-2's map, printable Latin-1 bytes for themselves and the
/// others for U+0100 upwards.
std::string byteLevelChar(uint8_t b);

/// Appends `bytes` to `out` as UTF-8 with each maximal invalid subpart
/// replaced by U+FFFD (Rust's from_utf8_lossy). Unless `final`, an incomplete
/// character at the end is not consumed; returns the bytes consumed.
size_t appendUtf8Lossy(std::string_view bytes, std::string &out, bool final);

} // namespace birkhoff

#endif // BIRKHOFF_TOKENIZER_H
