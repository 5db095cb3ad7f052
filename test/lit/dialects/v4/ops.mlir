// Round trip of every v4 op, type and attribute: parse -> print -> parse, both through the
// custom and the generic form. Shapes follow the tiny config (V4_SPEC §7.1).
// RUN: birkhoff-opt %s | birkhoff-opt | FileCheck %s
// RUN: birkhoff-opt %s --mlir-print-op-generic | birkhoff-opt | FileCheck %s

// Module attributes, weights of every format, scales and the `tensor` override.
// CHECK: module attributes {v4.config = {dim = 256 : i64, hc = 4 : i64, vocab = 1024 : i64}, v4.numerics = #v4.numerics<reference>}
// CHECK: v4.weight @embed.weight : !v4.weight<bf16, 1024x256>
// CHECK: v4.weight @layers.0.hc_attn_base : !v4.weight<f32, 24>
// CHECK: v4.weight @layers.0.attn.wq_a.weight : !v4.weight<f8e4m3, 128x256> scale @layers.0.attn.wq_a.scale
// CHECK: v4.weight @layers.0.attn.wq_a.scale : !v4.weight<e8m0, 1x2>
// CHECK: v4.weight @layers.0.attn.wo_a.weight : !v4.weight<bf16, 256x256> {tensor = "layers.0.attn.wo_a.weight.bf16"}
// CHECK: v4.weight @layers.0.ffn.gate.tid2eid : !v4.weight<i64, 1024x2>
// CHECK: v4.weight @e0.w1 : !v4.weight<fp4e2m1, 128x256> scale @e0.w1.scale

