//===- Main.cpp - birkhoff-kernelgen: one launch's CUDA kernel ------------===//
//
//   birkhoff-kernelgen <kernel> [key=value ...] [--weight=<dtype>:<d0>x<d1>
//   ...]
//                      [--emit=source|ptx|resources] [--arch=sm_90a]
//                      [--tree-reductions] [--max-tokens=N]
//
// Prints the generated source (default), the PTX, or one line of resources
// ("entry=... grid=... registers=N spill_stores=N spill_loads=N stack=N
// smem=N cubin_bytes=N scratch=N") for a launch of a catalogue kernel; a
// launch of several kernels prints each in turn.
//
//===----------------------------------------------------------------------===//
#include "CudaCompiler.h"
#include "KernelSource.h"

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

using namespace birkhoff;
using namespace birkhoff::cuda;

namespace {

int usage() {
  std::fprintf(stderr,
               "usage: birkhoff-kernelgen <kernel> [key=value ...] "
               "[--weight=<dtype>:<d0>x<d1> ...] [--emit=source|ptx|resources] "
               "[--arch=sm_90a] [--tree-reductions] [--max-tokens=N]\n");
  return 2;
}

bool parseWeight(const std::string &text, CudaLaunchSpec &spec) {
  size_t colon = text.find(':');
  auto dtype = parseDTypeName(text.substr(0, colon));
  if (!dtype)
    return false;
  std::vector<int64_t> shape;
  if (colon != std::string::npos) {
    std::string dims = text.substr(colon + 1);
    size_t pos = 0;
    while (pos <= dims.size()) {
      size_t x = dims.find('x', pos);
      std::string d = dims.substr(
          pos, x == std::string::npos ? std::string::npos : x - pos);
      char *end = nullptr;
      long long v = std::strtoll(d.c_str(), &end, 10);
      if (d.empty() || *end)
        return false;
      shape.push_back(v);
      if (x == std::string::npos)
        break;
      pos = x + 1;
    }
  }
  spec.weight(*dtype, shape);
  return true;
}

} // namespace

int main(int argc, char **argv) {
  if (argc < 2)
    return usage();
  // Weights and the entry size first; the params are decoded at the end, as
  // the runtime decodes an artifact's (a bad one is decodeParams' error).
  CudaLaunchSpec spec;
  std::vector<ParamPair> params;
  std::string emit = "source", arch = "sm_90a";
  CudaCodegenOptions opts;
  for (int a = 2; a < argc; ++a) {
    std::string arg = argv[a];
    if (arg.rfind("--emit=", 0) == 0) {
      emit = arg.substr(7);
    } else if (arg.rfind("--arch=", 0) == 0) {
      arch = arg.substr(7);
    } else if (arg == "--tree-reductions") {
      opts.hostOrderReductions = false;
    } else if (arg.rfind("--max-tokens=", 0) == 0) {
      char *end = nullptr;
      long long v = std::strtoll(arg.c_str() + 13, &end, 10);
      if (*end || v < 0) {
        std::fprintf(stderr, "error: bad token count '%s'\n", arg.c_str());
        return 2;
      }
      spec.maxTokens = v;
    } else if (arg.rfind("--weight=", 0) == 0) {
      if (!parseWeight(arg.substr(9), spec)) {
        std::fprintf(stderr, "error: bad weight '%s'\n", arg.c_str());
        return 2;
      }
    } else if (size_t eq = arg.find('=');
               eq != std::string::npos && arg[0] != '-') {
      char *end = nullptr;
      double v = std::strtod(arg.c_str() + eq + 1, &end);
      if (*end) {
        std::fprintf(stderr, "error: bad parameter value '%s'\n", arg.c_str());
        return 2;
      }
      params.emplace_back(arg.substr(0, eq), v);
    } else {
      return usage();
    }
  }
  if (emit != "source" && emit != "ptx" && emit != "resources")
    return usage();
  Expected<CudaLaunchSpec> decoded = launchSpecOf(argv[1], params);
  if (!decoded) {
    std::fprintf(stderr, "error: %s\n", decoded.status().toString().c_str());
    return 1;
  }
  spec.params = std::move(decoded->params);
  Expected<KernelSource> ks = generateKernelSource(scheduled(spec), opts);
  if (!ks) {
    std::fprintf(stderr, "error: %s\n", ks.status().toString().c_str());
    return 1;
  }
  // A launch may lower to several kernels (KernelSource::then): each is
  // printed in order.
  for (const KernelSource *src : ks->sequence()) {
    if (emit == "source") {
      std::fputs(src->source.c_str(), stdout);
      continue;
    }
    Expected<CompiledKernel> k =
        compileCudaSource(src->source, src->entry, arch);
    if (!k) {
      std::fprintf(stderr, "error: %s\n", k.status().toString().c_str());
      return 1;
    }
    if (emit == "ptx") {
      std::fputs(k->ptx.c_str(), stdout);
      continue;
    }
    const GridRule &g = src->grid;
    std::printf(
        "entry=%s grid.x=%lld*S+%lld grid.y=%s block=%d registers=%d "
        "spill_stores=%d spill_loads=%d stack=%d smem=%d cubin_bytes=%zu "
        "scratch=%llu\n",
        src->entry.c_str(), (long long)g.xPerToken, (long long)g.xConst,
        g.tokensPerY ? ("ceil(S/" + std::to_string(g.tokensPerY) + ")").c_str()
                     : "1",
        g.block, k->registers, k->spillStoreBytes, k->spillLoadBytes,
        k->stackBytes, k->sharedBytes, k->cubin.size(),
        (unsigned long long)src->scratchBytes);
  }
  return 0;
}
