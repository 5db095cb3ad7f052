// RUN: birkhoff-opt %s --split-input-file --verify-diagnostics --bk-verify=require-plan | FileCheck %s

bk.weight @w {dtype = "f32", shape = array<i64: 8, 8>}

// A planned entry whose buffers are written before they are read passes.
// CHECK-LABEL: func.func @decode
func.func @decode(%tokens: !bk.buffer, %logits: !bk.buffer) attributes {bk.entry, bk.max_tokens = 1 : i64, bk.arena_elems_per_token = 17 : i64} {
  %a = bk.alloc {name = "a", elems_per_token = 8 : i64, is_int = false, offset = 9 : i64} : !bk.buffer
  bk.launch "embed" ins(%tokens) outs(%a) weights([@w]) states([]) params({dim = 8 : i64, hc = 1 : i64})
  bk.launch "linear" ins(%a) outs(%logits) weights([@w]) states([]) params({in_features = 8 : i64, out_features = 8 : i64})
  return
}

// -----

bk.weight @w {dtype = "f32", shape = array<i64: 8, 8>}

// Reading a buffer before any launch wrote it.
func.func @decode(%tokens: !bk.buffer, %logits: !bk.buffer) attributes {bk.entry, bk.max_tokens = 1 : i64, bk.arena_elems_per_token = 17 : i64} {
  %a = bk.alloc {name = "a", elems_per_token = 8 : i64, is_int = false, offset = 9 : i64} : !bk.buffer
  // expected-error @+1 {{reads a buffer no earlier launch wrote}}
  bk.launch "linear" ins(%a) outs(%logits) weights([@w]) states([]) params({in_features = 8 : i64, out_features = 8 : i64})
  return
}

// -----

bk.weight @w {dtype = "f32", shape = array<i64: 8, 8>}

// An offset past the arena.
func.func @decode(%tokens: !bk.buffer, %logits: !bk.buffer) attributes {bk.entry, bk.max_tokens = 1 : i64, bk.arena_elems_per_token = 10 : i64} {
  // expected-error @+1 {{not placed inside the arena}}
  %a = bk.alloc {name = "a", elems_per_token = 8 : i64, is_int = false, offset = 9 : i64} : !bk.buffer
  bk.launch "embed" ins(%tokens) outs(%a) weights([@w]) states([]) params({dim = 8 : i64, hc = 1 : i64})
  return
}
