// RUN: birkhoff-opt %s --v4-lower-to-kernels=max-tokens=32 | FileCheck %s

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
