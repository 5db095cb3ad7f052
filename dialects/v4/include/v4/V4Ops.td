//===- V4Ops.td - v4 ops ----------------------------------*- tablegen -*-===//
//
// One op per model concept (V4_SPEC §3). Shape/format checks that need the
// weight symbols live in verifySymbolUses (V4Ops.cpp); the rest in verify().
// Check numbers [V4-n] are listed in docs/dialect.md.
//
//===----------------------------------------------------------------------===//

#ifndef BIRKHOFF_V4_OPS_TD
#define BIRKHOFF_V4_OPS_TD

include "v4/V4Base.td"
include "v4/V4Types.td"
include "v4/V4Attrs.td"
include "mlir/IR/SymbolInterfaces.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

//===----------------------------------------------------------------------===//
// Operand/result kinds ([V4-2])
//===----------------------------------------------------------------------===//

class V4_TensorKind<list<Type> elts, int rank, string what>
    : Type<TensorRankOf<elts, [rank]>.predicate, what # " [V4-2]",
           "::mlir::RankedTensorType">;

def V4_Act : V4_TensorKind<[F32, BF16], 2,
    "rank-2 f32/bf16 tensor [tokens, features]">;
def V4_Streams : V4_TensorKind<[F32, BF16], 3,
    "rank-3 f32/bf16 tensor [tokens, hc, features]">;
def V4_TokenIds : V4_TensorKind<[I32], 1, "rank-1 i32 tensor [tokens]">;
def V4_Indices : V4_TensorKind<[I32], 2, "rank-2 i32 tensor [tokens, k]">;
// Not the TypeDef itself, so that formats print the full `!v4.compressed<..>`.
def V4_Compressed : Type<CPred<"::llvm::isa<::birkhoff::v4::CompressedType>($_self)">,
    "!v4.compressed sequence [V4-2]", "::birkhoff::v4::CompressedType">;

//===----------------------------------------------------------------------===//
// Op base classes
//===----------------------------------------------------------------------===//

// [V4-1] every tensor operand and result leads with the same token dimension.
def V4_TokenMajor : NativeOpTrait<"TokenMajor"> {
  let cppNamespace = "::birkhoff::v4::OpTrait";
}

// Invariants shared by all v4 ops live here (V4_TokenMajor); every op has a
// verifier. Ops that name weights also verify them against the symbol table.
class V4_Op<string mnemonic, list<Trait> traits = []>
    : Op<V4_Dialect, mnemonic, !listconcat([V4_TokenMajor], traits)> {
  let hasVerifier = 1;
}

class V4_WeightUserOp<string mnemonic, list<Trait> traits = []>
    : V4_Op<mnemonic, !listconcat(
          [DeclareOpInterfaceMethods<SymbolUserOpInterface>], traits)>;

//===----------------------------------------------------------------------===//
// Weights
//===----------------------------------------------------------------------===//

def V4_WeightOp : V4_WeightUserOp<"weight", [Symbol]> {
  let summary = "a checkpoint tensor, referenced by symbol";
  let description = [{
    Declares one checkpoint tensor. `sym_name` is the checkpoint tensor name
    (quoted: names contain dots); `tensor`, when present, overrides the name
    used to find the data in the checkpoint. FP8 and FP4 weights name their
    e8m0 block scales with `scale`.

    Example:
    ```mlir
    v4.weight @"layers.0.attn.wq_a.weight" : !v4.weight<f8e4m3, 1024x4096> scale @"layers.0.attn.wq_a.scale"
    v4.weight @"layers.0.attn.wq_a.scale" : !v4.weight<e8m0, 8x32>
    ```
  }];
  let arguments = (ins SymbolNameAttr:$sym_name,
                       TypeAttrOf<V4_WeightType>:$weight_type,
                       OptionalAttr<FlatSymbolRefAttr>:$scale,
                       OptionalAttr<StrAttr>:$tensor);
  let assemblyFormat = [{
    $sym_name `:` $weight_type (`scale` $scale^)? attr-dict
  }];
  let builders = [
    OpBuilder<(ins "::llvm::StringRef":$name, "WeightType":$type,
                   CArg<"::llvm::StringRef", "{}">:$scaleName)>
  ];
  let extraClassDeclaration = [{
    WeightType getType() { return ::llvm::cast<WeightType>(getWeightType()); }
    /// The checkpoint tensor name: `tensor` if set, else the symbol name.
    ::llvm::StringRef getTensorName() {
      return getTensor() ? *getTensor() : getSymName();
    }
  }];
}

