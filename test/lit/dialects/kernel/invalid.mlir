// Every bk verifier diagnostic (BK-n, dialects/kernel/README.md).
// RUN: birkhoff-opt %s --split-input-file --verify-diagnostics

// expected-error @+1 {{BK-1: unknown dtype 'f16'}}
bk.weight @w {dtype = "f16", shape = array<i64: 4>}

// -----

// expected-error @+1 {{BK-2: shape dimensions must be positive}}
bk.weight @w {dtype = "f32", shape = array<i64: 4, 0>}

// -----

// expected-error @+1 {{BK-3: f8e4m3 weight needs a scale}}
bk.weight @w {dtype = "f8e4m3", shape = array<i64: 4, 4>}

// -----

// expected-error @+1 {{BK-4: unknown state kind 'cache'}}
bk.state @s {layer = 0 : i64, kind = "cache", bytes_per_row = 4 : i64, fixed_rows = 1 : i64, tokens_per_row = 0 : i64}

// -----

func.func @f() {
  // expected-error @+1 {{BK-5: elems_per_token must be positive}}
  %b = bk.alloc {name = "x", elems_per_token = 0 : i64, is_int = false} : !bk.buffer
  return
}

// -----

func.func @f(%a: !bk.buffer, %b: !bk.buffer) {
  // expected-error @+1 {{BK-6: unknown kernel 'conv'}}
  bk.launch "conv" ins(%a) outs(%b) weights([]) states([]) params({})
  return
}

// -----

func.func @f(%a: !bk.buffer, %b: !bk.buffer) {
  // expected-error @+1 {{BK-7: 'linear' takes 1..1 weights, got 0}}
  bk.launch "linear" ins(%a) outs(%b) weights([]) states([]) params({in_features = 1 : i64, out_features = 1 : i64})
  return
}

// -----

bk.weight @w {dtype = "f32", shape = array<i64: 4, 4>}
func.func @f(%a: !bk.buffer, %b: !bk.buffer) {
  // expected-error @+1 {{BK-8: kernel 'linear': parameter 'out_features' is missing}}
  bk.launch "linear" ins(%a) outs(%b) weights([@w]) states([]) params({in_features = 4 : i64})
  return
}

// -----

bk.weight @w {dtype = "f32", shape = array<i64: 4, 4>}
func.func @f(%a: !bk.buffer, %b: !bk.buffer) {
  // expected-error @+1 {{BK-8: param 'kind' must be an integer or a float}}
  bk.launch "linear" ins(%a) outs(%b) weights([@w]) states([]) params({in_features = 4 : i64, out_features = 4 : i64, kind = "x"})
  return
}

// -----

bk.weight @w {dtype = "f32", shape = array<i64: 4, 4>}
func.func @f(%a: !bk.buffer, %b: !bk.buffer) {
  // expected-error @+1 {{BK-8: kernel 'linear': parameter 'bias' is not a parameter of this kernel}}
  bk.launch "linear" ins(%a) outs(%b) weights([@w]) states([]) params({in_features = 4 : i64, out_features = 4 : i64, bias = 1 : i64})
  return
}

// -----

bk.weight @w {dtype = "f32", shape = array<i64: 4, 4>}
func.func @f(%a: !bk.buffer, %b: !bk.buffer) {
  // expected-error @+1 {{BK-8: param 'in_features' of 'linear' must be an integer attribute}}
  bk.launch "linear" ins(%a) outs(%b) weights([@w]) states([]) params({in_features = 4.5 : f64, out_features = 4 : i64})
  return
}

// -----

bk.weight @w {dtype = "f32", shape = array<i64: 4, 4>}
func.func @f(%a: !bk.buffer, %b: !bk.buffer) {
  // expected-error @+1 {{BK-8: kernel 'linear': parameter 'round_output' = 2 is not 0 or 1}}
  bk.launch "linear" ins(%a) outs(%b) weights([@w]) states([]) params({in_features = 4 : i64, out_features = 4 : i64, numerics = 1 : i64, round_output = 2 : i64})
  return
}

// -----

bk.weight @w {dtype = "f32", shape = array<i64: 4, 4>}
func.func @f(%a: !bk.buffer, %b: !bk.buffer) {
  // expected-error @+1 {{BK-8: kernel 'linear': parameter 'round_output' = 1 is official-only (needs numerics = 1)}}
  bk.launch "linear" ins(%a) outs(%b) weights([@w]) states([]) params({in_features = 4 : i64, out_features = 4 : i64, round_output = 1 : i64})
  return
}

// -----

func.func @f(%a: !bk.buffer, %b: !bk.buffer) {
  // expected-error @+1 {{BK-9: @nope is not a bk.weight}}
  bk.launch "linear" ins(%a) outs(%b) weights([@nope]) states([]) params({in_features = 4 : i64, out_features = 4 : i64})
  return
}