module attributes {v4.numerics = #v4.numerics<reference>, v4.config = {vocab = 1024 : i64, dim = 256 : i64, hc = 4 : i64}} {
  v4.weight @"embed.weight" : !v4.weight<bf16, 1024x256>
  v4.weight @"layers.0.hc_attn_fn" : !v4.weight<f32, 24x1024>
  v4.weight @"layers.0.hc_attn_base" : !v4.weight<f32, 24>
  v4.weight @"layers.0.hc_attn_scale" : !v4.weight<f32, 3>
  v4.weight @"layers.0.attn_norm.weight" : !v4.weight<bf16, 256>
  v4.weight @"hc_head_fn" : !v4.weight<f32, 4x1024>
  v4.weight @"hc_head_base" : !v4.weight<f32, 4>
  v4.weight @"hc_head_scale" : !v4.weight<f32, 1>
  v4.weight @"norm.weight" : !v4.weight<bf16, 256>
  v4.weight @"layers.0.attn.wq_a.weight" : !v4.weight<f8e4m3, 128x256> scale @"layers.0.attn.wq_a.scale"
  v4.weight @"layers.0.attn.wq_a.scale" : !v4.weight<e8m0, 1x2>
  v4.weight @"layers.0.attn.q_norm.weight" : !v4.weight<bf16, 128>
  v4.weight @"layers.0.attn.wo_a.weight" : !v4.weight<bf16, 256x256> {tensor = "layers.0.attn.wo_a.weight.bf16"}
  v4.weight @"layers.0.attn.attn_sink" : !v4.weight<f32, 4>
  v4.weight @"layers.1.attn.compressor.wkv.weight" : !v4.weight<bf16, 256x256>
  v4.weight @"layers.1.attn.compressor.wgate.weight" : !v4.weight<bf16, 256x256>
  v4.weight @"layers.1.attn.compressor.ape" : !v4.weight<f32, 4x256>
  v4.weight @"layers.1.attn.compressor.norm.weight" : !v4.weight<bf16, 128>
  v4.weight @"layers.2.attn.compressor.wkv.weight" : !v4.weight<bf16, 128x256>
  v4.weight @"layers.2.attn.compressor.wgate.weight" : !v4.weight<bf16, 128x256>
  v4.weight @"layers.2.attn.compressor.ape" : !v4.weight<f32, 128x128>
  v4.weight @"layers.2.attn.compressor.norm.weight" : !v4.weight<bf16, 128>
  v4.weight @"layers.0.ffn.gate.weight" : !v4.weight<bf16, 8x256>
  v4.weight @"layers.0.ffn.gate.tid2eid" : !v4.weight<i64, 1024x2>
  v4.weight @"layers.1.ffn.gate.bias" : !v4.weight<f32, 8>
  v4.weight @"e0.w1" : !v4.weight<fp4e2m1, 128x256> scale @"e0.w1.scale"
  v4.weight @"e0.w1.scale" : !v4.weight<e8m0, 128x8>
  v4.weight @"e0.w2" : !v4.weight<fp4e2m1, 256x128> scale @"e0.w2.scale"
  v4.weight @"e0.w2.scale" : !v4.weight<e8m0, 256x4>
  v4.weight @"e0.w3" : !v4.weight<fp4e2m1, 128x256> scale @"e0.w1.scale"
  v4.weight @"s.w1" : !v4.weight<f8e4m3, 128x256> scale @"s.w13.scale"
  v4.weight @"s.w13.scale" : !v4.weight<e8m0, 1x2>
  v4.weight @"s.w2" : !v4.weight<f8e4m3, 256x128> scale @"s.w2.scale"
  v4.weight @"s.w2.scale" : !v4.weight<e8m0, 2x1>
  v4.weight @"s.w3" : !v4.weight<f8e4m3, 128x256> scale @"s.w13.scale"


// Embedding, then the copy into hc streams.
// CHECK-LABEL: func.func @embed_expand
// CHECK: %[[H:.*]] = v4.embed %{{.*}} {weight = @embed.weight} : tensor<?xi32> -> tensor<?x256xf32>
// CHECK: v4.mhc_expand %[[H]] {hc = 4 : i64} : tensor<?x256xf32> -> tensor<?x4x256xf32>
  func.func @embed_expand(%tokens: tensor<?xi32>) -> tensor<?x4x256xf32> {
    %h = v4.embed %tokens {weight = @"embed.weight"} : tensor<?xi32> -> tensor<?x256xf32>
    %x = v4.mhc_expand %h {hc = 4} : tensor<?x256xf32> -> tensor<?x4x256xf32>
    return %x : tensor<?x4x256xf32>
  }

// mHC pre-mix yields three results that feed the post-mix.
// CHECK-LABEL: func.func @mhc
// CHECK: %[[U:.*]], %[[POST:.*]], %[[COMB:.*]] = v4.mhc_pre %[[X:[^ ]*]] {base = @layers.0.hc_attn_base, fn = @layers.0.hc_attn_fn, {{.*}}sinkhorn_iters = 20 : i64}
// CHECK: v4.mhc_post %{{.*}}, %[[X]], %[[POST]], %[[COMB]] : tensor<?x256xf32>, tensor<?x4x256xf32>, tensor<?x4xf32>, tensor<?x4x4xf32> -> tensor<?x4x256xf32>
  func.func @mhc(%x: tensor<?x4x256xf32>, %y: tensor<?x256xf32>) -> tensor<?x4x256xf32> {
    %u, %post, %comb = v4.mhc_pre %x {fn = @"layers.0.hc_attn_fn", base = @"layers.0.hc_attn_base", scale = @"layers.0.hc_attn_scale", sinkhorn_iters = 20, hc_eps = 1.0e-06, norm_eps = 1.0e-06} : tensor<?x4x256xf32> -> (tensor<?x256xf32>, tensor<?x4xf32>, tensor<?x4x4xf32>)
    %x2 = v4.mhc_post %y, %x, %post, %comb : tensor<?x256xf32>, tensor<?x4x256xf32>, tensor<?x4xf32>, tensor<?x4x4xf32> -> tensor<?x4x256xf32>
    return %x2 : tensor<?x4x256xf32>
  }

// Fused pre-mix + norm on a bf16 decode step (static token dim 1).
// CHECK-LABEL: func.func @mhc_pre_norm
// CHECK: %[[U:.*]], %{{.*}}, %{{.*}} = v4.mhc_pre_norm %{{.*}} {{{.*}}norm = @layers.0.attn_norm.weight{{.*}}} : tensor<1x4x256xbf16> -> (tensor<1x256xbf16>, tensor<1x4xf32>, tensor<1x4x4xf32>)
// CHECK: return %[[U]]
  func.func @mhc_pre_norm(%x: tensor<1x4x256xbf16>) -> tensor<1x256xbf16> {
    %u, %post, %comb = v4.mhc_pre_norm %x {fn = @"layers.0.hc_attn_fn", base = @"layers.0.hc_attn_base", scale = @"layers.0.hc_attn_scale", norm = @"layers.0.attn_norm.weight", sinkhorn_iters = 20, hc_eps = 1.0e-06, norm_eps = 1.0e-06, eps = 1.0e-06} : tensor<1x4x256xbf16> -> (tensor<1x256xbf16>, tensor<1x4xf32>, tensor<1x4x4xf32>)
    return %u : tensor<1x256xbf16>
  }

// Head collapse, plain and fused with the final norm.
// CHECK-LABEL: func.func @mhc_head
// CHECK: v4.mhc_head %{{.*}} {base = @hc_head_base, fn = @hc_head_fn, {{.*}}scale = @hc_head_scale} : tensor<?x4x256xf32> -> tensor<?x256xf32>
// CHECK: v4.mhc_head_norm %{{.*}} {{{.*}}norm = @norm.weight{{.*}}} : tensor<?x4x256xf32> -> tensor<?x256xf32>
  func.func @mhc_head(%x: tensor<?x4x256xf32>) -> (tensor<?x256xf32>, tensor<?x256xf32>) {
    %y = v4.mhc_head %x {fn = @hc_head_fn, base = @hc_head_base, scale = @hc_head_scale, hc_eps = 1.0e-06, norm_eps = 1.0e-06} : tensor<?x4x256xf32> -> tensor<?x256xf32>
    %z = v4.mhc_head_norm %x {fn = @hc_head_fn, base = @hc_head_base, scale = @hc_head_scale, norm = @"norm.weight", hc_eps = 1.0e-06, norm_eps = 1.0e-06, eps = 1.0e-06} : tensor<?x4x256xf32> -> tensor<?x256xf32>
    return %y, %z : tensor<?x256xf32>, tensor<?x256xf32>
  }

// RMSNorm feeding an FP8 linear and the fused linear + norm.
// CHECK-LABEL: func.func @norm_linear
// CHECK: %[[N:.*]] = v4.rms_norm %{{.*}} {eps = {{.*}}, weight = @layers.0.attn_norm.weight} : tensor<?x256xf32> -> tensor<?x256xf32>
// CHECK: v4.linear %[[N]] {weight = @layers.0.attn.wq_a.weight} : tensor<?x256xf32> -> tensor<?x128xf32>
// CHECK: v4.linear_rms_norm %[[N]] {eps = {{.*}}, norm = @layers.0.attn.q_norm.weight, weight = @layers.0.attn.wq_a.weight}
  func.func @norm_linear(%x: tensor<?x256xf32>) -> (tensor<?x128xf32>, tensor<?x128xf32>) {
    %n = v4.rms_norm %x {weight = @"layers.0.attn_norm.weight", eps = 1.0e-06} : tensor<?x256xf32> -> tensor<?x256xf32>
    %q = v4.linear %n {weight = @"layers.0.attn.wq_a.weight"} : tensor<?x256xf32> -> tensor<?x128xf32>
    %qr = v4.linear_rms_norm %n {weight = @"layers.0.attn.wq_a.weight", norm = @"layers.0.attn.q_norm.weight", eps = 1.0e-06} : tensor<?x256xf32> -> tensor<?x128xf32>
    return %q, %qr : tensor<?x128xf32>, tensor<?x128xf32>
  }

// Per-head norm, RoPE (plain and YaRN, forward and inverse) and the fused form.
// CHECK-LABEL: func.func @heads
// CHECK: %[[N:.*]] = v4.head_rms_norm %{{.*}} {eps = {{.*}}, heads = 4 : i64}
// CHECK: %[[R:.*]] = v4.rope %[[N]] {head_dim = 128 : i64, heads = 4 : i64, rope = #v4.rope<dim = 64, theta = 1.000000e+04, yarn = false, factor = 1.000000e+00, original = 0, beta_fast = 3.200000e+01, beta_slow = 1.000000e+00>}
// CHECK: v4.rope %[[R]] {head_dim = 128 : i64, heads = 4 : i64, inverse, rope = #v4.rope<dim = 64, theta = 1.600000e+05, yarn = true, factor = 4.000000e+00, original = 128,
// CHECK: v4.head_rms_norm_rope %{{.*}} {eps = {{.*}}, head_dim = 128 : i64, heads = 4 : i64, rope = #v4.rope<dim = 64
  func.func @heads(%q: tensor<?x512xf32>) -> (tensor<?x512xf32>, tensor<?x512xf32>) {
    %n = v4.head_rms_norm %q {heads = 4, eps = 1.0e-06} : tensor<?x512xf32> -> tensor<?x512xf32>
    %r = v4.rope %n {heads = 4, head_dim = 128, rope = #v4.rope<dim = 64, theta = 1.0e4, yarn = false, factor = 1.0, original = 0, beta_fast = 32.0, beta_slow = 1.0>} : tensor<?x512xf32> -> tensor<?x512xf32>
    %i = v4.rope %r {heads = 4, head_dim = 128, inverse, rope = #v4.rope<dim = 64, theta = 1.6e5, yarn = true, factor = 4.0, original = 128, beta_fast = 32.0, beta_slow = 1.0>} : tensor<?x512xf32> -> tensor<?x512xf32>
    %f = v4.head_rms_norm_rope %q {heads = 4, head_dim = 128, eps = 1.0e-06, rope = #v4.rope<dim = 64, theta = 1.0e4, yarn = false, factor = 1.0, original = 0, beta_fast = 32.0, beta_slow = 1.0>} : tensor<?x512xf32> -> tensor<?x512xf32>
    return %i, %f : tensor<?x512xf32>, tensor<?x512xf32>
  }

// CSA: overlapping compressor feeding sparse attention with entries and top-k.
// CHECK-LABEL: func.func @csa
// CHECK: %[[C:.*]] = v4.compressor csa main %{{.*}} {ape = @layers.1.attn.compressor.ape, {{.*}}head_dim = 128 : i64, layer = 1 : i64, {{.*}}ratio = 4 : i64,
// CHECK: v4.sparse_attention csa %{{.*}}, %{{.*}} entries(%[[C]] : !v4.compressed<128, 4>) topk(%{{.*}} : tensor<?x8xi32>) {head_dim = 128 : i64, heads = 4 : i64, layer = 1 : i64, sink = @layers.0.attn.attn_sink, window = 16 : i64}
  func.func @csa(%x: tensor<?x256xf32>, %q: tensor<?x512xf32>, %kv: tensor<?x128xf32>, %idx: tensor<?x8xi32>) -> tensor<?x512xf32> {
    %c = v4.compressor csa main %x {ratio = 4, head_dim = 128, wkv = @"layers.1.attn.compressor.wkv.weight", wgate = @"layers.1.attn.compressor.wgate.weight", ape = @"layers.1.attn.compressor.ape", norm = @"layers.1.attn.compressor.norm.weight", rope = #v4.rope<dim = 64, theta = 1.6e5, yarn = true, factor = 4.0, original = 128, beta_fast = 32.0, beta_slow = 1.0>, eps = 1.0e-06, layer = 1} : tensor<?x256xf32> -> !v4.compressed<128, 4>
    %o = v4.sparse_attention csa %q, %kv entries(%c : !v4.compressed<128, 4>) topk(%idx : tensor<?x8xi32>) {heads = 4, head_dim = 128, window = 16, sink = @"layers.0.attn.attn_sink", layer = 1} : tensor<?x512xf32>, tensor<?x128xf32> -> tensor<?x512xf32>
    return %o : tensor<?x512xf32>
  }

// Indexer compressor (role indexer) feeding indexer top-k.
// CHECK-LABEL: func.func @indexer
// CHECK: %[[K:.*]] = v4.compressor csa indexer
// CHECK: v4.indexer_topk %{{.*}}, %{{.*}}, %[[K]] {head_dim = 128 : i64, heads = 4 : i64, ratio = 4 : i64, topk = 8 : i64} : tensor<?x512xf32>, tensor<?x4xf32>, <128, 4> -> tensor<?x8xi32>
  func.func @indexer(%qi: tensor<?x512xf32>, %w: tensor<?x4xf32>, %x: tensor<?x256xf32>) -> tensor<?x8xi32> {
    %k = v4.compressor csa indexer %x {ratio = 4, head_dim = 128, wkv = @"layers.1.attn.compressor.wkv.weight", wgate = @"layers.1.attn.compressor.wgate.weight", ape = @"layers.1.attn.compressor.ape", norm = @"layers.1.attn.compressor.norm.weight", rope = #v4.rope<dim = 64, theta = 1.6e5, yarn = true, factor = 4.0, original = 128, beta_fast = 32.0, beta_slow = 1.0>, eps = 1.0e-06, layer = 1} : tensor<?x256xf32> -> !v4.compressed<128, 4>
    %idx = v4.indexer_topk %qi, %w, %k {heads = 4, head_dim = 128, topk = 8, ratio = 4} : tensor<?x512xf32>, tensor<?x4xf32>, !v4.compressed<128, 4> -> tensor<?x8xi32>
    return %idx : tensor<?x8xi32>
  }

// HCA attention takes entries only; window attention takes neither.
// CHECK-LABEL: func.func @hca_window
// CHECK: %[[C:.*]] = v4.compressor hca main %{{.*}} {{.*}} -> <128, 128>
// CHECK: v4.sparse_attention hca %{{.*}}, %{{.*}} entries(%[[C]] : !v4.compressed<128, 128>) {
// CHECK: v4.sparse_attention window %{{.*}}, %{{.*}} {head_dim = 128 : i64
  func.func @hca_window(%x: tensor<?x256xf32>, %q: tensor<?x512xf32>, %kv: tensor<?x128xf32>) -> (tensor<?x512xf32>, tensor<?x512xf32>) {
    %c = v4.compressor hca main %x {ratio = 128, head_dim = 128, wkv = @"layers.2.attn.compressor.wkv.weight", wgate = @"layers.2.attn.compressor.wgate.weight", ape = @"layers.2.attn.compressor.ape", norm = @"layers.2.attn.compressor.norm.weight", rope = #v4.rope<dim = 64, theta = 1.6e5, yarn = true, factor = 4.0, original = 128, beta_fast = 32.0, beta_slow = 1.0>, eps = 1.0e-06, layer = 2} : tensor<?x256xf32> -> !v4.compressed<128, 128>
    %h = v4.sparse_attention hca %q, %kv entries(%c : !v4.compressed<128, 128>) {heads = 4, head_dim = 128, window = 16, sink = @"layers.0.attn.attn_sink", layer = 2} : tensor<?x512xf32>, tensor<?x128xf32> -> tensor<?x512xf32>
    %w = v4.sparse_attention window %q, %kv {heads = 4, head_dim = 128, window = 16, sink = @"layers.0.attn.attn_sink", layer = 0} : tensor<?x512xf32>, tensor<?x128xf32> -> tensor<?x512xf32>
    return %h, %w : tensor<?x512xf32>, tensor<?x512xf32>
  }

// Grouped low-rank output projection.
// CHECK-LABEL: func.func @grouped
// CHECK: v4.grouped_linear %{{.*}} {groups = 2 : i64, weight = @layers.0.attn.wo_a.weight} : tensor<?x512xf32> -> tensor<?x256xf32>
  func.func @grouped(%o: tensor<?x512xf32>) -> tensor<?x256xf32> {
    %z = v4.grouped_linear %o {weight = @"layers.0.attn.wo_a.weight", groups = 2} : tensor<?x512xf32> -> tensor<?x256xf32>
    return %z : tensor<?x256xf32>
  }

// Router scores + biased top-k, and the fused hash router.
// CHECK-LABEL: func.func @routing
// CHECK: %[[S:.*]] = v4.router_scores %{{.*}} {gate = @layers.0.ffn.gate.weight} : tensor<?x256xf32> -> tensor<?x8xf32>
// CHECK: v4.route_select %[[S]], %{{.*}} {bias = @layers.1.ffn.gate.bias, route_scale = 1.500000e+00 : f64, topk = 2 : i64} : tensor<?x8xf32>, tensor<?xi32> -> tensor<?x2xi32>, tensor<?x2xf32>
// CHECK: v4.router %{{.*}}, %{{.*}} {gate = @layers.0.ffn.gate.weight, route_scale = 1.500000e+00 : f64, tid2eid = @layers.0.ffn.gate.tid2eid, topk = 2 : i64}
  func.func @routing(%x: tensor<?x256xf32>, %tokens: tensor<?xi32>) -> (tensor<?x2xi32>, tensor<?x2xf32>, tensor<?x2xi32>, tensor<?x2xf32>) {
    %s = v4.router_scores %x {gate = @"layers.0.ffn.gate.weight"} : tensor<?x256xf32> -> tensor<?x8xf32>
    %idx, %wts = v4.route_select %s, %tokens {topk = 2, route_scale = 1.5, bias = @"layers.1.ffn.gate.bias"} : tensor<?x8xf32>, tensor<?xi32> -> tensor<?x2xi32>, tensor<?x2xf32>
    %hidx, %hwts = v4.router %x, %tokens {gate = @"layers.0.ffn.gate.weight", tid2eid = @"layers.0.ffn.gate.tid2eid", topk = 2, route_scale = 1.5} : tensor<?x256xf32>, tensor<?xi32> -> tensor<?x2xi32>, tensor<?x2xf32>
    return %idx, %wts, %hidx, %hwts : tensor<?x2xi32>, tensor<?x2xf32>, tensor<?x2xi32>, tensor<?x2xf32>
  }

// MoE with FP4 routed experts and an FP8 shared expert.
// CHECK-LABEL: func.func @moe
// CHECK: v4.moe %{{.*}}, %{{.*}}, %{{.*}} {experts = {{\[}}[@e0.w1, @e0.w2, @e0.w3], [@e0.w1, @e0.w2, @e0.w3]], inter = 128 : i64, shared = [@s.w1, @s.w2, @s.w3], shared_clamp, swiglu_limit = 1.000000e+01 : f64}
  func.func @moe(%x: tensor<?x256xf32>, %idx: tensor<?x2xi32>, %wts: tensor<?x2xf32>) -> tensor<?x256xf32> {
    %y = v4.moe %x, %idx, %wts {experts = [[@"e0.w1", @"e0.w2", @"e0.w3"], [@"e0.w1", @"e0.w2", @"e0.w3"]], shared = [@"s.w1", @"s.w2", @"s.w3"], inter = 128, swiglu_limit = 10.0, shared_clamp} : tensor<?x256xf32>, tensor<?x2xi32>, tensor<?x2xf32> -> tensor<?x256xf32>
    return %y : tensor<?x256xf32>
  }
}
