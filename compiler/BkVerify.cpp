//===- BkVerify.cpp - Phase-boundary verification of bk modules -----------===//
//
// After lowering only bk ops (and func) remain; every buffer an op reads was
// written by an earlier launch (or is an entry argument); after planning,
// every buffer has an offset inside the arena.
//
//===----------------------------------------------------------------------===//
#include "compiler/Passes.h"

#include "kernel/BkDialect.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Verifier.h"
#include "llvm/ADT/DenseSet.h"

using namespace mlir;

namespace birkhoff {
#define GEN_PASS_DEF_BKVERIFY
#include "compiler/Passes.h.inc"

namespace {

struct BkVerifyPass : impl::BkVerifyBase<BkVerifyPass> {
  using Base::Base;
  void runOnOperation() override {
    ModuleOp module = getOperation();
    if (failed(verify(module)))
      return signalPassFailure();
    bool ok = true;
    for (Operation &op : module.getBody()->getOperations())
      if (!isa<bk::WeightOp, bk::StateOp, func::FuncOp>(op)) {
        op.emitError("bk-verify: unexpected op at module level");
        ok = false;
      }
    for (func::FuncOp fn : module.getOps<func::FuncOp>()) {
      if (!fn->hasAttr(bk::kEntryAttr)) {
        fn.emitError("bk-verify: function is not a bk entry");
        ok = false;
        continue;
      }
      llvm::DenseSet<Value> written(fn.getArguments().begin(),
                                    fn.getArguments().end());
      auto arena = fn->getAttrOfType<IntegerAttr>(bk::kArenaAttr);
      for (Operation &op : fn.getBody().front()) {
        if (auto alloc = dyn_cast<bk::AllocOp>(op)) {
          if (requirePlan && (!alloc.getOffset() || !arena ||
                              *alloc.getOffset() + alloc.getElemsPerToken() >
                                  arena.getInt())) {
            alloc.emitError("bk-verify: buffer is not placed inside the arena");
            ok = false;
          }
          continue;
        }
        if (auto launch = dyn_cast<bk::LaunchOp>(op)) {
          for (Value v : launch.getInputs())
            if (!written.contains(v)) {
              launch.emitError(
                  "bk-verify: reads a buffer no earlier launch wrote");
              ok = false;
            }
          written.insert(launch.getOutputs().begin(),
                         launch.getOutputs().end());
          continue;
        }
        if (!isa<func::ReturnOp>(op)) {
          op.emitError("bk-verify: only bk ops may remain in an entry");
          ok = false;
        }
      }
    }
    if (!ok)
      signalPassFailure();
  }
};

} // namespace
} // namespace birkhoff
