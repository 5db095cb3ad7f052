//===- Tokenizer.cpp - Byte-level BPE tokenizer from a HF tokenizer.json --===//
#include "birkhoff/Tokenizer.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "birkhoff/FileSafety.h"
#include "birkhoff/JsonInput.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <mutex>
#include <sstream>
#include <unordered_map>

namespace birkhoff {

using json = nlohmann::json;

namespace {

// GPT-2's byte <-> character map used by the ByteLevel pre-tokenizer and
// decoder: printable Latin-1 bytes stand for themselves, the others for 256+n.
struct ByteMap {
  char32_t byteToChar[256];
  std::unordered_map<char32_t, uint8_t> charToByte;
  ByteMap() {
    int n = 0;
    for (int b = 0; b < 256; ++b) {
      bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) ||
                       (b >= 0xAE && b <= 0xFF);
      byteToChar[b] = printable ? char32_t(b) : char32_t(256 + n++);
      charToByte[byteToChar[b]] = uint8_t(b);
    }
  }
};
const ByteMap &byteMap() {
  static const ByteMap m;
  return m;
}

// Decodes one UTF-8 character of a valid string at `i`, advancing `i`.
char32_t nextChar(std::string_view s, size_t &i) {
  unsigned char c = s[i];
  if (c < 0x80) {
    ++i;
    return c;
  }
  int n = c >= 0xF0 ? 3 : c >= 0xE0 ? 2 : 1;
  char32_t cp = c & (0x3F >> n);
  for (int k = 0; k < n; ++k)
    cp = (cp << 6) | (static_cast<unsigned char>(s[i + 1 + k]) & 0x3F);
  i += n + 1;
  return cp;
}

// What a UTF-8 lead byte asks of the bytes after it (Unicode's table of
// well-formed sequences): `need` continuation bytes, the first in [lo, hi],
// the others in [0x80, 0xBF]; need 0 for a byte that starts no sequence.
struct Utf8Lead {
  size_t need = 0;
  unsigned char lo = 0x80, hi = 0xBF;
};
Utf8Lead utf8Lead(unsigned char c) {
  if (c >= 0xC2 && c <= 0xDF)
    return {1};
  if (c == 0xE0)
    return {2, 0xA0};
  if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF)
    return {2};
  if (c == 0xED)
    return {2, 0x80, 0x9F};
  if (c == 0xF0)
    return {3, 0x90};
  if (c >= 0xF1 && c <= 0xF3)
    return {3};
  if (c == 0xF4)
    return {3, 0x80, 0x8F};
  return {};
}

