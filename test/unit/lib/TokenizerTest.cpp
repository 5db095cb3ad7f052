//===- TokenizerTest.cpp - Tokenizer against HF tokenizers ----------------===//
//
// The real DeepSeek tokenizer (../shared/tokenizers/deepseek-v3) against ids
// made by HF `tokenizers` (test/data/tokenizer/*-ref.json, written by
// tools/tokref.mjs), the incremental decoder, and a small hand-made tokenizer
// for hand-verifiable merges and the errors of malformed files.
//
//===----------------------------------------------------------------------===//
#include "birkhoff/Tokenizer.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

using namespace birkhoff;
using json = nlohmann::json;

namespace {

const std::string kTokDir = BIRKHOFF_TOKENIZERS_DIR "/deepseek-v3";
const std::string kDataDir = BIRKHOFF_SOURCE_DIR "/test/data/tokenizer";

json readJson(const std::string &path) {
  std::ifstream in(path);
  return json::parse(in);
}

const Tokenizer *deepseek() {
  static std::unique_ptr<Tokenizer> tok = [] {
    std::unique_ptr<Tokenizer> t;
    if (std::filesystem::exists(kTokDir + "/tokenizer.json")) {
      auto loaded = Tokenizer::fromJsonFile(kTokDir + "/tokenizer.json");
      EXPECT_TRUE(loaded) << loaded.status().toString();
      if (loaded)
        t = loaded.take();
    }
    return t;
  }();
  return tok.get();
}

#define REQUIRE_DEEPSEEK()                                                     \
  const Tokenizer *tok = deepseek();                                           \
  if (!tok)                                                                    \
    GTEST_SKIP() << "no " << kTokDir << "/tokenizer.json";

std::string idsText(const std::vector<int32_t> &ids) {
  std::string s;
  for (int32_t id : ids)
    s += std::to_string(id) + ",";
  return s;
}

// Every text of `textsPath` encodes to the reference ids, which decode to
// the reference text, piece by piece as well as at once.
void checkAgainstReference(const Tokenizer &tok, const json &texts,
                           const json &ref) {
  ASSERT_EQ(texts.size(), ref["cases"].size());
  for (size_t i = 0; i < texts.size(); ++i) {
    std::string text = texts[i];
    const json &c = ref["cases"][i];
    std::vector<int32_t> want = c["ids"].get<std::vector<int32_t>>();
    auto ids = tok.encode(text);
    ASSERT_TRUE(ids) << ids.status().toString();
    EXPECT_EQ(idsText(*ids), idsText(want)) << "text " << i << ": " << text;
    auto decoded = tok.decode(want);
    ASSERT_TRUE(decoded) << decoded.status().toString();
    EXPECT_EQ(*decoded, c["decoded"].get<std::string>()) << "text " << i;
    EXPECT_EQ(*decoded, text) << "text " << i;

    Tokenizer::IncrementalDecoder inc(tok);
    std::string streamed;
    for (int32_t id : want) {
      auto piece = inc.push(id);
      ASSERT_TRUE(piece);
      EXPECT_EQ(appendUtf8Lossy(*piece, *&streamed, true), piece->size());
    }
    streamed += inc.finish();
    EXPECT_EQ(streamed, *decoded) << "text " << i;
  }
}

TEST(TokenizerTest, DeepSeekCorpusMatchesHfTokenizers) {
  REQUIRE_DEEPSEEK();
  checkAgainstReference(*tok, readJson(kTokDir + "/corpus.json"),
                        readJson(kDataDir + "/deepseek-v3-ref.json"));
}

TEST(TokenizerTest, DeepSeekHardCasesMatchHfTokenizers) {
  REQUIRE_DEEPSEEK();
  checkAgainstReference(*tok, readJson(kDataDir + "/hard-cases.json"),
                        readJson(kDataDir + "/hard-cases-ref.json"));
}

TEST(TokenizerTest, DeepSeekSpecialTokens) {
  REQUIRE_DEEPSEEK();
  EXPECT_EQ(tok->vocabSize(), 128815);
  EXPECT_EQ(tok->tokenToId("<｜begin▁of▁sentence｜>"), 0);
  EXPECT_EQ(tok->tokenToId("<｜User｜>"), 128803);
  EXPECT_TRUE(tok->isSpecial(0));
  EXPECT_FALSE(tok->isSpecial(128803)); // <｜User｜> is not special
  auto ids = tok->encode("<｜begin▁of▁sentence｜><｜User｜>hi<｜Assistant｜>"
                         "<｜end▁of▁sentence｜>");
  ASSERT_TRUE(ids);
  ASSERT_GE(ids->size(), 5u);
  EXPECT_EQ((*ids)[0], 0);
  EXPECT_EQ((*ids)[1], 128803);
  EXPECT_EQ(ids->back(), 1);
  // HF's decode(skip_special_tokens=True) gives the same.
  auto text = tok->decode(*ids, /*skipSpecial=*/true);
  ASSERT_TRUE(text);
  EXPECT_EQ(*text, "<｜User｜>hi<｜Assistant｜>");
}

TEST(TokenizerTest, IncrementalDecoderHoldsPartialCharacters) {
  REQUIRE_DEEPSEEK();
  // A rare emoji is split into byte-level tokens that end mid-character.
  std::string text = "🦩🦩 x";
  auto ids = tok->encode(text);
  ASSERT_TRUE(ids);
  Tokenizer::IncrementalDecoder inc(*tok);
  std::string out;
  bool sawPending = false;
  for (int32_t id : *ids) {
    auto piece = inc.push(id);
    ASSERT_TRUE(piece);
    std::string check;
    EXPECT_EQ(appendUtf8Lossy(*piece, check, false), piece->size());
    EXPECT_EQ(check, *piece); // whole, valid characters only
    sawPending |= inc.pendingBytes() > 0;
    out += *piece;
  }
  out += inc.finish();
  EXPECT_TRUE(sawPending);
  EXPECT_EQ(out, text);

  // Bytes that never complete become U+FFFD at the end.
  auto first = tok->encode("🦩");
  ASSERT_TRUE(first);
  ASSERT_GT(first->size(), 1u);
  Tokenizer::IncrementalDecoder cut(*tok);
  ASSERT_TRUE(cut.push((*first)[0]));
  EXPECT_EQ(cut.finish(), "\xEF\xBF\xBD");
}

TEST(TokenizerTest, DeepSeekInvalidIdsAndText) {
  REQUIRE_DEEPSEEK();
  std::vector<int32_t> bad = {5, -1};
  auto r = tok->decode(bad);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.status().code(), StatusCode::OutOfRange);
  EXPECT_NE(r.status().message().find("token id -1"), std::string::npos);
  std::vector<int32_t> big = {tok->vocabSize()};
  EXPECT_EQ(tok->decode(big).status().code(), StatusCode::OutOfRange);
  Tokenizer::IncrementalDecoder inc(*tok);
  EXPECT_EQ(inc.push(1 << 30).status().code(), StatusCode::OutOfRange);
  auto e = tok->encode("ok \xC3(");
  ASSERT_FALSE(e);
  EXPECT_EQ(e.status().code(), StatusCode::InvalidArgument);
  EXPECT_NE(e.status().message().find("byte 3"), std::string::npos);
}

