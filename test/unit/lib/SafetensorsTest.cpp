//===- SafetensorsTest.cpp - reader, validation, checkpoints, writer ------===//
#include "birkhoff/Safetensors.h"
#include "TempDir.h"

#include <gtest/gtest.h>

#include <array>
#include <cstring>
#include <filesystem>
#include <numeric>
#include <sys/stat.h>

namespace birkhoff {
namespace {

namespace fs = std::filesystem;
using test::readBytes;
using test::TempDir;
using test::writeBytes;

/// Whether a temporary of `path` (`<path>.partial.*`) is in its directory.
bool hasPartial(const std::string &path) {
  fs::path p(path);
  for (const auto &e : fs::directory_iterator(p.parent_path()))
    if (e.path().filename().string().rfind(p.filename().string() + ".partial",
                                           0) == 0)
      return true;
  return false;
}

std::vector<uint8_t> iota(size_t n, uint8_t start) {
  std::vector<uint8_t> v(n);
  std::iota(v.begin(), v.end(), start);
  return v;
}

// A file with the given header text and `dataBytes` bytes of data.
std::string rawFile(const std::string &header, size_t dataBytes) {
  uint64_t n = header.size();
  std::string out(reinterpret_cast<const char *>(&n), 8);
  out += header;
  out.append(dataBytes, '\x5a');
  return out;
}

// Writes `tensors`, each filled with bytes start, start+1, ...
Status writeFile(const std::string &path,
                 std::vector<SafetensorsWriter::Declared> tensors,
                 std::map<std::string, std::string> meta = {}) {
  BK_ASSIGN_OR_RETURN(SafetensorsWriter w,
                      SafetensorsWriter::create(path, tensors, meta));
  uint8_t start = 1;
  for (const auto &t : tensors) {
    int64_t n = dtypeStorageBytes(t.dtype);
    for (int64_t d : t.shape)
      n *= d;
    BK_RETURN_IF_ERROR(w.write(t.name, iota(size_t(n), start)));
    start += 16;
  }
  return w.finish();
}

#define EXPECT_ERROR(expr, code_, ...)                                         \
  do {                                                                         \
    auto st_ = (expr);                                                         \
    ASSERT_FALSE(st_.isOk()) << "expected an error from " #expr;               \
    const Status &s_ = st_.status();                                           \
    EXPECT_EQ(s_.code(), code_) << s_.toString();                              \
    for (const std::string &part_ : std::vector<std::string>{__VA_ARGS__})     \
      EXPECT_NE(s_.message().find(part_), std::string::npos)                   \
          << "message lacks '" << part_ << "': " << s_.message();              \
  } while (0)

// ---- writer + reader round trip ---------------------------------------------

TEST(Safetensors, WriterRoundTrip) {
  TempDir dir;
  std::string path = dir.file("a.safetensors");
  std::vector<SafetensorsWriter::Declared> decl = {
      {"w.f32", DType::F32, {2, 3}},
      {"w.bf16", DType::BF16, {5}},
      {"w.fp8", DType::F8E4M3, {3, 1}},
      {"w.scale", DType::F8E8M0, {1, 1}},
      {"w.fp4", DType::FP4E2M1x2, {2, 2}},
      {"table", DType::I64, {2}},
      {"ids", DType::I32, {3}},
      {"empty", DType::F32, {0, 4}},
      {"scalar", DType::I8, {}},
  };
  ASSERT_TRUE(writeFile(path, decl, {{"format", "pt"}}).isOk());
  EXPECT_FALSE(hasPartial(path));

  // Header length is a multiple of 8 so the data area starts aligned.
  std::string raw = readBytes(path);
  uint64_t headerLen;
  std::memcpy(&headerLen, raw.data(), 8);
  EXPECT_EQ(headerLen % 8, 0u);

  Expected<SafetensorsFile> f = SafetensorsFile::open(path);
  ASSERT_TRUE(f.isOk()) << f.status().toString();
  EXPECT_EQ(f->path(), path);
  EXPECT_EQ(f->metadata().at("format"), "pt");
  ASSERT_EQ(f->tensors().size(), decl.size());

  uint64_t expectOffset = 8 + headerLen; // laid out in declaration order
  uint8_t start = 1;
  for (const auto &d : decl) {
    const TensorInfo &t = f->tensors().at(d.name);
    EXPECT_EQ(t.name, d.name);
    // safetensors has no FP4 type: it comes back as I8 with the stored shape.
    EXPECT_EQ(t.dtype, d.dtype == DType::FP4E2M1x2 ? DType::I8 : d.dtype);
    EXPECT_EQ(t.shape, d.shape);
    EXPECT_EQ(t.file, path);
    EXPECT_EQ(t.dataOffset, expectOffset) << d.name;
    expectOffset += t.byteSize;
    Expected<std::span<const uint8_t>> b = f->bytes(d.name);
    ASSERT_TRUE(b.isOk());
    ASSERT_EQ(b->size(), t.byteSize);
    std::vector<uint8_t> want = iota(t.byteSize, start);
    EXPECT_TRUE(std::equal(b->begin(), b->end(), want.begin())) << d.name;
    start += 16;
  }
  EXPECT_EQ(expectOffset, raw.size());
  EXPECT_EQ(f->tensors().at("w.f32").byteSize, 24u);
  EXPECT_EQ(f->tensors().at("w.fp4").byteSize, 4u);
  EXPECT_EQ(f->tensors().at("empty").byteSize, 0u);
  EXPECT_EQ(f->tensors().at("scalar").byteSize, 1u);
  EXPECT_ERROR(f->bytes("missing"), StatusCode::NotFound, path, "'missing'");
}

TEST(Safetensors, WriterWithoutMetadataHasNoMetadataKey) {
  TempDir dir;
  std::string path = dir.file("b.safetensors");
  ASSERT_TRUE(writeFile(path, {{"x", DType::F32, {1}}}).isOk());
  EXPECT_EQ(readBytes(path).find("__metadata__"), std::string::npos);
  Expected<SafetensorsFile> f = SafetensorsFile::open(path);
  ASSERT_TRUE(f.isOk());
  EXPECT_TRUE(f->metadata().empty());
}

// A tensor may arrive in pieces (synth streams large tensors in row chunks);
// the file equals one written in a single call, and overruns are refused.
TEST(SafetensorsWriter, AppendsTensorsInPieces) {
  TempDir dir;
  std::string path = dir.path() + "/pieces.safetensors";
  std::vector<SafetensorsWriter::Declared> decl = {{"a", DType::F32, {3, 4}},
                                                   {"b", DType::I8, {5}}};
  auto w = SafetensorsWriter::create(path, decl);
  ASSERT_TRUE(w.isOk()) << w.status().toString();
  std::vector<uint8_t> a = iota(48, 1), b = iota(5, 100);
  ASSERT_TRUE(w->append("a", std::span(a).first(16)).isOk());
  ASSERT_TRUE(w->append("a", std::span(a).subspan(16, 32)).isOk());
  EXPECT_FALSE(w->append("b", std::span(b).first(3)).isOk() &&
               w->append("b", b).isOk()); // 3 + 5 bytes overrun 5
  auto again = SafetensorsWriter::create(path, decl);
  ASSERT_TRUE(again.isOk());
  ASSERT_TRUE(again->append("a", std::span(a).first(40)).isOk());
  ASSERT_TRUE(again->append("a", std::span(a).subspan(40)).isOk());
  ASSERT_TRUE(again->append("b", b).isOk());
  ASSERT_TRUE(again->finish().isOk());
  auto f = SafetensorsFile::open(path);
  ASSERT_TRUE(f.isOk()) << f.status().toString();
  auto bytesA = f->bytes("a");
  ASSERT_TRUE(bytesA.isOk());
  EXPECT_TRUE(std::equal(bytesA->begin(), bytesA->end(), a.begin(), a.end()));
  auto partial = SafetensorsWriter::create(dir.path() + "/partial.safetensors", decl);
  ASSERT_TRUE(partial.isOk());
  ASSERT_TRUE(partial->append("a", std::span(a).first(8)).isOk());
  Status st = partial->finish();
  EXPECT_FALSE(st.isOk());
  EXPECT_NE(st.message().find("only partly written"), std::string::npos) << st.message();
}

TEST(SafetensorsWriter, RejectsMisuse) {
  TempDir dir;
  std::string path = dir.file("w.safetensors");
  EXPECT_ERROR(SafetensorsWriter::create(
                   path, {{"a", DType::F32, {1}}, {"a", DType::F32, {1}}}),
               StatusCode::InvalidArgument, "'a'", "twice");
  EXPECT_ERROR(SafetensorsWriter::create(path, {{"a", DType::F32, {2, -1}}}),
               StatusCode::InvalidArgument, "'a'", "negative");
  EXPECT_ERROR(SafetensorsWriter::create(path, {{"", DType::F32, {1}}}),
               StatusCode::InvalidArgument);
  EXPECT_ERROR(SafetensorsWriter::create(path, {{"\xff", DType::F32, {1}}}),
               StatusCode::InvalidArgument);
  EXPECT_ERROR(SafetensorsWriter::create(dir.file("no/such/dir/x"),
                                         {{"a", DType::F32, {1}}}),
               StatusCode::IoError, "no/such/dir/x");

  {
    Expected<SafetensorsWriter> w = SafetensorsWriter::create(
        path, {{"a", DType::F32, {2}}, {"b", DType::BF16, {2}}});
    ASSERT_TRUE(w.isOk());
    std::vector<uint8_t> eight(8), four(4);
    Status s = w->write("b", four);
    EXPECT_EQ(s.code(), StatusCode::InvalidArgument);
    EXPECT_NE(s.message().find("expected 'a' next"), std::string::npos);
    s = w->write("a", four);
    EXPECT_EQ(s.code(), StatusCode::InvalidArgument);
    EXPECT_NE(s.message().find("declared as 8"), std::string::npos);
    EXPECT_TRUE(w->write("a", eight).isOk());
    s = w->finish();
    EXPECT_EQ(s.code(), StatusCode::InvalidArgument);
    EXPECT_NE(s.message().find("'b' was declared but never written"),
              std::string::npos);
    EXPECT_FALSE(fs::exists(path)); // nothing complete-looking yet
    EXPECT_TRUE(hasPartial(path));
  }
  // Dropped without finish(): the partial file is removed.
  EXPECT_FALSE(hasPartial(path));
  EXPECT_FALSE(fs::exists(path));

  Expected<SafetensorsWriter> w =
      SafetensorsWriter::create(path, {{"a", DType::I8, {1}}});
  ASSERT_TRUE(w.isOk());
  std::vector<uint8_t> one(1);
  ASSERT_TRUE(w->write("a", one).isOk());
  EXPECT_EQ(w->write("a", one).code(), StatusCode::InvalidArgument);
  ASSERT_TRUE(w->finish().isOk());
  EXPECT_EQ(w->finish().code(), StatusCode::InvalidArgument);
  EXPECT_TRUE(fs::exists(path));
}

// ---- corrupt files
// ------------------------------------------------------------

class CorruptFile : public ::testing::Test {
protected:
  // Writes `contents` and returns the status of opening it.
  Expected<SafetensorsFile> open(const std::string &contents) {
    writeBytes(path, contents);
    return SafetensorsFile::open(path);
  }
  TempDir dir;
  std::string path = dir.file("bad.safetensors");
};

TEST_F(CorruptFile, Missing) {
  EXPECT_ERROR(SafetensorsFile::open(dir.file("nope.safetensors")),
               StatusCode::NotFound, "nope.safetensors");
}

TEST_F(CorruptFile, ShorterThanLengthField) {
  EXPECT_ERROR(open("abc"), StatusCode::Corrupt, path, "3 bytes");
  EXPECT_ERROR(open(""), StatusCode::Corrupt, path);
}

TEST_F(CorruptFile, HeaderLengthBeyondFile) {
  std::string f = rawFile("{}", 0);
  f[0] = 100;
  EXPECT_ERROR(open(f), StatusCode::Corrupt, path, "header length 100");
}

TEST_F(CorruptFile, HeaderNotJsonOrNotObject) {
  EXPECT_ERROR(open(rawFile("{\"a\": ", 0)), StatusCode::Corrupt, path,
               "not valid JSON");
  EXPECT_ERROR(open(rawFile("[1, 2]", 0)), StatusCode::Corrupt, path,
               "not a JSON object");
}

TEST_F(CorruptFile, EmptyHeaderObjectIsAValidEmptyFile) {
  Expected<SafetensorsFile> f = open(rawFile("{}      ", 0));
  ASSERT_TRUE(f.isOk()) << f.status().toString();
  EXPECT_TRUE(f->tensors().empty());
}

TEST_F(CorruptFile, MissingFields) {
  EXPECT_ERROR(
      open(rawFile(R"({"t": {"shape": [1], "data_offsets": [0, 4]}})", 4)),
      StatusCode::Corrupt, path, "'t'", "dtype");
  EXPECT_ERROR(
      open(rawFile(R"({"t": {"dtype": "F32", "data_offsets": [0, 4]}})", 4)),
      StatusCode::Corrupt, path, "'t'", "shape");
  EXPECT_ERROR(open(rawFile(R"({"t": {"dtype": "F32", "shape": [1]}})", 4)),
               StatusCode::Corrupt, path, "'t'", "data_offsets");
  EXPECT_ERROR(open(rawFile(R"({"t": 3})", 4)), StatusCode::Corrupt, path,
               "'t'");
  EXPECT_ERROR(
      open(rawFile(
          R"({"t": {"dtype": "F32", "shape": [1], "data_offsets": [0]}})", 4)),
      StatusCode::Corrupt, path, "'t'", "data_offsets");
  EXPECT_ERROR(
      open(rawFile(
          R"({"t": {"dtype": "F32", "shape": [1.5], "data_offsets": [0, 4]}})",
          4)),
      StatusCode::Corrupt, path, "'t'", "not an integer");
}

TEST_F(CorruptFile, UnknownDType) {
  EXPECT_ERROR(
      open(rawFile(
          R"({"t": {"dtype": "F16", "shape": [2], "data_offsets": [0, 4]}})",
          4)),
      StatusCode::Unsupported, path, "'t'", "'F16'");
}

TEST_F(CorruptFile, NegativeDimension) {
  EXPECT_ERROR(
      open(rawFile(
          R"({"t": {"dtype": "I8", "shape": [2, -2], "data_offsets": [0, 4]}})",
          4)),
      StatusCode::Corrupt, path, "'t'", "negative dimension -2");
}

TEST_F(CorruptFile, EndBeforeBegin) {
  EXPECT_ERROR(
      open(rawFile(
          R"({"t": {"dtype": "I8", "shape": [0], "data_offsets": [4, 2]}})",
          4)),
      StatusCode::Corrupt, path, "'t'", "before begin");
  EXPECT_ERROR(
      open(rawFile(
          R"({"t": {"dtype": "I8", "shape": [0], "data_offsets": [-1, 2]}})",
          4)),
      StatusCode::Corrupt, path, "'t'");
}

TEST_F(CorruptFile, DataBeyondEndOfFile) {
  EXPECT_ERROR(
      open(rawFile(
          R"({"t": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}})",
          12)),
      StatusCode::Corrupt, path, "'t'", "truncated shard");
}

TEST_F(CorruptFile, TruncatedAfterWriting) {
  ASSERT_TRUE(writeFile(path, {{"a", DType::F32, {4}}, {"b", DType::BF16, {8}}})
                  .isOk());
  fs::resize_file(path, fs::file_size(path) - 1);
  EXPECT_ERROR(SafetensorsFile::open(path), StatusCode::Corrupt, path, "'b'",
               "truncated shard");
}

TEST_F(CorruptFile, ByteSizeDisagreesWithShape) {
  EXPECT_ERROR(
      open(rawFile(
          R"({"t": {"dtype": "BF16", "shape": [3], "data_offsets": [0, 4]}})",
          4)),
      StatusCode::Corrupt, path, "'t'", "needs 6");
  // One byte per element for FP8 and I8.
  EXPECT_ERROR(
      open(rawFile(
          R"({"t": {"dtype": "F8_E4M3", "shape": [2, 2], "data_offsets": [0, 8]}})",
          8)),
      StatusCode::Corrupt, path, "'t'", "needs 4");
  Expected<SafetensorsFile> ok = open(rawFile(
      R"({"t": {"dtype": "F8_E8M0", "shape": [2, 2], "data_offsets": [0, 4]}})",
      4));
  EXPECT_TRUE(ok.isOk()) << ok.status().toString();
}

TEST_F(CorruptFile, OverlappingRanges) {
  EXPECT_ERROR(
      open(rawFile(
          R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                       "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}})",
          12)),
      StatusCode::Corrupt, path, "'a'", "'b'", "overlapping");
  // Touching ranges and empty tensors are fine.
  Expected<SafetensorsFile> ok = open(
      rawFile(R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                  "e": {"dtype": "F32", "shape": [0], "data_offsets": [4, 4]},
                  "b": {"dtype": "F32", "shape": [1], "data_offsets": [8, 12]}})",
              12));
  EXPECT_TRUE(ok.isOk()) << ok.status().toString();
}

