// RUN: birkhoff-opt %s --bk-plan-memory | FileCheck %s

bk.weight @w {dtype = "f32", shape = array<i64: 8, 8>}

// Entry arguments get their own slots (tokens 0, logits 1..9); a buffer whose
// last use has passed is reused, one still live is not.
// CHECK-LABEL: func.func @prefill
// CHECK-SAME: bk.offset = 0
// CHECK-SAME: bk.offset = 1
// CHECK-SAME: bk.arena_elems_per_token = 25
// CHECK: %[[A:.*]] = bk.alloc {elems_per_token = 8 : i64, is_int = false, name = "a", offset = 9 : i64}
// CHECK: %[[B:.*]] = bk.alloc {elems_per_token = 8 : i64, is_int = false, name = "b", offset = 17 : i64}
// CHECK: %[[C:.*]] = bk.alloc {elems_per_token = 8 : i64, is_int = false, name = "c", offset = 9 : i64}
func.func @prefill(%tokens: !bk.buffer {bk.elems_per_token = 1 : i64}, %logits: !bk.buffer {bk.elems_per_token = 8 : i64}) attributes {bk.entry, bk.max_tokens = 16 : i64} {
  %a = bk.alloc {name = "a", elems_per_token = 8 : i64, is_int = false} : !bk.buffer
  bk.launch "embed" ins(%tokens) outs(%a) weights([@w]) states([]) params({dim = 8 : i64, hc = 1 : i64})
  %b = bk.alloc {name = "b", elems_per_token = 8 : i64, is_int = false} : !bk.buffer
  bk.launch "linear" ins(%a) outs(%b) weights([@w]) states([]) params({in_features = 8 : i64, out_features = 8 : i64})
  %c = bk.alloc {name = "c", elems_per_token = 8 : i64, is_int = false} : !bk.buffer
  bk.launch "linear" ins(%b) outs(%c) weights([@w]) states([]) params({in_features = 8 : i64, out_features = 8 : i64})
  bk.launch "linear" ins(%c) outs(%logits) weights([@w]) states([]) params({in_features = 8 : i64, out_features = 8 : i64})
  return
}