// Length of the valid UTF-8 prefix of `s` (== s.size() when all valid).
size_t validUtf8Prefix(std::string_view s) {
  size_t i = 0, n = s.size();
  while (i < n) {
    unsigned char c = s[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    const Utf8Lead l = utf8Lead(c);
    if (l.need == 0)
      return i;
    const size_t need = l.need;
    const unsigned char lo = l.lo, hi = l.hi;
    if (i + need >= n)
      return i;
    for (size_t k = 1; k <= need; ++k) {
      unsigned char d = s[i + k];
      if (d < (k == 1 ? lo : 0x80) || d > (k == 1 ? hi : 0xBF))
        return i;
    }
    i += need + 1;
  }
  return n;
}

void appendUtf8(std::string &out, char32_t cp) {
  if (cp < 0x80) {
    out += char(cp);
  } else if (cp < 0x800) {
    out += char(0xC0 | (cp >> 6));
    out += char(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += char(0xE0 | (cp >> 12));
    out += char(0x80 | ((cp >> 6) & 0x3F));
    out += char(0x80 | (cp & 0x3F));
  } else {
    out += char(0xF0 | (cp >> 18));
    out += char(0x80 | ((cp >> 12) & 0x3F));
    out += char(0x80 | ((cp >> 6) & 0x3F));
    out += char(0x80 | (cp & 0x3F));
  }
}

// Oniguruma's `\s` for Unicode strings: Unicode White_Space. PCRE2's UCP `\s`
// also matches U+180E, so patterns get this set spelled out.
constexpr const char *kOnigSpace =
    "\\x{09}-\\x{0D}\\x{20}\\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}"
    "\\x{2028}\\x{2029}\\x{202F}\\x{205F}\\x{3000}";

std::string rewriteForPcre2(std::string_view pattern) {
  std::string out;
  bool inClass = false;
  for (size_t i = 0; i < pattern.size(); ++i) {
    char c = pattern[i];
    if (c == '\\' && i + 1 < pattern.size()) {
      char e = pattern[++i];
      if (e == 's')
        out += inClass ? std::string(kOnigSpace)
                       : "[" + std::string(kOnigSpace) + "]";
      else if (e == 'S' && !inClass)
        out += "[^" + std::string(kOnigSpace) + "]";
      else
        out += c, out += e;
      continue;
    }
    if (c == '[' && !inClass) {
      inClass = true;
      out += c;
      // A ']' right after '[' or '[^' is literal.
      if (i + 1 < pattern.size() && pattern[i + 1] == '^')
        out += pattern[++i];
      if (i + 1 < pattern.size() && pattern[i + 1] == ']')
        out += "\\]", ++i;
      continue;
    }
    if (c == ']' && inClass)
      inClass = false;
    out += c;
  }
  return out;
}

struct CodeDeleter {
  void operator()(pcre2_code *c) const { pcre2_code_free(c); }
};
struct MatchDataDeleter {
  void operator()(pcre2_match_data *m) const { pcre2_match_data_free(m); }
};

struct SplitRegex {
  std::unique_ptr<pcre2_code, CodeDeleter> code;
  std::string source;
};

// A byte trie of added tokens for leftmost-longest matching.
struct Trie {
  struct Node {
    std::vector<std::pair<uint8_t, int32_t>> next;
    int32_t id = -1;
  };
  std::vector<Node> nodes{Node{}};
  bool empty() const { return nodes[0].next.empty(); }
  void insert(std::string_view s, int32_t id) {
    int32_t n = 0;
    for (unsigned char c : s) {
      int32_t child = -1;
      for (auto &[b, to] : nodes[n].next)
        if (b == c)
          child = to;
      if (child < 0) {
        child = int32_t(nodes.size());
        nodes[n].next.push_back({c, child});
        nodes.emplace_back();
      }
      n = child;
    }
    nodes[n].id = id;
  }
  // Longest token starting at `pos`: {id, length}, or {-1, 0}.
  std::pair<int32_t, size_t> longest(std::string_view s, size_t pos) const {
    int32_t n = 0, best = -1;
    size_t bestLen = 0;
    for (size_t i = pos; i < s.size(); ++i) {
      int32_t child = -1;
      for (auto &[b, to] : nodes[n].next)
        if (b == static_cast<unsigned char>(s[i])) {
          child = to;
          break;
        }
      if (child < 0)
        break;
      n = child;
      if (nodes[n].id >= 0)
        best = nodes[n].id, bestLen = i + 1 - pos;
    }
    return {best, bestLen};
  }
};

// Open-addressing map (left id, right id) -> (rank, merged id).
class PairMap {
public:
  struct Entry {
    uint64_t key = ~0ull;
    int32_t rank = 0;
    int32_t merged = 0;
  };
  void reserve(size_t n) {
    size_t cap = 16;
    while (cap < n * 2)
      cap <<= 1;
    table_.assign(cap, Entry{});
    mask_ = cap - 1;
  }
  static uint64_t key(int32_t a, int32_t b) {
    return (uint64_t(uint32_t(a)) << 32) | uint32_t(b);
  }
  // Returns false if the pair was already present (first rank wins).
  bool insert(int32_t a, int32_t b, int32_t rank, int32_t merged) {
    uint64_t k = key(a, b);
    for (size_t i = hash(k);; i = (i + 1) & mask_) {
      if (table_[i].key == k)
        return false;
      if (table_[i].key == ~0ull) {
        table_[i] = {k, rank, merged};
        return true;
      }
    }
  }
  const Entry *find(int32_t a, int32_t b) const {
    uint64_t k = key(a, b);
    for (size_t i = hash(k);; i = (i + 1) & mask_) {
      if (table_[i].key == k)
        return &table_[i];
      if (table_[i].key == ~0ull)
        return nullptr;
    }
  }

private:
  size_t hash(uint64_t k) const {
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdull;
    k ^= k >> 33;
    return size_t(k) & mask_;
  }
  std::vector<Entry> table_;
  size_t mask_ = 0;
};

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const {
    return std::hash<std::string_view>{}(s);
  }
};

} // namespace

