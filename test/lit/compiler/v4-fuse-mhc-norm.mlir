// RUN: birkhoff-opt %s --v4-fuse-mhc-norm | FileCheck %s

v4.weight @fn : !v4.weight<f32, 24x64>
v4.weight @base : !v4.weight<f32, 24>
v4.weight @scale : !v4.weight<f32, 3>
v4.weight @hfn : !v4.weight<f32, 4x64>
v4.weight @hbase : !v4.weight<f32, 4>
v4.weight @hscale : !v4.weight<f32, 1>
v4.weight @norm : !v4.weight<f32, 16>

// The norm of u folds into mhc_pre; post and comb keep their uses.
// CHECK-LABEL: func.func @pre
// CHECK: %[[U:.*]], %[[POST:.*]], %[[COMB:.*]] = v4.mhc_pre_norm %{{.*}} {{{.*}}eps = 2.500000e-01{{.*}}norm = @norm
// CHECK-NOT: v4.rms_norm
// CHECK: v4.mhc_post %[[U]], %{{.*}}, %[[POST]], %[[COMB]]
func.func @pre(%x: tensor<?x4x16xf32>) -> tensor<?x4x16xf32> {
  %u, %post, %comb = v4.mhc_pre %x {fn = @fn, base = @base, scale = @scale, sinkhorn_iters = 20, hc_eps = 0.25, norm_eps = 0.25} : tensor<?x4x16xf32> -> (tensor<?x16xf32>, tensor<?x4xf32>, tensor<?x4x4xf32>)
  %n = v4.rms_norm %u {weight = @norm, eps = 0.25} : tensor<?x16xf32> -> tensor<?x16xf32>
  %y = v4.mhc_post %n, %x, %post, %comb : tensor<?x16xf32>, tensor<?x4x16xf32>, tensor<?x4xf32>, tensor<?x4x4xf32> -> tensor<?x4x16xf32>
  return %y : tensor<?x4x16xf32>
}

// u read twice: no fusion.
// CHECK-LABEL: func.func @pre_shared
// CHECK: v4.mhc_pre %
// CHECK: v4.rms_norm
func.func @pre_shared(%x: tensor<?x4x16xf32>) -> (tensor<?x16xf32>, tensor<?x16xf32>) {
  %u, %post, %comb = v4.mhc_pre %x {fn = @fn, base = @base, scale = @scale, sinkhorn_iters = 20, hc_eps = 0.25, norm_eps = 0.25} : tensor<?x4x16xf32> -> (tensor<?x16xf32>, tensor<?x4xf32>, tensor<?x4x4xf32>)
  %n = v4.rms_norm %u {weight = @norm, eps = 0.25} : tensor<?x16xf32> -> tensor<?x16xf32>
  return %n, %u : tensor<?x16xf32>, tensor<?x16xf32>
}

// The head collapse takes the final norm.
// CHECK-LABEL: func.func @head
// CHECK: %[[H:.*]] = v4.mhc_head_norm %{{.*}}norm = @norm
// CHECK-NEXT: return %[[H]]
func.func @head(%x: tensor<?x4x16xf32>) -> tensor<?x16xf32> {
  %h = v4.mhc_head %x {fn = @hfn, base = @hbase, scale = @hscale, hc_eps = 0.25, norm_eps = 0.25} : tensor<?x4x16xf32> -> tensor<?x16xf32>
  %n = v4.rms_norm %h {weight = @norm, eps = 0.25} : tensor<?x16xf32> -> tensor<?x16xf32>
  return %n : tensor<?x16xf32>
}
