// RUN: birkhoff-opt %s --split-input-file --verify-diagnostics --v4-lower-to-kernels=max-tokens=32 | FileCheck %s

v4.weight @embed : !v4.weight<bf16, 16x32>
v4.weight @wq : !v4.weight<f8e4m3, 64x32> scale @wq.scale
v4.weight @wq.scale : !v4.weight<e8m0, 1x1>
v4.weight @wkv : !v4.weight<bf16, 32x32>
v4.weight @c.wkv : !v4.weight<bf16, 64x32>
v4.weight @c.wgate : !v4.weight<bf16, 64x32>
v4.weight @c.ape : !v4.weight<f32, 4x64>
v4.weight @c.norm : !v4.weight<bf16, 32>
v4.weight @i.wkv : !v4.weight<bf16, 32x32>
v4.weight @i.wgate : !v4.weight<bf16, 32x32>
v4.weight @i.ape : !v4.weight<f32, 4x32>
v4.weight @i.norm : !v4.weight<bf16, 16>
v4.weight @wqi : !v4.weight<bf16, 32x32>
v4.weight @wproj : !v4.weight<bf16, 2x32>
v4.weight @sink : !v4.weight<f32, 2>

// Weights become bk.weight with artifact dtype names; states are per layer.
// CHECK-DAG: bk.weight @wq {dtype = "f8e4m3", scale = @wq.scale, shape = array<i64: 64, 32>}
// CHECK-DAG: bk.weight @wq.scale {dtype = "f8e8m0", shape = array<i64: 1, 1>}
// CHECK-DAG: bk.state @layers.1.attn.window {bytes_per_row = 128 : i64, fixed_rows = 8 : i64, kind = "window", layer = 1 : i64, tokens_per_row = 0 : i64}
// CHECK-DAG: bk.state @layers.1.attn.kv_entries {bytes_per_row = 128 : i64, fixed_rows = 0 : i64, kind = "kv_entries", layer = 1 : i64, tokens_per_row = 4 : i64}
// CHECK-DAG: bk.state @layers.1.attn.compressor_tail {bytes_per_row = 512 : i64, fixed_rows = 8 : i64, kind = "compressor_tail", layer = 1 : i64, tokens_per_row = 0 : i64}
// CHECK-DAG: bk.state @layers.1.attn.index_entries {bytes_per_row = 64 : i64, fixed_rows = 0 : i64, kind = "index_entries", layer = 1 : i64, tokens_per_row = 4 : i64}
// CHECK-DAG: bk.state @layers.1.attn.index_tail {bytes_per_row = 256 : i64, fixed_rows = 8 : i64, kind = "index_tail", layer = 1 : i64, tokens_per_row = 0 : i64}