TEST_F(CorruptFile, DuplicateTensorName) {
  EXPECT_ERROR(
      open(rawFile(
          R"({"a": {"dtype": "I8", "shape": [1], "data_offsets": [0, 1]},
                       "a": {"dtype": "I8", "shape": [1], "data_offsets": [1, 2]}})",
          2)),
      StatusCode::Corrupt, path, "'a'", "twice");
}

// Issue 15: a shape nested 100,000 arrays deep is refused before anything
// walks it recursively, and the message does not echo it.
TEST_F(CorruptFile, DeeplyNestedShape) {
  std::string deep = std::string(100000, '[') + std::string(100000, ']');
  Expected<SafetensorsFile> f =
      open(rawFile(R"({"a": {"dtype": "I8", "shape": )" + deep +
                       R"(, "data_offsets": [0, 1]}})",
                   1));
  EXPECT_ERROR(f, StatusCode::Corrupt, path, "nesting deeper than");
  EXPECT_LT(f.status().message().size(), 300u);
  // A wide but shallow bad shape is shown cut short.
  std::string wide = "[\"" + std::string(100000, 'x') + "\"]";
  f = open(rawFile(R"({"a": {"dtype": "I8", "shape": )" + wide +
                       R"(, "data_offsets": [0, 1]}})",
                   1));
  EXPECT_ERROR(f, StatusCode::Corrupt, path, "is not an integer");
  EXPECT_LT(f.status().message().size(), 300u);
}