struct Tokenizer::Impl {
  std::vector<SplitRegex> splits;
  int32_t byteToken[256];
  PairMap merges;
  Trie rawAdded;                    // added tokens with normalized: false
  Trie normalizedAdded;             // added tokens with normalized: true
  std::vector<std::string> idBytes; // what each id decodes to
  std::vector<uint8_t> idKnown;     // 1 where the id exists
  std::vector<uint8_t> idSpecial;
  std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>>
      tokenIds;
  size_t maxPatternMatch = 0;
  size_t addedCount = 0;

  // Word cache: piece bytes -> span of `cacheIds`.
  mutable std::mutex cacheMutex;
  mutable std::unordered_map<std::string, std::pair<uint32_t, uint32_t>,
                             StringHash, std::equal_to<>>
      cache;
  mutable std::vector<int32_t> cacheIds;

  void bpe(std::string_view word, std::vector<int32_t> &out) const;
};

namespace {

struct Symbol {
  int32_t id, prev, next, len;
};
struct Candidate {
  int32_t rank, pos, left, right, merged;
  bool operator>(const Candidate &o) const {
    return rank != o.rank ? rank > o.rank : pos > o.pos;
  }
};

} // namespace

// HF's BPE merge: repeatedly merge the adjacent pair of lowest rank (leftmost
// first among equal ranks) until no pair has a merge.
void Tokenizer::Impl::bpe(std::string_view word,
                          std::vector<int32_t> &out) const {
  size_t n = word.size();
  if (n == 1) {
    out.push_back(byteToken[static_cast<unsigned char>(word[0])]);
    return;
  }
  thread_local std::vector<Symbol> syms;
  thread_local std::vector<Candidate> heap;
  syms.clear();
  heap.clear();
  for (size_t i = 0; i < n; ++i)
    syms.push_back({byteToken[static_cast<unsigned char>(word[i])],
                    int32_t(i) - 1, i + 1 < n ? int32_t(i + 1) : -1, 1});
  auto cmp = [](const Candidate &a, const Candidate &b) { return a > b; };
  auto push = [&](int32_t pos) {
    const Symbol &l = syms[pos];
    if (l.next < 0)
      return;
    const Symbol &r = syms[l.next];
    if (const PairMap::Entry *e = merges.find(l.id, r.id)) {
      heap.push_back({e->rank, pos, l.id, r.id, e->merged});
      std::push_heap(heap.begin(), heap.end(), cmp);
    }
  };
  for (size_t i = 0; i + 1 < n; ++i)
    push(int32_t(i));
  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), cmp);
    Candidate c = heap.back();
    heap.pop_back();
    Symbol &l = syms[c.pos];
    if (l.len == 0 || l.id != c.left || l.next < 0)
      continue;
    Symbol &r = syms[l.next];
    if (r.id != c.right)
      continue;
    l.id = c.merged;
    l.len += r.len;
    r.len = 0;
    l.next = r.next;
    if (l.next >= 0)
      syms[l.next].prev = c.pos;
    if (l.prev >= 0)
      push(l.prev);
    push(c.pos);
  }
  for (int32_t i = 0; i >= 0; i = syms[i].next)
    out.push_back(syms[i].id);
}

Tokenizer::Tokenizer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Tokenizer::~Tokenizer() = default;

