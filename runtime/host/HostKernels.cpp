//===- HostKernels.cpp - Name to implementation ---------------------------===//
#include "HostKernels.h"

namespace birkhoff::rt {

HostKernelFn findHostKernel(std::string_view name) {
  struct Entry {
    std::string_view name;
    HostKernelFn fn;
  };
  static const Entry kTable[] = {
      {"embed", embedKernel},
      {"mhc_pre", mhcPreKernel},
      {"mhc_pre_norm", mhcPreNormKernel},
      {"mhc_post", mhcPostKernel},
      {"mhc_head", mhcHeadKernel},
      {"mhc_head_norm", mhcHeadNormKernel},
      {"rms_norm", rmsNormKernel},
      {"linear", linearKernel},
      {"linear_rms_norm", linearRmsNormKernel},
      {"head_rms_norm", headRmsNormKernel},
      {"rope", ropeKernel},
      {"head_rms_norm_rope", headRmsNormRopeKernel},
      {"compressor", compressorKernel},
      {"indexer_topk", indexerTopkKernel},
      {"sparse_attention", sparseAttentionKernel},
      {"window_write", windowWriteKernel},
      {"grouped_linear", groupedLinearKernel},
      {"router_scores", routerScoresKernel},
      {"route_select", routeSelectKernel},
      {"router", routerKernel},
      {"moe", moeKernel},
  };
  for (const Entry &e : kTable)
    if (e.name == name)
      return e.fn;
  return nullptr;
}

} // namespace birkhoff::rt
