//===- KernelParamsTest.cpp - Kernels.def, the catalogue and typed params -===//
#include "birkhoff/KernelParams.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>

namespace birkhoff {
namespace {

std::vector<ParamPair> sorted(std::vector<ParamPair> v) {
  std::sort(v.begin(), v.end());
  return v;
}

/// A value of every parameter of `sig`, none of them its default:
/// Int i + 2, Real i + 0.25, Bool 1; numerics as given.
std::vector<ParamPair> everyParam(const KernelSignature &sig, double numerics) {
  std::vector<ParamPair> out;
  for (size_t i = 0; i < sig.params.size(); ++i) {
    const ParamInfo &p = sig.params[i];
    double v = p.type == ParamType::Int    ? double(i) + 2
               : p.type == ParamType::Real ? double(i) + 0.25
                                           : 1.0;
    // Inside the parameter's range (decodeParams refuses any other).
    if (v > p.maxValue)
      v = p.type == ParamType::Real
              ? p.minValue + (p.maxValue - p.minValue) / double(i + 2)
              : p.maxValue;
    out.emplace_back(std::string(p.key), p.key == "numerics" ? numerics : v);
  }
  return out;
}

TEST(KernelCatalog, IdsNamesAndSignaturesAgree) {
  ASSERT_EQ(kernelCatalog().size(), kNumKernels);
  std::set<std::string_view> names;
  for (size_t i = 0; i < kNumKernels; ++i) {
    const KernelSignature &sig = kernelCatalog()[i];
    SCOPED_TRACE(sig.name);
    EXPECT_EQ(size_t(sig.id), i);
    EXPECT_TRUE(names.insert(sig.name).second);
    EXPECT_EQ(findKernel(sig.name), &sig);
    EXPECT_EQ(kernelIdByName(sig.name), sig.id);
    EXPECT_EQ(kernelName(sig.id), sig.name);
    EXPECT_EQ(&kernelSignature(sig.id), &sig);
    EXPECT_LE(sig.minInputs, sig.maxInputs);
    EXPECT_TRUE(sig.maxWeights < 0 || sig.minWeights <= sig.maxWeights);
    EXPECT_LE(sig.minStates, sig.maxStates);
    // Every kernel takes `numerics`; keys and fields are unique; an
    // official-only parameter is optional.
    const ParamInfo *numerics = sig.findParam("numerics");
    ASSERT_NE(numerics, nullptr);
    EXPECT_FALSE(numerics->required);
    std::set<std::string_view> keys, fields;
    std::vector<std::string_view> required;
    for (const ParamInfo &p : sig.params) {
      EXPECT_TRUE(keys.insert(p.key).second) << p.key;
      EXPECT_TRUE(fields.insert(p.field).second) << p.field;
      EXPECT_TRUE(!p.officialOnly || !p.required) << p.key;
      if (p.required)
        required.push_back(p.key);
    }
    EXPECT_EQ(std::vector<std::string_view>(sig.requiredParams.begin(),
                                            sig.requiredParams.end()),
              required);
  }
  EXPECT_EQ(findKernel("no_such_kernel"), nullptr);
  EXPECT_FALSE(kernelIdByName("no_such_kernel").has_value());
}

TEST(KernelCatalog, DeclaresTheDocumentedOfficialParams) {
  auto officialOnly = [](KernelId id, std::string_view key) {
    const ParamInfo *p = kernelSignature(id).findParam(key);
    return p && p->officialOnly && !p->required;
  };
  EXPECT_TRUE(officialOnly(KernelId::Linear, "round_output"));
  EXPECT_TRUE(officialOnly(KernelId::LinearRmsNorm, "round_output"));
  EXPECT_TRUE(officialOnly(KernelId::Rope, "after_rope"));
  EXPECT_TRUE(officialOnly(KernelId::Compressor, "entry_format"));
  EXPECT_TRUE(officialOnly(KernelId::SparseAttention, "kv_format"));
  EXPECT_TRUE(officialOnly(KernelId::SparseAttention, "rope_dim"));
  EXPECT_TRUE(officialOnly(KernelId::WindowWrite, "kv_format"));
  EXPECT_TRUE(officialOnly(KernelId::WindowWrite, "rope_dim"));
  EXPECT_TRUE(officialOnly(KernelId::IndexerTopk, "key_format"));
  // rope_dim is required where RoPE is applied; shared_clamp in both profiles.
  EXPECT_TRUE(kernelSignature(KernelId::Rope).findParam("rope_dim")->required);
  EXPECT_TRUE(
      kernelSignature(KernelId::Moe).findParam("shared_clamp")->required);
}

// Every kernel: pairs -> struct -> pairs is the identity (official profile,
// every parameter set), and struct -> pairs -> struct as well.
TEST(KernelParams, EveryKernelRoundTrips) {
  for (const KernelSignature &sig : kernelCatalog()) {
    SCOPED_TRACE(sig.name);
    std::vector<ParamPair> pairs = everyParam(sig, 1);
    Expected<KernelParams> decoded = decodeParams(sig.id, pairs);
    ASSERT_TRUE(decoded.isOk()) << decoded.status().toString();
    EXPECT_EQ(kernelIdOf(*decoded), sig.id);
    EXPECT_EQ(numericsOf(*decoded), 1);
    std::vector<ParamPair> encoded = encodeParamPairs(*decoded);
    EXPECT_EQ(encoded, sorted(pairs));
    Expected<KernelParams> again = decodeParams(sig.id, encoded);
    ASSERT_TRUE(again.isOk()) << again.status().toString();
    EXPECT_TRUE(*again == *decoded);
    // Encoding keeps declaration order and each parameter's type.
    std::vector<EncodedParam> typed = encodeParams(*decoded);
    ASSERT_EQ(typed.size(), sig.params.size());
    for (size_t i = 0; i < typed.size(); ++i) {
      EXPECT_EQ(typed[i].key, sig.params[i].key);
      EXPECT_EQ(typed[i].type, sig.params[i].type);
    }
  }
}

// The reference profile writes only the required parameters; every optional
// one decodes to its default and is not written back.
TEST(KernelParams, ReferenceProfileWritesOnlyRequiredParams) {
  for (const KernelSignature &sig : kernelCatalog()) {
    SCOPED_TRACE(sig.name);
    std::vector<ParamPair> required;
    for (const ParamPair &p : everyParam(sig, 0))
      if (sig.findParam(p.first)->required)
        required.push_back(p);
    Expected<KernelParams> decoded = decodeParams(sig.id, required);
    ASSERT_TRUE(decoded.isOk()) << decoded.status().toString();
    EXPECT_EQ(numericsOf(*decoded), 0);
    EXPECT_EQ(encodeParamPairs(*decoded), sorted(required));
  }
}

TEST(KernelParams, DecodesIntoTheTypedStruct) {
  Expected<LinearParams> p = decodeParamsAs<LinearParams>(
      std::vector<ParamPair>{{"in_features", 4096},
                             {"out_features", 1024},
                             {"numerics", 1},
                             {"round_output", 1}});
  ASSERT_TRUE(p.isOk()) << p.status().toString();
  EXPECT_EQ(p->inFeatures, 4096);
  EXPECT_EQ(p->outFeatures, 1024);
  EXPECT_TRUE(p->official());
  EXPECT_TRUE(p->roundOutput);
  static_assert(std::is_same_v<ParamsOf<KernelId::Linear>, LinearParams>);
  static_assert(LinearParams::kId == KernelId::Linear);

  // An absent optional parameter reads as its default, not as garbage.
  Expected<RopeParams> r = decodeParamsAs<RopeParams>(
      std::vector<ParamPair>{{"heads", 2},
                             {"head_dim", 8},
                             {"inverse", 0},
                             {"rope_dim", 4},
                             {"theta", 10000},
                             {"yarn", 1},
                             {"rope_factor", 16},
                             {"original_seq_len", 65536},
                             {"beta_fast", 32},
                             {"beta_slow", 1}});
  ASSERT_TRUE(r.isOk()) << r.status().toString();
  EXPECT_EQ(r->afterRope, 0);
  EXPECT_FALSE(r->official());
  RopeSpec spec = ropeSpecOf(*r);
  EXPECT_EQ(spec.ropeDim, 4);
  EXPECT_TRUE(spec.yarn);
  EXPECT_EQ(spec.originalSeqLen, 65536);
  EXPECT_EQ(spec.ropeFactor, 16.0);
}

std::string decodeError(KernelId id, std::vector<ParamPair> pairs) {
  Expected<KernelParams> p = decodeParams(id, pairs);
  EXPECT_FALSE(p.isOk());
  if (p.isOk())
    return "";
  EXPECT_EQ(p.status().code(), StatusCode::InvalidArgument);
  return p.status().message();
}

TEST(KernelParams, ErrorsNameTheKernelAndTheKey) {
  EXPECT_EQ(decodeError(KernelId::Linear, {{"in_features", 64}}),
            "kernel 'linear': parameter 'out_features' is missing");
  EXPECT_EQ(decodeError(KernelId::Linear,
                        {{"in_features", 64.5}, {"out_features", 8}}),
            "kernel 'linear': parameter 'in_features' = 64.5 is not an "
            "integer");
  EXPECT_EQ(decodeError(
                KernelId::Linear,
                {{"in_features", 64}, {"out_features", 8}, {"after_rope", 1}}),
            "kernel 'linear': parameter 'after_rope' is not a parameter of "
            "this kernel");
  EXPECT_EQ(decodeError(KernelId::Moe, {{"dim", 8},
                                        {"inter", 4},
                                        {"experts", 2},
                                        {"topk", 1},
                                        {"swiglu_limit", 7},
                                        {"shared_clamp", 2}}),
            "kernel 'moe': parameter 'shared_clamp' = 2 is not 0 or 1");
  EXPECT_EQ(decodeError(KernelId::MhcPost, {{"dim", 8}, {"hc", 4}, {"dim", 8}}),
            "kernel 'mhc_post': parameter 'dim' is given twice");
  // Integers must be exact and within int64_t.
  EXPECT_EQ(decodeError(KernelId::MhcPost, {{"dim", 1e19}, {"hc", 4}}),
            "kernel 'mhc_post': parameter 'dim' = 1e+19 is not an integer");
  // Official-only parameters need the official profile (at their default
  // they are harmless).
  EXPECT_EQ(decodeError(KernelId::Linear, {{"in_features", 64},
                                           {"out_features", 8},
                                           {"round_output", 1}}),
            "kernel 'linear': parameter 'round_output' = 1 is official-only "
            "(needs numerics = 1)");
  EXPECT_TRUE(decodeParams(KernelId::Linear,
                           std::vector<ParamPair>{{"in_features", 64},
                                                  {"out_features", 8},
                                                  {"round_output", 0}})
                  .isOk());
  EXPECT_TRUE(decodeParams(KernelId::RmsNorm,
                           std::vector<ParamPair>{{"n", 8}, {"eps", 1e-6}})
                  .isOk());
  // Every value lies in its catalogue range: the compiler's bk.launch
  // verifier and the runtime loader both decode here, so a value one refuses
  // the other refuses too (issue 15's four escapes among them).
  EXPECT_EQ(decodeError(KernelId::RmsNorm, {{"n", 8}, {"eps", 1e300}}),
            "kernel 'rms_norm': parameter 'eps' = 1e+300 is outside [0, 1]");
  EXPECT_EQ(decodeError(KernelId::MhcPre, {{"dim", 8},
                                           {"hc", 4},
                                           {"iters", 1e12},
                                           {"hc_eps", 1e-6},
                                           {"norm_eps", 1e-6}}),
            "kernel 'mhc_pre': parameter 'iters' = 1000000000000 is outside "
            "[1, 1000]");
  EXPECT_EQ(
      decodeError(KernelId::WindowWrite, {{"window", 1e9}, {"head_dim", 8}}),
      "kernel 'window_write': parameter 'window' = 1000000000 is outside "
      "[1, 1048576]");
  EXPECT_EQ(
      decodeError(KernelId::IndexerTopk,
                  {{"heads", 2}, {"head_dim", 8}, {"topk", 1e9}, {"ratio", 4}}),
      "kernel 'indexer_topk': parameter 'topk' = 1000000000 is outside "
      "[1, 16777216]");
  EXPECT_EQ(decodeError(KernelId::RmsNorm, {{"n", 0}, {"eps", 1e-6}}),
            "kernel 'rms_norm': parameter 'n' = 0 is outside [1, 16777216]");
}

// Each range is well formed and holds the parameter's default, so an absent
// optional parameter never decodes to a value its kernel refuses.
TEST(KernelParams, RangesHoldTheirDefaults) {
  for (size_t k = 0; k < kNumKernels; ++k) {
    const KernelSignature &sig = kernelSignature(KernelId(k));
    for (const ParamInfo &info : sig.params) {
      EXPECT_LE(info.minValue, info.maxValue) << sig.name << "." << info.key;
      if (!info.required) {
        EXPECT_GE(info.defaultValue, info.minValue)
            << sig.name << "." << info.key;
        EXPECT_LE(info.defaultValue, info.maxValue)
            << sig.name << "." << info.key;
      }
      if (info.type == ParamType::Bool) {
        EXPECT_EQ(info.minValue, 0) << sig.name << "." << info.key;
        EXPECT_EQ(info.maxValue, 1) << sig.name << "." << info.key;
      }
    }
  }
}

} // namespace
} // namespace birkhoff
