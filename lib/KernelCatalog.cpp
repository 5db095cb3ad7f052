//===- KernelCatalog.cpp --------------------------------------------------===//
#include "birkhoff/KernelCatalog.h"

#include <array>

namespace birkhoff {
namespace {

using P = std::string_view;

constexpr P kEmbed[] = {"dim", "hc"};
constexpr P kMhcPre[] = {"dim", "hc", "iters", "hc_eps", "norm_eps"};
constexpr P kMhcPreNorm[] = {"dim", "hc", "iters", "hc_eps", "norm_eps", "eps"};
constexpr P kMhcPost[] = {"dim", "hc"};
constexpr P kMhcHead[] = {"dim", "hc", "hc_eps", "norm_eps"};
constexpr P kMhcHeadNorm[] = {"dim", "hc", "hc_eps", "norm_eps", "eps"};
constexpr P kRmsNorm[] = {"n", "eps"};
constexpr P kLinear[] = {"in_features", "out_features"};
constexpr P kLinearNorm[] = {"in_features", "out_features", "eps"};
constexpr P kHeadRms[] = {"heads", "head_dim", "eps"};
constexpr P kRopeOp[] = {"heads", "head_dim", "inverse", "rope_dim", "theta", "yarn",
                         "rope_factor", "original_seq_len", "beta_fast", "beta_slow"};
constexpr P kHeadRmsRope[] = {"heads", "head_dim", "eps", "rope_dim", "theta", "yarn",
                              "rope_factor", "original_seq_len", "beta_fast", "beta_slow"};
constexpr P kCompressor[] = {"dim", "head_dim", "ratio", "overlap", "eps", "rope_dim", "theta",
                             "yarn", "rope_factor", "original_seq_len", "beta_fast",
                             "beta_slow"};
constexpr P kIndexer[] = {"heads", "head_dim", "topk", "ratio"};
constexpr P kAttention[] = {"heads", "head_dim", "window", "mode", "ratio", "topk"};
constexpr P kWindowWrite[] = {"window", "head_dim"};
constexpr P kGrouped[] = {"groups", "in_per_group", "out_per_group"};
constexpr P kRouterScores[] = {"dim", "experts"};
constexpr P kRouteSelect[] = {"experts", "topk", "route_scale", "hash"};
constexpr P kRouter[] = {"dim", "experts", "topk", "route_scale", "hash"};
constexpr P kMoe[] = {"dim", "inter", "experts", "topk", "swiglu_limit", "shared_clamp"};

const std::array<KernelSignature, 21> kCatalog = {{
    {"embed", 1, 1, 1, 1, 1, 0, 0, kEmbed},
    {"mhc_pre", 1, 1, 3, 3, 3, 0, 0, kMhcPre},
    {"mhc_pre_norm", 1, 1, 3, 4, 4, 0, 0, kMhcPreNorm},
    {"mhc_post", 4, 4, 1, 0, 0, 0, 0, kMhcPost},
    {"mhc_head", 1, 1, 1, 3, 3, 0, 0, kMhcHead},
    {"mhc_head_norm", 1, 1, 1, 4, 4, 0, 0, kMhcHeadNorm},
    {"rms_norm", 1, 1, 1, 1, 1, 0, 0, kRmsNorm},
    {"linear", 1, 1, 1, 1, 1, 0, 0, kLinear},
    {"linear_rms_norm", 1, 1, 1, 2, 2, 0, 0, kLinearNorm},
    {"head_rms_norm", 1, 1, 1, 0, 0, 0, 0, kHeadRms},
    {"rope", 1, 1, 1, 0, 0, 0, 0, kRopeOp},
    {"head_rms_norm_rope", 1, 1, 1, 0, 0, 0, 0, kHeadRmsRope},
    {"compressor", 1, 1, 0, 4, 4, 2, 2, kCompressor},
    {"indexer_topk", 2, 2, 1, 0, 0, 1, 1, kIndexer},
    {"sparse_attention", 2, 3, 1, 1, 1, 1, 2, kAttention},
    {"window_write", 1, 1, 0, 0, 0, 1, 1, kWindowWrite},
    {"grouped_linear", 1, 1, 1, 1, 1, 0, 0, kGrouped},
    {"router_scores", 1, 1, 1, 1, 1, 0, 0, kRouterScores},
    {"route_select", 2, 2, 2, 1, 1, 0, 0, kRouteSelect},
    {"router", 2, 2, 2, 2, 2, 0, 0, kRouter},
    {"moe", 3, 3, 1, 3, -1, 0, 0, kMoe},
}};

} // namespace

std::span<const KernelSignature> kernelCatalog() { return kCatalog; }

const KernelSignature *findKernel(std::string_view name) {
  for (const KernelSignature &k : kCatalog)
    if (k.name == name)
      return &k;
  return nullptr;
}

} // namespace birkhoff
