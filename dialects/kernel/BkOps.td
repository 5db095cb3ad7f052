//===- BkOps.td - The `bk` kernel-level dialect --------------*- tablegen -*-===//
//
// The kernel-level program: weights and per-session states as module symbols,
// activation buffers as `bk.alloc` values, and one `bk.launch` per kernel call
// of docs/kernels.md. The artifact writer serializes this IR one to one.
//
//===----------------------------------------------------------------------===//
#ifndef BIRKHOFF_BK_OPS_TD
#define BIRKHOFF_BK_OPS_TD

include "mlir/IR/OpBase.td"
include "mlir/IR/AttrTypeBase.td"
include "mlir/IR/SymbolInterfaces.td"

def Bk_Dialect : Dialect {
  let name = "bk";
  let cppNamespace = "::birkhoff::bk";
  let summary = "Kernel launches, buffers, weights and states of a Birkhoff program";
  let description = [{
    The level below `v4`: every operation of the model is one launch of a
    catalogue kernel (lib/birkhoff/KernelCatalog.h, docs/kernels.md) with
    explicit buffers, weights, states and parameters.
  }];
  let useDefaultTypePrinterParser = 1;
  let useDefaultAttributePrinterParser = 1;
}

include "BkAttrs.td"

class Bk_Op<string mnemonic, list<Trait> traits = []>
    : Op<Bk_Dialect, mnemonic, traits>;

def Bk_BufferType : TypeDef<Bk_Dialect, "Buffer"> {
  let mnemonic = "buffer";
  let summary = "a token-major activation buffer";
  let description = [{
    `elems_per_token` 4-byte elements per token of a call, placed in the
    call's arena by the memory plan.
  }];
}

def Bk_WeightOp : Bk_Op<"weight", [Symbol]> {
  let summary = "a weight of the artifact's weight section";
  let description = [{
    A checkpoint tensor as the kernels read it. `dtype` uses DType names
    (lib/birkhoff/DType.h); `shape` is the logical shape (FP4: unpacked
    in-features); `scale` names the e8m0 block-scale weight of an FP8/FP4
    weight.

    Example:
    ```mlir
    bk.weight @"layers.0.attn.wq_a.weight" {dtype = "f8e4m3", shape = [64, 32], scale = @"layers.0.attn.wq_a.scale"}
    ```
  }];
  let arguments = (ins SymbolNameAttr:$sym_name, StrAttr:$dtype,
                       DenseI64ArrayAttr:$shape,
                       OptionalAttr<FlatSymbolRefAttr>:$scale);
  let assemblyFormat = "$sym_name attr-dict";
  let hasVerifier = 1;
}

def Bk_StateOp : Bk_Op<"state", [Symbol]> {
  let summary = "per-session state of one layer";
  let description = [{
    `fixed_rows` rows of `bytes_per_row` bytes plus, when `tokens_per_row` is
    non-zero, one more row per `tokens_per_row` tokens of context.

    Example:
    ```mlir
    bk.state @"layers.1.attn.window" {layer = 1, kind = "window", bytes_per_row = 2048, fixed_rows = 128, tokens_per_row = 0}
    ```
  }];
  let arguments = (ins SymbolNameAttr:$sym_name, I64Attr:$layer, StrAttr:$kind,
                       I64Attr:$bytes_per_row, I64Attr:$fixed_rows,
                       I64Attr:$tokens_per_row);
  let assemblyFormat = "$sym_name attr-dict";
  let hasVerifier = 1;
}

def Bk_AllocOp : Bk_Op<"alloc"> {
  let summary = "an activation buffer of a call";
  let description = [{
    `elems_per_token` 4-byte elements (f32, or i32 when `is_int`) per token.
    The memory plan adds `offset`, in elements per token of the arena.

    Example:
    ```mlir
    %b = bk.alloc {name = "x", elems_per_token = 1024, is_int = false} : !bk.buffer
    ```
  }];
  let arguments = (ins StrAttr:$name, I64Attr:$elems_per_token, BoolAttr:$is_int,
                       OptionalAttr<I64Attr>:$offset);
  let results = (outs Bk_BufferType:$result);
  let assemblyFormat = "attr-dict `:` type($result)";
  let hasVerifier = 1;
}

def Bk_LaunchOp : Bk_Op<"launch", [AttrSizedOperandSegments,
                                   DeclareOpInterfaceMethods<SymbolUserOpInterface>]> {
  let summary = "one call of a catalogue kernel";
  let description = [{
    Runs `kernel` (docs/kernels.md) reading `ins`, writing `outs`, with the
    weights and states named by symbol, in the order the catalogue lists them.
    `schedule` (#bk.schedule) is the CUDA generator's tiling of the launch,
    written by bk-choose-schedule.

    Example:
    ```mlir
    bk.launch "linear" ins(%a) outs(%b) weights([@"w"]) states([]) params({in_features = 256 : i64, out_features = 128 : i64}) {layer = 0 : i64}
    ```
  }];
  let arguments = (ins StrAttr:$kernel, Variadic<Bk_BufferType>:$inputs,
                       Variadic<Bk_BufferType>:$outputs,
                       FlatSymbolRefArrayAttr:$weights,
                       FlatSymbolRefArrayAttr:$states, DictionaryAttr:$params,
                       OptionalAttr<Bk_ScheduleAttr>:$schedule,
                       DefaultValuedAttr<I64Attr, "-1">:$layer);
  let assemblyFormat = [{
    $kernel `ins` `(` $inputs `)` `outs` `(` $outputs `)` `weights` `(` $weights `)`
    `states` `(` $states `)` `params` `(` $params `)` (`schedule` `(` $schedule^ `)`)?
    attr-dict
  }];
  let hasVerifier = 1;
}

#endif // BIRKHOFF_BK_OPS_TD