//===----------------------------------------------------------------------===//
// Embedding and mHC
//===----------------------------------------------------------------------===//

def V4_EmbedOp : V4_WeightUserOp<"embed", [Pure]> {
  let summary = "token embedding lookup";
  let description = [{
    `y[s] = weight[tokens[s]]`; `weight` is a bf16/f32 `[V, D]` table.

    Example:
    ```mlir
    %h = v4.embed %tokens {weight = @"embed.weight"} : tensor<?xi32> -> tensor<?x256xf32>
    ```
  }];
  let arguments = (ins V4_TokenIds:$tokens, FlatSymbolRefAttr:$weight);
  let results = (outs V4_Act:$result);
  let assemblyFormat = "$tokens attr-dict `:` type($tokens) `->` type($result)";
}

def V4_MhcExpandOp : V4_Op<"mhc_expand", [Pure]> {
  let summary = "copy the hidden state into hc residual streams";
  let description = [{
    `y[s, k, :] = x[s, :]` for each of the `hc` streams.

    Example:
    ```mlir
    %x = v4.mhc_expand %h {hc = 4} : tensor<?x256xf32> -> tensor<?x4x256xf32>
    ```
  }];
  let arguments = (ins V4_Act:$input, V4_PosI64:$hc);
  let results = (outs V4_Streams:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
}

def V4_MhcPreOp : V4_WeightUserOp<"mhc_pre", [Pure]> {
  let summary = "mHC pre-mix: sublayer input, post weights, sinkhorn combine";
  let description = [{
    V4_SPEC §3.2: from the `HC` streams computes the sublayer input
    `u [S, D]`, the post weights `post [S, HC]` and the doubly stochastic
    combine matrix `comb [S, HC, HC]` (`sinkhorn_iters` iterations).
    Weights: `fn` f32 `[(2+HC)*HC, HC*D]`, `base` f32 `[(2+HC)*HC]`,
    `scale` f32 `[3]`.

    Example:
    ```mlir
    %u, %post, %comb = v4.mhc_pre %x {fn = @"layers.0.hc_attn_fn", base = @"layers.0.hc_attn_base", scale = @"layers.0.hc_attn_scale", sinkhorn_iters = 20, hc_eps = 1.0e-06, norm_eps = 1.0e-06} : tensor<?x4x256xf32> -> (tensor<?x256xf32>, tensor<?x4xf32>, tensor<?x4x4xf32>)
    ```
  }];
  let arguments = (ins V4_Streams:$input, FlatSymbolRefAttr:$fn,
                       FlatSymbolRefAttr:$base, FlatSymbolRefAttr:$scale,
                       V4_PosI64:$sinkhorn_iters, V4_PosF64:$hc_eps,
                       V4_PosF64:$norm_eps);
  let results = (outs V4_Act:$u, V4_Act:$post, V4_Streams:$comb);
  let assemblyFormat = [{
    $input attr-dict `:` type($input) `->` `(` type($u) `,` type($post) `,` type($comb) `)`
  }];
}

def V4_MhcPreNormOp : V4_WeightUserOp<"mhc_pre_norm", [Pure]> {
  let summary = "fused mhc_pre + rms_norm of the sublayer input";
  let description = [{
    `v4.mhc_pre` followed by `v4.rms_norm` (weight `norm`, `eps`) of `u`;
    `u` is returned normalized. Produced by fusion.

    Example:
    ```mlir
    %u, %post, %comb = v4.mhc_pre_norm %x {fn = @fn, base = @base, scale = @scale, norm = @"layers.0.attn_norm.weight", sinkhorn_iters = 20, hc_eps = 1.0e-06, norm_eps = 1.0e-06, eps = 1.0e-06} : tensor<?x4x256xf32> -> (tensor<?x256xf32>, tensor<?x4xf32>, tensor<?x4x4xf32>)
    ```
  }];
  let arguments = (ins V4_Streams:$input, FlatSymbolRefAttr:$fn,
                       FlatSymbolRefAttr:$base, FlatSymbolRefAttr:$scale,
                       FlatSymbolRefAttr:$norm, V4_PosI64:$sinkhorn_iters,
                       V4_PosF64:$hc_eps, V4_PosF64:$norm_eps, V4_PosF64:$eps);
  let results = (outs V4_Act:$u, V4_Act:$post, V4_Streams:$comb);
  let assemblyFormat = [{
    $input attr-dict `:` type($input) `->` `(` type($u) `,` type($post) `,` type($comb) `)`
  }];
}

def V4_MhcPostOp : V4_Op<"mhc_post", [Pure]> {
  let summary = "mHC post-mix: new streams from sublayer output and residual";
  let description = [{
    `X'[s, k] = post[s, k] * y[s] + sum_j comb[s, j, k] * X[s, j]`
    (V4_SPEC §3.2, column k of comb).

    Example:
    ```mlir
    %x2 = v4.mhc_post %y, %x, %post, %comb : tensor<?x256xf32>, tensor<?x4x256xf32>, tensor<?x4xf32>, tensor<?x4x4xf32> -> tensor<?x4x256xf32>
    ```
  }];
  let arguments = (ins V4_Act:$sublayer, V4_Streams:$residual, V4_Act:$post,
                       V4_Streams:$comb);
  let results = (outs V4_Streams:$result);
  let assemblyFormat = [{
    $sublayer `,` $residual `,` $post `,` $comb attr-dict `:` type($sublayer) `,`
    type($residual) `,` type($post) `,` type($comb) `->` type($result)
  }];
}

def V4_MhcHeadOp : V4_WeightUserOp<"mhc_head", [Pure]> {
  let summary = "collapse the hc streams into one hidden state";
  let description = [{
    V4_SPEC §3.2 head collapse: `y = sum_k pre_k X_k` with
    `fn` f32 `[HC, HC*D]`, `base` f32 `[HC]`, `scale` f32 `[1]`.

    Example:
    ```mlir
    %y = v4.mhc_head %x {fn = @hc_head_fn, base = @hc_head_base, scale = @hc_head_scale, hc_eps = 1.0e-06, norm_eps = 1.0e-06} : tensor<?x4x256xf32> -> tensor<?x256xf32>
    ```
  }];
  let arguments = (ins V4_Streams:$input, FlatSymbolRefAttr:$fn,
                       FlatSymbolRefAttr:$base, FlatSymbolRefAttr:$scale,
                       V4_PosF64:$hc_eps, V4_PosF64:$norm_eps);
  let results = (outs V4_Act:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
}

def V4_MhcHeadNormOp : V4_WeightUserOp<"mhc_head_norm", [Pure]> {
  let summary = "fused mhc_head + rms_norm";
  let description = [{
    `v4.mhc_head` followed by `v4.rms_norm` with weight `norm` and `eps`.

    Example:
    ```mlir
    %y = v4.mhc_head_norm %x {fn = @hc_head_fn, base = @hc_head_base, scale = @hc_head_scale, norm = @"norm.weight", hc_eps = 1.0e-06, norm_eps = 1.0e-06, eps = 1.0e-06} : tensor<?x4x256xf32> -> tensor<?x256xf32>
    ```
  }];
  let arguments = (ins V4_Streams:$input, FlatSymbolRefAttr:$fn,
                       FlatSymbolRefAttr:$base, FlatSymbolRefAttr:$scale,
                       FlatSymbolRefAttr:$norm, V4_PosF64:$hc_eps,
                       V4_PosF64:$norm_eps, V4_PosF64:$eps);
  let results = (outs V4_Act:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
}

//===----------------------------------------------------------------------===//
// Norms, linears, rope
//===----------------------------------------------------------------------===//

def V4_RmsNormOp : V4_WeightUserOp<"rms_norm", [Pure]> {
  let summary = "RMSNorm over the feature dimension";
  let description = [{
    `y = x * rsqrt(mean(x^2) + eps) * weight`, weight bf16/f32 `[N]`.

    Example:
    ```mlir
    %n = v4.rms_norm %u {weight = @"layers.0.attn_norm.weight", eps = 1.0e-06} : tensor<?x256xf32> -> tensor<?x256xf32>
    ```
  }];
  let arguments = (ins V4_Act:$input, FlatSymbolRefAttr:$weight,
                       V4_PosF64:$eps);
  let results = (outs V4_Act:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
}

def V4_LinearOp : V4_WeightUserOp<"linear", [Pure]> {
  let summary = "y = x W^T";
  let description = [{
    `weight` is `[N, K]` (PyTorch layout) in any float format (f32, bf16,
    f8e4m3 with 128x128 scales, fp4e2m1 with per-32 scales).

    Example:
    ```mlir
    %q = v4.linear %x {weight = @"layers.0.attn.wq_a.weight"} : tensor<?x256xf32> -> tensor<?x128xf32>
    ```
  }];
  let arguments = (ins V4_Act:$input, FlatSymbolRefAttr:$weight);
  let results = (outs V4_Act:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
}

def V4_LinearRmsNormOp : V4_WeightUserOp<"linear_rms_norm", [Pure]> {
  let summary = "fused linear + rms_norm";
  let description = [{
    `v4.linear` with `weight` `[N, K]` followed by `v4.rms_norm` with
    `norm` `[N]` and `eps`.

    Example:
    ```mlir
    %qr = v4.linear_rms_norm %x {weight = @"layers.0.attn.wq_a.weight", norm = @"layers.0.attn.q_norm.weight", eps = 1.0e-06} : tensor<?x256xf32> -> tensor<?x128xf32>
    ```
  }];
  let arguments = (ins V4_Act:$input, FlatSymbolRefAttr:$weight,
                       FlatSymbolRefAttr:$norm, V4_PosF64:$eps);
  let results = (outs V4_Act:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
}

def V4_HeadRmsNormOp : V4_Op<"head_rms_norm", [Pure]> {
  let summary = "unweighted RMS normalization per head";
  let description = [{
    Views `x [S, H*Dh]` as `[S, H, Dh]` and normalizes each head:
    `y = x * rsqrt(mean(x^2) + eps)`.

    Example:
    ```mlir
    %qn = v4.head_rms_norm %q {heads = 4, eps = 1.0e-06} : tensor<?x512xf32> -> tensor<?x512xf32>
    ```
  }];
  let arguments = (ins V4_Act:$input, V4_PosI64:$heads, V4_PosF64:$eps);
  let results = (outs V4_Act:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
}

def V4_RopeOp : V4_Op<"rope", [Pure]> {
  let summary = "rotary embedding on the last rope.dim features of each head";
  let description = [{
    Views `x [S, H*Dh]` as `[S, H, Dh]` and rotates features
    `[Dh - rope.dim, Dh)` of every head by the token's position; `inverse`
    applies the conjugate rotation (attention output path).

    Example:
    ```mlir
    %qr = v4.rope %q {heads = 4, head_dim = 128, rope = #v4.rope<dim = 64, theta = 1.000000e+04, yarn = false, factor = 1.000000e+00, original = 0, beta_fast = 3.200000e+01, beta_slow = 1.000000e+00>} : tensor<?x512xf32> -> tensor<?x512xf32>
    ```
  }];
  let arguments = (ins V4_Act:$input, V4_PosI64:$heads, V4_PosI64:$head_dim,
                       V4_RopeAttr:$rope, UnitAttr:$inverse);
  let results = (outs V4_Act:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
}

def V4_HeadRmsNormRopeOp : V4_Op<"head_rms_norm_rope", [Pure]> {
  let summary = "fused head_rms_norm + rope";
  let description = [{
    Per-head unweighted RMS normalization followed by RoPE on each head.

    Example:
    ```mlir
    %q2 = v4.head_rms_norm_rope %q {heads = 4, head_dim = 128, eps = 1.0e-06, rope = #v4.rope<dim = 64, theta = 1.000000e+04, yarn = false, factor = 1.000000e+00, original = 0, beta_fast = 3.200000e+01, beta_slow = 1.000000e+00>} : tensor<?x512xf32> -> tensor<?x512xf32>
    ```
  }];
  let arguments = (ins V4_Act:$input, V4_PosI64:$heads, V4_PosI64:$head_dim,
                       V4_PosF64:$eps, V4_RopeAttr:$rope);
  let results = (outs V4_Act:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
}

//===----------------------------------------------------------------------===//
// Attention: compressor, indexer, sparse attention, grouped output
//===----------------------------------------------------------------------===//

def V4_CompressorOp : V4_WeightUserOp<"compressor"> {
  let summary = "KV compressor: appends one entry per `ratio` tokens";
  let description = [{
    V4_SPEC §3.5. `csa` uses overlapping windows (coff = 2): `wkv`, `wgate`
    are `[2*Dc, D]`, `ape` `[ratio, 2*Dc]`; `hca` (coff = 1) has `[Dc, D]` and
    `[ratio, Dc]`; `norm` is `[Dc]`. The result stands for the layer's
    growing sequence of compressed entries in the session state, so the op
    has side effects (it is never CSE'd or dropped by canonicalization).
    `role` says whether the entries are attention KV (`main`) or indexer
    keys (`indexer`).

    Example:
    ```mlir
    %c = v4.compressor csa main %x {ratio = 4, head_dim = 128, wkv = @wkv, wgate = @wgate, ape = @ape, norm = @norm, rope = #v4.rope<dim = 64, theta = 1.600000e+05, yarn = true, factor = 4.000000e+00, original = 128, beta_fast = 3.200000e+01, beta_slow = 1.000000e+00>, eps = 1.0e-06, layer = 1} : tensor<?x256xf32> -> !v4.compressed<128, 4>
    ```
  }];
  let arguments = (ins V4_CompressorKindAttr:$kind,
                       V4_CompressorRoleAttr:$role, V4_Act:$input,
                       V4_PosI64:$ratio, V4_PosI64:$head_dim,
                       FlatSymbolRefAttr:$wkv, FlatSymbolRefAttr:$wgate,
                       FlatSymbolRefAttr:$ape, FlatSymbolRefAttr:$norm,
                       V4_RopeAttr:$rope, V4_PosF64:$eps, V4_NonNegI64:$layer);
  let results = (outs V4_Compressed:$result);
  let assemblyFormat = [{
    custom<EnumKeyword>($kind) custom<EnumKeyword>($role) $input attr-dict `:` type($input) `->` type($result)
  }];
  let extraClassDeclaration = [{
    /// Feature multiplier of wkv/wgate/ape: 2 for overlapping CSA windows.
    int64_t getCoff() { return getKind() == CompressorKind::CSA ? 2 : 1; }
  }];
}

def V4_IndexerTopkOp : V4_Op<"indexer_topk", [Pure]> {
  let summary = "lightning indexer: top-k compressed entries per query";
  let description = [{
    V4_SPEC §3.6: `score_e = sum_h w[s, h] * relu(q[s, h] . keys[e])` over
    the visible entries; returns the indices of the `topk` best (-1 where
    fewer are visible). `q [S, H*Di]`, `w [S, H]`,
    `keys: !v4.compressed<Di, ratio>`.

    Example:
    ```mlir
    %idx = v4.indexer_topk %qi, %w, %keys {heads = 4, head_dim = 128, topk = 8, ratio = 4} : tensor<?x512xf32>, tensor<?x4xf32>, !v4.compressed<128, 4> -> tensor<?x8xi32>
    ```
  }];
  let arguments = (ins V4_Act:$query, V4_Act:$weights,
                       V4_Compressed:$keys, V4_PosI64:$heads,
                       V4_PosI64:$head_dim, V4_PosI64:$topk, V4_PosI64:$ratio);
  let results = (outs V4_Indices:$result);
  let assemblyFormat = [{
    $query `,` $weights `,` $keys attr-dict `:` type($query) `,` type($weights)
    `,` type($keys) `->` type($result)
  }];
}

def V4_SparseAttentionOp : V4_WeightUserOp<"sparse_attention",
                                           [AttrSizedOperandSegments]> {
  let summary = "attention over the window plus (selected) compressed entries";
  let description = [{
    V4_SPEC §3.4: one softmax per head over the sliding window (`window`
    tokens of this layer's kv, kept in the session state), the compressed
    entries (`hca`: all visible ones; `csa`: those chosen by `topk`) and the
    per-head sink logit `sink` (f32 `[H]`). K = V. `q [S, H*Dh]`,
    `kv [S, Dh]`. `window` needs neither `entries` nor `topk`, `hca` needs
    `entries` only, `csa` both. Reads and writes session state.

    Example:
    ```mlir
    %o = v4.sparse_attention csa %q, %kv entries(%c : !v4.compressed<128, 4>) topk(%idx : tensor<?x8xi32>) {heads = 4, head_dim = 128, window = 16, sink = @"layers.1.attn.attn_sink", layer = 1} : tensor<?x512xf32>, tensor<?x128xf32> -> tensor<?x512xf32>
    ```
  }];
  let arguments = (ins V4_AttentionKindAttr:$kind, V4_Act:$query, V4_Act:$kv,
                       Optional<V4_Compressed>:$entries,
                       Optional<V4_Indices>:$topk, V4_PosI64:$heads,
                       V4_PosI64:$head_dim, V4_PosI64:$window,
                       FlatSymbolRefAttr:$sink, V4_NonNegI64:$layer);
  let results = (outs V4_Act:$result);
  let assemblyFormat = [{
    custom<EnumKeyword>($kind) $query `,` $kv
    (`entries` `(` $entries^ `:` type($entries) `)`)?
    (`topk` `(` $topk^ `:` type($topk) `)`)?
    attr-dict `:` type($query) `,` type($kv) `->` type($result)
  }];
}

def V4_GroupedLinearOp : V4_WeightUserOp<"grouped_linear", [Pure]> {
  let summary = "block-diagonal low-rank projection (attention wo_a)";
  let description = [{
    Views `x [S, G*Kg]` as G groups; `y[:, g*R:(g+1)*R] = x_g W_g^T` with
    `weight [G*R, Kg]` (rows g*R... belong to group g).

    Example:
    ```mlir
    %z = v4.grouped_linear %o {weight = @"layers.0.attn.wo_a.weight", groups = 2} : tensor<?x512xf32> -> tensor<?x256xf32>
    ```
  }];
  let arguments = (ins V4_Act:$input, FlatSymbolRefAttr:$weight,
                       V4_PosI64:$groups);
  let results = (outs V4_Act:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
}

//===----------------------------------------------------------------------===//
// MoE
//===----------------------------------------------------------------------===//

def V4_RouterScoresOp : V4_WeightUserOp<"router_scores", [Pure]> {
  let summary = "router affinities sqrt(softplus(x gate^T))";
  let description = [{
    `gate` is bf16/f32 `[E, D]`; result `[S, E]` f32.

    Example:
    ```mlir
    %s = v4.router_scores %x {gate = @"layers.0.ffn.gate.weight"} : tensor<?x256xf32> -> tensor<?x8xf32>
    ```
  }];
  let arguments = (ins V4_Act:$input, FlatSymbolRefAttr:$gate);
  let results = (outs V4_Act:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
}

def V4_RouteSelectOp : V4_WeightUserOp<"route_select", [Pure]> {
  let summary = "pick topk experts (biased top-k or hash table) and weights";
  let description = [{
    V4_SPEC §3.7: `idx = topk(scores + bias)` or `tid2eid[tokens]` (exactly
    one of `bias` f32 `[E]` / `tid2eid` i64 `[V, topk]`);
    `wts = scores[idx] / sum(scores[idx]) * route_scale`.

    Example:
    ```mlir
    %idx, %wts = v4.route_select %s, %tokens {topk = 2, route_scale = 1.5, bias = @"layers.1.ffn.gate.bias"} : tensor<?x8xf32>, tensor<?xi32> -> tensor<?x2xi32>, tensor<?x2xf32>
    ```
  }];
  let arguments = (ins V4_Act:$scores, V4_TokenIds:$tokens, V4_PosI64:$topk,
                       V4_PosF64:$route_scale,
                       OptionalAttr<FlatSymbolRefAttr>:$bias,
                       OptionalAttr<FlatSymbolRefAttr>:$tid2eid);
  let results = (outs V4_Indices:$indices, V4_Act:$weights);
  let assemblyFormat = [{
    $scores `,` $tokens attr-dict `:` type($scores) `,` type($tokens) `->`
    type($indices) `,` type($weights)
  }];
}

def V4_RouterOp : V4_WeightUserOp<"router", [Pure]> {
  let summary = "fused router_scores + route_select";
  let description = [{
    Scores with `gate` `[E, D]`, then selection as `v4.route_select`.

    Example:
    ```mlir
    %idx, %wts = v4.router %x, %tokens {gate = @gate, tid2eid = @"layers.0.ffn.gate.tid2eid", topk = 2, route_scale = 1.5} : tensor<?x256xf32>, tensor<?xi32> -> tensor<?x2xi32>, tensor<?x2xf32>
    ```
  }];
  let arguments = (ins V4_Act:$input, V4_TokenIds:$tokens,
                       FlatSymbolRefAttr:$gate, V4_PosI64:$topk,
                       V4_PosF64:$route_scale,
                       OptionalAttr<FlatSymbolRefAttr>:$bias,
                       OptionalAttr<FlatSymbolRefAttr>:$tid2eid);
  let results = (outs V4_Indices:$indices, V4_Act:$weights);
  let assemblyFormat = [{
    $input `,` $tokens attr-dict `:` type($input) `,` type($tokens) `->`
    type($indices) `,` type($weights)
  }];
}

def V4_MoeOp : V4_WeightUserOp<"moe", [Pure]> {
  let summary = "routed SwiGLU experts plus the shared expert";
  let description = [{
    V4_SPEC §3.7. `experts` is one `[w1, w2, w3]` symbol triple per expert
    (w1, w3 `[inter, D]`, w2 `[D, inter]`), `shared` the shared expert's
    triple. Routed experts clamp with `swiglu_limit`; the shared expert
    does too when `shared_clamp` is set.

    Example:
    ```mlir
    %y = v4.moe %x, %idx, %wts {experts = [[@e0w1, @e0w2, @e0w3], [@e1w1, @e1w2, @e1w3]], shared = [@sw1, @sw2, @sw3], inter = 128, swiglu_limit = 10.0, shared_clamp} : tensor<?x256xf32>, tensor<?x2xi32>, tensor<?x2xf32> -> tensor<?x256xf32>
    ```
  }];
  let arguments = (ins V4_Act:$input, V4_Indices:$indices, V4_Act:$weights,
                       ArrayAttr:$experts, ArrayAttr:$shared,
                       V4_PosI64:$inter, V4_PosF64:$swiglu_limit,
                       UnitAttr:$shared_clamp);
  let results = (outs V4_Act:$result);
  let assemblyFormat = [{
    $input `,` $indices `,` $weights attr-dict `:` type($input) `,`
    type($indices) `,` type($weights) `->` type($result)
  }];
  let extraClassDeclaration = [{
    int64_t getNumExperts() { return getExperts().size(); }
  }];
}

#endif // BIRKHOFF_V4_OPS_TD
