//===- MiniModel.cpp - A small model of today's CUDA kernels --------------===//
#include "MiniModel.h"

#include "compiler/Passes.h"
#include "deepseek_v4/ModelConfig.h"
#include "kernel/BkDialect.h"

#include "birkhoff/Numerics.h"
#include "birkhoff/Safetensors.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"

#include <cstring>
#include <random>

namespace birkhoff::test {
namespace {

constexpr int64_t V = kMiniVocab, D = kMiniDim, HC = kMiniHc;
constexpr int64_t kHeads = 2, kHeadDim = 64, kRopeDim = 32;

struct Tensor {
  std::string name;
  DType dtype;                // as stored in the checkpoint
  std::vector<int64_t> shape; // as stored (FP4: packed bytes)
  std::vector<uint8_t> bytes;
};

class Random {
public:
  explicit Random(uint32_t seed) : rng_(seed) {}
  std::vector<uint8_t> f32(size_t n, float sd, float mean = 0.0f) {
    std::normal_distribution<float> d(mean, sd);
    std::vector<uint8_t> out(n * 4);
    for (size_t i = 0; i < n; ++i) {
      float v = d(rng_);
      std::memcpy(&out[4 * i], &v, 4);
    }
    return out;
  }
  std::vector<uint8_t> bf16(size_t n, float sd, float mean = 0.0f) {
    std::normal_distribution<float> d(mean, sd);
    std::vector<uint8_t> out(n * 2);
    for (size_t i = 0; i < n; ++i) {
      uint16_t h = floatToBf16(d(rng_));
      std::memcpy(&out[2 * i], &h, 2);
    }
    return out;
  }
  /// Bytes in [lo, hi]; `fp8` skips the e4m3 NaN codes.
  std::vector<uint8_t> bytes(size_t n, int lo, int hi, bool fp8 = false) {
    std::uniform_int_distribution<int> d(lo, hi);
    std::vector<uint8_t> out(n);
    for (uint8_t &b : out)
      do
        b = uint8_t(d(rng_));
      while (fp8 && (b & 0x7f) == 0x7f);
    return out;
  }

private:
  std::mt19937 rng_;
};

std::vector<Tensor> miniTensors(uint32_t seed) {
  Random r(seed);
  const int64_t mix = (2 + HC) * HC;
  return {
      {"embed.weight", DType::BF16, {V, D}, r.bf16(size_t(V * D), 1.0f)},
      {"hc_attn_fn",
       DType::F32,
       {mix, HC * D},
       r.f32(size_t(mix * HC * D), 0.05f)},
      {"hc_attn_base", DType::F32, {mix}, r.f32(size_t(mix), 0.5f)},
      {"hc_attn_scale", DType::F32, {3}, r.f32(3, 0.1f, 0.5f)},
      {"attn_norm.weight", DType::BF16, {D}, r.bf16(size_t(D), 0.1f, 1.0f)},
      // FP8 e4m3 with one 128x128 block scale.
      {"wq.weight",
       DType::F8E4M3,
       {D, D},
       r.bytes(size_t(D * D), 0, 255, true)},
      {"wq.scale", DType::F8E8M0, {1, 1}, r.bytes(1, 118, 122)},
      // Packed FP4 e2m1 (two codes per byte, DeepSeek's I8) with per-32 scales.
      {"wo.weight", DType::I8, {D, D / 2}, r.bytes(size_t(D * D / 2), 0, 255)},
      {"wo.scale",
       DType::F8E8M0,
       {D, D / 32},
       r.bytes(size_t(D * D / 32), 121, 125)},
      {"ffn_norm.weight", DType::BF16, {D}, r.bf16(size_t(D), 0.1f, 1.0f)},
      {"hc_head_fn",
       DType::F32,
       {HC, HC * D},
       r.f32(size_t(HC * HC * D), 0.05f)},
      {"hc_head_base", DType::F32, {HC}, r.f32(size_t(HC), 0.5f)},
      {"hc_head_scale", DType::F32, {1}, r.f32(1, 0.1f, 0.5f)},
      {"norm.weight", DType::BF16, {D}, r.bf16(size_t(D), 0.1f, 1.0f)},
      {"head.weight", DType::F32, {V, D}, r.f32(size_t(V * D), 0.1f)},
  };
}

const char *kWeights = R"(
bk.weight @"embed.weight" {dtype = "bf16", shape = array<i64: 512, 128>}
bk.weight @"hc_attn_fn" {dtype = "f32", shape = array<i64: 24, 512>}
bk.weight @"hc_attn_base" {dtype = "f32", shape = array<i64: 24>}
bk.weight @"hc_attn_scale" {dtype = "f32", shape = array<i64: 3>}
bk.weight @"attn_norm.weight" {dtype = "bf16", shape = array<i64: 128>}
bk.weight @"wq.weight" {dtype = "f8e4m3", shape = array<i64: 128, 128>, scale = @"wq.scale"}
bk.weight @"wq.scale" {dtype = "f8e8m0", shape = array<i64: 1, 1>}
bk.weight @"wo.weight" {dtype = "fp4e2m1x2", shape = array<i64: 128, 128>, scale = @"wo.scale"}
bk.weight @"wo.scale" {dtype = "f8e8m0", shape = array<i64: 128, 4>}
bk.weight @"ffn_norm.weight" {dtype = "bf16", shape = array<i64: 128>}
bk.weight @"hc_head_fn" {dtype = "f32", shape = array<i64: 4, 512>}
bk.weight @"hc_head_base" {dtype = "f32", shape = array<i64: 4>}
bk.weight @"hc_head_scale" {dtype = "f32", shape = array<i64: 1>}
bk.weight @"norm.weight" {dtype = "bf16", shape = array<i64: 128>}
bk.weight @"head.weight" {dtype = "f32", shape = array<i64: 512, 128>}
)";

/// One entry function; @prefill and @decode differ only in max_tokens.
std::string entryFunction(const std::string &name, int64_t maxTokens) {
  return R"(
func.func @)" +
         name +
         R"((%tokens: !bk.buffer {bk.elems_per_token = 1 : i64}, %logits: !bk.buffer {bk.elems_per_token = 512 : i64}) attributes {bk.entry, bk.max_tokens = )" +
         std::to_string(maxTokens) + R"( : i64} {
  %x = bk.alloc {name = "x", elems_per_token = 512 : i64, is_int = false} : !bk.buffer
  bk.launch "embed" ins(%tokens) outs(%x) weights([@"embed.weight"]) states([]) params({dim = 128 : i64, hc = 4 : i64})
  %u = bk.alloc {name = "u", elems_per_token = 128 : i64, is_int = false} : !bk.buffer
  %post = bk.alloc {name = "post", elems_per_token = 4 : i64, is_int = false} : !bk.buffer
  %comb = bk.alloc {name = "comb", elems_per_token = 16 : i64, is_int = false} : !bk.buffer
  bk.launch "mhc_pre_norm" ins(%x) outs(%u, %post, %comb) weights([@"hc_attn_fn", @"hc_attn_base", @"hc_attn_scale", @"attn_norm.weight"]) states([]) params({dim = 128 : i64, hc = 4 : i64, iters = 20 : i64, hc_eps = 1.0e-06 : f64, norm_eps = 1.0e-06 : f64, eps = 1.0e-06 : f64}) {layer = 0 : i64}
  %q = bk.alloc {name = "q", elems_per_token = 128 : i64, is_int = false} : !bk.buffer
  bk.launch "linear" ins(%u) outs(%q) weights([@"wq.weight"]) states([]) params({in_features = 128 : i64, out_features = 128 : i64}) {layer = 0 : i64}
  %qn = bk.alloc {name = "qn", elems_per_token = 128 : i64, is_int = false} : !bk.buffer
  bk.launch "head_rms_norm" ins(%q) outs(%qn) weights([]) states([]) params({heads = 2 : i64, head_dim = 64 : i64, eps = 1.0e-06 : f64}) {layer = 0 : i64}
  %qr = bk.alloc {name = "qr", elems_per_token = 128 : i64, is_int = false} : !bk.buffer
  bk.launch "rope" ins(%qn) outs(%qr) weights([]) states([]) params({heads = 2 : i64, head_dim = 64 : i64, inverse = 0 : i64, rope_dim = 32 : i64, theta = 160000.0 : f64, yarn = 1 : i64, rope_factor = 16.0 : f64, original_seq_len = 8 : i64, beta_fast = 32.0 : f64, beta_slow = 1.0 : f64}) {layer = 0 : i64}
  %y = bk.alloc {name = "y", elems_per_token = 128 : i64, is_int = false} : !bk.buffer
  bk.launch "linear" ins(%qr) outs(%y) weights([@"wo.weight"]) states([]) params({in_features = 128 : i64, out_features = 128 : i64}) {layer = 0 : i64}
  %yn = bk.alloc {name = "yn", elems_per_token = 128 : i64, is_int = false} : !bk.buffer
  bk.launch "rms_norm" ins(%y) outs(%yn) weights([@"ffn_norm.weight"]) states([]) params({n = 128 : i64, eps = 1.0e-06 : f64}) {layer = 0 : i64}
  %x2 = bk.alloc {name = "x2", elems_per_token = 512 : i64, is_int = false} : !bk.buffer
  bk.launch "mhc_post" ins(%yn, %x, %post, %comb) outs(%x2) weights([]) states([]) params({dim = 128 : i64, hc = 4 : i64}) {layer = 0 : i64}
  %h = bk.alloc {name = "h", elems_per_token = 128 : i64, is_int = false} : !bk.buffer
  bk.launch "mhc_head_norm" ins(%x2) outs(%h) weights([@"hc_head_fn", @"hc_head_base", @"hc_head_scale", @"norm.weight"]) states([]) params({dim = 128 : i64, hc = 4 : i64, hc_eps = 1.0e-06 : f64, norm_eps = 1.0e-06 : f64, eps = 1.0e-06 : f64})
  bk.launch "linear" ins(%h) outs(%logits) weights([@"head.weight"]) states([]) params({in_features = 128 : i64, out_features = 512 : i64})
  return
}
)";
}

