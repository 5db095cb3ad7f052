// Every v4 diagnostic, one case per split; the check number [V4-n] is in docs/dialect.md.
// RUN: birkhoff-opt %s -split-input-file -verify-diagnostics

// [V4-1] Token dimensions of operands and results disagree.
v4.weight @w : !v4.weight<f32, 128x256>
func.func @token_mismatch(%x: tensor<2x256xf32>) -> tensor<3x128xf32> {
  // expected-error @+1 {{[V4-1] tensor operands and results must share the leading token dimension, got 2 and 3}}
  %y = v4.linear %x {weight = @w} : tensor<2x256xf32> -> tensor<3x128xf32>
  return %y : tensor<3x128xf32>
}

// -----

// [V4-2] Activations must be rank 2.
v4.weight @w : !v4.weight<f32, 128x256>
func.func @rank1_activation(%x: tensor<256xf32>) -> tensor<?x128xf32> {
  // expected-error @+1 {{operand #0 must be rank-2 f32/bf16 tensor [tokens, features] [V4-2]}}
  %y = v4.linear %x {weight = @w} : tensor<256xf32> -> tensor<?x128xf32>
  return %y : tensor<?x128xf32>
}

// -----

// [V4-2] Token ids must be i32.
v4.weight @e : !v4.weight<bf16, 1024x256>
func.func @float_tokens(%t: tensor<?xf32>) -> tensor<?x256xf32> {
  // expected-error @+1 {{operand #0 must be rank-1 i32 tensor [tokens] [V4-2]}}
  %y = v4.embed %t {weight = @e} : tensor<?xf32> -> tensor<?x256xf32>
  return %y : tensor<?x256xf32>
}

// -----

// [V4-2] Unknown compressor kind keyword.
func.func @bad_kind(%x: tensor<?x256xf32>) {
  // expected-error @+1 {{[V4-2] unknown compressor_kind 'mla'}}
  %c = v4.compressor mla main %x {} : tensor<?x256xf32> -> !v4.compressed<128, 4>
  return
}

// -----

// [V4-3] Integer attributes that count things must be positive.
func.func @zero_hc(%x: tensor<?x256xf32>) -> tensor<?x0x256xf32> {
  // expected-error @+1 {{attribute 'hc' failed to satisfy constraint: 64-bit signless integer attribute whose value is positive [V4-3]}}
  %y = v4.mhc_expand %x {hc = 0} : tensor<?x256xf32> -> tensor<?x0x256xf32>
  return %y : tensor<?x0x256xf32>
}

// -----

// [V4-3] Epsilons must be positive.
func.func @negative_eps(%q: tensor<?x512xf32>) -> tensor<?x512xf32> {
  // expected-error @+1 {{attribute 'eps' failed to satisfy constraint: 64-bit float attribute whose value is positive [V4-3]}}
  %y = v4.head_rms_norm %q {heads = 4, eps = -1.0} : tensor<?x512xf32> -> tensor<?x512xf32>
  return %y : tensor<?x512xf32>
}

// -----

// [V4-3] Layer indices are non-negative.
v4.weight @sink : !v4.weight<f32, 4>
func.func @negative_layer(%q: tensor<?x512xf32>, %kv: tensor<?x128xf32>) -> tensor<?x512xf32> {
  // expected-error @+1 {{attribute 'layer' failed to satisfy constraint: 64-bit signless integer attribute whose value is non-negative [V4-3]}}
  %o = v4.sparse_attention window %q, %kv {heads = 4, head_dim = 128, window = 16, sink = @sink, layer = -1} : tensor<?x512xf32>, tensor<?x128xf32> -> tensor<?x512xf32>
  return %o : tensor<?x512xf32>
}

// -----

// [V4-4] A weight reference must name a v4.weight.
func.func @missing_weight(%x: tensor<?x256xf32>) -> tensor<?x128xf32> {
  // expected-error @+1 {{[V4-4] 'weight' symbol @nope does not name a v4.weight}}
  %y = v4.linear %x {weight = @nope} : tensor<?x256xf32> -> tensor<?x128xf32>
  return %y : tensor<?x128xf32>
}