// Any valid text decodes back to itself, and threads encoding at once (one
// holds the word cache, the others go without) agree with one thread.
TEST(TokenizerTest, DeepSeekRoundTripsRandomTextOnThreads) {
  REQUIRE_DEEPSEEK();
  const char32_t pool[] = {' ',    '\t',   '\n',    '\r',    'a',    'Z',
                           '7',    '.',    '\'',    '<',     0xA0,   0x301,
                           0x4E2D, 0x30A2, 0x3000,  0x1F600, 0x200D, 0x180E,
                           0xFF5C, 0x2581, 0x10FFFF};
  std::mt19937 rng(7);
  std::vector<std::string> texts;
  for (int t = 0; t < 64; ++t) {
    std::string s;
    int n = int(rng() % 200);
    for (int i = 0; i < n; ++i) {
      char32_t cp = rng() % 4 ? pool[rng() % std::size(pool)]
                              : char32_t(0x20 + rng() % 0x2000);
      if (cp >= 0xD800 && cp < 0xE000)
        cp = 'x';
      if (cp < 0x80)
        s += char(cp);
      else if (cp < 0x800)
        s += char(0xC0 | (cp >> 6)), s += char(0x80 | (cp & 0x3F));
      else if (cp < 0x10000)
        s += char(0xE0 | (cp >> 12)), s += char(0x80 | ((cp >> 6) & 0x3F)),
            s += char(0x80 | (cp & 0x3F));
      else
        s += char(0xF0 | (cp >> 18)), s += char(0x80 | ((cp >> 12) & 0x3F)),
            s += char(0x80 | ((cp >> 6) & 0x3F)), s += char(0x80 | (cp & 0x3F));
    }
    if (t % 8 == 0)
      s += "<｜User｜>" + s + "<｜end▁of▁sentence｜>";
    texts.push_back(s);
  }
  std::vector<std::vector<int32_t>> want;
  for (const std::string &s : texts) {
    auto ids = tok->encode(s);
    ASSERT_TRUE(ids) << ids.status().toString();
    auto back = tok->decode(*ids);
    ASSERT_TRUE(back);
    EXPECT_EQ(*back, s);
    want.push_back(*ids);
  }
  std::vector<std::thread> threads;
  std::vector<int> mismatches(4, 0);
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int rep = 0; rep < 20; ++rep)
        for (size_t i = 0; i < texts.size(); ++i) {
          auto ids = tok->encode(texts[i]);
          mismatches[t] += !ids || *ids != want[i];
        }
    });
  for (std::thread &th : threads)
    th.join();
  for (int m : mismatches)
    EXPECT_EQ(m, 0);
}