namespace {

Status requireType(const json &j, const char *what) {
  if (!j.is_object() || !j.contains("type") || !j["type"].is_string())
    return corrupt(std::string(what) + " has no \"type\"");
  return Status::ok();
}

/// The "type" of a section that passed requireType, quoted and cut short.
std::string typeName(const json &section) {
  return "'" +
         truncateForMessage(section["type"].get_ref<const std::string &>()) +
         "'";
}

bool isFalsy(const json &j, const char *key) {
  return !j.contains(key) || j[key].is_null() ||
         (j[key].is_boolean() && !j[key].get<bool>());
}

Status addSplit(Tokenizer::Impl &impl, const std::string &pattern,
                bool literal) {
  std::string source = literal ? pattern : rewriteForPcre2(pattern);
  int err = 0;
  PCRE2_SIZE errOffset = 0;
  // PCRE2_LITERAL refuses PCRE2_UCP (which only matters to classes).
  uint32_t options =
      PCRE2_UTF | PCRE2_NO_UTF_CHECK | (literal ? PCRE2_LITERAL : PCRE2_UCP);
  pcre2_code *code =
      pcre2_compile(reinterpret_cast<PCRE2_SPTR>(source.data()), source.size(),
                    options, &err, &errOffset, nullptr);
  if (!code) {
    PCRE2_UCHAR buf[256];
    pcre2_get_error_message(err, buf, sizeof(buf));
    return unsupported("pre-tokenizer Split pattern '" + pattern +
                       "' does not compile at offset " +
                       std::to_string(errOffset) + ": " +
                       reinterpret_cast<char *>(buf));
  }
  pcre2_jit_compile(code, PCRE2_JIT_COMPLETE); // falls back to the interpreter
  impl.splits.push_back(
      {std::unique_ptr<pcre2_code, CodeDeleter>(code), std::move(source)});
  return Status::ok();
}

// GPT-2's pattern, which ByteLevel applies itself when use_regex is true.
constexpr const char *kGpt2Pattern =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|"
    "\\s+(?!\\S)|\\s+";

Status parsePreTokenizer(Tokenizer::Impl &impl, const json &pt) {
  BK_RETURN_IF_ERROR(requireType(pt, "pre_tokenizer"));
  std::vector<const json *> steps;
  if (pt["type"] == "Sequence") {
    if (!pt.contains("pretokenizers") || !pt["pretokenizers"].is_array())
      return corrupt("pre_tokenizer Sequence has no \"pretokenizers\" list");
    for (const json &s : pt["pretokenizers"])
      steps.push_back(&s);
  } else {
    steps.push_back(&pt);
  }
  bool sawByteLevel = false;
  for (const json *sp : steps) {
    const json &s = *sp;
    BK_RETURN_IF_ERROR(requireType(s, "pre_tokenizer step"));
    std::string type = s["type"];
    if (sawByteLevel)
      return unsupported("pre-tokenizer '" + type +
                         "' after ByteLevel (ByteLevel must be last)");
    if (type == "Split") {
      std::string behavior = s.value("behavior", "");
      if (behavior != "Isolated")
        return unsupported("pre-tokenizer Split with behavior '" + behavior +
                           "' (only Isolated)");
      if (!isFalsy(s, "invert"))
        return unsupported("pre-tokenizer Split with invert: true");
      if (!s.contains("pattern") || !s["pattern"].is_object())
        return corrupt("pre-tokenizer Split has no \"pattern\"");
      const json &p = s["pattern"];
      if (p.contains("Regex") && p["Regex"].is_string())
        BK_RETURN_IF_ERROR(addSplit(impl, p["Regex"], false));
      else if (p.contains("String") && p["String"].is_string())
        BK_RETURN_IF_ERROR(addSplit(impl, p["String"], true));
      else
        return corrupt("pre-tokenizer Split pattern is neither Regex nor "
                       "String");
    } else if (type == "ByteLevel") {
      if (!isFalsy(s, "add_prefix_space"))
        return unsupported("pre-tokenizer ByteLevel with add_prefix_space: "
                           "true");
      if (!s.contains("use_regex") || s["use_regex"] == true)
        BK_RETURN_IF_ERROR(addSplit(impl, kGpt2Pattern, false));
      sawByteLevel = true;
    } else {
      return unsupported("pre-tokenizer type '" + type +
                         "' (supported: Sequence of Split (Isolated) then "
                         "ByteLevel)");
    }
  }
  if (!sawByteLevel)
    return unsupported("pre-tokenizer without ByteLevel (only byte-level BPE "
                       "is supported)");
  return Status::ok();
}

Status parseModel(Tokenizer::Impl &impl, const json &m) {
  BK_RETURN_IF_ERROR(requireType(m, "model"));
  std::string type = m["type"];
  if (type != "BPE")
    return unsupported("model type '" + type + "' (only BPE)");
  if (!isFalsy(m, "dropout") &&
      !(m["dropout"].is_number() && m["dropout"].get<double>() == 0.0))
    return unsupported("BPE with dropout");
  for (const char *k : {"continuing_subword_prefix", "end_of_word_suffix"})
    if (m.contains(k) && !m[k].is_null() &&
        !(m[k].is_string() && m[k].get<std::string>().empty()))
      return unsupported(std::string("BPE with ") + k);
  if (!isFalsy(m, "ignore_merges"))
    return unsupported("BPE with ignore_merges: true");
  if (!isFalsy(m, "byte_fallback"))
    return unsupported("BPE with byte_fallback: true");
  if (!m.contains("vocab") || !m["vocab"].is_object())
    return corrupt("model has no \"vocab\" object");
  if (!m.contains("merges") || !m["merges"].is_array())
    return corrupt("model has no \"merges\" list");

  const ByteMap &bm = byteMap();
  for (auto it = m["vocab"].begin(); it != m["vocab"].end(); ++it) {
    if (!it.value().is_number_integer() || it.value().get<int64_t>() < 0 ||
        it.value().get<int64_t>() > (1 << 30))
      return corrupt("vocab entry '" + it.key() + "' has no valid id");
    int32_t id = it.value().get<int32_t>();
    impl.tokenIds[it.key()] = id;
  }
  for (int b = 0; b < 256; ++b) {
    std::string ch;
    appendUtf8(ch, bm.byteToChar[b]);
    auto it = impl.tokenIds.find(ch);
    if (it == impl.tokenIds.end())
      return unsupported("vocab lacks the byte-level token for byte " +
                         std::to_string(b));
    impl.byteToken[b] = it->second;
  }
  const json &merges = m["merges"];
  impl.merges.reserve(merges.size());
  std::string left, right;
  for (size_t r = 0; r < merges.size(); ++r) {
    const json &e = merges[r];
    if (e.is_string()) {
      const std::string &s = e.get_ref<const std::string &>();
      size_t sp = s.find(' ', 1);
      if (sp == std::string::npos || s.find(' ', sp + 1) != std::string::npos)
        return corrupt("merge " + std::to_string(r) + " '" + s +
                       "' is not two tokens");
      left.assign(s, 0, sp);
      right.assign(s, sp + 1);
    } else if (e.is_array() && e.size() == 2 && e[0].is_string() &&
               e[1].is_string()) {
      left = e[0].get<std::string>();
      right = e[1].get<std::string>();
    } else {
      return corrupt("merge " + std::to_string(r) + " is malformed");
    }
    auto l = impl.tokenIds.find(left), rt = impl.tokenIds.find(right),
         merged = impl.tokenIds.find(left + right);
    if (l == impl.tokenIds.end() || rt == impl.tokenIds.end())
      return corrupt("merge " + std::to_string(r) + " names a token '" +
                     (l == impl.tokenIds.end() ? left : right) +
                     "' not in the vocab");
    if (merged == impl.tokenIds.end())
      return corrupt("merge " + std::to_string(r) + " makes '" + left + right +
                     "', not in the vocab");
    impl.merges.insert(l->second, rt->second, int32_t(r), merged->second);
  }
  return Status::ok();
}

// HF's ByteLevel decoder per token: all characters in the byte map -> those
// bytes; otherwise the token's own UTF-8.
std::string tokenToBytes(const std::string &token) {
  const ByteMap &bm = byteMap();
  std::string bytes;
  if (validUtf8Prefix(token) != token.size())
    return token;
  for (size_t i = 0; i < token.size();) {
    auto it = bm.charToByte.find(nextChar(token, i));
    if (it == bm.charToByte.end())
      return token;
    bytes += char(it->second);
  }
  return bytes;
}

} // namespace

