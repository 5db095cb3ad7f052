//===- Crc32cTest.cpp - CRC-32C check values and implementations agree ----===//
#include "birkhoff/Crc32c.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

using namespace birkhoff;

namespace {

uint32_t ofString(const std::string &s) {
  return crc32c(0, s.data(), s.size());
}

// The standard check values (RFC 3720 B.4 and the CRC catalogue).
TEST(Crc32cTest, CheckValues) {
  EXPECT_EQ(ofString(""), 0u);
  EXPECT_EQ(ofString("123456789"), 0xE3069283u);
  EXPECT_EQ(ofString("a"), 0xC1D04330u);
  std::vector<uint8_t> zeros(32, 0), ones(32, 0xff), up(32), down(32);
  for (int i = 0; i < 32; ++i) {
    up[size_t(i)] = uint8_t(i);
    down[size_t(i)] = uint8_t(31 - i);
  }
  EXPECT_EQ(crc32c(0, zeros.data(), 32), 0x8A9136AAu);
  EXPECT_EQ(crc32c(0, ones.data(), 32), 0x62A8AB43u);
  EXPECT_EQ(crc32c(0, up.data(), 32), 0x46DD794Eu);
  EXPECT_EQ(crc32c(0, down.data(), 32), 0x113FDB5Cu);
}

// Both implementations give the check value whatever the CPU.
TEST(Crc32cTest, PortableAndHardwareCheckValue) {
  EXPECT_EQ(crc32cPortable(0, "123456789", 9), 0xE3069283u);
  if (!crc32cHasHardware())
    GTEST_SKIP() << "no SSE4.2 on this CPU";
  EXPECT_EQ(crc32cHardware(0, "123456789", 9), 0xE3069283u);
}

// Odd lengths at every alignment, short and past the three-stream blocks,
// from an arbitrary starting CRC.
TEST(Crc32cTest, HardwareMatchesPortable) {
  if (!crc32cHasHardware())
    GTEST_SKIP() << "no SSE4.2 on this CPU";
  std::mt19937_64 rng(7);
  std::vector<uint8_t> buf(100000 + 16);
  for (uint8_t &b : buf)
    b = uint8_t(rng());
  const size_t lengths[] = {0,     1,     3,     7,     8,     9,
                            15,    63,    4095,  12287, 12288, 12289,
                            24577, 36871, 99999, 100000};
  for (size_t n : lengths)
    for (size_t align = 0; align < 8; ++align) {
      uint32_t start = uint32_t(rng());
      EXPECT_EQ(crc32cHardware(start, buf.data() + align, n),
                crc32cPortable(start, buf.data() + align, n))
          << "length " << n << ", alignment " << align;
    }
}

// Extending a CRC piece by piece gives the one-shot CRC.
TEST(Crc32cTest, IncrementalEqualsOneShot) {
  std::mt19937_64 rng(11);
  std::vector<uint8_t> buf(50001);
  for (uint8_t &b : buf)
    b = uint8_t(rng());
  uint32_t whole = crc32c(0, buf.data(), buf.size());
  EXPECT_EQ(crc32cPortable(0, buf.data(), buf.size()), whole);
  for (int trial = 0; trial < 20; ++trial) {
    uint32_t c = 0;
    size_t at = 0;
    while (at < buf.size()) {
      size_t k = std::min<size_t>(buf.size() - at, rng() % 20000);
      c = crc32c(c, buf.data() + at, k);
      at += k;
    }
    EXPECT_EQ(c, whole);
  }
}

// CRCs of pieces checksummed separately combine into the whole's.
TEST(Crc32cTest, CombineEqualsOneShot) {
  std::mt19937_64 rng(13);
  std::vector<uint8_t> buf(70000);
  for (uint8_t &b : buf)
    b = uint8_t(rng());
  uint32_t whole = crc32c(0, buf.data(), buf.size());
  for (size_t split :
       {size_t(0), size_t(1), size_t(4096), size_t(33333), buf.size()}) {
    uint32_t a = crc32c(0, buf.data(), split);
    uint32_t b = crc32c(0, buf.data() + split, buf.size() - split);
    EXPECT_EQ(crc32cCombine(a, b, buf.size() - split), whole)
        << "split at " << split;
  }
}

// A single flipped bit anywhere changes the CRC.
TEST(Crc32cTest, DetectsEveryBitFlip) {
  std::vector<uint8_t> buf(1000, 0x5a);
  uint32_t good = crc32c(0, buf.data(), buf.size());
  for (size_t i = 0; i < buf.size(); ++i)
    for (int bit = 0; bit < 8; ++bit) {
      buf[i] ^= uint8_t(1 << bit);
      EXPECT_NE(crc32c(0, buf.data(), buf.size()), good);
      buf[i] ^= uint8_t(1 << bit);
    }
}

} // namespace