v4::ModelConfig miniConfig() {
  v4::ModelConfig c;
  c.vocabSize = V;
  c.dim = D;
  c.nLayers = 1;
  c.nHeads = kHeads;
  c.headDim = kHeadDim;
  c.ropeHeadDim = kRopeDim;
  c.qLoraRank = D;
  c.oGroups = 1;
  c.oLoraRank = D;
  c.windowSize = 8;
  c.attention = {v4::LayerAttention::Window};
  c.routing = {v4::LayerRouting::TopK};
  c.nRoutedExperts = 1;
  c.nActivatedExperts = 1;
  c.moeInterDim = D;
  c.hcMult = HC;
  c.indexNHeads = 1;
  c.indexHeadDim = 32;
  c.indexTopk = 1;
  c.originalSeqLen = 8;
  c.maxPositionEmbeddings = 4096;
  return c;
}

} // namespace

std::vector<std::string> miniModelKernels() {
  return {"embed",    "head_rms_norm", "linear",   "mhc_head_norm",
          "mhc_post", "mhc_pre_norm",  "rms_norm", "rope"};
}

Status writeMiniCheckpoint(const std::string &dir, uint32_t seed) {
  std::vector<Tensor> tensors = miniTensors(seed);
  std::vector<SafetensorsWriter::Declared> declared;
  for (const Tensor &t : tensors)
    declared.push_back({t.name, t.dtype, t.shape});
  BK_ASSIGN_OR_RETURN(SafetensorsWriter w,
                      SafetensorsWriter::create(dir + "/model.safetensors",
                                                std::move(declared)));
  for (const Tensor &t : tensors)
    BK_RETURN_IF_ERROR(w.write(t.name, t.bytes));
  return w.finish();
}

