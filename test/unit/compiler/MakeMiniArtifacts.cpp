//===- MakeMiniArtifacts.cpp - The mini model's artifacts for the GPU test ===//
//
//   make_mini_artifacts <dir>
//
// Writes <dir>/mini.host.bkart and <dir>/mini.cuda.bkart (MiniModel.h; the
// cuda one needs NVRTC, no GPU) for test/gpu, which runs them on the GPU
// machine where no compiler is built. scripts/prepare-gpu-carry.sh calls it.
//
//===----------------------------------------------------------------------===//
#include "MiniModel.h"

#include <cstdio>
#include <filesystem>

int main(int argc, char **argv) {
  using namespace birkhoff;
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_mini_artifacts <dir>\n");
    return 2;
  }
  namespace fs = std::filesystem;
  const fs::path dir = argv[1];
  const fs::path ckpt = dir / "mini-checkpoint";
  std::error_code ec;
  fs::create_directories(ckpt, ec);
  if (ec) {
    std::fprintf(stderr, "make_mini_artifacts: cannot create %s: %s\n",
                 ckpt.c_str(), ec.message().c_str());
    return 1;
  }
  if (Status s = test::writeMiniCheckpoint(ckpt.string()); !s) {
    std::fprintf(stderr, "make_mini_artifacts: %s\n", s.toString().c_str());
    return 1;
  }
  for (const char *target : {"host", "cuda"}) {
    fs::path out = dir / (std::string("mini.") + target + ".bkart");
    auto written = test::writeMiniArtifact(ckpt.string(), out.string(), target);
    if (!written) {
      std::fprintf(stderr, "make_mini_artifacts: %s: %s\n", out.c_str(),
                   written.status().toString().c_str());
      return 1;
    }
    std::printf("wrote %s (%llu launches, %llu CUDA kernels)\n", out.c_str(),
                (unsigned long long)written->stats.launches,
                (unsigned long long)written->stats.cudaKernels);
  }
  fs::remove_all(ckpt, ec);
  return 0;
}
