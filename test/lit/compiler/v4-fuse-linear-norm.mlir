// RUN: birkhoff-opt %s --v4-fuse-linear-norm | FileCheck %s

v4.weight @w : !v4.weight<bf16, 8x16>
v4.weight @norm : !v4.weight<bf16, 8>

// A GEMM read only by a norm fuses with it.
// CHECK-LABEL: func.func @fuse
// CHECK: %[[R:.*]] = v4.linear_rms_norm %{{.*}} {eps = 2.500000e-01 : f64, norm = @norm, weight = @w}
// CHECK-NEXT: return %[[R]]
func.func @fuse(%x: tensor<?x16xf32>) -> tensor<?x8xf32> {
  %a = v4.linear %x {weight = @w} : tensor<?x16xf32> -> tensor<?x8xf32>
  %n = v4.rms_norm %a {weight = @norm, eps = 0.25} : tensor<?x8xf32> -> tensor<?x8xf32>
  return %n : tensor<?x8xf32>
}

// The GEMM result has a second use: both ops stay.
// CHECK-LABEL: func.func @keep
// CHECK: v4.linear %
// CHECK: v4.rms_norm
func.func @keep(%x: tensor<?x16xf32>) -> (tensor<?x8xf32>, tensor<?x8xf32>) {
  %a = v4.linear %x {weight = @w} : tensor<?x16xf32> -> tensor<?x8xf32>
  %n = v4.rms_norm %a {weight = @norm, eps = 0.25} : tensor<?x8xf32> -> tensor<?x8xf32>
  return %n, %a : tensor<?x8xf32>, tensor<?x8xf32>
}