Expected<MiniArtifact> writeMiniArtifact(const std::string &checkpointDir,
                                         const std::string &path,
                                         const std::string &target,
                                         const CudaTargetOptions &cuda,
                                         bool embedPtx) {
  BK_ASSIGN_OR_RETURN(Checkpoint checkpoint, Checkpoint::open(checkpointDir));
  mlir::MLIRContext context;
  context.getOrLoadDialect<bk::BkDialect>();
  context.getOrLoadDialect<mlir::func::FuncDialect>();
  std::string text = std::string(kWeights) +
                     entryFunction("prefill", kMiniMaxTokens) +
                     entryFunction("decode", 1);
  mlir::OwningOpRef<mlir::ModuleOp> module =
      mlir::parseSourceString<mlir::ModuleOp>(text, &context);
  if (!module)
    return internalError("mini model: the bk program does not parse");
  mlir::PassManager pm(&context);
  pm.addPass(createBkPlanMemory());
  pm.addPass(createBkVerify(BkVerifyOptions{/*requirePlan=*/true}));
  if (target == "cuda")
    buildCudaPipeline(pm);
  if (mlir::failed(pm.run(*module)))
    return internalError("mini model: planning or bk-verify failed");
  MiniArtifact result;
  ArtifactOptions options;
  options.modelName = "mini";
  options.target = target;
  options.maxContext = 256;
  options.embedPtx = embedPtx;
  if (target == "cuda") {
    BK_ASSIGN_OR_RETURN(result.cuda,
                        compileCudaProgram(module->getOperation(), cuda));
    options.cuda = &result.cuda;
  }
  BK_ASSIGN_OR_RETURN(result.stats,
                      writeArtifact(module->getOperation(), miniConfig(),
                                    checkpoint, options, path));
  return result;
}

} // namespace birkhoff::test