TEST(TokenizerTest, Utf8Lossy) {
  auto lossy = [](std::string_view s, bool final) {
    std::string out;
    size_t used = appendUtf8Lossy(s, out, final);
    return std::make_pair(out, used);
  };
  EXPECT_EQ(lossy("a\xC3\xA9", true).first, "a\xC3\xA9");
  EXPECT_EQ(lossy("a\xF0\x9F", false),
            std::make_pair(std::string("a"), size_t(1)));
  EXPECT_EQ(lossy("a\xF0\x9F", true).first, "a\xEF\xBF\xBD");
  // Maximal subparts: E0 80 is two errors, F0 9F 41 one then 'A'.
  EXPECT_EQ(lossy("\xE0\x80", true).first, "\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(lossy("\xF0\x9F\x41", false).first, "\xEF\xBF\xBD"
                                                "A");
  EXPECT_EQ(lossy("\xFF", false).first, "\xEF\xBF\xBD");
}

// A tiny byte-level BPE: the 256 byte tokens, merges "a b" -> "ab",
// "ab c" -> "abc", "Ġ a" -> "Ġa", and added tokens.
json tinyTokenizer() {
  json vocab = json::object();
  int next = 0;
  // GPT-2's byte-to-character map; byte b gets id b.
  for (int b = 0, n = 0; b < 256; ++b) {
    bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) ||
                     (b >= 0xAE && b <= 0xFF);
    char32_t cp = printable ? b : 256 + n++;
    std::string s;
    if (cp < 0x80)
      s += char(cp);
    else
      s += char(0xC0 | (cp >> 6)), s += char(0x80 | (cp & 0x3F));
    vocab[s] = next++;
  }
  vocab["ab"] = next++;  // 256
  vocab["abc"] = next++; // 257
  vocab["Ġa"] = next++;  // 258
  json j = {{"version", "1.0"},
            {"truncation", nullptr},
            {"padding", nullptr},
            {"added_tokens",
             {{{"id", 259},
               {"content", "<s>"},
               {"single_word", false},
               {"lstrip", false},
               {"rstrip", false},
               {"normalized", false},
               {"special", true}},
              {{"id", 260},
               {"content", "<tool>"},
               {"single_word", false},
               {"lstrip", false},
               {"rstrip", false},
               {"normalized", true},
               {"special", false}}}},
            {"normalizer", nullptr},
            {"pre_tokenizer",
             {{"type", "Sequence"},
              {"pretokenizers",
               {{{"type", "Split"},
                 {"pattern", {{"Regex", "\\p{N}{1,3}"}}},
                 {"behavior", "Isolated"},
                 {"invert", false}},
                {{"type", "Split"},
                 {"pattern", {{"Regex", " ?[^\\s]+|\\s+(?!\\S)|\\s+"}}},
                 {"behavior", "Isolated"},
                 {"invert", false}},
                {{"type", "ByteLevel"},
                 {"add_prefix_space", false},
                 {"trim_offsets", true},
                 {"use_regex", false}}}}}},
            {"post_processor", nullptr},
            {"decoder",
             {{"type", "ByteLevel"},
              {"add_prefix_space", true},
              {"trim_offsets", true},
              {"use_regex", true}}},
            {"model",
             {{"type", "BPE"},
              {"dropout", nullptr},
              {"unk_token", nullptr},
              {"continuing_subword_prefix", nullptr},
              {"end_of_word_suffix", nullptr},
              {"fuse_unk", false},
              {"byte_fallback", false},
              {"vocab", vocab},
              {"merges", {"a b", "ab c", "Ġ a"}}}}};
  return j;
}

std::vector<int32_t> encodeTiny(const Tokenizer &t, std::string_view s) {
  auto ids = t.encode(s);
  EXPECT_TRUE(ids) << ids.status().toString();
  return ids ? *ids : std::vector<int32_t>{};
}