Expected<std::unique_ptr<Tokenizer>>
Tokenizer::fromJsonFile(const std::string &path) {
  Expected<std::string> text = readInputFile(path);
  if (!text)
    return text.status().withContext("tokenizer file");
  auto tok = fromJson(*text);
  if (!tok)
    return tok.status().withContext(path);
  return tok;
}

Expected<std::unique_ptr<Tokenizer>>
Tokenizer::fromJson(std::string_view text) {
  BK_ASSIGN_OR_RETURN(json j, parseJsonInput(text, "tokenizer.json"));
  if (!j.is_object())
    return corrupt("tokenizer.json is not a JSON object");
  auto impl = std::make_unique<Impl>();

  if (j.contains("normalizer") && !j["normalizer"].is_null()) {
    const json &n = j["normalizer"];
    BK_RETURN_IF_ERROR(requireType(n, "normalizer"));
    bool emptySequence = n["type"] == "Sequence" && n.contains("normalizers") &&
                         n["normalizers"].is_array() &&
                         n["normalizers"].empty();
    if (!emptySequence)
      return unsupported("normalizer " + typeName(n) + " (only none)");
  }
  if (!j.contains("pre_tokenizer") || j["pre_tokenizer"].is_null())
    return unsupported("no pre_tokenizer (only byte-level BPE is supported)");
  BK_RETURN_IF_ERROR(parsePreTokenizer(*impl, j["pre_tokenizer"]));
  if (!j.contains("model"))
    return corrupt("tokenizer.json has no \"model\"");
  BK_RETURN_IF_ERROR(parseModel(*impl, j["model"]));
  if (j.contains("post_processor") && !j["post_processor"].is_null()) {
    const json &p = j["post_processor"];
    BK_RETURN_IF_ERROR(requireType(p, "post_processor"));
    if (p["type"] != "ByteLevel")
      return unsupported("post_processor " + typeName(p) +
                         " (only none or ByteLevel)");
  }
  if (!j.contains("decoder") || j["decoder"].is_null())
    return unsupported("no decoder (only ByteLevel)");
  BK_RETURN_IF_ERROR(requireType(j["decoder"], "decoder"));
  if (j["decoder"]["type"] != "ByteLevel")
    return unsupported("decoder " + typeName(j["decoder"]) +
                       " (only ByteLevel)");

  // Ids: the vocab, then added tokens (which may reuse or extend it).
  int32_t maxId = -1;
  for (auto &[tok, id] : impl->tokenIds)
    maxId = std::max(maxId, id);
  struct Added {
    std::string content;
    int32_t id;
    bool special, normalized;
  };
  std::vector<Added> added;
  if (j.contains("added_tokens") && !j["added_tokens"].is_null()) {
    if (!j["added_tokens"].is_array())
      return corrupt("\"added_tokens\" is not a list");
    for (const json &a : j["added_tokens"]) {
      if (!a.is_object() || !a.contains("id") || !a["id"].is_number_integer() ||
          !a.contains("content") || !a["content"].is_string() ||
          a["id"].get<int64_t>() < 0 || a["id"].get<int64_t>() > (1 << 30))
        return corrupt("an added token has no valid \"id\" and \"content\"");
      std::string content = a["content"];
      for (const char *flag : {"single_word", "lstrip", "rstrip"})
        if (!isFalsy(a, flag))
          return unsupported("added token '" + content + "' with " + flag +
                             ": true");
      added.push_back({content, a["id"].get<int32_t>(),
                       a.value("special", false),
                       a.value("normalized", !a.value("special", false))});
      maxId = std::max(maxId, added.back().id);
    }
  }
  impl->idBytes.assign(size_t(maxId + 1), {});
  impl->idKnown.assign(size_t(maxId + 1), 0);
  impl->idSpecial.assign(size_t(maxId + 1), 0);
  for (auto &[tok, id] : impl->tokenIds) {
    impl->idBytes[id] = tokenToBytes(tok);
    impl->idKnown[id] = 1;
  }
  impl->addedCount = added.size();
  for (const Added &a : added) {
    impl->idBytes[a.id] = tokenToBytes(a.content);
    impl->idKnown[a.id] = 1;
    impl->idSpecial[a.id] = a.special;
    impl->tokenIds[a.content] = a.id;
    if (!a.content.empty())
      (a.normalized ? impl->normalizedAdded : impl->rawAdded)
          .insert(a.content, a.id);
  }
  return std::unique_ptr<Tokenizer>(new Tokenizer(std::move(impl)));
}

