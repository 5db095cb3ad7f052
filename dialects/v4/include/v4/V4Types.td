//===- V4Types.td - v4 types ------------------------------*- tablegen -*-===//

#ifndef BIRKHOFF_V4_TYPES_TD
#define BIRKHOFF_V4_TYPES_TD

include "v4/V4Base.td"

class V4_Type<string name, string typeMnemonic, list<Trait> traits = []>
    : TypeDef<V4_Dialect, name, traits> {
  let mnemonic = typeMnemonic;
}

def V4_WeightType : V4_Type<"Weight", "weight"> {
  let summary = "a checkpoint tensor: storage format and logical shape";
  let description = [{
    The type of a `v4.weight` symbol. `format` is how the checkpoint stores
    the tensor; `shape` is its LOGICAL shape: for `fp4e2m1` the inner
    dimension counts unpacked values (two are packed per byte along it).

    - `f8e4m3`: rank 2 `[out, in]`, with a `[ceil(out/128), ceil(in/128)]`
      `e8m0` block-scale weight (128x128 blocks).
    - `fp4e2m1`: rank 2 `[out, in]`, `in` even, with an `[out, ceil(in/32)]`
      `e8m0` scale weight (one scale per 32 inputs of a row).
    - `f32`, `bf16`, `e8m0`, `i64`: plain tensors of any rank >= 1.

    Example: `!v4.weight<f8e4m3, 1024x4096>`, `!v4.weight<f32, 24>`.
  }];
  let parameters = (ins "::birkhoff::v4::WeightFormat":$format,
                        ArrayRefParameter<"int64_t">:$shape);
  let hasCustomAssemblyFormat = 1;
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    /// Number of logical elements (product of the shape).
    int64_t getNumElements() const;
    /// True for formats that hold real numbers a GEMM or norm can consume.
    bool isFloatFormat() const;
    /// True for formats that carry a separate e8m0 scale weight.
    bool needsScale() const;
  }];
}

def V4_CompressedType : V4_Type<"Compressed", "compressed"> {
  let summary = "the growing sequence of compressed KV entries of one layer";
  let description = [{
    Stands for the per-session sequence of compressed entries (each
    `headDim` wide, one per `ratio` tokens) that a `v4.compressor` appends to
    and attention or the indexer read.

    Example: `!v4.compressed<512, 4>`.
  }];
  let parameters = (ins "int64_t":$headDim, "int64_t":$ratio);
  let assemblyFormat = "`<` $headDim `,` $ratio `>`";
  let genVerifyDecl = 1;
}

#endif // BIRKHOFF_V4_TYPES_TD
