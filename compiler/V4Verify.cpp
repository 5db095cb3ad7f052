//===- V4Verify.cpp - Phase-boundary verification of v4 modules -----------===//
//
// Op verifiers check each op against its weights; this pass checks the module
// as a whole at phase boundaries: every symbol an op references is a
// v4.weight, every scale names an e8m0 weight, and both entries exist.
//
//===----------------------------------------------------------------------===//
#include "compiler/Passes.h"

#include "v4/V4Ops.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/IR/Verifier.h"

using namespace mlir;

namespace birkhoff {
#define GEN_PASS_DEF_V4VERIFY
#include "compiler/Passes.h.inc"

namespace {

struct V4VerifyPass : impl::V4VerifyBase<V4VerifyPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    if (failed(verify(module))) {
      signalPassFailure();
      return;
    }
    SymbolTable symbols(module);
    bool ok = true;
    for (StringRef entry : {"prefill", "decode"})
      if (!symbols.lookup<func::FuncOp>(entry)) {
        module.emitError("v4-verify: entry function @")
            << entry << " is missing";
        ok = false;
      }
    module.walk([&](v4::WeightOp w) {
      if (std::optional<StringRef> scale = w.getScale()) {
        auto s = symbols.lookup<v4::WeightOp>(*scale);
        if (!s || s.getType().getFormat() != v4::WeightFormat::E8M0) {
          w.emitError("v4-verify: scale @")
              << *scale << " is not an e8m0 weight";
          ok = false;
        }
      } else if (w.getType().needsScale()) {
        w.emitError("v4-verify: quantized weight has no scale");
        ok = false;
      }
    });
    // Every symbol reference in a function body (weights, moe expert lists)
    // must resolve to a declared weight.
    module.walk([&](func::FuncOp fn) {
      fn.walk([&](Operation *op) {
        op->getAttrDictionary().walk([&](FlatSymbolRefAttr ref) {
          if (!symbols.lookup<v4::WeightOp>(ref.getValue())) {
            op->emitError("v4-verify: ")
                << ref << " is not a declared v4.weight";
            ok = false;
          }
        });
      });
    });
    if (!ok)
      signalPassFailure();
  }
};

} // namespace
} // namespace birkhoff