// -----

// [V4-4] A scale reference must name a v4.weight.
// expected-error @+1 {{[V4-4] 'scale' symbol @nope does not name a v4.weight}}
v4.weight @w : !v4.weight<f8e4m3, 128x256> scale @nope

// -----

// [V4-5] Norm weights are f32 or bf16.
v4.weight @n : !v4.weight<i64, 256>
func.func @norm_format(%x: tensor<?x256xf32>) -> tensor<?x256xf32> {
  // expected-error @+1 {{[V4-5] 'weight' weight @n has format i64, expected one of f32, bf16}}
  %y = v4.rms_norm %x {weight = @n, eps = 1.0e-06} : tensor<?x256xf32> -> tensor<?x256xf32>
  return %y : tensor<?x256xf32>
}

// -----

// [V4-6] Linear weights are [out, in].
v4.weight @w : !v4.weight<bf16, 256x128>
func.func @linear_shape(%x: tensor<?x256xf32>) -> tensor<?x128xf32> {
  // expected-error @+1 {{[V4-6] 'weight' weight @w has shape [256, 128], expected [128, 256]}}
  %y = v4.linear %x {weight = @w} : tensor<?x256xf32> -> tensor<?x128xf32>
  return %y : tensor<?x128xf32>
}

// -----

// [V4-6] CSA compressor weights carry both overlapping halves: [2*Dc, D].
v4.weight @wkv : !v4.weight<bf16, 128x256>
v4.weight @wgate : !v4.weight<bf16, 256x256>
v4.weight @ape : !v4.weight<f32, 4x256>
v4.weight @norm : !v4.weight<bf16, 128>
func.func @csa_needs_overlap(%x: tensor<?x256xf32>) {
  // expected-error @+1 {{[V4-6] 'wkv' weight @wkv has shape [128, 256], expected [256, 256]}}
  %c = v4.compressor csa main %x {ratio = 4, head_dim = 128, wkv = @wkv, wgate = @wgate, ape = @ape, norm = @norm, rope = #v4.rope<dim = 64, theta = 1.6e5, yarn = false, factor = 1.0, original = 0, beta_fast = 32.0, beta_slow = 1.0>, eps = 1.0e-06, layer = 1} : tensor<?x256xf32> -> !v4.compressed<128, 4>
  return
}

// -----

// [V4-6] HCA compressor ape is [ratio, Dc].
v4.weight @wkv : !v4.weight<bf16, 128x256>
v4.weight @wgate : !v4.weight<bf16, 128x256>
v4.weight @ape : !v4.weight<f32, 128x256>
v4.weight @norm : !v4.weight<bf16, 128>
func.func @hca_ape(%x: tensor<?x256xf32>) {
  // expected-error @+1 {{[V4-6] 'ape' weight @ape has shape [128, 256], expected [128, 128]}}
  %c = v4.compressor hca main %x {ratio = 128, head_dim = 128, wkv = @wkv, wgate = @wgate, ape = @ape, norm = @norm, rope = #v4.rope<dim = 64, theta = 1.6e5, yarn = false, factor = 1.0, original = 0, beta_fast = 32.0, beta_slow = 1.0>, eps = 1.0e-06, layer = 2} : tensor<?x256xf32> -> !v4.compressed<128, 128>
  return
}

// -----

// [V4-6] mHC fn is [(2+HC)*HC, HC*D].
v4.weight @fn : !v4.weight<f32, 24x256>
v4.weight @base : !v4.weight<f32, 24>
v4.weight @scale : !v4.weight<f32, 3>
func.func @mhc_fn_shape(%x: tensor<?x4x256xf32>) {
  // expected-error @+1 {{[V4-6] 'fn' weight @fn has shape [24, 256], expected [24, 1024]}}
  %u, %p, %c = v4.mhc_pre %x {fn = @fn, base = @base, scale = @scale, sinkhorn_iters = 20, hc_eps = 1.0e-06, norm_eps = 1.0e-06} : tensor<?x4x256xf32> -> (tensor<?x256xf32>, tensor<?x4xf32>, tensor<?x4x4xf32>)
  return
}

// -----

// [V4-6] MoE expert w2 is [D, inter].
v4.weight @w1 : !v4.weight<bf16, 128x256>
v4.weight @w2 : !v4.weight<bf16, 128x256>
func.func @moe_w2(%x: tensor<?x256xf32>, %i: tensor<?x1xi32>, %w: tensor<?x1xf32>) {
  // expected-error @+1 {{[V4-6] 'w2' weight @w2 has shape [128, 256], expected [256, 128]}}
  %y = v4.moe %x, %i, %w {experts = [[@w1, @w2, @w1]], shared = [@w1, @w2, @w1], inter = 128, swiglu_limit = 10.0} : tensor<?x256xf32>, tensor<?x1xi32>, tensor<?x1xf32> -> tensor<?x256xf32>
  return
}

// -----

// [V4-7] FP8 weights are matrices.
// expected-error @+1 {{[V4-7] f8e4m3 weights must have rank 2 ([out, in])}}
v4.weight @w : !v4.weight<f8e4m3, 128>

// -----

// [V4-7] FP4 packs two values per byte along the inputs.
// expected-error @+1 {{[V4-7] fp4e2m1 in-features must be even}}
v4.weight @w : !v4.weight<fp4e2m1, 4x3>

// -----

// [V4-7] Dimensions are positive.
// expected-error @+1 {{[V4-7] weight dimensions must be positive}}
v4.weight @w : !v4.weight<f32, 0x4>

// -----

// [V4-7] Unknown storage format.
// expected-error @+1 {{[V4-7] unknown weight format 'f16'}}
v4.weight @w : !v4.weight<f16, 4>

// -----

// [V4-8] FP8 weights need their block scales.
// expected-error @+1 {{[V4-8] f8e4m3 weight needs a 'scale' (e8m0 block scales)}}
v4.weight @w : !v4.weight<f8e4m3, 128x256>

// -----

// [V4-8] Plain weights have no scale.
v4.weight @s : !v4.weight<e8m0, 1x2>
// expected-error @+1 {{[V4-8] bf16 weight must not have a 'scale'}}
v4.weight @w : !v4.weight<bf16, 128x256> scale @s

// -----

// [V4-9] FP8 scales are [ceil(out/128), ceil(in/128)].
v4.weight @s : !v4.weight<e8m0, 2x2>
// expected-error @+1 {{[V4-9] scale @s must be !v4.weight<e8m0, 1x2> for a f8e4m3 weight of shape [128, 256], got '!v4.weight<e8m0, 2x2>'}}
v4.weight @w : !v4.weight<f8e4m3, 128x256> scale @s

// -----

// [V4-9] FP4 scales are e8m0 [out, in/32].
v4.weight @s : !v4.weight<bf16, 128x8>
// expected-error @+1 {{[V4-9] scale @s must be !v4.weight<e8m0, 128x8> for a fp4e2m1 weight of shape [128, 256]}}
v4.weight @w : !v4.weight<fp4e2m1, 128x256> scale @s

// -----

// [V4-10] Norms keep their input type.
v4.weight @n : !v4.weight<bf16, 256>
func.func @norm_result(%x: tensor<?x256xf32>) {
  // expected-error @+1 {{[V4-10] result type 'tensor<?x256xbf16>' must equal the input type 'tensor<?x256xf32>'}}
  %y = v4.rms_norm %x {weight = @n, eps = 1.0e-06} : tensor<?x256xf32> -> tensor<?x256xbf16>
  return
}

// -----

// [V4-10] mhc_pre results follow the stream shape.
func.func @mhc_pre_comb(%x: tensor<?x4x256xf32>) {
  // expected-error @+1 {{[V4-10] result 'comb' has shape [?, 4, 3], expected [?, 4, 4]}}
  %u, %p, %c = v4.mhc_pre %x {fn = @fn, base = @base, scale = @scale, sinkhorn_iters = 20, hc_eps = 1.0e-06, norm_eps = 1.0e-06} : tensor<?x4x256xf32> -> (tensor<?x256xf32>, tensor<?x4xf32>, tensor<?x4x3xf32>)
  return
}

// -----

// [V4-10] mhc_post operands agree with the residual streams.
func.func @mhc_post_sublayer(%y: tensor<?x128xf32>, %x: tensor<?x4x256xf32>, %p: tensor<?x4xf32>, %c: tensor<?x4x4xf32>) {
  // expected-error @+1 {{[V4-10] operand 'sublayer' has shape [?, 128], expected [?, 256]}}
  %r = v4.mhc_post %y, %x, %p, %c : tensor<?x128xf32>, tensor<?x4x256xf32>, tensor<?x4xf32>, tensor<?x4x4xf32> -> tensor<?x4x256xf32>
  return
}

// -----

// [V4-10] Indexer top-k yields [S, topk].
func.func @indexer_result(%q: tensor<?x512xf32>, %w: tensor<?x4xf32>, %k: !v4.compressed<128, 4>) {
  // expected-error @+1 {{[V4-10] result has shape [?, 4], expected [?, 8]}}
  %i = v4.indexer_topk %q, %w, %k {heads = 4, head_dim = 128, topk = 8, ratio = 4} : tensor<?x512xf32>, tensor<?x4xf32>, !v4.compressed<128, 4> -> tensor<?x4xi32>
  return
}

// -----

// [V4-11] RoPE heads * head_dim must cover the features.
func.func @rope_heads(%q: tensor<?x512xf32>) {
  // expected-error @+1 {{[V4-11] feature width 512 must equal heads * head_dim = 4 * 64}}
  %r = v4.rope %q {heads = 4, head_dim = 64, rope = #v4.rope<dim = 32, theta = 1.0e4, yarn = false, factor = 1.0, original = 0, beta_fast = 32.0, beta_slow = 1.0>} : tensor<?x512xf32> -> tensor<?x512xf32>
  return
}

// -----

// [V4-11] Per-head norm needs whole heads.
func.func @head_norm_divisible(%q: tensor<?x510xf32>) {
  // expected-error @+1 {{[V4-11] feature width 510 is not divisible by heads = 4}}
  %r = v4.head_rms_norm %q {heads = 4, eps = 1.0e-06} : tensor<?x510xf32> -> tensor<?x510xf32>
  return
}

// -----

// [V4-12] RoPE rotates pairs: dim must be even.
func.func @rope_odd(%q: tensor<?x512xf32>) {
  // expected-error @+1 {{[V4-12] rope dim must be positive and even, got 63}}
  %r = v4.rope %q {heads = 4, head_dim = 128, rope = #v4.rope<dim = 63, theta = 1.0e4, yarn = false, factor = 1.0, original = 0, beta_fast = 32.0, beta_slow = 1.0>} : tensor<?x512xf32> -> tensor<?x512xf32>
  return
}

// -----

// [V4-12] RoPE base must be positive.
func.func @rope_theta(%q: tensor<?x512xf32>) {
  // expected-error @+1 {{[V4-12] rope theta must be positive}}
  %r = v4.rope %q {heads = 4, head_dim = 128, rope = #v4.rope<dim = 64, theta = 0.0, yarn = false, factor = 1.0, original = 0, beta_fast = 32.0, beta_slow = 1.0>} : tensor<?x512xf32> -> tensor<?x512xf32>
  return
}

// -----

// [V4-12] YaRN needs the original training length.
func.func @rope_yarn(%q: tensor<?x512xf32>) {
  // expected-error @+1 {{[V4-12] yarn rope needs a positive factor and original length}}
  %r = v4.rope %q {heads = 4, head_dim = 128, rope = #v4.rope<dim = 64, theta = 1.0e4, yarn = true, factor = 4.0, original = 0, beta_fast = 32.0, beta_slow = 1.0>} : tensor<?x512xf32> -> tensor<?x512xf32>
  return
}

// -----

// [V4-12] Without YaRN the original length is still non-negative.
func.func @rope_original(%q: tensor<?x512xf32>) {
  // expected-error @+1 {{[V4-12] rope original length must be non-negative}}
  %r = v4.rope %q {heads = 4, head_dim = 128, rope = #v4.rope<dim = 64, theta = 1.0e4, yarn = false, factor = 1.0, original = -1, beta_fast = 32.0, beta_slow = 1.0>} : tensor<?x512xf32> -> tensor<?x512xf32>
  return
}

// -----

// [V4-13] RoPE must fit inside the head.
func.func @rope_too_wide(%q: tensor<?x128xf32>) {
  // expected-error @+1 {{[V4-13] rope dim 64 must not exceed head_dim 32}}
  %r = v4.head_rms_norm_rope %q {heads = 4, head_dim = 32, eps = 1.0e-06, rope = #v4.rope<dim = 64, theta = 1.0e4, yarn = false, factor = 1.0, original = 0, beta_fast = 32.0, beta_slow = 1.0>} : tensor<?x128xf32> -> tensor<?x128xf32>
  return
}

// -----

// [V4-14] Groups divide the input features.
func.func @groups(%o: tensor<?x510xf32>) {
  // expected-error @+1 {{[V4-14] input feature width 510 is not divisible by groups = 4}}
  %z = v4.grouped_linear %o {weight = @w, groups = 4} : tensor<?x510xf32> -> tensor<?x256xf32>
  return
}

// -----

// [V4-15] Top-k cannot exceed the expert count.
func.func @topk_experts(%s: tensor<?x8xf32>, %t: tensor<?xi32>) {
  // expected-error @+1 {{[V4-15] topk 9 exceeds the number of experts (8)}}
  %i, %w = v4.route_select %s, %t {topk = 9, route_scale = 1.5, bias = @b} : tensor<?x8xf32>, tensor<?xi32> -> tensor<?x9xi32>, tensor<?x9xf32>
  return
}

// -----

// [V4-15] The fused router takes the expert count from its gate.
v4.weight @gate : !v4.weight<bf16, 8x256>
v4.weight @h : !v4.weight<i64, 1024x9>
func.func @router_topk(%x: tensor<?x256xf32>, %t: tensor<?xi32>) {
  // expected-error @+1 {{[V4-15] topk 9 exceeds the number of experts (8)}}
  %i, %w = v4.router %x, %t {gate = @gate, tid2eid = @h, topk = 9, route_scale = 1.5} : tensor<?x256xf32>, tensor<?xi32> -> tensor<?x9xi32>, tensor<?x9xf32>
  return
}

// -----

// [V4-16] The stream count matches hc.
func.func @hc_mismatch(%x: tensor<?x256xf32>) {
  // expected-error @+1 {{[V4-16] result stream count 2 must equal hc = 4}}
  %y = v4.mhc_expand %x {hc = 4} : tensor<?x256xf32> -> tensor<?x2x256xf32>
  return
}

// -----

// [V4-17] The compressor's result type matches head_dim and ratio.
func.func @compressed_result(%x: tensor<?x256xf32>) {
  // expected-error @+1 {{[V4-17] result type '!v4.compressed<128, 128>' must have head_dim 128 and ratio 4}}
  %c = v4.compressor csa main %x {ratio = 4, head_dim = 128, wkv = @a, wgate = @a, ape = @a, norm = @a, rope = #v4.rope<dim = 64, theta = 1.6e5, yarn = false, factor = 1.0, original = 0, beta_fast = 32.0, beta_slow = 1.0>, eps = 1.0e-06, layer = 1} : tensor<?x256xf32> -> !v4.compressed<128, 128>
  return
}

// -----

// [V4-17] Attention entries are head_dim wide.
func.func @entries_width(%q: tensor<?x512xf32>, %kv: tensor<?x128xf32>, %c: !v4.compressed<64, 128>) {
  // expected-error @+1 {{[V4-17] entries type '!v4.compressed<64, 128>' must have head_dim 128}}
  %o = v4.sparse_attention hca %q, %kv entries(%c : !v4.compressed<64, 128>) {heads = 4, head_dim = 128, window = 16, sink = @s, layer = 2} : tensor<?x512xf32>, tensor<?x128xf32> -> tensor<?x512xf32>
  return
}

// -----

// [V4-17] Compressed types have positive sizes.
// expected-error @+1 {{[V4-17] compressed head_dim and ratio must be positive}}
func.func private @bad_compressed(!v4.compressed<0, 4>)

// -----

// [V4-18] CSA attention needs the indexer's top-k.
func.func @csa_needs_topk(%q: tensor<?x512xf32>, %kv: tensor<?x128xf32>, %c: !v4.compressed<128, 4>) {
  // expected-error @+1 {{[V4-18] csa attention takes both 'entries' and 'topk'}}
  %o = v4.sparse_attention csa %q, %kv entries(%c : !v4.compressed<128, 4>) {heads = 4, head_dim = 128, window = 16, sink = @s, layer = 1} : tensor<?x512xf32>, tensor<?x128xf32> -> tensor<?x512xf32>
  return
}

// -----

// [V4-18] Window attention takes no compressed entries.
func.func @window_no_entries(%q: tensor<?x512xf32>, %kv: tensor<?x128xf32>, %c: !v4.compressed<128, 4>) {
  // expected-error @+1 {{[V4-18] window attention takes neither 'entries' nor 'topk'}}
  %o = v4.sparse_attention window %q, %kv entries(%c : !v4.compressed<128, 4>) {heads = 4, head_dim = 128, window = 16, sink = @s, layer = 0} : tensor<?x512xf32>, tensor<?x128xf32> -> tensor<?x512xf32>
  return
}

// -----

// [V4-19] Selection is by bias or by hash table, not both.
func.func @both_selectors(%s: tensor<?x8xf32>, %t: tensor<?xi32>) {
  // expected-error @+1 {{[V4-19] exactly one of 'bias' (top-k) and 'tid2eid' (hash) must be set}}
  %i, %w = v4.route_select %s, %t {topk = 2, route_scale = 1.5, bias = @b, tid2eid = @h} : tensor<?x8xf32>, tensor<?xi32> -> tensor<?x2xi32>, tensor<?x2xf32>
  return
}

// -----

// [V4-20] Each expert is a [w1, w2, w3] triple.
func.func @expert_pair(%x: tensor<?x256xf32>, %i: tensor<?x1xi32>, %w: tensor<?x1xf32>) {
  // expected-error @+1 {{[V4-20] each 'experts' entry must be an array of three symbols [w1, w2, w3]}}
  %y = v4.moe %x, %i, %w {experts = [[@a, @b]], shared = [@a, @b, @c], inter = 128, swiglu_limit = 10.0} : tensor<?x256xf32>, tensor<?x1xi32>, tensor<?x1xf32> -> tensor<?x256xf32>
  return
}

// -----

// [V4-20] There is at least one routed expert.
func.func @no_experts(%x: tensor<?x256xf32>, %i: tensor<?x1xi32>, %w: tensor<?x1xf32>) {
  // expected-error @+1 {{[V4-20] 'experts' must not be empty}}
  %y = v4.moe %x, %i, %w {experts = [], shared = [@a, @b, @c], inter = 128, swiglu_limit = 10.0} : tensor<?x256xf32>, tensor<?x1xi32>, tensor<?x1xf32> -> tensor<?x256xf32>
  return
}

// -----

// [V4-21] The numerics profile is a #v4.numerics attribute, not its name.
// expected-error @+1 {{[V4-21] 'v4.numerics' must be #v4.numerics<reference> or #v4.numerics<official>}}
module attributes {v4.numerics = "official"} {
}

// -----

// [V4-21] The config is a dictionary.
// expected-error @+1 {{[V4-21] 'v4.config' must be a dictionary}}
module attributes {v4.config = 3} {
}

// -----

// [V4-21] No other v4 module attributes.
// expected-error @+1 {{[V4-21] unknown v4 discardable attribute 'v4.window'}}
module attributes {v4.window = 3} {
}

// -----

// [V4-21] v4.max_tokens is a positive integer on an entry function.
// expected-error @+1 {{[V4-21] 'v4.max_tokens' must be a positive integer on an entry function}}
func.func @batch() attributes {v4.max_tokens = 0 : i64} {
  return
}