namespace {

// Splits [begin, end) of `text` by the added tokens of `trie`: gaps go to
// `gap(begin, end)`, matches to `token(id)`.
template <typename Gap, typename Token>
void splitAdded(const Trie &trie, std::string_view text, size_t begin,
                size_t end, Gap &&gap, Token &&token) {
  if (trie.empty()) {
    if (end > begin)
      gap(begin, end);
    return;
  }
  std::string_view s = text.substr(0, end);
  size_t start = begin;
  for (size_t i = begin; i < end;) {
    auto [id, len] = trie.longest(s, i);
    if (id < 0) {
      ++i;
      continue;
    }
    if (i > start)
      gap(start, i);
    token(id);
    i += len;
    start = i;
  }
  if (end > start)
    gap(start, end);
}

} // namespace

Expected<std::vector<int32_t>> Tokenizer::encode(std::string_view text,
                                                 bool) const {
  size_t valid = validUtf8Prefix(text);
  if (valid != text.size())
    return invalidArgument("text is not valid UTF-8 at byte " +
                           std::to_string(valid));
  const Impl &impl = *impl_;
  std::vector<int32_t> ids;
  ids.reserve(text.size() / 3 + 8);

  std::unique_lock<std::mutex> cacheLock(impl.cacheMutex, std::try_to_lock);
  bool useCache = cacheLock.owns_lock();
  constexpr size_t kCacheWords = 1 << 17, kCacheMaxLen = 64;

  std::unique_ptr<pcre2_match_data, MatchDataDeleter> md(
      pcre2_match_data_create(1, nullptr));
  std::vector<std::pair<size_t, size_t>> pieces, next;

  auto model = [&](size_t b, size_t e) {
    std::string_view word = text.substr(b, e - b);
    if (!useCache || word.size() > kCacheMaxLen || word.size() == 1) {
      impl.bpe(word, ids);
      return;
    }
    auto it = impl.cache.find(word);
    if (it != impl.cache.end()) {
      const int32_t *p = impl.cacheIds.data() + it->second.first;
      ids.insert(ids.end(), p, p + it->second.second);
      return;
    }
    size_t before = ids.size();
    impl.bpe(word, ids);
    if (impl.cache.size() >= kCacheWords) {
      impl.cache.clear();
      impl.cacheIds.clear();
    }
    impl.cache.emplace(std::string(word),
                       std::make_pair(uint32_t(impl.cacheIds.size()),
                                      uint32_t(ids.size() - before)));
    impl.cacheIds.insert(impl.cacheIds.end(), ids.begin() + before, ids.end());
  };

  Status matchError;
  auto preTokenize = [&](size_t b, size_t e) {
    if (!matchError.isOk())
      return;
    pieces.assign(1, {b, e});
    for (const SplitRegex &re : impl.splits) {
      next.clear();
      for (auto [pb, pe] : pieces) {
        auto subject = reinterpret_cast<PCRE2_SPTR>(text.data() + pb);
        size_t len = pe - pb, at = 0, last = 0;
        while (at <= len) {
          int rc = pcre2_match(re.code.get(), subject, len, at,
                               PCRE2_NO_UTF_CHECK, md.get(), nullptr);
          if (rc == PCRE2_ERROR_NOMATCH)
            break;
          if (rc < 0) { // a PCRE2 limit: never a silently different split
            PCRE2_UCHAR buf[256];
            pcre2_get_error_message(rc, buf, sizeof(buf));
            matchError = internalError(
                "pre-tokenizer pattern '" + re.source + "' failed on a " +
                std::to_string(len) + "-byte piece at byte " +
                std::to_string(pb + at) + ": " + reinterpret_cast<char *>(buf));
            return;
          }
          PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md.get());
          size_t ms = ov[0], me = ov[1];
          if (me == ms) { // empty match: step over one character
            if (ms >= len)
              break;
            at = ms + 1;
            while (at < len &&
                   (static_cast<unsigned char>(text[pb + at]) & 0xC0) == 0x80)
              ++at;
            continue;
          }
          if (ms > last)
            next.push_back({pb + last, pb + ms});
          next.push_back({pb + ms, pb + me});
          last = at = me;
        }
        if (len > last)
          next.push_back({pb + last, pe});
      }
      pieces.swap(next);
    }
    for (auto [pb, pe] : pieces)
      model(pb, pe);
  };

  splitAdded(
      impl.rawAdded, text, 0, text.size(),
      [&](size_t b, size_t e) {
        splitAdded(impl.normalizedAdded, text, b, e, preTokenize,
                   [&](int32_t id) { ids.push_back(id); });
      },
      [&](int32_t id) { ids.push_back(id); });
  if (!matchError.isOk())
    return matchError;
  return ids;
}

