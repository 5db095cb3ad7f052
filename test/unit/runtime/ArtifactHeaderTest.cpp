//===- ArtifactHeaderTest.cpp - The loader reads only the bytes it has ----===//
//
// parseArtifact of a few bytes: whatever the size prefix says, the loader
// refuses them without reading past them. An 8-byte file whose prefix said 0
// once had its file identifier read from the 4 bytes after its end (found by
// test/fuzz's artifact target under ASan).
//
//===----------------------------------------------------------------------===//
#include "ArtifactLoader.h"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

namespace birkhoff::rt {
namespace {

TEST(ArtifactHeader, TinyFilesAreRefusedWithinTheirBytes) {
  for (uint32_t size = 0; size <= 16; ++size) {
    for (uint32_t prefix : {0u, 4u, 7u, 8u, size >= 4 ? size - 4 : 0u}) {
      // Exactly `size` bytes on the heap, so that ASan sees any read past them.
      std::vector<uint8_t> bytes(size, 0);
      if (size >= 4)
        std::memcpy(bytes.data(), &prefix, 4);
      if (size >= 12)
        std::memcpy(bytes.data() + 8, "BKA1", 4);
      Expected<Program> p = parseArtifact(bytes.data(), size, "tiny.bkart");
      ASSERT_FALSE(p.isOk()) << size << " bytes, prefix " << prefix;
      EXPECT_NE(p.status().message().find("tiny.bkart"), std::string::npos)
          << p.status().message();
    }
  }
}

TEST(ArtifactHeader, AProgramTooShortForItsIdentifierIsNamed) {
  // 8 bytes whose size prefix says 0: the identifier would lie past the end.
  std::vector<uint8_t> bytes(8, 0);
  Expected<Program> p = parseArtifact(bytes.data(), bytes.size(), "a.bkart");
  ASSERT_FALSE(p.isOk());
  EXPECT_NE(p.status().message().find("too short"), std::string::npos)
      << p.status().message();
  // 12 bytes, the prefix still 0: the program cannot hold the identifier.
  bytes.assign(12, 0);
  std::memcpy(bytes.data() + 8, "BKA1", 4);
  p = parseArtifact(bytes.data(), bytes.size(), "a.bkart");
  ASSERT_FALSE(p.isOk());
  EXPECT_NE(p.status().message().find("too short"), std::string::npos)
      << p.status().message();
}

} // namespace
} // namespace birkhoff::rt
