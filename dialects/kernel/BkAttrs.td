//===- BkAttrs.td - Attributes of the `bk` dialect -----------*- tablegen -*-===//
#ifndef BIRKHOFF_BK_ATTRS_TD
#define BIRKHOFF_BK_ATTRS_TD

include "mlir/IR/AttrTypeBase.td"

def Bk_ScheduleAttr : AttrDef<Bk_Dialect, "Schedule"> {
  let mnemonic = "schedule";
  let summary = "how a launch's CUDA kernel is tiled and split";
  let description = [{
    The choices bk-choose-schedule makes for one launch and the CUDA
    generator reads (compiler/cuda/Schedule.h): the kernel family's
    `variant` and its integer knobs. A knob the variant does not use is 0
    and is not printed.

    Example:
    ```mlir
    #bk.schedule<variant = "decode", warps = 4, lanes = 32>
    ```
  }];
  let parameters = (ins
    StringRefParameter<"the kernel family's variant">:$variant,
    DefaultValuedParameter<"int64_t", "0", "warps per block">:$warps,
    DefaultValuedParameter<"int64_t", "0", "tokens a warp holds in registers">:$token_tile,
    DefaultValuedParameter<"int64_t", "0", "tokens per grid y-slice">:$tokens_per_y,
    DefaultValuedParameter<"int64_t", "0", "lanes per weight row">:$lanes,
    DefaultValuedParameter<"int64_t", "0", "weight rows per block">:$rows,
    DefaultValuedParameter<"int64_t", "0", "blocks per cluster">:$cluster,
    DefaultValuedParameter<"int64_t", "0", "clusters per unit of work">:$split,
    DefaultValuedParameter<"int64_t", "0", "activation rows staged at once">:$staged_tokens,
    DefaultValuedParameter<"int64_t", "0", "hidden rows staged at once">:$staged_hidden,
    DefaultValuedParameter<"int64_t", "0", "weight chunks a lane loads before decoding the first">:$prefetch
  );
  let assemblyFormat = "`<` struct(params) `>`";
}

#endif // BIRKHOFF_BK_ATTRS_TD
