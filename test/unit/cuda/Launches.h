//===- Launches.h - Representative launches of every generated kernel -----===//
//
// V4-Flash shapes (dim 4096, hc 4, 64 heads of 512 with 64 RoPE dims, FP8
// projections, FP4 experts) and tiny/odd shapes, shared by the compile tests.
//
//===----------------------------------------------------------------------===//
#ifndef BIRKHOFF_TEST_UNIT_CUDA_LAUNCHES_H
#define BIRKHOFF_TEST_UNIT_CUDA_LAUNCHES_H

#include "KernelSource.h"

#include <ostream>
#include <string>
#include <vector>

namespace birkhoff::cuda::test {

struct NamedLaunch {
  std::string name;
  CudaLaunchSpec spec;
};
// GoogleTest prints parameters with this instead of their bytes.
inline void PrintTo(const NamedLaunch &l, std::ostream *os) { *os << l.name; }

inline CudaLaunchSpec linearSpec(int64_t in, int64_t out, DType t) {
  CudaLaunchSpec s;
  s.kernel = "linear";
  s.param("in_features", double(in));
  s.param("out_features", double(out));
  s.weight(t, {out, in});
  return s;
}

inline CudaLaunchSpec ropeSpec(int64_t heads, int64_t hd, int64_t rd, bool yarn,
                               bool inverse) {
  CudaLaunchSpec s;
  s.kernel = "rope";
  s.param("heads", double(heads));
  s.param("head_dim", double(hd));
  s.param("rope_dim", double(rd));
  s.param("inverse", inverse ? 1 : 0);
  s.param("theta", yarn ? 160000 : 10000);
  s.param("yarn", yarn ? 1 : 0);
  s.param("rope_factor", 16);
  s.param("original_seq_len", 65536);
  s.param("beta_fast", 32);
  s.param("beta_slow", 1);
  return s;
}

inline CudaLaunchSpec mhcSpec(const char *kernel, int64_t dim, int64_t hc,
                              DType normType = DType::BF16) {
  std::string k = kernel;
  bool head = k.rfind("mhc_head", 0) == 0;
  bool norm = k.size() > 5 && k.substr(k.size() - 5) == "_norm";
  CudaLaunchSpec s;
  s.kernel = k;
  s.param("dim", double(dim));
  s.param("hc", double(hc));
  s.param("hc_eps", 1e-6);
  s.param("norm_eps", 1e-6);
  if (!head)
    s.param("iters", 20);
  if (norm)
    s.param("eps", 1e-6);
  int64_t rows = head ? hc : (2 + hc) * hc;
  s.weight(DType::F32, {rows, hc * dim});
  s.weight(DType::F32, {rows});
  s.weight(DType::F32, {head ? 1 : 3});
  if (norm)
    s.weight(normType, {dim});
  return s;
}

inline std::vector<NamedLaunch> representativeLaunches() {
  std::vector<NamedLaunch> v;
  auto add = [&](std::string n, CudaLaunchSpec s) {
    v.push_back({std::move(n), std::move(s)});
  };
  for (auto [dim, tag] :
       {std::pair<int64_t, const char *>{4096, "flash"}, {24, "tiny"}}) {
    CudaLaunchSpec e;
    e.kernel = "embed";
    e.param("dim", double(dim));
    e.param("hc", 4);
    e.weight(DType::BF16, {dim == 4096 ? 129280 : 97, dim});
    add(std::string("embed_") + tag, e);
    CudaLaunchSpec r;
    r.kernel = "rms_norm";
    r.param("n", double(dim));
    r.param("eps", 1e-6);
    r.weight(DType::BF16, {dim});
    add(std::string("rms_norm_") + tag, r);
    for (const char *k :
         {"mhc_pre", "mhc_pre_norm", "mhc_head", "mhc_head_norm"})
      add(std::string(k) + "_" + tag, mhcSpec(k, dim, 4));
    CudaLaunchSpec p;
    p.kernel = "mhc_post";
    p.param("dim", double(dim));
    p.param("hc", 4);
    add(std::string("mhc_post_") + tag, p);
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
  CudaLaunchSpec hn;
  hn.kernel = "head_rms_norm";
  hn.param("heads", 64);
  hn.param("head_dim", 512);
  hn.param("eps", 1e-6);
  add("head_rms_norm_flash", hn);
  CudaLaunchSpec hn2 = hn;
  hn2.params = {{"heads", 3}, {"head_dim", 10}, {"eps", 1e-6}};
  add("head_rms_norm_tiny", hn2);
  add("rope_flash_q_yarn", ropeSpec(64, 512, 64, true, false));
  add("rope_flash_o_inverse", ropeSpec(64, 512, 64, true, true));
  add("rope_tiny_plain", ropeSpec(2, 8, 4, false, false));
  add("rope_odd_lead", ropeSpec(3, 10, 4, false, true));
  return v;
}

} // namespace birkhoff::cuda::test

#endif // BIRKHOFF_TEST_UNIT_CUDA_LAUNCHES_H
