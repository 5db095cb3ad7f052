//===- V4Attrs.td - v4 attributes -------------------------*- tablegen -*-===//

#ifndef BIRKHOFF_V4_ATTRS_TD
#define BIRKHOFF_V4_ATTRS_TD

include "v4/V4Base.td"

def V4_CompressorKindAttr
    : EnumAttr<V4_Dialect, V4_CompressorKind, "compressor_kind">;
def V4_CompressorRoleAttr
    : EnumAttr<V4_Dialect, V4_CompressorRole, "compressor_role">;
def V4_AttentionKindAttr
    : EnumAttr<V4_Dialect, V4_AttentionKind, "attention_kind">;

def V4_NumericsAttr : EnumAttr<V4_Dialect, V4_Numerics, "numerics"> {
  let summary = "the numerics profile (docs/kernels.md)";
  let description = [{
    `reference`: fp32 activations and accumulation. `official`: DeepSeek's
    inference numerics (bf16 activations, FP8/FP4 activation quantization,
    FP8 KV entries, FP4 indexer keys). Set on the module as `v4.numerics`;
    v4-lower-to-kernels reads it once and picks every launch's variant and
    every state's row format from it.

    Example: `module attributes {v4.numerics = #v4.numerics<official>}`
  }];
  let assemblyFormat = "`<` $value `>`";
}

def V4_RopeAttr : AttrDef<V4_Dialect, "Rope"> {
  let mnemonic = "rope";
  let summary = "rotary embedding parameters (with optional YaRN scaling)";
  let description = [{
    RoPE on the last `dim` features of each head, base `theta`. With
    `yarn = true` the frequencies are YaRN-scaled by `factor` between the
    `beta_fast`/`beta_slow` corrections for a model trained at length
    `original`. All seven fields are always printed.

    Example:
    `#v4.rope<dim = 64, theta = 1.600000e+05, yarn = true, factor = 1.600000e+01, original = 65536, beta_fast = 3.200000e+01, beta_slow = 1.000000e+00>`
  }];
  let parameters = (ins "int64_t":$dim, APFloatParameter<"base">:$theta,
                        "bool":$yarn, APFloatParameter<"yarn factor">:$factor,
                        "int64_t":$original,
                        APFloatParameter<"yarn beta_fast">:$betaFast,
                        APFloatParameter<"yarn beta_slow">:$betaSlow);
  let builders = [
    AttrBuilder<(ins "int64_t":$dim, "double":$theta, "bool":$yarn,
                     "double":$factor, "int64_t":$original,
                     "double":$betaFast, "double":$betaSlow), [{
      return $_get($_ctxt, dim, ::llvm::APFloat(theta), yarn,
                   ::llvm::APFloat(factor), original,
                   ::llvm::APFloat(betaFast), ::llvm::APFloat(betaSlow));
    }]>
  ];
  let hasCustomAssemblyFormat = 1;
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    double getThetaValue() const { return getTheta().convertToDouble(); }
    double getFactorValue() const { return getFactor().convertToDouble(); }
    double getBetaFastValue() const { return getBetaFast().convertToDouble(); }
    double getBetaSlowValue() const { return getBetaSlow().convertToDouble(); }
  }];
}

#endif // BIRKHOFF_V4_ATTRS_TD