// A CSA attention: compressors, indexer, attention, then the window write.
// CHECK-LABEL: func.func @prefill
// CHECK-SAME: (%[[TOK:.*]]: !bk.buffer {{{.*}}bk.name = "tokens"}, %[[LOGITS:.*]]: !bk.buffer {bk.elems_per_token = 64 : i64, bk.name = "logits"})
// CHECK-SAME: bk.entry, bk.max_tokens = 32
// CHECK: %[[X:.*]] = bk.alloc {elems_per_token = 32 : i64, is_int = false
// CHECK: bk.launch "embed" ins(%[[TOK]]) outs(%[[X]]) weights([@embed]) states([]) params({dim = 32 : i64, hc = 1 : i64})
// CHECK: bk.launch "linear" ins(%[[X]]) outs(%[[Q:.*]]) weights([@wq]) states([]) params({in_features = 32 : i64, out_features = 64 : i64})
// CHECK: bk.launch "linear" ins(%[[X]]) outs(%[[KV:.*]]) weights([@wkv])
// CHECK: bk.launch "compressor" ins(%[[X]]) outs() weights([@c.wkv, @c.wgate, @c.ape, @c.norm]) states([@layers.1.attn.compressor_tail, @layers.1.attn.kv_entries]) params({beta_fast = 3.200000e+01 : f64, beta_slow = 1.000000e+00 : f64, dim = 32 : i64, eps = 2.500000e-01 : f64, head_dim = 32 : i64, original_seq_len = 64 : i64, overlap = 1 : i64, ratio = 4 : i64, rope_dim = 8 : i64, rope_factor = 4.000000e+00 : f64, theta = 1.600000e+05 : f64, yarn = 1 : i64}) {layer = 1 : i64}
// CHECK: bk.launch "compressor" ins(%[[X]]) outs() weights([@i.wkv, @i.wgate, @i.ape, @i.norm]) states([@layers.1.attn.index_tail, @layers.1.attn.index_entries])
// CHECK: %[[IDX:.*]] = bk.alloc {elems_per_token = 4 : i64, is_int = true
// CHECK: bk.launch "indexer_topk" ins(%{{.*}}, %{{.*}}) outs(%[[IDX]]) weights([]) states([@layers.1.attn.index_entries]) params({head_dim = 16 : i64, heads = 2 : i64, ratio = 4 : i64, topk = 4 : i64})
// CHECK: bk.launch "sparse_attention" ins(%[[Q]], %[[KV]], %[[IDX]]) outs(%[[LOGITS]]) weights([@sink]) states([@layers.1.attn.window, @layers.1.attn.kv_entries]) params({head_dim = 32 : i64, heads = 2 : i64, mode = 1 : i64, ratio = 4 : i64, topk = 4 : i64, window = 8 : i64}) {layer = 1 : i64}
// CHECK-NEXT: bk.launch "window_write" ins(%[[KV]]) outs() weights([]) states([@layers.1.attn.window]) params({head_dim = 32 : i64, window = 8 : i64}) {layer = 1 : i64}
// CHECK-NEXT: return
// Reference numerics: no `numerics` or official-only parameters, f32 rows.
// CHECK-NOT: numerics
func.func @prefill(%t: tensor<?xi32>) -> tensor<?x64xf32> {
  %x = v4.embed %t {weight = @embed} : tensor<?xi32> -> tensor<?x32xf32>
  %q = v4.linear %x {weight = @wq} : tensor<?x32xf32> -> tensor<?x64xf32>
  %kv = v4.linear %x {weight = @wkv} : tensor<?x32xf32> -> tensor<?x32xf32>
  %c = v4.compressor csa main %x {ratio = 4, head_dim = 32, wkv = @c.wkv, wgate = @c.wgate, ape = @c.ape, norm = @c.norm, rope = #v4.rope<dim = 8, theta = 1.600000e+05, yarn = true, factor = 4.000000e+00, original = 64, beta_fast = 3.200000e+01, beta_slow = 1.000000e+00>, eps = 0.25, layer = 1} : tensor<?x32xf32> -> !v4.compressed<32, 4>
  %k = v4.compressor csa indexer %x {ratio = 4, head_dim = 16, wkv = @i.wkv, wgate = @i.wgate, ape = @i.ape, norm = @i.norm, rope = #v4.rope<dim = 8, theta = 1.600000e+05, yarn = true, factor = 4.000000e+00, original = 64, beta_fast = 3.200000e+01, beta_slow = 1.000000e+00>, eps = 0.25, layer = 1} : tensor<?x32xf32> -> !v4.compressed<16, 4>
  %qi = v4.linear %x {weight = @wqi} : tensor<?x32xf32> -> tensor<?x32xf32>
  %w = v4.linear %x {weight = @wproj} : tensor<?x32xf32> -> tensor<?x2xf32>
  %idx = v4.indexer_topk %qi, %w, %k {heads = 2, head_dim = 16, topk = 4, ratio = 4} : tensor<?x32xf32>, tensor<?x2xf32>, !v4.compressed<16, 4> -> tensor<?x4xi32>
  %o = v4.sparse_attention csa %q, %kv entries(%c : !v4.compressed<32, 4>) topk(%idx : tensor<?x4xi32>) {heads = 2, head_dim = 32, window = 8, sink = @sink, layer = 1} : tensor<?x64xf32>, tensor<?x32xf32> -> tensor<?x64xf32>
  return %o : tensor<?x64xf32>
}

// -----

// The official profile: every launch gets numerics = 1 plus its official-only
// parameter; KV rows are 200-byte FP8 entries (head_dim 128, rope 64) and
// indexer keys 17-byte FP4 rows (32 dims: 16 code bytes + 1 scale).
module attributes {v4.numerics = #v4.numerics<official>} {
  v4.weight @embed : !v4.weight<bf16, 16x32>
  v4.weight @wq : !v4.weight<bf16, 256x32>
  v4.weight @wkv : !v4.weight<bf16, 128x32>
  v4.weight @kv_norm : !v4.weight<bf16, 128>
  v4.weight @c.wkv : !v4.weight<bf16, 256x32>
  v4.weight @c.wgate : !v4.weight<bf16, 256x32>
  v4.weight @c.ape : !v4.weight<f32, 4x256>
  v4.weight @c.norm : !v4.weight<bf16, 128>
  v4.weight @i.wkv : !v4.weight<bf16, 64x32>
  v4.weight @i.wgate : !v4.weight<bf16, 64x32>
  v4.weight @i.ape : !v4.weight<f32, 4x64>
  v4.weight @i.norm : !v4.weight<bf16, 32>
  v4.weight @wqi : !v4.weight<bf16, 64x32>
  v4.weight @wproj : !v4.weight<bf16, 2x32>
  v4.weight @sink : !v4.weight<f32, 2>
  v4.weight @head : !v4.weight<bf16, 16x256>

  // CHECK-LABEL: module attributes {v4.numerics = #v4.numerics<official>}
  // CHECK-DAG: bk.state @layers.1.attn.window {bytes_per_row = 200 : i64, fixed_rows = 8 : i64, kind = "window", layer = 1 : i64, tokens_per_row = 0 : i64}
  // CHECK-DAG: bk.state @layers.1.attn.kv_entries {bytes_per_row = 200 : i64, fixed_rows = 0 : i64, kind = "kv_entries", layer = 1 : i64, tokens_per_row = 4 : i64}
  // CHECK-DAG: bk.state @layers.1.attn.compressor_tail {bytes_per_row = 2048 : i64, fixed_rows = 8 : i64, kind = "compressor_tail", layer = 1 : i64, tokens_per_row = 0 : i64}
  // CHECK-DAG: bk.state @layers.1.attn.index_entries {bytes_per_row = 17 : i64, fixed_rows = 0 : i64, kind = "index_entries", layer = 1 : i64, tokens_per_row = 4 : i64}
  // CHECK-DAG: bk.state @layers.1.attn.index_tail {bytes_per_row = 512 : i64, fixed_rows = 8 : i64, kind = "index_tail", layer = 1 : i64, tokens_per_row = 0 : i64}

  // CHECK-LABEL: func.func @decode
  // CHECK: bk.launch "embed" {{.*}}params({dim = 32 : i64, hc = 1 : i64, numerics = 1 : i64})
  // Linears round to bf16...
  // CHECK: bk.launch "linear" {{.*}}weights([@wq]) states([]) params({in_features = 32 : i64, numerics = 1 : i64, out_features = 256 : i64, round_output = 1 : i64})
  // CHECK: bk.launch "linear_rms_norm" {{.*}}weights([@wkv, @kv_norm]) states([]) params({eps = {{.*}}, in_features = 32 : i64, numerics = 1 : i64, out_features = 128 : i64, round_output = 1 : i64})
  // ...the kv rope FP8-simulates the stored dims (after_rope = 1)...
  // CHECK: bk.launch "rope" {{.*}}params({after_rope = 1 : i64, {{.*}}head_dim = 128 : i64, heads = 1 : i64, inverse = 0 : i64, numerics = 1 : i64,
  // ...compressors say what their entries are...
  // CHECK: bk.launch "compressor" {{.*}}states([@layers.1.attn.compressor_tail, @layers.1.attn.kv_entries]) params({{{.*}}entry_format = 1 : i64, {{.*}}numerics = 1 : i64,
  // CHECK: bk.launch "compressor" {{.*}}states([@layers.1.attn.index_tail, @layers.1.attn.index_entries]) params({{{.*}}entry_format = 2 : i64, {{.*}}numerics = 1 : i64,
  // ...the indexer query rope is Hadamard + FP4 (after_rope = 2)...
  // CHECK: bk.launch "linear" {{.*}}weights([@wqi]) {{.*}}round_output = 1 : i64})
  // CHECK: bk.launch "rope" {{.*}}params({after_rope = 2 : i64, {{.*}}head_dim = 32 : i64, heads = 2 : i64, inverse = 0 : i64,
  // CHECK: bk.launch "linear" {{.*}}weights([@wproj]) {{.*}}round_output = 1 : i64})
  // CHECK: bk.launch "indexer_topk" {{.*}}states([@layers.1.attn.index_entries]) params({head_dim = 32 : i64, heads = 2 : i64, key_format = 1 : i64, numerics = 1 : i64, ratio = 4 : i64, topk = 4 : i64})
  // ...attention and the ring hold KV entries of the kv rope's layout...
  // CHECK: bk.launch "sparse_attention" {{.*}}params({head_dim = 128 : i64, heads = 2 : i64, kv_format = 1 : i64, mode = 1 : i64, numerics = 1 : i64, ratio = 4 : i64, rope_dim = 64 : i64, topk = 4 : i64, window = 8 : i64})
  // CHECK-NEXT: bk.launch "window_write" {{.*}}params({head_dim = 128 : i64, kv_format = 1 : i64, numerics = 1 : i64, rope_dim = 64 : i64, window = 8 : i64})
  // ...the inverse rope quantizes nothing, and the LM head keeps fp32 logits.
  // CHECK: bk.launch "rope" {{.*}}params({after_rope = 0 : i64, {{.*}}inverse = 1 : i64,
  // CHECK-NEXT: bk.launch "linear" {{.*}}weights([@head]) states([]) params({in_features = 256 : i64, numerics = 1 : i64, out_features = 16 : i64, round_output = 0 : i64})
  // CHECK-NEXT: return
  func.func @decode(%t: tensor<1xi32>) -> tensor<1x16xf32> {
    %x = v4.embed %t {weight = @embed} : tensor<1xi32> -> tensor<1x32xf32>
    %q = v4.linear %x {weight = @wq} : tensor<1x32xf32> -> tensor<1x256xf32>
    %kv = v4.linear_rms_norm %x {weight = @wkv, norm = @kv_norm, eps = 1.0e-06} : tensor<1x32xf32> -> tensor<1x128xf32>
    %kvr = v4.rope %kv {heads = 1, head_dim = 128, rope = #v4.rope<dim = 64, theta = 1.600000e+05, yarn = true, factor = 4.000000e+00, original = 64, beta_fast = 3.200000e+01, beta_slow = 1.000000e+00>} : tensor<1x128xf32> -> tensor<1x128xf32>
    %c = v4.compressor csa main %x {ratio = 4, head_dim = 128, wkv = @c.wkv, wgate = @c.wgate, ape = @c.ape, norm = @c.norm, rope = #v4.rope<dim = 64, theta = 1.600000e+05, yarn = true, factor = 4.000000e+00, original = 64, beta_fast = 3.200000e+01, beta_slow = 1.000000e+00>, eps = 1.0e-06, layer = 1} : tensor<1x32xf32> -> !v4.compressed<128, 4>
    %k = v4.compressor csa indexer %x {ratio = 4, head_dim = 32, wkv = @i.wkv, wgate = @i.wgate, ape = @i.ape, norm = @i.norm, rope = #v4.rope<dim = 16, theta = 1.600000e+05, yarn = true, factor = 4.000000e+00, original = 64, beta_fast = 3.200000e+01, beta_slow = 1.000000e+00>, eps = 1.0e-06, layer = 1} : tensor<1x32xf32> -> !v4.compressed<32, 4>
    %qi = v4.linear %x {weight = @wqi} : tensor<1x32xf32> -> tensor<1x64xf32>
    %qir = v4.rope %qi {heads = 2, head_dim = 32, rope = #v4.rope<dim = 16, theta = 1.600000e+05, yarn = true, factor = 4.000000e+00, original = 64, beta_fast = 3.200000e+01, beta_slow = 1.000000e+00>} : tensor<1x64xf32> -> tensor<1x64xf32>
    %w = v4.linear %x {weight = @wproj} : tensor<1x32xf32> -> tensor<1x2xf32>
    %idx = v4.indexer_topk %qir, %w, %k {heads = 2, head_dim = 32, topk = 4, ratio = 4} : tensor<1x64xf32>, tensor<1x2xf32>, !v4.compressed<32, 4> -> tensor<1x4xi32>
    %o = v4.sparse_attention csa %q, %kvr entries(%c : !v4.compressed<128, 4>) topk(%idx : tensor<1x4xi32>) {heads = 2, head_dim = 128, window = 8, sink = @sink, layer = 1} : tensor<1x256xf32>, tensor<1x128xf32> -> tensor<1x256xf32>
    %oi = v4.rope %o {heads = 2, head_dim = 128, rope = #v4.rope<dim = 64, theta = 1.600000e+05, yarn = true, factor = 4.000000e+00, original = 64, beta_fast = 3.200000e+01, beta_slow = 1.000000e+00>, inverse} : tensor<1x256xf32> -> tensor<1x256xf32>
    %l = v4.linear %oi {weight = @head} : tensor<1x256xf32> -> tensor<1x16xf32>
    return %l : tensor<1x16xf32>
  }
}

// -----

// Official KV entries need head_dim - rope_dim to be a multiple of 64.
module attributes {v4.numerics = #v4.numerics<official>} {
  v4.weight @embed : !v4.weight<bf16, 16x32>
  v4.weight @sink : !v4.weight<f32, 1>
  func.func @decode(%t: tensor<1xi32>) -> tensor<1x32xf32> {
    %x = v4.embed %t {weight = @embed} : tensor<1xi32> -> tensor<1x32xf32>
    %kv = v4.rope %x {heads = 1, head_dim = 32, rope = #v4.rope<dim = 8, theta = 1.000000e+04, yarn = false, factor = 1.000000e+00, original = 0, beta_fast = 3.200000e+01, beta_slow = 1.000000e+00>} : tensor<1x32xf32> -> tensor<1x32xf32>
    // expected-error @+1 {{numerics official stores KV entries as FP8 + bf16 RoPE dims, which this model cannot: KV entry layout (head_dim 32, rope_dim 8)}}
    %o = v4.sparse_attention window %x, %kv {heads = 1, head_dim = 32, window = 8, sink = @sink, layer = 0} : tensor<1x32xf32>, tensor<1x32xf32> -> tensor<1x32xf32>
    return %o : tensor<1x32xf32>
  }
}

// -----

// Official numerics quantize the attention kv in its rope: a kv from
// anything else is refused.
module attributes {v4.numerics = #v4.numerics<official>} {
  v4.weight @embed : !v4.weight<bf16, 16x128>
  v4.weight @sink : !v4.weight<f32, 1>
  func.func @decode(%t: tensor<1xi32>) -> tensor<1x128xf32> {
    %x = v4.embed %t {weight = @embed} : tensor<1xi32> -> tensor<1x128xf32>
    // expected-error @+1 {{with numerics official the attention kv must come from a v4.rope}}
    %o = v4.sparse_attention window %x, %x {heads = 1, head_dim = 128, window = 8, sink = @sink, layer = 0} : tensor<1x128xf32>, tensor<1x128xf32> -> tensor<1x128xf32>
    return %o : tensor<1x128xf32>
  }
}

// -----

// Official indexer keys are FP4 in 32-blocks.
module attributes {v4.numerics = #v4.numerics<official>} {
  v4.weight @embed : !v4.weight<bf16, 16x32>
  v4.weight @i.wkv : !v4.weight<bf16, 32x32>
  v4.weight @i.wgate : !v4.weight<bf16, 32x32>
  v4.weight @i.ape : !v4.weight<f32, 4x32>
  v4.weight @i.norm : !v4.weight<bf16, 16>
  v4.weight @head : !v4.weight<bf16, 32x32>
  func.func @decode(%t: tensor<1xi32>) -> tensor<1x32xf32> {
    %x = v4.embed %t {weight = @embed} : tensor<1xi32> -> tensor<1x32xf32>
    // expected-error @+1 {{indexer keys as FP4 in 32-blocks, but index_head_dim 16 is not a multiple of 32}}
    %k = v4.compressor csa indexer %x {ratio = 4, head_dim = 16, wkv = @i.wkv, wgate = @i.wgate, ape = @i.ape, norm = @i.norm, rope = #v4.rope<dim = 8, theta = 1.600000e+05, yarn = true, factor = 4.000000e+00, original = 64, beta_fast = 3.200000e+01, beta_slow = 1.000000e+00>, eps = 1.0e-06, layer = 1} : tensor<1x32xf32> -> !v4.compressed<16, 4>
    %l = v4.linear %x {weight = @head} : tensor<1x32xf32> -> tensor<1x32xf32>
    return %l : tensor<1x32xf32>
  }
}

// -----

// Window rows and compressed entries are one KV entry format: a compressor
// whose rope dims differ from the kv's is refused.
module attributes {v4.numerics = #v4.numerics<official>} {
  v4.weight @embed : !v4.weight<bf16, 16x192>
  v4.weight @c.wkv : !v4.weight<bf16, 192x192>
  v4.weight @c.wgate : !v4.weight<bf16, 192x192>
  v4.weight @c.ape : !v4.weight<f32, 4x192>
  v4.weight @c.norm : !v4.weight<bf16, 192>
  v4.weight @sink : !v4.weight<f32, 1>
  v4.weight @head : !v4.weight<bf16, 16x192>
  func.func @decode(%t: tensor<1xi32>) -> tensor<1x16xf32> {
    %x = v4.embed %t {weight = @embed} : tensor<1xi32> -> tensor<1x192xf32>
    %kv = v4.rope %x {heads = 1, head_dim = 192, rope = #v4.rope<dim = 128, theta = 1.600000e+05, yarn = false, factor = 1.000000e+00, original = 0, beta_fast = 3.200000e+01, beta_slow = 1.000000e+00>} : tensor<1x192xf32> -> tensor<1x192xf32>
    %c = v4.compressor hca main %x {ratio = 4, head_dim = 192, wkv = @c.wkv, wgate = @c.wgate, ape = @c.ape, norm = @c.norm, rope = #v4.rope<dim = 64, theta = 1.600000e+05, yarn = false, factor = 1.000000e+00, original = 0, beta_fast = 3.200000e+01, beta_slow = 1.000000e+00>, eps = 1.0e-06, layer = 0} : tensor<1x192xf32> -> !v4.compressed<192, 4>
    // expected-error @+1 {{compressed entries of 264 bytes do not match the 328-byte KV rows of the attention}}
    %o = v4.sparse_attention hca %x, %kv entries(%c : !v4.compressed<192, 4>) {heads = 1, head_dim = 192, window = 8, sink = @sink, layer = 0} : tensor<1x192xf32>, tensor<1x192xf32> -> tensor<1x192xf32>
    %l = v4.linear %o {weight = @head} : tensor<1x192xf32> -> tensor<1x16xf32>
    return %l : tensor<1x16xf32>
  }
}

// -----

// An op with no kernel is refused with one error, not a second one from the
// conversion driver.
v4.weight @embed : !v4.weight<bf16, 16x32>
func.func @decode(%t: tensor<1xi32>) -> tensor<1x32xf32> {
  %x = v4.embed %t {weight = @embed} : tensor<1xi32> -> tensor<1x32xf32>
  // expected-error @+1 {{v4-lower-to-kernels: no kernel for 'bk.alloc'}}
  %b = bk.alloc {name = "b", elems_per_token = 32, is_int = false} : !bk.buffer
  return %x : tensor<1x32xf32>
}

// -----

// mhc_expand is part of the embed launch; after anything else it is refused.
v4.weight @embed : !v4.weight<bf16, 16x32>
v4.weight @w : !v4.weight<bf16, 32x32>
func.func @decode(%t: tensor<1xi32>) -> tensor<1x4x32xf32> {
  %x = v4.embed %t {weight = @embed} : tensor<1xi32> -> tensor<1x32xf32>
  %y = v4.linear %x {weight = @w} : tensor<1x32xf32> -> tensor<1x32xf32>
  // expected-error @+1 {{v4-lower-to-kernels: mhc_expand must follow v4.embed}}
  %e = v4.mhc_expand %y {hc = 4} : tensor<1x32xf32> -> tensor<1x4x32xf32>
  return %e : tensor<1x4x32xf32>
}

// -----

// A dynamic entry with v4.max_tokens below the lowering's max-tokens (32)
// takes its own; one at or above it would repeat the max-tokens entry and is
// dropped.
// CHECK-LABEL: func.func @batch
// CHECK-SAME: bk.max_tokens = 4 : i64
// CHECK-NOT: func.func @wide
module {
  v4.weight @embed : !v4.weight<f32, 16x8>
  func.func @batch(%t: tensor<?xi32>) -> tensor<?x8xf32> attributes {v4.max_tokens = 4 : i64} {
    %x = v4.embed %t {weight = @embed} : tensor<?xi32> -> tensor<?x8xf32>
    return %x : tensor<?x8xf32>
  }
  func.func @wide(%t: tensor<?xi32>) -> tensor<?x8xf32> attributes {v4.max_tokens = 32 : i64} {
    %x = v4.embed %t {weight = @embed} : tensor<?xi32> -> tensor<?x8xf32>
    return %x : tensor<?x8xf32>
  }
}
