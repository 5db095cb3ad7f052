// RUN: birkhoff-opt %s --v4-fuse-qnorm-rope | FileCheck %s

// Per-head norm then forward rope: one op.
// CHECK-LABEL: func.func @fuse
// CHECK: %[[Q:.*]] = v4.head_rms_norm_rope %{{.*}} {eps = 2.500000e-01 : f64, head_dim = 16 : i64, heads = 2 : i64, rope = #v4.rope<dim = 8
// CHECK-NEXT: return %[[Q]]
func.func @fuse(%q: tensor<?x32xf32>) -> tensor<?x32xf32> {
  %n = v4.head_rms_norm %q {heads = 2, eps = 0.25} : tensor<?x32xf32> -> tensor<?x32xf32>
  %r = v4.rope %n {heads = 2, head_dim = 16, rope = #v4.rope<dim = 8, theta = 1.000000e+04, yarn = false, factor = 1.000000e+00, original = 0, beta_fast = 3.200000e+01, beta_slow = 1.000000e+00>} : tensor<?x32xf32> -> tensor<?x32xf32>
  return %r : tensor<?x32xf32>
}

// The inverse rotation is not fused.
// CHECK-LABEL: func.func @inverse
// CHECK: v4.head_rms_norm %
// CHECK: v4.rope
func.func @inverse(%q: tensor<?x32xf32>) -> tensor<?x32xf32> {
  %n = v4.head_rms_norm %q {heads = 2, eps = 0.25} : tensor<?x32xf32> -> tensor<?x32xf32>
  %r = v4.rope %n {heads = 2, head_dim = 16, inverse, rope = #v4.rope<dim = 8, theta = 1.000000e+04, yarn = false, factor = 1.000000e+00, original = 0, beta_fast = 3.200000e+01, beta_slow = 1.000000e+00>} : tensor<?x32xf32> -> tensor<?x32xf32>
  return %r : tensor<?x32xf32>
}
