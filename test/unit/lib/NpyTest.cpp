//===- NpyTest.cpp - .npy reading (goldens, crafted files) and writing ----===//
#include "birkhoff/Npy.h"
#include "TempDir.h"
#include "birkhoff/Numerics.h"

#include <gtest/gtest.h>

#include <cstring>

namespace birkhoff {
namespace {

using test::readBytes;
using test::TempDir;
using test::writeBytes;

const std::string kTinyMix = std::string(BIRKHOFF_GOLDENS_DIR) + "/tiny_mix";

// An npy file: version `major`.0, header dict `dict` (padded as numpy does),
// then `data`.
std::string npyFile(int major, std::string dict, const std::string &data) {
  size_t pre = major == 1 ? 10 : 12;
  size_t total = pre + dict.size() + 1;
  dict.append((64 - total % 64) % 64, ' ');
  dict += '\n';
  std::string out = "\x93NUMPY";
  out += char(major);
  out += '\0';
  uint32_t len = uint32_t(dict.size());
  out.append(reinterpret_cast<const char *>(&len), major == 1 ? 2 : 4);
  return out + dict + data;
}

template <typename T> std::string bytesOf(std::initializer_list<T> v) {
  return std::string(reinterpret_cast<const char *>(std::data(v)),
                     v.size() * sizeof(T));
}

#define EXPECT_NPY_ERROR(expr, code_, part)                                    \
  do {                                                                         \
    auto st_ = (expr);                                                         \
    ASSERT_FALSE(st_.isOk());                                                  \
    EXPECT_EQ(st_.status().code(), code_) << st_.status().toString();          \
    EXPECT_NE(st_.status().message().find(part), std::string::npos)            \
        << st_.status().message();                                             \
  } while (0)

TEST(Npy, ReadsGoldenTokens) {
  Expected<NpyArray> a = readNpy(kTinyMix + "/prefill_7_tokens.npy");
  ASSERT_TRUE(a.isOk()) << a.status().toString();
  EXPECT_EQ(a->descr, "<i4");
  EXPECT_EQ(a->shape, (std::vector<int64_t>{7}));
  EXPECT_EQ(a->numel(), 7);
  EXPECT_EQ(a->data.size(), 28u);
  EXPECT_EQ(a->asInt64(),
            (std::vector<int64_t>{393, 189, 286, 14, 227, 460, 488}));
  EXPECT_EQ(a->asFloat(),
            (std::vector<float>{393, 189, 286, 14, 227, 460, 488}));
}

TEST(Npy, ReadsGoldenLogits) {
  Expected<NpyArray> a = readNpy(kTinyMix + "/prefill_7_logits.npy");
  ASSERT_TRUE(a.isOk()) << a.status().toString();
  EXPECT_EQ(a->descr, "<f4");
  EXPECT_EQ(a->shape, (std::vector<int64_t>{7, 512}));
  EXPECT_EQ(a->numel(), 7 * 512);
  std::vector<float> v = a->asFloat();
  ASSERT_EQ(v.size(), 7u * 512);
  // Bit patterns read from the file with Python's struct module.
  EXPECT_EQ(floatToBits(v.front()), 0xbf73139fu); // -0.94951814
  EXPECT_EQ(floatToBits(v.back()), 0xbf823eb8u);  // -1.0175390
  double sum = 0;
  for (float x : v)
    sum += x;
  EXPECT_NEAR(sum, -89.86064700465067, 1e-6);
}

TEST(Npy, F32RoundTrip) {
  TempDir dir;
  std::string path = dir.file("x.npy");
  std::vector<float> data = {1.5f, -2.0f, 0.0f, 3.25f, 1e-20f, -7.0f};
  ASSERT_TRUE(writeNpyF32(path, {2, 3}, data.data()).isOk());
  // Version 1.0 and the data starts on a 64-byte boundary.
  std::string raw = readBytes(path);
  ASSERT_GE(raw.size(), 10u);
  EXPECT_EQ(raw.substr(0, 8), std::string("\x93NUMPY\x01\x00", 8));
  uint16_t hlen;
  std::memcpy(&hlen, raw.data() + 8, 2);
  EXPECT_EQ((10 + hlen) % 64, 0);
  EXPECT_EQ(raw[10 + hlen - 1], '\n');
  EXPECT_NE(raw.find("'shape': (2, 3)"), std::string::npos);

  Expected<NpyArray> a = readNpy(path);
  ASSERT_TRUE(a.isOk()) << a.status().toString();
  EXPECT_EQ(a->descr, "<f4");
  EXPECT_EQ(a->shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(a->asFloat(), data);
  EXPECT_EQ(a->asInt64(), (std::vector<int64_t>{1, -2, 0, 3, 0, -7}));
}

TEST(Npy, I32RoundTripIncludingScalarAndEmpty) {
  TempDir dir;
  std::vector<int32_t> data = {7, -1, 2147483647};
  ASSERT_TRUE(writeNpyI32(dir.file("v.npy"), {3}, data.data()).isOk());
  Expected<NpyArray> v = readNpy(dir.file("v.npy"));
  ASSERT_TRUE(v.isOk()) << v.status().toString();
  EXPECT_EQ(v->descr, "<i4");
  EXPECT_EQ(v->shape, (std::vector<int64_t>{3}));
  EXPECT_EQ(v->asInt64(), (std::vector<int64_t>{7, -1, 2147483647}));
  EXPECT_NE(readBytes(dir.file("v.npy")).find("(3,)"), std::string::npos);

  int32_t one = 42;
  ASSERT_TRUE(writeNpyI32(dir.file("s.npy"), {}, &one).isOk());
  Expected<NpyArray> s = readNpy(dir.file("s.npy"));
  ASSERT_TRUE(s.isOk()) << s.status().toString();
  EXPECT_TRUE(s->shape.empty());
  EXPECT_EQ(s->numel(), 1);
  EXPECT_EQ(s->asInt64(), (std::vector<int64_t>{42}));

  ASSERT_TRUE(writeNpyI32(dir.file("e.npy"), {0, 3}, nullptr).isOk());
  Expected<NpyArray> e = readNpy(dir.file("e.npy"));
  ASSERT_TRUE(e.isOk()) << e.status().toString();
  EXPECT_EQ(e->shape, (std::vector<int64_t>{0, 3}));
  EXPECT_EQ(e->numel(), 0);
  EXPECT_TRUE(e->data.empty());
}

TEST(Npy, WriterRejectsBadArguments) {
  TempDir dir;
  float x = 1;
  EXPECT_EQ(writeNpyF32(dir.file("a.npy"), {-1}, &x).code(),
            StatusCode::InvalidArgument);
  EXPECT_EQ(writeNpyF32(dir.file("a.npy"), {2}, nullptr).code(),
            StatusCode::InvalidArgument);
  Status s = writeNpyF32(dir.file("missing/a.npy"), {1}, &x);
  EXPECT_EQ(s.code(), StatusCode::IoError);
  EXPECT_NE(s.message().find("missing/a.npy"), std::string::npos);
}

TEST(Npy, ReadsVersion2AndInt64) {
  TempDir dir;
  std::string path = dir.file("v2.npy");
  writeBytes(path, npyFile(2,
                           "{'descr': '<i8', 'fortran_order': False, "
                           "'shape': (2, 1), }",
                           bytesOf<int64_t>({-5, int64_t(1) << 40})));
  Expected<NpyArray> a = readNpy(path);
  ASSERT_TRUE(a.isOk()) << a.status().toString();
  EXPECT_EQ(a->descr, "<i8");
  EXPECT_EQ(a->shape, (std::vector<int64_t>{2, 1}));
  EXPECT_EQ(a->asInt64(), (std::vector<int64_t>{-5, int64_t(1) << 40}));
  EXPECT_EQ(a->asFloat(), (std::vector<float>{-5.0f, 0x1p40f}));
}

TEST(Npy, AcceptsKeyOrderAndSpacingVariants) {
  TempDir dir;
  std::string path = dir.file("k.npy");
  writeBytes(path, npyFile(1,
                           "{\"shape\":(2,),\"fortran_order\":False,"
                           "\"descr\":\"<f4\"}",
                           bytesOf<float>({1.0f, 2.0f})));
  Expected<NpyArray> a = readNpy(path);
  ASSERT_TRUE(a.isOk()) << a.status().toString();
  EXPECT_EQ(a->asFloat(), (std::vector<float>{1.0f, 2.0f}));
}

TEST(Npy, RejectsWhatItCannotRead) {
  TempDir dir;
  std::string path = dir.file("bad.npy");
  auto readWith = [&](const std::string &contents) {
    writeBytes(path, contents);
    return readNpy(path);
  };
  const std::string two = bytesOf<float>({1.0f, 2.0f});
  EXPECT_NPY_ERROR(readNpy(dir.file("none.npy")), StatusCode::NotFound,
                   "none.npy");
  EXPECT_NPY_ERROR(readWith("NUMPY not really"), StatusCode::Corrupt,
                   "bad magic");
  EXPECT_NPY_ERROR(
      readWith(npyFile(
          1, "{'descr': '<f4', 'fortran_order': True, 'shape': (2,), }", two)),
      StatusCode::Unsupported, "Fortran");
  EXPECT_NPY_ERROR(
      readWith(npyFile(
          1, "{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }", two)),
      StatusCode::Unsupported, "'>f4'");
  EXPECT_NPY_ERROR(
      readWith(npyFile(
          1, "{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }",
          bytesOf<double>({1.0}))),
      StatusCode::Unsupported, "'<f8'");
  EXPECT_NPY_ERROR(
      readWith(npyFile(
          1, "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", two)),
      StatusCode::Corrupt, "need 12");
  EXPECT_NPY_ERROR(
      readWith(npyFile(
          1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", two)),
      StatusCode::Corrupt, "need 4");
  EXPECT_NPY_ERROR(
      readWith(npyFile(1, "{'descr': '<f4', 'fortran_order': False, }", two)),
      StatusCode::Corrupt, "'shape'");
  EXPECT_NPY_ERROR(
      readWith(npyFile(
          1, "{'descr': '<f4', 'fortran_order': False, 'shape': (-2,), }",
          two)),
      StatusCode::Corrupt, "malformed header");
  EXPECT_NPY_ERROR(
      readWith(
          npyFile(1,
                  "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), "
                  "'extra': 1, }",
                  two)),
      StatusCode::Corrupt, "malformed header");
  EXPECT_NPY_ERROR(readWith(npyFile(3,
                                    "{'descr': '<f4', 'fortran_order': False, "
                                    "'shape': (2,), }",
                                    two)),
                   StatusCode::Unsupported, "version 3.0");
  std::string shortHeader = npyFile(1, "{'descr': '<f4', }", "");
  shortHeader[8] = char(0xff); // header length runs past the end
  EXPECT_NPY_ERROR(readWith(shortHeader), StatusCode::Corrupt, "past the end");
}

// Declared sizes are checked against the file's before anything is
// allocated: a huge shape over a few bytes, or a file without an end, gives
// an error, never std::bad_alloc.
TEST(Npy, DeclaredSizesAreBoundedByTheFile) {
  TempDir dir;
  std::string path = dir.file("big.npy");
  auto readWith = [&](const std::string &contents) {
    writeBytes(path, contents);
    return readNpy(path);
  };
  const std::string two = bytesOf<int32_t>({1, 2});
  EXPECT_NPY_ERROR(
      readWith(npyFile(1,
                       "{'descr': '<i4', 'fortran_order': False, 'shape': "
                       "(1099511627776,), }",
                       two)),
      StatusCode::Corrupt, "need 4398046511104");
  EXPECT_NPY_ERROR(
      readWith(npyFile(1,
                       "{'descr': '<i8', 'fortran_order': False, 'shape': "
                       "(4611686018427387920,), }",
                       two)),
      StatusCode::Corrupt, "too large");
  EXPECT_NPY_ERROR(
      readWith(npyFile(1,
                       "{'descr': '<i4', 'fortran_order': False, 'shape': "
                       "(4294967296, 4294967296, 0), }",
                       "")),
      StatusCode::Corrupt, "too large");
  EXPECT_NPY_ERROR(readNpy("/dev/zero"), StatusCode::InvalidArgument,
                   "not a regular file");
}

TEST(Npy, HandBuiltShapesThatOverflowHoldNothing) {
  NpyArray a;
  a.descr = "<i4";
  a.shape = {int64_t(1) << 40, int64_t(1) << 40};
  a.data.resize(8);
  EXPECT_EQ(a.numel(), -1);
  EXPECT_TRUE(a.asInt64().empty());
  EXPECT_TRUE(a.asFloat().empty());
}

} // namespace
} // namespace birkhoff
