//===- ArtifactFuzzTest.cpp - Corrupt artifacts are rejected, never crash
//--===//
//
// Takes a real compiled artifact (tiny_mix) and feeds the loader truncated
// copies, copies with flipped bytes, a wrong identifier and a wrong format
// version, and a copy carrying a tokenizer whose stored tokenizer.json is
// damaged. Every damaged program section must give an error status; nothing
// may crash or hang (the suite runs this under its normal build; run it under
// ASan/valgrind to look deeper). The program checksum refuses any flipped
// byte outright (EveryProgramByteFlipIsRefused); the other tests reseal the
// checksum after their damage, so that it reaches the checks behind it.
//
//===----------------------------------------------------------------------===//
#include "GoldenCase.h"

#include "ArtifactLoader.h"
#include "birkhoff/ProgramChecksum.h"
#include "birkhoff/Runtime.h"
#include "birkhoff/Tokenizer.h"
#include "birkhoff/schema/artifact_generated.h"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>

namespace birkhoff::test {
namespace {

/// Rewrites the checksum trailer after the first `programBytes` bytes of `b`.
void resealProgram(std::vector<uint8_t> &b, size_t programBytes) {
  auto t = programChecksumTrailer(b.data(), programBytes);
  std::memcpy(b.data() + programBytes, t.data(), t.size());
}

class ArtifactFuzz : public ::testing::Test {
protected:
  void SetUp() override {
    std::string dir = std::string(BIRKHOFF_GOLDENS_DIR) + "/tiny_mix";
    if (!std::filesystem::exists(dir))
      GTEST_SKIP() << "no golden case at " << dir;
    path_ = std::string(BIRKHOFF_BIN_DIR) +
            "/../golden-artifacts/fuzz-tiny_mix.bkart";
    Status st = compileArtifact(dir, path_);
    ASSERT_TRUE(st.isOk()) << st.toString();
    std::ifstream in(path_, std::ios::binary);
    bytes_.assign(std::istreambuf_iterator<char>(in), {});
    ASSERT_GT(bytes_.size(), 4096u);
    programBytes_ = 4 + flatbuffers::ReadScalar<uint32_t>(bytes_.data());
  }

  /// Rewrites the program checksum of `b` over its (damaged) program, as a
  /// writer that damaged it on purpose would.
  void reseal(std::vector<uint8_t> &b) const {
    resealProgram(b, programBytes_);
  }

  Status parse(const std::vector<uint8_t> &b) {
    auto p = rt::parseArtifact(b.data(), b.size(), "fuzzed.bkart");
    return p.isOk() ? Status::ok() : p.status();
  }

