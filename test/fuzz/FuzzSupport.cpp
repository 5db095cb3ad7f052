//===- FuzzSupport.cpp - What the fuzz targets share ----------------------===//
#include "FuzzSupport.h"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <unistd.h>

namespace birkhoff::fuzz {

const std::string &writeScratchFile(const uint8_t *data, size_t size) {
  // In TMPDIR, per process: libFuzzer's -jobs/-workers run several at once.
  static const std::string path = [] {
    const char *tmp = std::getenv("TMPDIR");
    return std::string(tmp && *tmp ? tmp : "/tmp") + "/birkhoff-fuzz-" +
           std::to_string(::getpid());
  }();
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char *>(data), std::streamsize(size));
  out.close();
  if (!out) {
    std::fprintf(stderr, "fuzz: cannot write %s\n", path.c_str());
    std::exit(1);
  }
  return path;
}

std::string requiredEnv(const char *name) {
  const char *value = std::getenv(name);
  if (!value || !*value) {
    std::fprintf(stderr, "fuzz: set %s (scripts/fuzz.sh does)\n", name);
    std::exit(1);
  }
  return value;
}

void check(bool ok, const std::string &what) {
  if (ok)
    return;
  std::fprintf(stderr, "fuzz: property violated: %s\n", what.c_str());
  std::abort();
}

} // namespace birkhoff::fuzz