// Duplicate keys inside a tensor entry are refused too.
TEST_F(CorruptFile, DuplicateFieldInEntry) {
  EXPECT_ERROR(
      open(rawFile(R"({"a": {"dtype": "I8", "dtype": "F32", "shape": [1],
                             "data_offsets": [0, 1]}})",
                   1)),
      StatusCode::Corrupt, path, "'dtype'", "twice");
}

// Issue 15: a FIFO as a shard is refused instead of blocking forever.
TEST_F(CorruptFile, FifoShard) {
  std::string fifo = dir.file("fifo.safetensors");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  EXPECT_ERROR(SafetensorsFile::open(fifo), StatusCode::InvalidArgument, fifo,
               "is a FIFO, not a regular file");
}

TEST_F(CorruptFile, BadMetadata) {
  EXPECT_ERROR(open(rawFile(R"({"__metadata__": {"format": 1}})", 0)),
               StatusCode::Corrupt, path, "'format'");
  EXPECT_ERROR(open(rawFile(R"({"__metadata__": "pt"})", 0)),
               StatusCode::Corrupt, path, "__metadata__");
}

// ---- checkpoints
// ----------------------------------------------------------------

TEST(Checkpoint, OpensTinyQuantGolden) {
  const std::string dir = std::string(BIRKHOFF_GOLDENS_DIR) + "/tiny_quant";
  Expected<Checkpoint> c = Checkpoint::open(dir);
  ASSERT_TRUE(c.isOk()) << c.status().toString();
  EXPECT_EQ(c->dir(), dir);
  EXPECT_EQ(c->tensors().size(), 421u);

  const TensorInfo *embed = c->find("embed.weight");
  ASSERT_NE(embed, nullptr);
  EXPECT_EQ(embed->dtype, DType::BF16);
  EXPECT_EQ(embed->shape, (std::vector<int64_t>{512, 128}));
  EXPECT_EQ(embed->byteSize, 512u * 128 * 2);
  EXPECT_EQ(fs::path(embed->file).filename(),
            "model-00001-of-00002.safetensors");
  Expected<std::span<const uint8_t>> eb = c->bytes("embed.weight");
  ASSERT_TRUE(eb.isOk());
  ASSERT_EQ(eb->size(), embed->byteSize);
  EXPECT_EQ((*eb)[0], 0x9d);
  EXPECT_EQ((*eb)[3], 0x3e);

  struct Want {
    const char *name;
    DType dtype;
    std::vector<int64_t> shape;
  } wants[] = {
      {"layers.1.attn.wkv.weight", DType::F8E4M3, {64, 128}},
      {"layers.1.attn.wkv.scale", DType::F8E8M0, {1, 1}},
      {"layers.1.ffn.experts.0.w1.weight", DType::I8, {64, 64}},
      {"layers.1.ffn.experts.0.w1.scale", DType::F8E8M0, {64, 4}},
      {"layers.0.ffn.gate.tid2eid", DType::I64, {512, 2}},
      {"hc_head_scale", DType::F32, {1}},
      {"layers.2.ffn.gate.bias", DType::F32, {8}},
  };
  for (const Want &w : wants) {
    const TensorInfo *t = c->find(w.name);
    ASSERT_NE(t, nullptr) << w.name;
    EXPECT_EQ(t->dtype, w.dtype) << w.name;
    EXPECT_EQ(t->shape, w.shape) << w.name;
  }
  // Values (read with Python's struct): the first rows of two hash tables.
  for (const auto &[name, row0] :
       {std::pair<std::string, std::array<int64_t, 4>>{
            "layers.0.ffn.gate.tid2eid", {0, 5, 7, 6}},
        {"layers.1.ffn.gate.tid2eid", {4, 5, 0, 1}}}) {
    Expected<std::span<const uint8_t>> tid = c->bytes(name);
    ASSERT_TRUE(tid.isOk()) << name;
    std::array<int64_t, 4> got;
    std::memcpy(got.data(), tid->data(), sizeof(got));
    EXPECT_EQ(got, row0) << name;
  }
  EXPECT_EQ(c->find("nope"), nullptr);
  EXPECT_ERROR(c->bytes("nope"), StatusCode::NotFound, "'nope'");
}

