//===- Npy.cpp - NumPy .npy reader and writers ----------------------------===//
//
// Format: magic "\x93NUMPY", major and minor version bytes, a little-endian
// header length (uint16 in version 1, uint32 in version 2), then a Python dict
// literal {'descr': ..., 'fortran_order': ..., 'shape': (...), } padded with
// spaces and a newline, then the raw array bytes.
//
//===----------------------------------------------------------------------===//
#include "birkhoff/Npy.h"
#include "birkhoff/CheckedMath.h"
#include "birkhoff/FileSafety.h"

#include <bit>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <map>
#include <memory>
#include <optional>

#include <sys/stat.h>
#include <unistd.h>

namespace birkhoff {

static_assert(std::endian::native == std::endian::little,
              "npy data is read and written as little-endian");

namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicLen = 6;

int64_t elementBytes(const std::string &descr) {
  if (descr == "<f4" || descr == "<i4")
    return 4;
  if (descr == "<i8")
    return 8;
  return 0;
}

// The three value kinds that appear in an npy header dict.
struct HeaderValue {
  enum Kind { String, Bool, Tuple } kind;
  std::string str;
  bool flag = false;
  std::vector<int64_t> ints;
};

// A recursive-descent parser for the header's Python literal. It accepts what
// numpy writes (and reasonable spacing variants), nothing more.
class HeaderParser {
public:
  explicit HeaderParser(std::string_view text) : text_(text) {}

  // On failure returns nullopt and sets error().
  std::optional<std::map<std::string, HeaderValue>> parseDict() {
    std::map<std::string, HeaderValue> out;
    if (!consume('{'))
      return fail("expected '{'");
    while (true) {
      skipSpace();
      if (consume('}'))
        break;
      std::optional<std::string> key = parseString();
      if (!key)
        return fail("expected a quoted key");
      if (!consume(':'))
        return fail("expected ':' after key '" + *key + "'");
      std::optional<HeaderValue> value = parseValue();
      if (!value)
        return std::nullopt;
      if (!out.emplace(*key, std::move(*value)).second)
        return fail("key '" + *key + "' appears twice");
      if (consume(','))
        continue;
      if (consume('}'))
        break;
      return fail("expected ',' or '}' after the value of '" + *key + "'");
    }
    skipSpace();
    if (pos_ != text_.size())
      return fail("unexpected text after the closing '}'");
    return out;
  }

