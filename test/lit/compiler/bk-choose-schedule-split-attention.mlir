// RUN: birkhoff-opt %s --bk-choose-schedule | FileCheck %s --check-prefix=DEFAULT
// RUN: birkhoff-opt %s --bk-choose-schedule=split-decode-attention=1 | FileCheck %s --check-prefix=SPLIT

// The official decode attention keeps a block per head (bitwise the host
// kernel) unless the compile asks for the split one
// (`birkhoff compile --split-decode-attention`); entries of more than one
// token keep it either way.

bk.weight @sink {dtype = "f32", shape = array<i64: 64>}
bk.state @window {layer = 0 : i64, kind = "window", bytes_per_row = 584 : i64, fixed_rows = 128 : i64, tokens_per_row = 0 : i64}
bk.state @entries {layer = 0 : i64, kind = "kv_entries", bytes_per_row = 584 : i64, fixed_rows = 0 : i64, tokens_per_row = 4 : i64}

// DEFAULT-LABEL: func.func @decode
// DEFAULT: bk.launch "sparse_attention" {{.*}} schedule(<variant = "fixed">)
// SPLIT-LABEL: func.func @decode
// SPLIT: bk.launch "sparse_attention" {{.*}} schedule(<variant = "split", rows = 4, split = 16>)
func.func @decode(%t: !bk.buffer, %l: !bk.buffer) attributes {bk.entry, bk.max_tokens = 1 : i64} {
  bk.launch "sparse_attention" ins(%t, %t, %t) outs(%l) weights([@sink]) states([@window, @entries]) params({head_dim = 512 : i64, heads = 64 : i64, kv_format = 1 : i64, mode = 1 : i64, numerics = 1 : i64, ratio = 4 : i64, rope_dim = 64 : i64, topk = 512 : i64, window = 128 : i64})
  return
}

// DEFAULT-LABEL: func.func @prefill
// DEFAULT: bk.launch "sparse_attention" {{.*}} schedule(<variant = "fixed">)
// SPLIT-LABEL: func.func @prefill
// SPLIT: bk.launch "sparse_attention" {{.*}} schedule(<variant = "fixed">)
func.func @prefill(%t: !bk.buffer, %l: !bk.buffer) attributes {bk.entry, bk.max_tokens = 512 : i64} {
  bk.launch "sparse_attention" ins(%t, %t, %t) outs(%l) weights([@sink]) states([@window, @entries]) params({head_dim = 512 : i64, heads = 64 : i64, kv_format = 1 : i64, mode = 1 : i64, numerics = 1 : i64, ratio = 4 : i64, rope_dim = 64 : i64, topk = 512 : i64, window = 128 : i64})
  return
}