// Builds a two-shard checkpoint with an index in `dir`.
class ShardedCheckpoint : public ::testing::Test {
protected:
  void SetUp() override {
    ASSERT_TRUE(writeFile(dir.file("s1.safetensors"),
                          {{"a", DType::F32, {2}}, {"b", DType::BF16, {2}}})
                    .isOk());
    ASSERT_TRUE(
        writeFile(dir.file("s2.safetensors"), {{"c", DType::I64, {1}}}).isOk());
  }
  void writeIndex(const std::string &weightMap) {
    writeBytes(index, R"({"metadata": {"total_size": 20}, "weight_map": )" +
                          weightMap + "}");
  }
  TempDir dir;
  std::string index = dir.file("model.safetensors.index.json");
};

TEST_F(ShardedCheckpoint, ConsistentIndexOpens) {
  writeIndex(R"({"a": "s1.safetensors", "b": "s1.safetensors",
                 "c": "s2.safetensors"})");
  Expected<Checkpoint> c = Checkpoint::open(dir.path());
  ASSERT_TRUE(c.isOk()) << c.status().toString();
  ASSERT_EQ(c->tensors().size(), 3u);
  EXPECT_EQ(c->find("c")->file, dir.file("s2.safetensors"));
  EXPECT_EQ(c->find("c")->dtype, DType::I64);
  Expected<std::span<const uint8_t>> b = c->bytes("b");
  ASSERT_TRUE(b.isOk());
  EXPECT_EQ(b->size(), 4u);
  EXPECT_EQ((*b)[0], 17); // second tensor's fill starts at 1 + 16
}