TEST(TokenizerTest, TinyMergesByRank) {
  auto tok = Tokenizer::fromJson(tinyTokenizer().dump());
  ASSERT_TRUE(tok) << tok.status().toString();
  const Tokenizer &t = **tok;
  using V = std::vector<int32_t>;
  EXPECT_EQ(encodeTiny(t, ""), V{});
  EXPECT_EQ(encodeTiny(t, "abc"), V{257});
  EXPECT_EQ(encodeTiny(t, "abab"), (V{256, 256}));
  EXPECT_EQ(encodeTiny(t, "cab"), (V{'c', 256}));
  // " a": the space is byte-level "Ġ", merged with "a".
  EXPECT_EQ(encodeTiny(t, " a"), (V{258}));
  // Of a run of spaces before a word only the last joins it: "x", " ", " a".
  EXPECT_EQ(encodeTiny(t, "x  a"), (V{'x', ' ', 258}));
  // Digits: runs of at most three.
  EXPECT_EQ(encodeTiny(t, "12345").size(), 5u);
  // Added tokens come first, inside words too, longest match.
  EXPECT_EQ(encodeTiny(t, "ab<s>c"), (V{256, 259, 'c'}));
  EXPECT_EQ(encodeTiny(t, "<tool><s>"), (V{260, 259}));
  EXPECT_EQ(*t.decode(V{256, 259, 258}), "ab<s> a");
  EXPECT_EQ(*t.decode(V{256, 259, 258}, true), "ab a");
  EXPECT_EQ(t.vocabSize(), 261);
}

TEST(TokenizerTest, TinyStringPatternIsLiteral) {
  json j = tinyTokenizer();
  j["pre_tokenizer"]["pretokenizers"][1]["pattern"] = {{"String", "b."}};
  auto tok = Tokenizer::fromJson(j.dump());
  ASSERT_TRUE(tok) << tok.status().toString();
  using V = std::vector<int32_t>;
  // "ab.c" -> "a", "b.", "c": no merge "a b" across the split.
  EXPECT_EQ(encodeTiny(**tok, "ab.c"), (V{'a', 'b', '.', 'c'}));
  EXPECT_EQ(encodeTiny(**tok, "abxc"), (V{256, 'x', 'c'}));
}

Status loadError(const json &j) {
  auto tok = Tokenizer::fromJson(j.dump());
  return tok ? Status::ok() : tok.status();
}

void expectError(const json &j, StatusCode code, const std::string &words) {
  Status s = loadError(j);
  ASSERT_FALSE(s.isOk()) << "accepted; expected: " << words;
  EXPECT_EQ(s.code(), code) << s.toString();
  EXPECT_NE(s.message().find(words), std::string::npos) << s.toString();
}

TEST(TokenizerTest, MalformedOrUnsupportedFilesAreNamed) {
  EXPECT_EQ(Tokenizer::fromJson("{not json").status().code(),
            StatusCode::Corrupt);
  EXPECT_EQ(
      Tokenizer::fromJsonFile("/nonexistent/tokenizer.json").status().code(),
      StatusCode::NotFound);
  json j = tinyTokenizer();
  j["normalizer"] = {{"type", "NFC"}};
  expectError(j, StatusCode::Unsupported, "normalizer 'NFC'");

  j = tinyTokenizer();
  j["model"]["type"] = "WordPiece";
  expectError(j, StatusCode::Unsupported, "model type 'WordPiece'");

  j = tinyTokenizer();
  j["pre_tokenizer"]["pretokenizers"][0]["behavior"] = "Removed";
  expectError(j, StatusCode::Unsupported, "behavior 'Removed'");

  j = tinyTokenizer();
  j["pre_tokenizer"] = {{"type", "Metaspace"}};
  expectError(j, StatusCode::Unsupported, "pre-tokenizer type 'Metaspace'");

  j = tinyTokenizer();
  j["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"] = "(unclosed";
  expectError(j, StatusCode::Unsupported, "does not compile");

  j = tinyTokenizer();
  j["decoder"] = {{"type", "WordPiece"}};
  expectError(j, StatusCode::Unsupported, "decoder 'WordPiece'");

  j = tinyTokenizer();
  j["post_processor"] = {{"type", "TemplateProcessing"}};
  expectError(j, StatusCode::Unsupported,
              "post_processor 'TemplateProcessing'");

  j = tinyTokenizer();
  j["added_tokens"][0]["lstrip"] = true;
  expectError(j, StatusCode::Unsupported, "added token '<s>' with lstrip");

  j = tinyTokenizer();
  j["model"]["merges"].push_back("x zz");
  expectError(j, StatusCode::Corrupt, "not in the vocab");

  j = tinyTokenizer();
  j["model"].erase("vocab");
  expectError(j, StatusCode::Corrupt, "no \"vocab\"");

  j = tinyTokenizer();
  j["model"]["vocab"].erase("a");
  expectError(j, StatusCode::Unsupported, "byte-level token for byte 97");
}

} // namespace
