// RUN: birkhoff-opt %s --split-input-file --verify-diagnostics --v4-verify | FileCheck %s

// A module with both entries and declared weights passes unchanged.
// CHECK-LABEL: func.func @prefill
v4.weight @w : !v4.weight<bf16, 8x16>
func.func @prefill(%x: tensor<?x16xf32>) -> tensor<?x8xf32> {
  %a = v4.linear %x {weight = @w} : tensor<?x16xf32> -> tensor<?x8xf32>
  return %a : tensor<?x8xf32>
}
func.func @decode(%x: tensor<1x16xf32>) -> tensor<1x8xf32> {
  %a = v4.linear %x {weight = @w} : tensor<1x16xf32> -> tensor<1x8xf32>
  return %a : tensor<1x8xf32>
}

// -----

// A missing entry point is reported at the module.
// expected-error @+1 {{entry function @decode is missing}}
module {
  v4.weight @w : !v4.weight<bf16, 8x16>
  func.func @prefill(%x: tensor<?x16xf32>) -> tensor<?x8xf32> {
    %a = v4.linear %x {weight = @w} : tensor<?x16xf32> -> tensor<?x8xf32>
    return %a : tensor<?x8xf32>
  }
}
