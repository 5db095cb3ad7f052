// RUN: birkhoff-opt %s --v4-fuse-router | FileCheck %s

v4.weight @gate : !v4.weight<bf16, 8x16>
v4.weight @bias : !v4.weight<f32, 8>
v4.weight @tid2eid : !v4.weight<i64, 32x2>

// Biased top-k routing fuses; the selection attributes carry over.
// CHECK-LABEL: func.func @biased
// CHECK: %[[I:.*]], %[[W:.*]] = v4.router %{{.*}}, %{{.*}} {bias = @bias, gate = @gate, route_scale = 1.500000e+00 : f64, topk = 2 : i64}
// CHECK-NEXT: return %[[I]], %[[W]]
func.func @biased(%x: tensor<?x16xf32>, %t: tensor<?xi32>) -> (tensor<?x2xi32>, tensor<?x2xf32>) {
  %s = v4.router_scores %x {gate = @gate} : tensor<?x16xf32> -> tensor<?x8xf32>
  %i, %w = v4.route_select %s, %t {topk = 2, route_scale = 1.5, bias = @bias} : tensor<?x8xf32>, tensor<?xi32> -> tensor<?x2xi32>, tensor<?x2xf32>
  return %i, %w : tensor<?x2xi32>, tensor<?x2xf32>
}

// Hash routing fuses the same way.
// CHECK-LABEL: func.func @hashed
// CHECK: v4.router %{{.*}}tid2eid = @tid2eid
func.func @hashed(%x: tensor<?x16xf32>, %t: tensor<?xi32>) -> (tensor<?x2xi32>, tensor<?x2xf32>) {
  %s = v4.router_scores %x {gate = @gate} : tensor<?x16xf32> -> tensor<?x8xf32>
  %i, %w = v4.route_select %s, %t {topk = 2, route_scale = 1.5, tid2eid = @tid2eid} : tensor<?x8xf32>, tensor<?xi32> -> tensor<?x2xi32>, tensor<?x2xf32>
  return %i, %w : tensor<?x2xi32>, tensor<?x2xf32>
}
