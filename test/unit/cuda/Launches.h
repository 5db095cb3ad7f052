//===- Launches.h - Representative launches of every generated kernel -----===//
//
// V4-Flash shapes (dim 4096, hc 4, 64 heads of 512 with 64 RoPE dims, FP8
// projections, FP4 experts) and tiny/odd shapes, shared by the compile tests.
//
//===----------------------------------------------------------------------===//
#ifndef BIRKHOFF_TEST_UNIT_CUDA_LAUNCHES_H
#define BIRKHOFF_TEST_UNIT_CUDA_LAUNCHES_H

#include "KernelSource.h"

#include <gtest/gtest.h>

#include <ostream>
#include <string>
#include <tuple>
#include <type_traits>
#include <variant>
#include <vector>

namespace birkhoff::cuda::test {

struct NamedLaunch {
  std::string name;
  CudaLaunchSpec spec;
};
// GoogleTest prints parameters with this instead of their bytes.
inline void PrintTo(const NamedLaunch &l, std::ostream *os) { *os << l.name; }

/// `s` with its params edited by `edit`, which takes the params struct of
/// the spec's kernel (`[](RopeParams &p) { p.afterRope = 1; }`).
template <typename F> CudaLaunchSpec with(CudaLaunchSpec s, F edit) {
  bool edited = false;
  std::visit(
      [&](auto &p) {
        if constexpr (std::is_invocable_v<F &, decltype(p)>) {
          edit(p);
          edited = true;
        }
      },
      s.params);
  if (!edited)
    ADD_FAILURE() << "with(): the edit does not take this kernel's params";
  return s;
}

inline CudaLaunchSpec linearSpec(int64_t in, int64_t out, DType t) {
  LinearParams p;
  p.inFeatures = in;
  p.outFeatures = out;
  CudaLaunchSpec s(p);
  s.weight(t, {out, in});
  return s;
}

/// The RoPE fields of rope, head_rms_norm_rope and compressor.
template <typename P> void ropeParams(P &p, int64_t rd, bool yarn) {
  p.ropeDim = rd;
  p.theta = yarn ? 160000 : 10000;
  p.yarn = yarn;
  p.ropeFactor = 16;
  p.originalSeqLen = 65536;
  p.betaFast = 32;
  p.betaSlow = 1;
}

inline CudaLaunchSpec ropeSpec(int64_t heads, int64_t hd, int64_t rd, bool yarn,
                               bool inverse) {
  RopeParams p;
  p.heads = heads;
  p.headDim = hd;
  p.inverse = inverse;
  ropeParams(p, rd, yarn);
  return CudaLaunchSpec(p);
}

inline CudaLaunchSpec headRmsNormRopeSpec(int64_t heads, int64_t hd, int64_t rd,
                                          bool yarn) {
  HeadRmsNormRopeParams p;
  p.heads = heads;
  p.headDim = hd;
  p.eps = 1e-6;
  ropeParams(p, rd, yarn);
  return CudaLaunchSpec(p);
}

inline CudaLaunchSpec rmsNormSpec(int64_t n, DType t = DType::BF16) {
  RmsNormParams p;
  p.n = n;
  p.eps = 1e-6;
  CudaLaunchSpec s(p);
  s.weight(t, {n});
  return s;
}

inline CudaLaunchSpec headRmsNormSpec(int64_t heads, int64_t hd) {
  HeadRmsNormParams p;
  p.heads = heads;
  p.headDim = hd;
  p.eps = 1e-6;
  return CudaLaunchSpec(p);
}

inline CudaLaunchSpec mhcPostSpec(int64_t dim, int64_t hc) {
  MhcPostParams p;
  p.dim = dim;
  p.hc = hc;
  return CudaLaunchSpec(p);
}

inline CudaLaunchSpec windowWriteSpec(int64_t window, int64_t hd) {
  WindowWriteParams p;
  p.window = window;
  p.headDim = hd;
  return CudaLaunchSpec(p);
}

inline CudaLaunchSpec embedSpec(int64_t dim, int64_t hc, int64_t vocab,
                                DType t = DType::BF16) {
  EmbedParams p;
  p.dim = dim;
  p.hc = hc;
  CudaLaunchSpec s(p);
  s.weight(t, {vocab, dim});
  return s;
}

/// mhc_pre, mhc_pre_norm, mhc_head or mhc_head_norm.
inline CudaLaunchSpec mhcSpec(const char *kernel, int64_t dim, int64_t hc,
                              DType normType = DType::BF16) {
  std::string k = kernel;
  bool head = k.rfind("mhc_head", 0) == 0;
  bool norm = k.size() > 5 && k.substr(k.size() - 5) == "_norm";
  auto fill = [&](auto p) {
    p.dim = dim;
    p.hc = hc;
    p.hcEps = 1e-6;
    p.normEps = 1e-6;
    if constexpr (requires { p.iters; })
      p.iters = 20;
    if constexpr (requires { p.eps; })
      p.eps = 1e-6;
    return CudaLaunchSpec(p);
  };
  CudaLaunchSpec s =
      head ? (norm ? fill(MhcHeadNormParams{}) : fill(MhcHeadParams{}))
           : (norm ? fill(MhcPreNormParams{}) : fill(MhcPreParams{}));
  int64_t rows = head ? hc : (2 + hc) * hc;
  s.weight(DType::F32, {rows, hc * dim});
  s.weight(DType::F32, {rows});
  s.weight(DType::F32, {head ? 1 : 3});
  if (norm)
    s.weight(normType, {dim});
  return s;
}

inline CudaLaunchSpec linearNormSpec(int64_t in, int64_t out, DType t) {
  LinearRmsNormParams p;
  p.inFeatures = in;
  p.outFeatures = out;
  p.eps = 1e-6;
  CudaLaunchSpec s(p);
  s.weight(t, {out, in});
  s.weight(DType::BF16, {out});
  return s;
}

inline CudaLaunchSpec groupedSpec(int64_t groups, int64_t in, int64_t out,
                                  DType t) {
  GroupedLinearParams p;
  p.groups = groups;
  p.inPerGroup = in;
  p.outPerGroup = out;
  CudaLaunchSpec s(p);
  s.weight(t, {groups * out, in});
  return s;
}

/// router_scores, route_select or router; hash: tid2eid of `vocab` rows.
inline CudaLaunchSpec routingSpec(const char *kernel, int64_t dim,
                                  int64_t experts, int64_t topk, bool hash,
                                  int64_t vocab = 129280,
                                  DType gate = DType::BF16) {
  std::string k = kernel;
  if (k == "router_scores") {
    RouterScoresParams p;
    p.dim = dim;
    p.experts = experts;
    CudaLaunchSpec s(p);
    s.weight(gate, {experts, dim});
    return s;
  }
  auto fill = [&](auto p) {
    if constexpr (requires { p.dim; })
      p.dim = dim;
    p.experts = experts;
    p.topk = topk;
    p.routeScale = 1.5;
    p.hash = hash;
    return CudaLaunchSpec(p);
  };
  CudaLaunchSpec s =
      k == "router" ? fill(RouterParams{}) : fill(RouteSelectParams{});
  if (k == "router")
    s.weight(gate, {experts, dim});
  if (hash)
    s.weight(DType::I64, {vocab, topk});
  else
    s.weight(DType::F32, {experts});
  return s;
}

inline CudaLaunchSpec moeSpec(int64_t dim, int64_t inter, int64_t experts,
                              int64_t topk, DType routed, DType shared) {
  MoeParams p;
  p.dim = dim;
  p.inter = inter;
  p.experts = experts;
  p.topk = topk;
  p.swigluLimit = 10.0;
  p.sharedClamp = true;
  CudaLaunchSpec s(p);
  for (int64_t e = 0; e <= experts; ++e) {
    DType t = e == experts ? shared : routed;
    s.weight(t, {inter, dim});
    s.weight(t, {dim, inter});
    s.weight(t, {inter, dim});
  }
  return s;
}

inline CudaLaunchSpec compressorSpec(int64_t dim, int64_t hd, int64_t ratio,
                                     bool overlap, int64_t rd) {
  CompressorParams p;
  p.dim = dim;
  p.headDim = hd;
  p.ratio = ratio;
  p.overlap = overlap;
  p.eps = 1e-6;
  ropeParams(p, rd, true);
  CudaLaunchSpec s(p);
  int64_t width = (overlap ? 2 : 1) * hd;
  s.weight(DType::BF16, {width, dim});
  s.weight(DType::BF16, {width, dim});
  s.weight(DType::F32, {ratio, width});
  s.weight(DType::BF16, {hd});
  return s;
}

inline CudaLaunchSpec indexerSpec(int64_t heads, int64_t hd, int64_t topk,
                                  int64_t ratio) {
  IndexerTopkParams p;
  p.heads = heads;
  p.headDim = hd;
  p.topk = topk;
  p.ratio = ratio;
  return CudaLaunchSpec(p);
}

inline CudaLaunchSpec attentionSpec(int64_t heads, int64_t hd, int64_t window,
                                    int64_t mode, int64_t ratio, int64_t topk) {
  SparseAttentionParams p;
  p.heads = heads;
  p.headDim = hd;
  p.window = window;
  p.mode = mode;
  p.ratio = ratio;
  p.topk = topk;
  CudaLaunchSpec s(p);
  s.weight(DType::F32, {heads});
  return s;
}

/// `s` in the official numerics profile (numerics = 1).
inline CudaLaunchSpec official(CudaLaunchSpec s) {
  std::visit(
      [](auto &p) {
        if constexpr (requires { p.numerics; })
          p.numerics = 1;
      },
      s.params);
  return s;
}
/// `s` in the official profile with its official-only params set by `edit`.
template <typename F> CudaLaunchSpec official(CudaLaunchSpec s, F edit) {
  return with(official(std::move(s)), edit);
}

/// Launches of the official profile (numerics = 1) that are generated.
inline std::vector<NamedLaunch> officialLaunches() {
  std::vector<NamedLaunch> v;
  auto add = [&](std::string n, CudaLaunchSpec s) {
    v.push_back({"official_" + std::move(n), std::move(s)});
  };
  add("rms_norm_flash", official(rmsNormSpec(4096)));
  add("head_rms_norm_flash", official(headRmsNormSpec(64, 512)));
  add("rope_flash_q", official(ropeSpec(64, 512, 64, true, false),
                               [](RopeParams &p) { p.afterRope = 0; }));
  add("rope_flash_kv_fp8", official(ropeSpec(1, 512, 64, true, false),
                                    [](RopeParams &p) { p.afterRope = 1; }));
  add("rope_flash_indexer_q", official(ropeSpec(64, 128, 64, true, false),
                                       [](RopeParams &p) { p.afterRope = 2; }));
  add("rope_flash_o_inverse", official(ropeSpec(64, 512, 64, true, true),
                                       [](RopeParams &p) { p.afterRope = 0; }));
  add("head_rms_norm_rope_flash",
      official(headRmsNormRopeSpec(64, 512, 64, false)));
  auto kvEntries = [](WindowWriteParams &p) {
    p.kvFormat = 1;
    p.ropeDim = 64;
  };
  add("window_write_flash", official(windowWriteSpec(128, 512), kvEntries));
  for (const char *k : {"mhc_pre_norm", "mhc_head_norm"}) {
    add(std::string(k) + "_flash", official(mhcSpec(k, 4096, 4)));
    CudaLaunchSpec decode = official(mhcSpec(k, 4096, 4));
    decode.maxTokens = 1; // a cluster per token
    add(std::string(k) + "_flash_decode", decode);
  }
  add("mhc_post_flash", official(mhcPostSpec(4096, 4)));
  add("grouped_linear_flash_wo_a",
      official(groupedSpec(8, 4096, 1024, DType::F8E4M3)));
  add("linear_fp8_flash_q_a",
      official(linearSpec(4096, 1024, DType::F8E4M3),
               [](LinearParams &p) { p.roundOutput = true; }));
  add("linear_fp8_flash_wo_b",
      official(linearSpec(8192, 4096, DType::F8E4M3),
               [](LinearParams &p) { p.roundOutput = true; }));
  add("linear_fp4_flash_expert_w2",
      official(linearSpec(2048, 4096, DType::FP4E2M1x2),
               [](LinearParams &p) { p.roundOutput = true; }));
  add("linear_bf16_flash_head",
      official(linearSpec(4096, 1024, DType::BF16),
               [](LinearParams &p) { p.roundOutput = false; }));
  add("linear_rms_norm_fp8_flash_q_a",
      official(linearNormSpec(4096, 1024, DType::F8E4M3)));
  // tiny_dq's shapes (head 128 with 64 RoPE dims, indexer heads of 64).
  add("rope_golden_kv_fp8", official(ropeSpec(1, 128, 64, true, false),
                                     [](RopeParams &p) { p.afterRope = 1; }));
  add("rope_golden_indexer_q",
      official(ropeSpec(16, 64, 64, true, false),
               [](RopeParams &p) { p.afterRope = 2; }));
  add("window_write_golden", official(windowWriteSpec(8, 128), kvEntries));
  add("linear_fp4_golden_expert",
      official(linearSpec(128, 128, DType::FP4E2M1x2),
               [](LinearParams &p) { p.roundOutput = true; }));
  // The stateful kernels: KV entries, FP4 indexer keys, FP8/FP4 experts.
  add("compressor_flash_csa_kv",
      official(compressorSpec(4096, 512, 4, true, 64),
               [](CompressorParams &p) { p.entryFormat = 1; }));
  add("compressor_flash_hca_kv",
      official(compressorSpec(4096, 512, 128, false, 64),
               [](CompressorParams &p) { p.entryFormat = 1; }));
  add("compressor_flash_indexer_keys",
      official(compressorSpec(4096, 128, 4, true, 64),
               [](CompressorParams &p) { p.entryFormat = 2; }));
  {
    CudaLaunchSpec c = official(compressorSpec(4096, 512, 4, true, 64),
                                [](CompressorParams &p) { p.entryFormat = 1; });
    c.maxTokens = 1; // projected over the whole GPU, then walked
    add("compressor_flash_csa_kv_projected", c);
  }
  add("compressor_golden_indexer_keys",
      official(compressorSpec(128, 64, 4, true, 64),
               [](CompressorParams &p) { p.entryFormat = 2; }));
  add("indexer_topk_flash",
      official(indexerSpec(64, 128, 512, 4),
               [](IndexerTopkParams &p) { p.keyFormat = 1; }));
  CudaLaunchSpec scored =
      official(indexerSpec(64, 128, 512, 4),
               [](IndexerTopkParams &p) { p.keyFormat = 1; });
  scored.maxTokens = 1; // scored over the whole GPU, then selected
  add("indexer_topk_flash_scored", scored);
  for (auto [mode, ratio, topk, tag] :
       {std::tuple<int, int, int, const char *>{0, 0, 0, "window"},
        {1, 4, 512, "csa"},
        {2, 128, 0, "hca"}}) {
    CudaLaunchSpec a = official(attentionSpec(64, 512, 128, mode, ratio, topk),
                                [](SparseAttentionParams &p) {
                                  p.kvFormat = 1;
                                  p.ropeDim = 64;
                                });
    add(std::string("sparse_attention_flash_") + tag, a);
    // Decode with --split-decode-attention: keys split over blocks, then
    // combined.
    a.maxTokens = 1;
    ScheduleOptions split;
    split.splitDecodeAttention = true;
    a.schedule = chooseSchedule(a, split);
    add(std::string("sparse_attention_flash_split_") + tag, a);
  }
  add("moe_flash",
      official(moeSpec(4096, 2048, 256, 6, DType::FP4E2M1x2, DType::F8E4M3)));
  add("moe_golden",
      official(moeSpec(128, 128, 4, 4, DType::FP4E2M1x2, DType::F8E4M3)));
  // Grouped by expert (entry sizes known): decode splits each expert over
  // two clusters, a 512-token prefill chunk runs its tiles on tensor cores.
  for (auto [tokens, tag] :
       {std::pair<int64_t, const char *>{1, "decode"}, {512, "prefill"}}) {
    CudaLaunchSpec g =
        official(moeSpec(4096, 2048, 256, 6, DType::FP4E2M1x2, DType::F8E4M3));
    g.maxTokens = tokens;
    add(std::string("moe_flash_grouped_") + tag, g);
  }
  // Tensor-core tiles at the GPU tests' small widths (one rank; 4 ranks).
  for (auto [dim, inter, experts, topk, tag] :
       {std::tuple<int64_t, int64_t, int64_t, int64_t, const char *>{
            256, 128, 6, 2, "moe_mma_256x128"},
        {2048, 1024, 8, 4, "moe_mma_2048x1024"}}) {
    CudaLaunchSpec g = official(
        moeSpec(dim, inter, experts, topk, DType::FP4E2M1x2, DType::F8E4M3));
    g.maxTokens = 256;
    add(tag, g);
  }
  return v;
}

/// The kernels beyond the foundation, at V4-Flash shapes and tiny/odd ones.
inline std::vector<NamedLaunch> catalogueLaunches() {
  std::vector<NamedLaunch> v;
  auto add = [&](std::string n, CudaLaunchSpec s) {
    v.push_back({std::move(n), std::move(s)});
  };
  add("linear_rms_norm_fp8_flash_q_a",
      linearNormSpec(4096, 1024, DType::F8E4M3));
  add("linear_rms_norm_fp8_flash_kv", linearNormSpec(4096, 512, DType::F8E4M3));
  add("linear_rms_norm_fp4", linearNormSpec(2048, 256, DType::FP4E2M1x2));
  add("linear_rms_norm_bf16_odd", linearNormSpec(30, 7, DType::BF16));
  add("grouped_linear_fp8_flash_wo_a",
      groupedSpec(8, 4096, 1024, DType::F8E4M3));
  add("grouped_linear_bf16_flash", groupedSpec(8, 4096, 1024, DType::BF16));
  add("grouped_linear_f32_odd", groupedSpec(3, 10, 5, DType::F32));
  add("router_scores_flash", routingSpec("router_scores", 4096, 256, 6, false));
  add("router_scores_tiny",
      routingSpec("router_scores", 24, 8, 2, false, 0, DType::F32));
  add("route_select_flash_bias",
      routingSpec("route_select", 4096, 256, 6, false));
  add("route_select_flash_hash",
      routingSpec("route_select", 4096, 256, 6, true));
  add("route_select_tiny", routingSpec("route_select", 24, 8, 2, false));
  add("router_flash_bias", routingSpec("router", 4096, 256, 6, false));
  add("router_flash_hash", routingSpec("router", 4096, 256, 6, true));
  for (bool hash : {false, true}) {
    CudaLaunchSpec r = routingSpec("router", 4096, 256, 6, hash);
    // Scores over the whole GPU, then a warp selects (a 2-token entry for
    // the hash table, so its score kernel is another specialization).
    r.maxTokens = hash ? 2 : 1;
    add(hash ? "router_flash_hash_scored" : "router_flash_bias_scored", r);
  }
  add("router_tiny_hash",
      routingSpec("router", 24, 8, 2, true, 97, DType::F32));
  add("moe_flash",
      moeSpec(4096, 2048, 256, 6, DType::FP4E2M1x2, DType::F8E4M3));
  add("moe_tiny", moeSpec(64, 32, 4, 2, DType::BF16, DType::F32));
  add("moe_odd", moeSpec(24, 12, 3, 2, DType::F32, DType::F32));
  add("compressor_flash_csa", compressorSpec(4096, 512, 4, true, 64));
  {
    CudaLaunchSpec c = compressorSpec(4096, 512, 4, true, 64);
    c.maxTokens = 4;
    add("compressor_flash_csa_projected", c);
  }
  add("compressor_flash_hca", compressorSpec(4096, 512, 128, false, 64));
  add("compressor_flash_indexer", compressorSpec(4096, 128, 4, true, 64));
  add("compressor_tiny", compressorSpec(24, 8, 2, true, 4));
  add("head_rms_norm_rope_flash", headRmsNormRopeSpec(64, 512, 64, false));
  add("head_rms_norm_rope_odd", headRmsNormRopeSpec(3, 10, 4, true));
  add("indexer_topk_flash", indexerSpec(64, 128, 512, 4));
  CudaLaunchSpec scored = indexerSpec(64, 128, 512, 4);
  scored.maxTokens = 1;
  add("indexer_topk_flash_scored", scored);
  add("indexer_topk_pro_topk", indexerSpec(64, 128, 1024, 4));
  add("indexer_topk_tiny", indexerSpec(2, 12, 3, 2));
  add("sparse_attention_flash_window", attentionSpec(64, 512, 128, 0, 0, 0));
  add("sparse_attention_flash_csa", attentionSpec(64, 512, 128, 1, 4, 512));
  add("sparse_attention_flash_hca", attentionSpec(64, 512, 128, 2, 128, 0));
  add("sparse_attention_tiny_csa", attentionSpec(2, 10, 4, 1, 2, 3));
  // Shapes of the golden test models (shared/goldens/tiny_*).
  add("moe_golden_fp4",
      moeSpec(128, 64, 8, 2, DType::FP4E2M1x2, DType::F8E4M3));
  add("moe_golden_inter32", moeSpec(64, 32, 16, 4, DType::BF16, DType::BF16));
  add("compressor_golden_indexer_16", compressorSpec(64, 16, 4, true, 16));
  add("compressor_golden_hca", compressorSpec(128, 64, 16, false, 16));
  add("indexer_topk_golden", indexerSpec(16, 16, 32, 4));
  add("sparse_attention_golden_hca", attentionSpec(2, 64, 128, 2, 16, 0));
  add("linear_rms_norm_golden", linearNormSpec(128, 64, DType::F8E4M3));
  add("router_golden_hash", routingSpec("router", 128, 8, 2, true, 512));
  add("window_write_flash", windowWriteSpec(128, 512));
  add("window_write_odd", windowWriteSpec(3, 10));
  for (NamedLaunch &l : officialLaunches())
    v.push_back(std::move(l));
  return v;
}

inline std::vector<NamedLaunch> representativeLaunches() {
  std::vector<NamedLaunch> v;
  auto add = [&](std::string n, CudaLaunchSpec s) {
    v.push_back({std::move(n), std::move(s)});
  };
  for (auto [dim, tag] :
       {std::pair<int64_t, const char *>{4096, "flash"}, {24, "tiny"}}) {
    add(std::string("embed_") + tag,
        embedSpec(dim, 4, dim == 4096 ? 129280 : 97));
    add(std::string("rms_norm_") + tag, rmsNormSpec(dim));
    for (const char *k :
         {"mhc_pre", "mhc_pre_norm", "mhc_head", "mhc_head_norm"})
      add(std::string(k) + "_" + tag, mhcSpec(k, dim, 4));
    add(std::string("mhc_post_") + tag, mhcPostSpec(dim, 4));
  }
  add("linear_fp8_flash_q_a", linearSpec(4096, 1024, DType::F8E4M3));
  add("linear_fp8_flash_wkv", linearSpec(4096, 512, DType::F8E4M3));
  add("linear_fp4_flash_expert_w1", linearSpec(4096, 2048, DType::FP4E2M1x2));
  add("linear_fp4_flash_expert_w2", linearSpec(2048, 4096, DType::FP4E2M1x2));
  add("linear_bf16_flash_head", linearSpec(4096, 1024, DType::BF16));
  add("linear_f32_flash", linearSpec(4096, 1024, DType::F32));
  add("linear_fp8_tiny", linearSpec(256, 40, DType::F8E4M3));
  add("linear_fp4_tiny", linearSpec(64, 24, DType::FP4E2M1x2));
  add("linear_bf16_odd", linearSpec(30, 7, DType::BF16));
  add("linear_f32_odd", linearSpec(13, 5, DType::F32));
  add("head_rms_norm_flash", headRmsNormSpec(64, 512));
  add("head_rms_norm_tiny", headRmsNormSpec(3, 10));
  add("rope_flash_q_yarn", ropeSpec(64, 512, 64, true, false));
  add("rope_flash_o_inverse", ropeSpec(64, 512, 64, true, true));
  add("rope_tiny_plain", ropeSpec(2, 8, 4, false, false));
  add("rope_odd_lead", ropeSpec(3, 10, 4, false, true));
  for (NamedLaunch &l : catalogueLaunches())
    v.push_back(std::move(l));
  return v;
}

} // namespace birkhoff::cuda::test

#endif // BIRKHOFF_TEST_UNIT_CUDA_LAUNCHES_H
