//===- V4Base.td - v4 dialect, enums and shared constraints -*- tablegen -*-===//
//
// The dialect definition plus what every op file needs: enums, numbered type and
// attribute constraints. Check numbers ([V4-n]) refer to docs/dialect.md.
//
//===----------------------------------------------------------------------===//

#ifndef BIRKHOFF_V4_BASE_TD
#define BIRKHOFF_V4_BASE_TD

include "mlir/IR/OpBase.td"
include "mlir/IR/AttrTypeBase.td"
include "mlir/IR/EnumAttr.td"

def V4_Dialect : Dialect {
  let name = "v4";
  let cppNamespace = "::birkhoff::v4";
  let summary = "Model-level IR for DeepSeek-V4: one op per model concept.";
  let description = [{
    Value-semantics ops over ranked tensors with a leading token dimension.
    Weights are module-level `v4.weight` symbols that name checkpoint tensors;
    ops refer to them with flat symbol references and check shapes and
    formats against them in `verifySymbolUses`.
  }];
  let useDefaultTypePrinterParser = 1;
  let useDefaultAttributePrinterParser = 1;
  let hasOperationAttrVerify = 1;
  // The module attributes [V4-21]: `v4.numerics`, the profile the lowering
  // resolves into kernel variants, and `v4.config`, the model config; on an
  // entry function whose token dimension is dynamic, `v4.max_tokens`, its
  // tokens per call (else the lowering's max_tokens).
  let discardableAttrs = (ins "::birkhoff::v4::NumericsAttr":$numerics,
                              "::mlir::DictionaryAttr":$config,
                              "::mlir::IntegerAttr":$max_tokens);
  let extraClassDeclaration = [{
    void registerTypes();
    void registerAttributes();
  }];
}

//===----------------------------------------------------------------------===//
// Enums
//===----------------------------------------------------------------------===//

def V4_WeightFormat : I32EnumAttr<"WeightFormat",
    "storage format of a checkpoint tensor", [
      I32EnumAttrCase<"F32", 0, "f32">,
      I32EnumAttrCase<"BF16", 1, "bf16">,
      I32EnumAttrCase<"F8E4M3", 2, "f8e4m3">,
      I32EnumAttrCase<"E8M0", 3, "e8m0">,
      I32EnumAttrCase<"FP4E2M1", 4, "fp4e2m1">,
      I32EnumAttrCase<"I64", 5, "i64">]> {
  let cppNamespace = "::birkhoff::v4";
  let genSpecializedAttr = 0;
}

def V4_CompressorKind : I32EnumAttr<"CompressorKind",
    "KV compressor kind", [
      I32EnumAttrCase<"CSA", 0, "csa">,
      I32EnumAttrCase<"HCA", 1, "hca">]> {
  let cppNamespace = "::birkhoff::v4";
  let genSpecializedAttr = 0;
}

def V4_CompressorRole : I32EnumAttr<"CompressorRole",
    "which state a compressor feeds", [
      I32EnumAttrCase<"Main", 0, "main">,
      I32EnumAttrCase<"Indexer", 1, "indexer">]> {
  let cppNamespace = "::birkhoff::v4";
  let genSpecializedAttr = 0;
}

def V4_AttentionKind : I32EnumAttr<"AttentionKind",
    "attention layer kind", [
      I32EnumAttrCase<"Window", 0, "window">,
      I32EnumAttrCase<"CSA", 1, "csa">,
      I32EnumAttrCase<"HCA", 2, "hca">]> {
  let cppNamespace = "::birkhoff::v4";
  let genSpecializedAttr = 0;
}

def V4_Numerics : I32EnumAttr<"Numerics",
    "numerics profile of a compiled model", [
      I32EnumAttrCase<"Reference", 0, "reference">,
      I32EnumAttrCase<"Official", 1, "official">]> {
  let cppNamespace = "::birkhoff::v4";
  let genSpecializedAttr = 0;
}

//===----------------------------------------------------------------------===//
// Numbered attribute constraints ([V4-3])
//===----------------------------------------------------------------------===//

def V4_IntPositive : AttrConstraint<
    CPred<"::llvm::cast<::mlir::IntegerAttr>($_self).getInt() > 0">,
    "whose value is positive [V4-3]">;
def V4_IntNonNegative : AttrConstraint<
    CPred<"::llvm::cast<::mlir::IntegerAttr>($_self).getInt() >= 0">,
    "whose value is non-negative [V4-3]">;
def V4_FloatPositive : AttrConstraint<
    CPred<"::llvm::cast<::mlir::FloatAttr>($_self).getValueAsDouble() > 0.0">,
    "whose value is positive [V4-3]">;

def V4_PosI64 : ConfinedAttr<I64Attr, [V4_IntPositive]>;
def V4_NonNegI64 : ConfinedAttr<I64Attr, [V4_IntNonNegative]>;
def V4_PosF64 : ConfinedAttr<F64Attr, [V4_FloatPositive]>;

#endif // BIRKHOFF_V4_BASE_TD
