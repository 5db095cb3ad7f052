// Round trip of the bk ops through the custom and the generic form.
// RUN: birkhoff-opt %s | birkhoff-opt | FileCheck %s
// RUN: birkhoff-opt %s --mlir-print-op-generic | birkhoff-opt | FileCheck %s

// CHECK: bk.weight @w {dtype = "f8e4m3", scale = @w.scale, shape = array<i64: 128, 64>}
// CHECK: bk.weight @w.scale {dtype = "f8e8m0", shape = array<i64: 1, 1>}
// CHECK: bk.state @layers.0.attn.window {bytes_per_row = 256 : i64, fixed_rows = 8 : i64, kind = "window", layer = 0 : i64, tokens_per_row = 0 : i64}
bk.weight @w {dtype = "f8e4m3", shape = array<i64: 128, 64>, scale = @w.scale}
bk.weight @w.scale {dtype = "f8e8m0", shape = array<i64: 1, 1>}
bk.weight @sink {dtype = "f32", shape = array<i64: 2>}
bk.state @layers.0.attn.window {layer = 0 : i64, kind = "window", bytes_per_row = 256 : i64, fixed_rows = 8 : i64, tokens_per_row = 0 : i64}

// CHECK-LABEL: func.func @decode
// CHECK: %[[B:.*]] = bk.alloc {elems_per_token = 64 : i64, is_int = false, name = "x", offset = 0 : i64} : !bk.buffer
// CHECK: bk.launch "linear" ins(%[[B]]) outs(%{{.*}}) weights([@w]) states([]) params({in_features = 64 : i64, out_features = 128 : i64}) schedule(<variant = "gemv", warps = 8, token_tile = 4, tokens_per_y = 32>) {layer = 0 : i64}
// CHECK: bk.launch "window_write" ins(%[[B]]) outs() weights([]) states([@layers.0.attn.window]) params({head_dim = 64 : i64, window = 8 : i64})
func.func @decode(%t: !bk.buffer, %l: !bk.buffer) attributes {bk.entry, bk.max_tokens = 1 : i64} {
  %b = bk.alloc {name = "x", elems_per_token = 64 : i64, is_int = false, offset = 0 : i64} : !bk.buffer
  bk.launch "linear" ins(%b) outs(%l) weights([@w]) states([]) params({in_features = 64 : i64, out_features = 128 : i64}) schedule(<variant = "gemv", warps = 8, token_tile = 4, tokens_per_y = 32>) {layer = 0 : i64}
  bk.launch "window_write" ins(%b) outs() weights([]) states([@layers.0.attn.window]) params({window = 8 : i64, head_dim = 64 : i64})
  return
}