TEST_F(ShardedCheckpoint, IndexNamesTensorTheShardLacks) {
  writeIndex(R"({"a": "s1.safetensors", "b": "s1.safetensors",
                 "c": "s2.safetensors", "d": "s2.safetensors"})");
  EXPECT_ERROR(Checkpoint::open(dir.path()), StatusCode::Corrupt, "'d'",
               "model.safetensors.index.json", "s2.safetensors");
}

TEST_F(ShardedCheckpoint, ShardHoldsTensorTheIndexOmits) {
  writeIndex(R"({"a": "s1.safetensors", "c": "s2.safetensors"})");
  EXPECT_ERROR(Checkpoint::open(dir.path()), StatusCode::Corrupt, "'b'",
               "model.safetensors.index.json", "s1.safetensors",
               "does not list");
}

TEST_F(ShardedCheckpoint, ShardHoldsTensorIndexMapsElsewhere) {
  // s2 also holds "a" but the index puts "a" in s1.
  ASSERT_TRUE(writeFile(dir.file("s2.safetensors"),
                        {{"c", DType::I64, {1}}, {"a", DType::F32, {2}}})
                  .isOk());
  writeIndex(R"({"a": "s1.safetensors", "b": "s1.safetensors",
                 "c": "s2.safetensors"})");
  EXPECT_ERROR(Checkpoint::open(dir.path()), StatusCode::Corrupt, "'a'",
               "s1.safetensors", "s2.safetensors", "maps it to");
}

