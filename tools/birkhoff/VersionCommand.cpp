//===- VersionCommand.cpp - `birkhoff version` / `birkhoff --version` -----===//
//
// The first line is the one to quote in a bug report: the version and the
// git revision (birkhoff::buildInfo()). The others say what this build can
// do: the CUDA backend and whether this machine's driver loads, and which
// optional commands were built in.
//
//===----------------------------------------------------------------------===//
#include "Commands.h"
#include "birkhoff/Runtime.h"
#include "cuda/CudaDriverApi.h"

#include <cstdio>
#include <string>

namespace birkhoff::tools {
namespace {

/// This machine's CUDA driver, as the runtime would load it for device "cuda",
/// in a few words: the loader's message lists every library it tried.
std::string cudaDriverHere() {
  auto driver = cuda::CudaDriverApi::get();
  if (!driver) {
    const std::string &message = driver.status().message();
    if (message.starts_with("no CUDA driver"))
      return "no CUDA driver";
    return message.substr(0, message.find('\n'));
  }
  int version = 0;
  if ((*driver)->driverGetVersion(&version) != 0)
    return "a driver that does not report its version";
  return "driver " + std::to_string(version / 1000) + "." +
         std::to_string(version % 1000 / 10);
}

int printVersion() {
  const BuildInfo &info = buildInfo();
  std::printf("birkhoff %s (git %s)\n", info.version.c_str(),
              info.revision.c_str());
  if (info.cuda)
    std::printf("cuda: yes, driver and NVRTC loaded at run time (here: %s)\n",
                cudaDriverHere().c_str());
  else
    std::printf("cuda: no\n");
#ifdef BIRKHOFF_WITH_COMPILER
  std::printf("compiler: yes (LLVM/MLIR %s)\n", BIRKHOFF_MLIR_VERSION);
#else
  std::printf("compiler: no (a runtime-only build)\n");
#endif
#ifdef BIRKHOFF_WITH_SERVE
  std::printf("serve: yes\n");
#else
  std::printf("serve: no\n");
#endif
  return 0;
}

} // namespace

cli::Command versionCommand() {
  return {"version",
          "print the version, git revision and CUDA support (also --version)",
          "birkhoff version\nbirkhoff --version",
          "Prints the version and the git revision the build was configured "
          "from, whether the CUDA backend's driver loads here, and which "
          "optional commands the build has. It takes no arguments.",
          [](CLI::App &) -> cli::Runner { return printVersion; }};
}

} // namespace birkhoff::tools
