//===- Passes.td - Birkhoff compiler passes ------------------*- tablegen -*-===//
//
// One pass per .cpp; each has a lit test test/lit/compiler/<pass-name>.mlir.
// Pipelines (Pipelines.cpp) chain them: model (verify, canonicalize, fuse),
// lowering (v4 -> bk, memory plan, verify).
//
//===----------------------------------------------------------------------===//
#ifndef BIRKHOFF_COMPILER_PASSES_TD
#define BIRKHOFF_COMPILER_PASSES_TD

include "mlir/Pass/PassBase.td"

def V4Verify : Pass<"v4-verify", "mlir::ModuleOp"> {
  let summary = "Phase-boundary check of a v4 module";
  let description = [{
    Runs the op verifiers and symbol-use checks, then checks what no single
    op can: every referenced weight is a `v4.weight`, every `scale` names an
    `e8m0` weight, no weight is declared twice under two names of one tensor,
    and the entry functions `@prefill` and `@decode` exist.
  }];
}

def V4FuseMhcNorm : Pass<"v4-fuse-mhc-norm", "mlir::ModuleOp"> {
  let summary = "mhc_pre + rms_norm(u) -> mhc_pre_norm; mhc_head + rms_norm -> mhc_head_norm";
  let description = [{
    Fuses the RMSNorm that consumes the mHC pre-mix output `u` (when `u` has no
    other use) into the mHC op, so one kernel produces the normed input.
  }];
}

def V4FuseRouter : Pass<"v4-fuse-router", "mlir::ModuleOp"> {
  let summary = "router_scores + route_select -> router";
  let description = [{
    Fuses scoring and expert selection when the scores have no other use.
  }];
}

def V4FuseLinearNorm : Pass<"v4-fuse-linear-norm", "mlir::ModuleOp"> {
  let summary = "linear + rms_norm -> linear_rms_norm";
  let description = [{
    Fuses an RMSNorm into the GEMM that produces its input (q_norm after wq_a,
    kv_norm after wkv) when the GEMM result has no other use.
  }];
}

def V4FuseQNormRope : Pass<"v4-fuse-qnorm-rope", "mlir::ModuleOp"> {
  let summary = "head_rms_norm + rope -> head_rms_norm_rope";
  let description = [{
    Fuses the per-head query normalization with the (forward) RoPE that
    follows it when the normalized query has no other use.
  }];
}

def V4LowerToKernels : Pass<"v4-lower-to-kernels", "mlir::ModuleOp"> {
  let summary = "Lower v4 ops to bk kernel launches";
  let description = [{
    Each v4 op becomes one `bk.launch` of docs/kernels.md (embed +
    mhc_expand become one `embed`; sparse_attention is followed by a
    `window_write` of its kv). Weights become `bk.weight`, the per-layer
    session state `bk.state`, every value a `bk.alloc`. Entry functions take
    the token ids and the logits buffer as arguments.
  }];
  let dependentDialects = ["::birkhoff::bk::BkDialect", "::mlir::func::FuncDialect"];
  let options = [
    Option<"maxTokens", "max-tokens", "int64_t", "512",
           "tokens per call the @prefill entry accepts">,
  ];
}

def BkPlanMemory : Pass<"bk-plan-memory", "mlir::ModuleOp"> {
  let summary = "Place every bk.alloc in the call arena";
  let description = [{
    Liveness over the launch order, then first-fit offsets in elements per
    token. Sets `offset` on each alloc, `bk.offset` on the entry arguments
    (the logits buffer gets a slot of its own) and
    `bk.arena_elems_per_token` on each entry function.
  }];
}

def BkVerify : Pass<"bk-verify", "mlir::ModuleOp"> {
  let summary = "Phase-boundary check of a bk module";
  let description = [{
    Checks that only bk/func ops remain, every alloc is written before it is
    read, and (after planning) every buffer has an offset inside the arena.
  }];
  let options = [
    Option<"requirePlan", "require-plan", "bool", "false",
           "fail when a buffer has no offset">,
  ];
}

def BkChooseSchedule : Pass<"bk-choose-schedule", "mlir::ModuleOp"> {
  let options = [
    Option<"splitDecodeAttention", "split-decode-attention", "bool", "false",
           "official one-token entries run the split attention "
           "(cuda::ScheduleOptions)">,
  ];
  let summary = "Write every launch's CUDA schedule (#bk.schedule)";
  let description = [{
    The tile sizes, split factors, cluster sizes and variant of every
    bk.launch of the entry functions, chosen from its params, its entry's
    bk.max_tokens and its weights' formats (compiler/cuda/Schedule.h). The
    CUDA generator only reads them; the cuda pipeline runs this pass before
    code generation.
  }];
}

#endif // BIRKHOFF_COMPILER_PASSES_TD