TEST_F(ShardedCheckpoint, MissingShard) {
  writeIndex(R"({"a": "s1.safetensors", "b": "s1.safetensors",
                 "c": "s3.safetensors"})");
  EXPECT_ERROR(Checkpoint::open(dir.path()), StatusCode::NotFound, "'c'",
               "s3.safetensors", "does not exist");
}

TEST_F(ShardedCheckpoint, BadIndex) {
  writeBytes(index, "{not json");
  EXPECT_ERROR(Checkpoint::open(dir.path()), StatusCode::Corrupt,
               "model.safetensors.index.json", "not valid JSON");
  writeBytes(index, R"({"metadata": {}})");
  EXPECT_ERROR(Checkpoint::open(dir.path()), StatusCode::Corrupt, "weight_map");
  writeIndex(R"({"a": 7})");
  EXPECT_ERROR(Checkpoint::open(dir.path()), StatusCode::Corrupt, "'a'");
  writeIndex(R"({"a": "../s1.safetensors"})");
  EXPECT_ERROR(Checkpoint::open(dir.path()), StatusCode::Corrupt, "'a'",
               "not a file name");
}

TEST_F(ShardedCheckpoint, CorruptShardErrorNamesTheShard) {
  fs::resize_file(dir.file("s2.safetensors"),
                  fs::file_size(dir.file("s2.safetensors")) - 2);
  writeIndex(R"({"a": "s1.safetensors", "b": "s1.safetensors",
                 "c": "s2.safetensors"})");
  EXPECT_ERROR(Checkpoint::open(dir.path()), StatusCode::Corrupt,
               "s2.safetensors", "'c'", "truncated shard");
}