  std::string path_;
  std::vector<uint8_t> bytes_;
  size_t programBytes_ = 0;
};

TEST_F(ArtifactFuzz, IntactArtifactLoads) {
  EXPECT_TRUE(parse(bytes_).isOk()) << parse(bytes_).toString();
}

TEST_F(ArtifactFuzz, EveryTruncationIsRejected) {
  std::mt19937 rng(1);
  std::vector<size_t> cuts = {
      0, 3, 4, 7, 8, 64, programBytes_ - 1, programBytes_, bytes_.size() - 1};
  for (int i = 0; i < 200; ++i)
    cuts.push_back(rng() % bytes_.size());
  for (size_t cut : cuts) {
    std::vector<uint8_t> b(bytes_.begin(), bytes_.begin() + long(cut));
    Status st = parse(b);
    EXPECT_FALSE(st.isOk()) << "truncated at " << cut << " bytes was accepted";
    EXPECT_NE(st.message().find("fuzzed.bkart"), std::string::npos)
        << st.message();
  }
}

TEST_F(ArtifactFuzz, FlippedProgramBytesNeverCrash) {
  std::mt19937 rng(2);
  int rejected = 0, trials = 3000;
  for (int i = 0; i < trials; ++i) {
    std::vector<uint8_t> b = bytes_;
    int flips = 1 + int(rng() % 4);
    for (int f = 0; f < flips; ++f)
      b[rng() % programBytes_] ^= uint8_t(1u << (rng() % 8));
    reseal(b);
    Status st = parse(b);
    rejected += !st.isOk();
  }
  // Many flips land in padding or string bytes that stay valid; the point is
  // that none crashed. Most structural damage is still caught.
  EXPECT_GT(rejected, trials / 4);
}

// A weight whose shape vector starts 4 bytes further on: flatbuffers'
// verifier passes it (it checks the length's alignment, not that of the
// 8-byte elements), and reading it would be misaligned loads (found by
// FlippedProgramBytesNeverCrash under UBSan). The loader refuses it.
TEST_F(ArtifactFuzz, MisalignedShapeIsRefused) {
  std::vector<uint8_t> b = bytes_;
  const fb::Artifact *a = fb::GetSizePrefixedArtifact(b.data());
  ASSERT_TRUE(a->weights() && a->weights()->size() > 0);
  // The first weight whose moved vector (its length now the low half of
  // shape[0]) still lies inside the program, so that it passes the verifier.
  const uint8_t *field = nullptr;
  for (const fb::Weight *w : *a->weights()) {
    const auto *shape = w->shape();
    if (!shape || shape->size() == 0)
      continue;
    const uint8_t *elems = shape->Data() + 4;
    if (elems + 8 * uint32_t(shape->Get(0)) <= b.data() + programBytes_) {
      // A generated table is a flatbuffers::Table, privately.
      field = reinterpret_cast<const flatbuffers::Table *>(w)->GetAddressOf(
          fb::Weight::VT_SHAPE);
      break;
    }
  }
  ASSERT_NE(field, nullptr);
  const size_t at = size_t(field - b.data());
  uint32_t offset = flatbuffers::ReadScalar<uint32_t>(b.data() + at);
  flatbuffers::WriteScalar<uint32_t>(b.data() + at, offset + 4);
  reseal(b);
  Status st = parse(b);
  EXPECT_EQ(st.code(), StatusCode::Corrupt) << st.toString();
  EXPECT_NE(st.message().find("misaligned shape"), std::string::npos)
      << st.message();
}

// Damage that the structure checks cannot see (a changed parameter, index or
// size) must still be caught before any kernel runs: artifacts that load are
// run for a few tokens and must either work or fail with a status. The
// checksum is resealed after each flip: this is damage behind its back.
TEST_F(ArtifactFuzz, DamagedArtifactsThatLoadStillRunSafely) {
  std::string copy = path_ + ".fuzz";
  std::filesystem::copy_file(path_, copy,
                             std::filesystem::copy_options::overwrite_existing);
  std::fstream f(copy, std::ios::in | std::ios::out | std::ios::binary);
  std::mt19937 rng(3);
  int loaded = 0;
  for (int i = 0; i < 400; ++i) {
    size_t at = rng() % programBytes_;
    uint8_t flipped = bytes_[at] ^ uint8_t(1u << (rng() % 8));
    std::vector<uint8_t> b = bytes_;
    b[at] = flipped;
    reseal(b);
    f.seekp(long(at));
    f.write(reinterpret_cast<const char *>(&flipped), 1);
    f.seekp(long(programBytes_));
    f.write(reinterpret_cast<const char *>(b.data() + programBytes_),
            long(kProgramChecksumBytes));
    f.flush();
    auto m = Model::load(copy);
    if (m.isOk()) {
      ++loaded;
      SessionOptions o;
      o.maxContext = 32;
      auto s = Session::create(*m, o);
      if (s.isOk()) {
        std::vector<int32_t> tokens = {1, 2, 3};
        (void)(*s)->prefill(tokens);
        (void)(*s)->decode(4);
      }
    }
    f.seekp(long(at));
    f.write(reinterpret_cast<const char *>(&bytes_[at]), 1);
    f.seekp(long(programBytes_));
    f.write(reinterpret_cast<const char *>(bytes_.data() + programBytes_),
            long(kProgramChecksumBytes));
    f.flush();
  }
  std::printf("[fuzz] %d of 400 single-bit flips loaded and ran\n", loaded);
  std::filesystem::remove(copy);
}

TEST_F(ArtifactFuzz, WrongIdentifierIsNamed) {
  std::vector<uint8_t> b = bytes_;
  b[4 + 4] ^= 0x20; // the identifier sits after the size prefix and root offset
  Status st = parse(b);
  ASSERT_FALSE(st.isOk());
  EXPECT_NE(st.message().find("not a Birkhoff artifact"), std::string::npos)
      << st.message();
}

TEST_F(ArtifactFuzz, WrongFormatVersionIsNamed) {
  std::vector<uint8_t> b = bytes_;
  // Walk the flatbuffer by hand: root table, its vtable, the field's slot.
  const uint8_t *root =
      b.data() + 4 + flatbuffers::ReadScalar<uint32_t>(b.data() + 4);
  const uint8_t *vtable = root - flatbuffers::ReadScalar<int32_t>(root);
  uint16_t slot = flatbuffers::ReadScalar<uint16_t>(
      vtable + fb::Artifact::VT_FORMAT_VERSION);
  ASSERT_NE(slot, 0);
  uint32_t future = 99;
  std::memcpy(b.data() + (root - b.data()) + slot, &future, 4);
  reseal(b);
  Status st = parse(b);
  ASSERT_FALSE(st.isOk());
  EXPECT_EQ(st.code(), StatusCode::Unsupported);
  EXPECT_NE(st.message().find("format version 99"), std::string::npos)
      << st.message();
}

// A max_context past 2^30 is refused by value at load, before an engine
// sizes its state from it (4611686018427387920 once wrapped a state's bytes).
TEST_F(ArtifactFuzz, HugeMaxContextIsRefusedByValue) {
  std::vector<uint8_t> b = bytes_;
  const uint8_t *root =
      b.data() + 4 + flatbuffers::ReadScalar<uint32_t>(b.data() + 4);
  const uint8_t *vtable = root - flatbuffers::ReadScalar<int32_t>(root);
  uint16_t slot =
      flatbuffers::ReadScalar<uint16_t>(vtable + fb::Artifact::VT_MAX_CONTEXT);
  ASSERT_NE(slot, 0);
  int64_t huge = 4611686018427387920;
  std::memcpy(b.data() + (root - b.data()) + slot, &huge, 8);
  reseal(b);
  Status st = parse(b);
  ASSERT_FALSE(st.isOk());
  EXPECT_NE(st.message().find("max_context 4611686018427387920"),
            std::string::npos)
      << st.message();
}

TEST_F(ArtifactFuzz, ModelLoadReportsThePath) {
  std::string bad = path_ + ".truncated";
  {
    std::ofstream out(bad, std::ios::binary);
    out.write(reinterpret_cast<const char *>(bytes_.data()),
              long(bytes_.size() / 2));
  }
  auto m = Model::load(bad);
  ASSERT_FALSE(m.isOk());
  EXPECT_NE(m.status().message().find(bad), std::string::npos)
      << m.status().message();
  auto missing = Model::load(path_ + ".does-not-exist");
  ASSERT_FALSE(missing.isOk());
  std::filesystem::remove(bad);
}

/// A minimal byte-level BPE tokenizer.json: BOS 0 and EOS 1 special, the 256
/// byte tokens (GPT-2's byte-to-unicode mapping) at ids 2..257, one merge.
std::string minimalTokenizerJson() {
  std::string vocab;
  int next = 256;
  std::string chars[256];
  for (int b = 0; b < 256; ++b) {
    bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) ||
                     (b >= 174 && b <= 255);
    unsigned cp = printable ? unsigned(b) : unsigned(next++);
    std::string &c = chars[b];
    if (cp < 0x80) {
      c += char(cp);
    } else {
      c += char(0xC0 | (cp >> 6));
      c += char(0x80 | (cp & 0x3F));
    }
    std::string escaped = c == "\"" ? "\\\"" : c == "\\" ? "\\\\" : c;
    vocab += (b ? "," : "") + std::string("\"") + escaped +
             "\":" + std::to_string(b + 2);
  }
  vocab += ",\"th\":258";
  auto added = [](int id, const char *content) {
    return "{\"id\":" + std::to_string(id) + ",\"content\":\"" + content +
           "\",\"single_word\":false,\"lstrip\":false,\"rstrip\":false,"
           "\"normalized\":false,\"special\":true}";
  };
  return "{\"added_tokens\":[" + added(0, "<s>") + "," + added(1, "</s>") +
         "],\"normalizer\":null,\"pre_tokenizer\":{\"type\":\"ByteLevel\","
         "\"add_prefix_space\":false,\"use_regex\":true},\"post_processor\":"
         "null,"
         "\"decoder\":{\"type\":\"ByteLevel\"},\"model\":{\"type\":\"BPE\","
         "\"vocab\":{" +
         vocab + "},\"merges\":[\"t h\"]}}";
}

// tiny_mix compiled with a stored tokenizer: damage inside the tokenizer's
// bytes is rejected by name or still loads, and never crashes.
TEST_F(ArtifactFuzz, DamagedStoredTokenizerIsRejectedByName) {
  std::string tokPath = path_ + ".tokenizer.json";
  {
    std::ofstream out(tokPath, std::ios::binary);
    out << minimalTokenizerJson();
  }
  std::string withTok = std::string(BIRKHOFF_BIN_DIR) +
                        "/../golden-artifacts/fuzz-tiny_mix-tok.bkart";
  Status st = compileArtifact(std::string(BIRKHOFF_GOLDENS_DIR) + "/tiny_mix",
                              withTok, "--tokenizer '" + tokPath + "'");
  ASSERT_TRUE(st.isOk()) << st.toString();
  std::ifstream in(withTok, std::ios::binary);
  std::vector<uint8_t> bytes{std::istreambuf_iterator<char>(in), {}};
  auto intact = rt::parseArtifact(bytes.data(), bytes.size(), "fuzzed.bkart");
  ASSERT_TRUE(intact.isOk()) << intact.status().toString();
  ASSERT_TRUE(intact->tokenizer);
  auto ids = intact->tokenizer->encode("the");
  ASSERT_TRUE(ids.isOk());
  EXPECT_EQ(*ids, (std::vector<int32_t>{258, 2 + 'e'}));

  const fb::Artifact *a = fb::GetSizePrefixedArtifact(bytes.data());
  ASSERT_TRUE(a->tokenizer_json());
  size_t begin =
      size_t(reinterpret_cast<const uint8_t *>(a->tokenizer_json()->data()) -
             bytes.data());
  size_t size = a->tokenizer_json()->size();
  // Not JSON any more: a load error that names the stored tokenizer.
  std::vector<uint8_t> b = bytes;
  const size_t program = 4 + flatbuffers::ReadScalar<uint32_t>(bytes.data());
  b[begin] = 'x';
  resealProgram(b, program);
  st = parse(b);
  ASSERT_FALSE(st.isOk());
  EXPECT_EQ(st.code(), StatusCode::Corrupt);
  EXPECT_NE(st.message().find("fuzzed.bkart: stored tokenizer does not load"),
            std::string::npos)
      << st.message();
  // Random flips inside the JSON.
  std::mt19937 rng(4);
  int rejected = 0;
  for (int i = 0; i < 500; ++i) {
    b = bytes;
    for (int f = 0; f < 1 + int(rng() % 3); ++f)
      b[begin + rng() % size] ^= uint8_t(1u << (rng() % 8));
    resealProgram(b, program);
    st = parse(b);
    if (!st.isOk()) {
      ++rejected;
      EXPECT_NE(st.message().find("stored tokenizer"), std::string::npos)
          << st.message();
    }
  }
  EXPECT_GT(rejected, 0);
  std::filesystem::remove(tokPath);
}

// Issue 15: every single flipped byte before the weight section (the program,
// its checksum trailer and the padding) is refused with a clear error, never
// loaded with a changed meaning. Position i has bit i % 8 flipped.
TEST_F(ArtifactFuzz, EveryProgramByteFlipIsRefused) {
  const size_t sectionOffset =
      (programBytes_ + kProgramChecksumBytes + 4095) / 4096 * 4096;
  ASSERT_LE(sectionOffset, bytes_.size());
  std::vector<uint8_t> b = bytes_;
  int checksumErrors = 0;
  for (size_t at = 0; at < sectionOffset; ++at) {
    const uint8_t mask = uint8_t(1u << (at % 8));
    b[at] ^= mask;
    Status st = parse(b);
    b[at] ^= mask;
    ASSERT_FALSE(st.isOk())
        << "flipping byte " << at << " with " << int(mask) << " was accepted";
    ASSERT_NE(st.message().find("fuzzed.bkart"), std::string::npos)
        << st.message();
    bool inChecked = at >= 12 && at < programBytes_ + kProgramChecksumBytes;
    if (inChecked) {
      ASSERT_NE(st.message().find("program checksum mismatch (corrupt or "
                                  "truncated artifact)"),
                std::string::npos)
          << "byte " << at << ": " << st.message();
      ++checksumErrors;
    }
  }
  EXPECT_GT(checksumErrors, 1000);
}

// An artifact written before checksums (format version 4, no trailer) is
// refused with a message that says to rebuild it; a missing trailer on a
// current version is damage.
TEST_F(ArtifactFuzz, ArtifactWithoutChecksumIsRefused) {
  std::vector<uint8_t> b = bytes_;
  std::memset(b.data() + programBytes_, 0, kProgramChecksumBytes);
  Status st = parse(b);
  ASSERT_FALSE(st.isOk());
  EXPECT_NE(st.message().find("program checksum mismatch (corrupt or "
                              "truncated artifact): no checksum"),
            std::string::npos)
      << st.message();
  const uint8_t *root =
      b.data() + 4 + flatbuffers::ReadScalar<uint32_t>(b.data() + 4);
  const uint8_t *vtable = root - flatbuffers::ReadScalar<int32_t>(root);
  uint16_t slot = flatbuffers::ReadScalar<uint16_t>(
      vtable + fb::Artifact::VT_FORMAT_VERSION);
  uint32_t old = 4;
  std::memcpy(b.data() + (root - b.data()) + slot, &old, 4);
  st = parse(b);
  ASSERT_FALSE(st.isOk());
  EXPECT_EQ(st.code(), StatusCode::Unsupported);
  EXPECT_NE(st.message().find("format version 4 has no checksums"),
            std::string::npos)
      << st.message();
  EXPECT_NE(st.message().find("rebuild the artifact"), std::string::npos)
      << st.message();
}

// A flipped byte in a stored weight: an ordinary host load maps weights
// lazily and does not read it; verifyWeights refuses the load, naming the
// weight.
TEST_F(ArtifactFuzz, FlippedWeightByteFailsVerification) {
  ModelOptions verify;
  verify.verifyWeights = true;
  auto intact = Model::load(path_, verify);
  ASSERT_TRUE(intact.isOk()) << intact.status().toString();
  const rt::Program &prog = (*intact)->artifact().program;
  std::string copy = path_ + ".weight-flip";
  std::mt19937 rng(5);
  for (int trial = 0; trial < 8; ++trial) {
    // A random byte of a random stored, non-empty weight.
    const rt::WeightDesc *w = nullptr;
    while (!w || w->generated || w->size == 0)
      w = &prog.weights[rng() % prog.weights.size()];
    size_t at = size_t(w->data - (*intact)->artifact().file->data()) +
                size_t(rng() % w->size);
    std::vector<uint8_t> b = bytes_;
    b[at] ^= uint8_t(1u << (rng() % 8));
    {
      std::ofstream out(copy, std::ios::binary | std::ios::trunc);
      out.write(reinterpret_cast<const char *>(b.data()), long(b.size()));
    }
    EXPECT_TRUE(Model::load(copy).isOk());
    auto m = Model::load(copy, verify);
    ASSERT_FALSE(m.isOk()) << "flip at " << at << " in '" << w->name << "'";
    EXPECT_EQ(m.status().code(), StatusCode::Corrupt);
    EXPECT_NE(m.status().message().find(copy + ": weight '" + w->name +
                                        "' checksum mismatch"),
              std::string::npos)
        << m.status().message();
  }
  std::filesystem::remove(copy);
}

} // namespace
} // namespace birkhoff::test
