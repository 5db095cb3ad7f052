//===- PlanMemory.cpp - Arena placement of bk buffers ---------------------===//
//
// A buffer is live from its first to its last launch (in program order);
// buffers whose live ranges overlap must not overlap in the arena. Offsets
// are in elements per token: a call of S tokens places buffer b at
// `offset * S` elements, so one plan serves every S up to max_tokens.
// The entry arguments get slots of their own that nothing else reuses: the
// logits must survive the call, and the token slot is reserved for runtimes
// that stage ids in the arena.
//
//===----------------------------------------------------------------------===//
#include "compiler/Passes.h"

#include "kernel/BkDialect.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"

#include <algorithm>

using namespace mlir;

namespace birkhoff {
#define GEN_PASS_DEF_BKPLANMEMORY
#include "compiler/Passes.h.inc"

namespace {

struct Interval {
  int64_t start, end; // launch indices, inclusive
  int64_t size, offset = -1;
};

/// First fit: the lowest offset that overlaps no placed, simultaneously live
/// interval.
int64_t firstFit(const std::vector<Interval *> &placed, const Interval &iv) {
  std::vector<std::pair<int64_t, int64_t>> busy;
  for (const Interval *p : placed)
    if (p->start <= iv.end && iv.start <= p->end)
      busy.push_back({p->offset, p->offset + p->size});
  std::sort(busy.begin(), busy.end());
  int64_t offset = 0;
  for (auto [lo, hi] : busy) {
    if (offset + iv.size <= lo)
      break;
    offset = std::max(offset, hi);
  }
  return offset;
}

LogicalResult planFunction(func::FuncOp fn) {
  Block &body = fn.getBody().front();
  // Live ranges from the launch order.
  llvm::DenseMap<Value, Interval> ranges;
  int64_t index = 0;
  for (Operation &op : body) {
    auto launch = dyn_cast<bk::LaunchOp>(op);
    if (!launch)
      continue;
    for (Value v : op.getOperands()) {
      auto it = ranges.try_emplace(v, Interval{index, index, 0}).first;
      it->second.end = index;
    }
    ++index;
  }
  const int64_t last = std::max<int64_t>(index - 1, 0);
  std::vector<Interval *> placed;
  // Entry arguments first, live for the whole call.
  std::vector<Interval> args;
  args.reserve(fn.getNumArguments());
  for (unsigned i = 0; i < fn.getNumArguments(); ++i) {
    auto elems = fn.getArgAttrOfType<IntegerAttr>(i, "bk.elems_per_token");
    if (!elems)
      return fn.emitError("bk-plan-memory: argument ")
             << i << " has no bk.elems_per_token";
    args.push_back(Interval{0, last, elems.getInt()});
  }
  for (Interval &a : args) {
    a.offset = firstFit(placed, a);
    placed.push_back(&a);
  }
  // Allocations in order of first use (program order breaks ties).
  std::vector<std::pair<bk::AllocOp, Interval *>> allocs;
  for (bk::AllocOp a : body.getOps<bk::AllocOp>()) {
    auto it = ranges.find(a.getResult());
    if (it == ranges.end()) {
      // Never used: still give it a place so the artifact is complete.
      it = ranges.try_emplace(a.getResult(), Interval{0, 0, 0}).first;
    }
    it->second.size = a.getElemsPerToken();
    allocs.push_back({a, &it->second});
  }
  std::stable_sort(allocs.begin(), allocs.end(), [](auto &x, auto &y) {
    return x.second->start < y.second->start;
  });
  for (auto &[a, iv] : allocs) {
    iv->offset = firstFit(placed, *iv);
    placed.push_back(iv);
  }
  int64_t arena = 0;
  for (const Interval *p : placed)
    arena = std::max(arena, p->offset + p->size);
  Builder b(fn.getContext());
  for (auto &[a, iv] : allocs)
    a.setOffsetAttr(b.getI64IntegerAttr(iv->offset));
  for (unsigned i = 0; i < args.size(); ++i)
    fn.setArgAttr(i, "bk.offset", b.getI64IntegerAttr(args[i].offset));
  fn->setAttr(bk::kArenaAttr, b.getI64IntegerAttr(arena));
  return success();
}

struct BkPlanMemoryPass : impl::BkPlanMemoryBase<BkPlanMemoryPass> {
  void runOnOperation() override {
    for (func::FuncOp fn : getOperation().getOps<func::FuncOp>())
      if (fn->hasAttr(bk::kEntryAttr) && failed(planFunction(fn)))
        return signalPassFailure();
  }
};

} // namespace
} // namespace birkhoff