  const std::string &error() const { return error_; }

private:
  std::nullopt_t fail(std::string msg) {
    if (error_.empty())
      error_ = msg + " at header offset " + std::to_string(pos_);
    return std::nullopt;
  }
  void skipSpace() {
    while (pos_ < text_.size() &&
           std::isspace(static_cast<unsigned char>(text_[pos_])))
      ++pos_;
  }
  bool consume(char c) {
    skipSpace();
    if (pos_ < text_.size() && text_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  bool consumeWord(std::string_view w) {
    skipSpace();
    if (text_.substr(pos_, w.size()) == w) {
      pos_ += w.size();
      return true;
    }
    return false;
  }
  std::optional<std::string> parseString() {
    skipSpace();
    if (pos_ >= text_.size() || (text_[pos_] != '\'' && text_[pos_] != '"'))
      return std::nullopt;
    char quote = text_[pos_++];
    size_t end = text_.find(quote, pos_);
    if (end == std::string_view::npos)
      return std::nullopt;
    std::string s(text_.substr(pos_, end - pos_));
    pos_ = end + 1;
    return s;
  }
  std::optional<int64_t> parseInt() {
    skipSpace();
    size_t start = pos_;
    int64_t v = 0;
    while (pos_ < text_.size() &&
           std::isdigit(static_cast<unsigned char>(text_[pos_]))) {
      if (__builtin_mul_overflow(v, 10, &v) ||
          __builtin_add_overflow(v, text_[pos_] - '0', &v))
        return std::nullopt;
      ++pos_;
    }
    // Python 2 era files may write longs as "7L".
    if (pos_ > start && pos_ < text_.size() && text_[pos_] == 'L')
      ++pos_;
    if (pos_ == start)
      return std::nullopt;
    return v;
  }
  std::optional<HeaderValue> parseValue() {
    skipSpace();
    HeaderValue v;
    if (pos_ < text_.size() && (text_[pos_] == '\'' || text_[pos_] == '"')) {
      std::optional<std::string> s = parseString();
      if (!s)
        return fail("unterminated string");
      v.kind = HeaderValue::String;
      v.str = *s;
      return v;
    }
    if (consumeWord("True")) {
      v.kind = HeaderValue::Bool;
      v.flag = true;
      return v;
    }
    if (consumeWord("False")) {
      v.kind = HeaderValue::Bool;
      v.flag = false;
      return v;
    }
    if (consume('(')) {
      v.kind = HeaderValue::Tuple;
      while (!consume(')')) {
        std::optional<int64_t> d = parseInt();
        if (!d)
          return fail("expected a non-negative integer in the shape");
        v.ints.push_back(*d);
        if (!consume(',') &&
            !(skipSpace(), pos_ < text_.size() && text_[pos_] == ')'))
          return fail("expected ',' or ')' in the shape");
      }
      return v;
    }
    return fail("unsupported value");
  }

  std::string_view text_;
  size_t pos_ = 0;
  std::string error_;
};

std::string shapeTuple(const std::vector<int64_t> &shape) {
  std::string s = "(";
  for (size_t i = 0; i < shape.size(); ++i)
    s += (i ? ", " : "") + std::to_string(shape[i]);
  // A one-element tuple needs its trailing comma in Python.
  if (shape.size() == 1)
    s += ",";
  return s + ")";
}

Status writeNpy(const std::string &path, const char *descr,
                const std::vector<int64_t> &shape, const void *data,
                size_t elemBytes) {
  uint64_t numel = 1;
  for (int64_t d : shape)
    if (d < 0 || __builtin_mul_overflow(numel, uint64_t(d), &numel))
      return invalidArgument(path + ": invalid shape " + shapeTuple(shape));
  uint64_t dataBytes;
  if (__builtin_mul_overflow(numel, uint64_t(elemBytes), &dataBytes))
    return invalidArgument(path + ": shape " + shapeTuple(shape) +
                           " is too large");
  if (dataBytes > 0 && !data)
    return invalidArgument(path + ": no data for shape " + shapeTuple(shape));

  std::string dict =
      std::string("{'descr': '") + descr +
      "', 'fortran_order': False, 'shape': " + shapeTuple(shape) + ", }";
  // Version 1.0: magic(6) + version(2) + uint16 length(2) + dict, padded with
  // spaces and ended by '\n' so the data starts on a 64-byte boundary.
  size_t total = 10 + dict.size() + 1;
  dict.append((64 - total % 64) % 64, ' ');
  dict.push_back('\n');
  if (dict.size() > 0xffff)
    return invalidArgument(path + ": npy header too long for version 1.0");

  std::string prefix(kMagic, kMagicLen);
  prefix.push_back('\x01');
  prefix.push_back('\x00');
  uint16_t len = uint16_t(dict.size());
  prefix.append(reinterpret_cast<const char *>(&len), 2);
  prefix += dict;

  // A whole file or the previous one, as for artifacts (FileSafety.h).
  BK_ASSIGN_OR_RETURN(OutputFile out, OutputFile::create(path));
  BK_RETURN_IF_ERROR(out.write(prefix.data(), prefix.size()));
  BK_RETURN_IF_ERROR(out.write(data, dataBytes));
  return out.commit();
}

} // namespace

int64_t NpyArray::numel() const {
  std::optional<int64_t> n = checkedProduct(shape);
  return n ? *n : -1;
}

std::vector<float> NpyArray::asFloat() const {
  const int64_t n = numel();
  if (elementBytes(descr) == 0 || n < 0 ||
      uint64_t(data.size()) / uint64_t(elementBytes(descr)) < uint64_t(n))
    return {};
  std::vector<float> out(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    const uint8_t *p = data.data() + i * elementBytes(descr);
    if (descr == "<f4") {
      std::memcpy(&out[i], p, 4);
    } else if (descr == "<i4") {
      int32_t v;
      std::memcpy(&v, p, 4);
      out[i] = float(v);
    } else if (descr == "<i8") {
      int64_t v;
      std::memcpy(&v, p, 8);
      out[i] = float(v);
    }
  }
  return out;
}

std::vector<int64_t> NpyArray::asInt64() const {
  const int64_t n = numel();
  if (elementBytes(descr) == 0 || n < 0 ||
      uint64_t(data.size()) / uint64_t(elementBytes(descr)) < uint64_t(n))
    return {};
  std::vector<int64_t> out(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    const uint8_t *p = data.data() + i * elementBytes(descr);
    if (descr == "<i4") {
      int32_t v;
      std::memcpy(&v, p, 4);
      out[i] = v;
    } else if (descr == "<i8") {
      std::memcpy(&out[i], p, 8);
    } else if (descr == "<f4") {
      // Truncation toward zero like numpy's astype; NaN reads as 0 and
      // out-of-range values saturate, since the C++ cast would be undefined.
      float v;
      std::memcpy(&v, p, 4);
      if (std::isnan(v))
        out[i] = 0;
      else if (v >= 0x1p63f)
        out[i] = std::numeric_limits<int64_t>::max();
      else if (v < -0x1p63f)
        out[i] = std::numeric_limits<int64_t>::min();
      else
        out[i] = int64_t(v);
    }
  }
  return out;
}

namespace {
/// Closes the file when the reader returns.
struct FileCloser {
  void operator()(std::FILE *f) const { std::fclose(f); }
};
} // namespace

Expected<NpyArray> readNpy(const std::string &path) {
  // Only a regular file, opened without blocking on a FIFO (FileSafety.h).
  // The header's sizes are checked against the file's before anything is
  // allocated: a file must not declare more than it holds.
  uint64_t fileSize = 0;
  BK_ASSIGN_OR_RETURN(UniqueFd fd, openInputFile(path, &fileSize));
  const int own = dup(fd.get());
  std::unique_ptr<std::FILE, FileCloser> file(own >= 0 ? fdopen(own, "rb")
                                                        : nullptr);
  if (!file) {
    if (own >= 0)
      close(own);
    return ioError("cannot open " + path + ": " + std::strerror(errno));
  }
  auto readExactly = [&](void *dst, size_t n) {
    return std::fread(dst, 1, n, file.get()) == n;
  };
  uint8_t preamble[12];
  if (fileSize < 10 || !readExactly(preamble, 10) ||
      std::memcmp(preamble, kMagic, kMagicLen) != 0)
    return corrupt(path + ": not an .npy file (bad magic)");
  uint8_t major = preamble[6], minor = preamble[7];
  uint64_t headerLen, headerStart;
  if (major == 1) {
    uint16_t len;
    std::memcpy(&len, preamble + 8, 2);
    headerLen = len;
    headerStart = 10;
  } else if (major == 2) {
    if (fileSize < 12 || !readExactly(preamble + 10, 2))
      return corrupt(path + ": truncated npy 2.0 preamble");
    uint32_t len;
    std::memcpy(&len, preamble + 8, 4);
    headerLen = len;
    headerStart = 12;
  } else {
    return unsupported(path + ": npy format version " + std::to_string(major) +
                       "." + std::to_string(minor) +
                       " (only 1.0 and 2.0 are read)");
  }
  if (headerLen > fileSize - headerStart)
    return corrupt(path + ": header length " + std::to_string(headerLen) +
                   " runs past the end of the file");
  std::string header(size_t(headerLen), '\0');
  if (!readExactly(header.data(), header.size()))
    return ioError("cannot read " + path);

  std::string_view text(header);
  HeaderParser parser(text);
  auto dict = parser.parseDict();
  if (!dict)
    return corrupt(path + ": malformed header: " + parser.error());
  for (const auto &[key, value] : *dict)
    if (key != "descr" && key != "fortran_order" && key != "shape")
      return corrupt(path + ": unexpected header key '" + key + "'");
  auto descr = dict->find("descr");
  auto fortran = dict->find("fortran_order");
  auto shape = dict->find("shape");
  if (descr == dict->end() || descr->second.kind != HeaderValue::String)
    return corrupt(path + ": header lacks a string 'descr'");
  if (fortran == dict->end() || fortran->second.kind != HeaderValue::Bool)
    return corrupt(path + ": header lacks a boolean 'fortran_order'");
  if (shape == dict->end() || shape->second.kind != HeaderValue::Tuple)
    return corrupt(path + ": header lacks a tuple 'shape'");

  NpyArray array;
  array.descr = descr->second.str;
  int64_t elem = elementBytes(array.descr);
  if (elem == 0)
    return unsupported(path + ": dtype '" + array.descr +
                       "' (only '<f4', '<i4' and '<i8' are read)");
  if (fortran->second.flag)
    return unsupported(path + ": Fortran-order arrays are not read");
  array.shape = shape->second.ints;

  uint64_t want = uint64_t(elem);
  for (int64_t d : array.shape)
    if (__builtin_mul_overflow(want, uint64_t(d), &want))
      return corrupt(path + ": shape is too large");
  uint64_t have = fileSize - headerStart - headerLen;
  if (have != want)
    return corrupt(path + ": array data is " + std::to_string(have) +
                   " bytes, but dtype and shape need " + std::to_string(want));
  array.data.resize(size_t(want));
  uint8_t extra;
  if (!readExactly(array.data.data(), array.data.size()) ||
      std::fread(&extra, 1, 1, file.get()) != 0)
    return ioError(path + " changed while it was read");
  return array;
}

Status writeNpyF32(const std::string &path, const std::vector<int64_t> &shape,
                   const float *data) {
  return writeNpy(path, "<f4", shape, data, 4);
}

Status writeNpyI32(const std::string &path, const std::vector<int64_t> &shape,
                   const int32_t *data) {
  return writeNpy(path, "<i4", shape, data, 4);
}

} // namespace birkhoff