Expected<std::string> Tokenizer::decode(std::span<const int32_t> ids,
                                        bool skipSpecial) const {
  std::string bytes, out;
  for (int32_t id : ids) {
    BK_ASSIGN_OR_RETURN(std::string_view b, tokenBytes(id));
    if (!(skipSpecial && impl_->idSpecial[id]))
      bytes += b;
  }
  appendUtf8Lossy(bytes, out, true);
  return out;
}

int32_t Tokenizer::vocabSize() const { return int32_t(impl_->idBytes.size()); }

size_t Tokenizer::addedTokenCount() const { return impl_->addedCount; }

size_t Tokenizer::specialTokenCount() const {
  return size_t(
      std::count(impl_->idSpecial.begin(), impl_->idSpecial.end(), uint8_t(1)));
}

std::optional<int32_t> Tokenizer::tokenToId(std::string_view token) const {
  auto it = impl_->tokenIds.find(token);
  if (it == impl_->tokenIds.end())
    return std::nullopt;
  return it->second;
}

bool Tokenizer::isSpecial(int32_t id) const {
  return id >= 0 && id < vocabSize() && impl_->idSpecial[id];
}

Expected<std::string_view> Tokenizer::tokenBytes(int32_t id) const {
  if (id < 0 || id >= vocabSize() || !impl_->idKnown[id])
    return outOfRange("token id " + std::to_string(id) +
                      " is not in the vocabulary (" +
                      std::to_string(vocabSize()) + " ids)");
  return std::string_view(impl_->idBytes[id]);
}

