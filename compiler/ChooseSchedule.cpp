//===- ChooseSchedule.cpp - Every launch's CUDA schedule ------------------===//
//
// Writes #bk.schedule on every bk.launch of the entry functions: the choices
// of cuda::chooseSchedule (compiler/cuda/Schedule.cpp) for the launch's
// params, its entry's bk.max_tokens and its weights' formats. The CUDA
// generator reads them and decides nothing of its own.
//
//===----------------------------------------------------------------------===//
#include "compiler/LaunchSpec.h"
#include "compiler/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"

using namespace mlir;

namespace birkhoff {

#define GEN_PASS_DEF_BKCHOOSESCHEDULE
#include "compiler/Passes.h.inc"

namespace {

struct BkChooseSchedulePass : impl::BkChooseScheduleBase<BkChooseSchedulePass> {
  using BkChooseScheduleBase::BkChooseScheduleBase;
  void runOnOperation() override {
    cuda::ScheduleOptions options;
    options.splitDecodeAttention = splitDecodeAttention;
    ModuleOp module = getOperation();
    SymbolTable symbols(module);
    for (func::FuncOp fn : module.getOps<func::FuncOp>()) {
      if (!fn->hasAttr(bk::kEntryAttr))
        continue;
      for (bk::LaunchOp l : fn.getBody().front().getOps<bk::LaunchOp>()) {
        Expected<cuda::CudaLaunchSpec> spec = cudaLaunchSpec(l, symbols);
        if (!spec) {
          l.emitError("bk-choose-schedule: ") << spec.status().toString();
          return signalPassFailure();
        }
        l.setScheduleAttr(
            scheduleAttr(&getContext(), cuda::chooseSchedule(*spec, options)));
      }
    }
  }
};

} // namespace
} // namespace birkhoff