TEST_F(ShardedCheckpoint, WithoutIndexReadsEveryShard) {
  Expected<Checkpoint> c = Checkpoint::open(dir.path());
  ASSERT_TRUE(c.isOk()) << c.status().toString();
  EXPECT_EQ(c->tensors().size(), 3u);
  EXPECT_EQ(c->find("a")->file, dir.file("s1.safetensors"));
}

TEST_F(ShardedCheckpoint, WithoutIndexDuplicateNamesAreErrors) {
  ASSERT_TRUE(
      writeFile(dir.file("s3.safetensors"), {{"b", DType::I8, {1}}}).isOk());
  EXPECT_ERROR(Checkpoint::open(dir.path()), StatusCode::Corrupt, "'b'",
               "s1.safetensors", "s3.safetensors");
}

TEST_F(ShardedCheckpoint, SingleModelFileWinsOverOtherShards) {
  ASSERT_TRUE(
      writeFile(dir.file("model.safetensors"), {{"z", DType::I8, {3}}}).isOk());
  Expected<Checkpoint> c = Checkpoint::open(dir.path());
  ASSERT_TRUE(c.isOk()) << c.status().toString();
  ASSERT_EQ(c->tensors().size(), 1u);
  EXPECT_NE(c->find("z"), nullptr);
}