Expected<std::string> Tokenizer::IncrementalDecoder::push(int32_t id) {
  BK_ASSIGN_OR_RETURN(std::string_view b, tok_->tokenBytes(id));
  if (skipSpecial_ && tok_->isSpecial(id))
    return std::string();
  pending_ += b;
  std::string out;
  size_t used = appendUtf8Lossy(pending_, out, false);
  pending_.erase(0, used);
  return out;
}

std::string Tokenizer::IncrementalDecoder::finish() {
  std::string out;
  appendUtf8Lossy(pending_, out, true);
  pending_.clear();
  return out;
}

std::string byteLevelChar(uint8_t b) {
  std::string out;
  appendUtf8(out, byteMap().byteToChar[b]);
  return out;
}

size_t appendUtf8Lossy(std::string_view s, std::string &out, bool final) {
  static const char kReplacement[] = "\xEF\xBF\xBD";
  size_t i = 0, n = s.size();
  while (i < n) {
    size_t good = validUtf8Prefix(s.substr(i));
    out.append(s.data() + i, good);
    i += good;
    if (i == n)
      break;
    // s[i] starts an invalid or incomplete sequence: find its maximal subpart.
    unsigned char c = s[i];
    const Utf8Lead l = utf8Lead(c);
    const size_t need = l.need;
    const unsigned char lo = l.lo, hi = l.hi;
    size_t k = 1;
    while (k <= need && i + k < n) {
      unsigned char d = s[i + k];
      if (d < (k == 1 ? lo : 0x80) || d > (k == 1 ? hi : 0xBF))
        break;
      ++k;
    }
    if (need > 0 && k <= need && i + k == n && !final)
      return i; // an incomplete character at the end: wait for more bytes
    out += kReplacement;
    i += k;
  }
  return n;
}

} // namespace birkhoff
