//===- ArtifactFuzzer.cpp - Fuzzes the artifact loader's checks -----------===//
//
// An input is a whole artifact file. Its program checksum is rewritten over
// the (mutated) program before loading, as test/golden/ArtifactFuzzTest.cpp
// does, so that mutations reach the flatbuffers verifier and the semantic
// checks behind the checksum instead of all stopping at it. Loading must
// give a program or an error, never a crash.
//
//===----------------------------------------------------------------------===//
#include "FuzzSupport.h"

#include "ArtifactLoader.h"
#include "birkhoff/ProgramChecksum.h"

#include <cstring>
#include <vector>

using namespace birkhoff;

extern "C" int LLVMFuzzerInitialize(int *, char ***) { return 0; }

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::vector<uint8_t> bytes(data, data + size);
  if (size >= 4) {
    uint32_t fbSize;
    std::memcpy(&fbSize, data, 4);
    const uint64_t programBytes = uint64_t(fbSize) + 4;
    if (programBytes + kProgramChecksumBytes <= size) {
      auto trailer = programChecksumTrailer(bytes.data(), programBytes);
      std::memcpy(bytes.data() + programBytes, trailer.data(), trailer.size());
    }
  }
  Expected<rt::Program> program =
      rt::parseArtifact(bytes.data(), bytes.size(), "fuzz");
  (void)program;
  return 0;
}
