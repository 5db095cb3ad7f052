// RUN: birkhoff-opt %s --bk-choose-schedule | FileCheck %s
// RUN: birkhoff-opt %s --bk-choose-schedule | birkhoff-opt | FileCheck %s

bk.weight @wq {dtype = "f8e4m3", shape = array<i64: 256, 512>, scale = @wq.scale}
bk.weight @wq.scale {dtype = "f8e8m0", shape = array<i64: 2, 4>}
bk.weight @w {dtype = "f32", shape = array<i64: 256, 512>}
bk.weight @fn {dtype = "f32", shape = array<i64: 24, 256>}
bk.weight @base {dtype = "f32", shape = array<i64: 24>}
bk.weight @scale {dtype = "f32", shape = array<i64: 3>}
bk.weight @hfn {dtype = "f32", shape = array<i64: 4, 256>}
bk.weight @hbase {dtype = "f32", shape = array<i64: 4>}
bk.weight @hscale {dtype = "f32", shape = array<i64: 1>}
bk.weight @e13 {dtype = "f32", shape = array<i64: 128, 128>}
bk.weight @e2 {dtype = "f32", shape = array<i64: 128, 128>}

// One token a call: the official FP8 linear reads each weight once per token
// with 4 lanes per row (512 in-features are four 128-blocks); mhc_pre splits
// over its mixing rows; mhc_head's 4 rows go to a cluster of 4; the
// reference linear keeps its GEMV; the official moe runs its decode kernels,
// a w2 row per 2 lanes (a block's 128 rows tile dim 128).
// CHECK-LABEL: func.func @decode
// CHECK: bk.launch "linear" {{.*}} params({in_features = 512 : i64, numerics = 1 : i64, out_features = 256 : i64}) schedule(<variant = "decode", warps = 4, lanes = 4>)
// CHECK: bk.launch "linear" {{.*}} params({in_features = 512 : i64, out_features = 256 : i64}) schedule(<variant = "gemv", warps = 8, token_tile = 4, tokens_per_y = 32>)
// CHECK: bk.launch "mhc_pre" {{.*}} schedule(<variant = "split">)
// CHECK: bk.launch "mhc_head" {{.*}} schedule(<variant = "cluster", cluster = 4>)
// CHECK: bk.launch "moe" {{.*}} schedule(<variant = "decode", warps = 8, token_tile = 8, tokens_per_y = 128, lanes = 2, rows = 32, cluster = 1, staged_tokens = 4, staged_hidden = 4>)
func.func @decode(%t: !bk.buffer, %l: !bk.buffer) attributes {bk.entry, bk.max_tokens = 1 : i64} {
  %a = bk.alloc {name = "a", elems_per_token = 512 : i64, is_int = false} : !bk.buffer
  bk.launch "linear" ins(%a) outs(%l) weights([@wq]) states([]) params({in_features = 512 : i64, out_features = 256 : i64, numerics = 1 : i64})
  bk.launch "linear" ins(%a) outs(%l) weights([@w]) states([]) params({in_features = 512 : i64, out_features = 256 : i64})
  bk.launch "mhc_pre" ins(%a) outs(%l, %l, %l) weights([@fn, @base, @scale]) states([]) params({dim = 64 : i64, hc = 4 : i64, iters = 20 : i64, hc_eps = 1.0e-6 : f64, norm_eps = 1.0e-6 : f64})
  bk.launch "mhc_head" ins(%a) outs(%l) weights([@hfn, @hbase, @hscale]) states([]) params({dim = 64 : i64, hc = 4 : i64, hc_eps = 1.0e-6 : f64, norm_eps = 1.0e-6 : f64})
  bk.launch "moe" ins(%a, %t, %t) outs(%l) weights([@e13, @e2, @e13, @e13, @e2, @e13]) states([]) params({dim = 128 : i64, inter = 128 : i64, experts = 1 : i64, topk = 1 : i64, swiglu_limit = 10.0 : f64, shared_clamp = 0 : i64, numerics = 1 : i64})
  return
}

// Sixteen tokens: the official FP8 linear runs on the tensor cores; mhc_pre's
// 24 mixing rows go to a cluster of 8.
// CHECK-LABEL: func.func @chunk
// CHECK: bk.launch "linear" {{.*}} schedule(<variant = "mma">)
// CHECK: bk.launch "mhc_pre" {{.*}} schedule(<variant = "cluster", cluster = 8>)
func.func @chunk(%t: !bk.buffer, %l: !bk.buffer) attributes {bk.entry, bk.max_tokens = 16 : i64} {
  %a = bk.alloc {name = "a", elems_per_token = 512 : i64, is_int = false} : !bk.buffer
  bk.launch "linear" ins(%a) outs(%l) weights([@wq]) states([]) params({in_features = 512 : i64, out_features = 256 : i64, numerics = 1 : i64})
  bk.launch "mhc_pre" ins(%a) outs(%l, %l, %l) weights([@fn, @base, @scale]) states([]) params({dim = 64 : i64, hc = 4 : i64, iters = 20 : i64, hc_eps = 1.0e-6 : f64, norm_eps = 1.0e-6 : f64})
  return
}

// Eight tokens: below the tensor cores' tile, above the decode kernels; the
// GEMV quantizes 8 activation rows at a time (at most 8; 32 KiB would hold
// 64 rows of 512 codes).
// CHECK-LABEL: func.func @small
// CHECK: bk.launch "linear" {{.*}} schedule(<variant = "quantized", warps = 8, tokens_per_y = 32, staged_tokens = 8>)
func.func @small(%t: !bk.buffer, %l: !bk.buffer) attributes {bk.entry, bk.max_tokens = 8 : i64} {
  %a = bk.alloc {name = "a", elems_per_token = 512 : i64, is_int = false} : !bk.buffer
  bk.launch "linear" ins(%a) outs(%l) weights([@wq]) states([]) params({in_features = 512 : i64, out_features = 256 : i64, numerics = 1 : i64})
  return
}

// Many tokens: mhc_pre runs a block per token; kernels with one shape are
// "fixed".
// CHECK-LABEL: func.func @prefill
// CHECK: bk.launch "mhc_pre" {{.*}} schedule(<variant = "block">)
// CHECK: bk.launch "window_write" {{.*}} schedule(<variant = "fixed">)
func.func @prefill(%t: !bk.buffer, %l: !bk.buffer) attributes {bk.entry, bk.max_tokens = 512 : i64} {
  %a = bk.alloc {name = "a", elems_per_token = 512 : i64, is_int = false} : !bk.buffer
  bk.launch "mhc_pre" ins(%a) outs(%l, %l, %l) weights([@fn, @base, @scale]) states([]) params({dim = 64 : i64, hc = 4 : i64, iters = 20 : i64, hc_eps = 1.0e-6 : f64, norm_eps = 1.0e-6 : f64})
  bk.launch "window_write" ins(%a) outs() weights([]) states([@win]) params({window = 8 : i64, head_dim = 64 : i64})
  return
}
bk.state @win {layer = 0 : i64, kind = "window", bytes_per_row = 256 : i64, fixed_rows = 8 : i64, tokens_per_row = 0 : i64}