TEST(Checkpoint, EmptyOrMissingDirectory) {
  TempDir dir;
  EXPECT_ERROR(Checkpoint::open(dir.path()), StatusCode::NotFound, dir.path(),
               "*.safetensors");
  EXPECT_ERROR(Checkpoint::open(dir.file("absent")), StatusCode::NotFound,
               "absent");
}

// A declared checkpoint has names, dtypes, shapes and sizes, but no bytes.
TEST(Checkpoint, DeclaredTensorsHaveNoBytes) {
  TensorInfo a, b;
  a.name = "a";
  a.dtype = DType::BF16;
  a.shape = {3, 4};
  b.name = "b";
  b.dtype = DType::I8;
  b.shape = {5};
  Expected<Checkpoint> c = Checkpoint::declared("synth preset tiny", {a, b});
  ASSERT_TRUE(c.isOk()) << c.status().toString();
  EXPECT_EQ(c->dir(), "synth preset tiny");
  ASSERT_EQ(c->tensors().size(), 2u);
  ASSERT_NE(c->find("a"), nullptr);
  EXPECT_EQ(c->find("a")->byteSize, 24u);
  EXPECT_EQ(c->find("b")->byteSize, 5u);
  EXPECT_ERROR(c->bytes("a"), StatusCode::Unsupported, "'a'",
               "generated at load time");
  EXPECT_ERROR(c->bytes("c"), StatusCode::NotFound, "'c'");

  EXPECT_ERROR(Checkpoint::declared("x", {a, a}), StatusCode::InvalidArgument,
               "declared twice");
  a.shape = {-1};
  EXPECT_ERROR(Checkpoint::declared("x", {a}), StatusCode::InvalidArgument,
               "negative");
}

} // namespace
} // namespace birkhoff
