//===- FuzzSupport.h - What the fuzz targets share -------------*- C++ -*-===//
//
// The entry points every target defines (libFuzzer's), a way to hand bytes to
// the readers that take a path, and the check that stops a run when a
// property the readers promise does not hold: a failed check aborts, so
// libFuzzer keeps the input and the replay test fails.
//
//===----------------------------------------------------------------------===//
#ifndef BIRKHOFF_TEST_FUZZ_FUZZSUPPORT_H
#define BIRKHOFF_TEST_FUZZ_FUZZSUPPORT_H

#include <cstddef>
#include <cstdint>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
extern "C" int LLVMFuzzerInitialize(int *argc, char ***argv);

namespace birkhoff::fuzz {

/// Writes `size` bytes to this process's scratch file (one path per process,
/// rewritten by each call) and returns its path.
const std::string &writeScratchFile(const uint8_t *data, size_t size);

/// The value of environment variable `name`; a message and exit(1) when it is
/// unset (a target's setup, not an input, is wrong).
std::string requiredEnv(const char *name);

/// Aborts, printing `what`, when `ok` is false.
void check(bool ok, const std::string &what);

} // namespace birkhoff::fuzz

#endif // BIRKHOFF_TEST_FUZZ_FUZZSUPPORT_H
