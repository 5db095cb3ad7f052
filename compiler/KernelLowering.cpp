//===- KernelLowering.cpp - What the v4 -> bk patterns share --------------===//
#include "compiler/KernelLowering.h"

#include "birkhoff/OfficialNumerics.h"

using namespace mlir;

namespace birkhoff {

int64_t elemsPerToken(Type t) {
  auto ranked = dyn_cast<RankedTensorType>(t);
  if (!ranked || ranked.getRank() < 1)
    return -1;
  int64_t n = 1;
  for (int64_t d : ranked.getShape().drop_front()) {
    if (ShapedType::isDynamic(d))
      return -1;
    n *= d;
  }
  return n;
}

int64_t layerOfWeight(StringRef name) {
  if (!name.consume_front("layers."))
    return -1;
  int64_t layer;
  if (name.consumeInteger(10, layer) || !name.starts_with("."))
    return -1;
  return layer;
}

KernelLowering::KernelLowering(ModuleOp module, v4::Numerics numerics,
                               int64_t maxTokens)
    : module_(module), symbols_(module), numerics_(numerics),
      maxTokens_(maxTokens) {}

void KernelLowering::beginEntry(Value returned, Value logits) {
  returned_ = returned;
  logits_ = logits;
  entries_.clear();
  layer_ = -1;
}

Value KernelLowering::out(OpBuilder &b, Value v, StringRef label) {
  if (v == returned_)
    return logits_;
  std::string name =
      (layer_ >= 0 ? "l" + std::to_string(layer_) + "." : "") + label.str();
  auto ranked = dyn_cast<RankedTensorType>(v.getType());
  bool isInt = ranked && ranked.getElementType().isInteger(32);
  return bk::AllocOp::create(b, v.getLoc(), bk::BufferType::get(b.getContext()),
                             b.getStringAttr(name),
                             b.getI64IntegerAttr(elemsPerToken(v.getType())),
                             b.getBoolAttr(isInt), IntegerAttr());
}

FlatSymbolRefAttr KernelLowering::state(OpBuilder &b, StringRef kind,
                                        int64_t bytesPerRow, int64_t fixedRows,
                                        int64_t tokensPerRow) {
  std::string name = "layers." + std::to_string(layer_) + ".attn." + kind.str();
  if (!symbols_.lookup(name)) {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(module_.getBody());
    auto s = bk::StateOp::create(b, module_.getLoc(), name, layer_, kind,
                                 bytesPerRow, fixedRows, tokensPerRow);
    symbols_.insert(s);
  }
  return FlatSymbolRefAttr::get(b.getContext(), name);
}

bk::StateOp KernelLowering::lookupState(FlatSymbolRefAttr ref) {
  return symbols_.lookup<bk::StateOp>(ref.getValue());
}

FailureOr<v4::WeightOp> KernelLowering::weightOp(Operation *op,
                                                 StringRef name) {
  auto w = symbols_.lookup<v4::WeightOp>(name);
  if (!w)
    return op->emitError("v4-lower-to-kernels: @")
           << name << " is not a v4.weight";
  return w;
}

FailureOr<FlatSymbolRefAttr> KernelLowering::weight(Operation *op,
                                                    FlatSymbolRefAttr ref) {
  if (failed(weightOp(op, ref.getValue())))
    return failure();
  return ref;
}

std::optional<FlatSymbolRefAttr> KernelLowering::entries(Value v) const {
  auto it = entries_.find(v);
  if (it == entries_.end())
    return std::nullopt;
  return it->second;
}

FailureOr<int64_t> KernelLowering::kvRowBytes(Operation *op, int64_t headDim,
                                              int64_t ropeDim) {
  if (!official())
    return headDim * 4;
  Expected<official::KvEntryLayout> layout =
      official::KvEntryLayout::make(size_t(headDim), size_t(ropeDim));
  if (!layout)
    return op->emitError("v4-lower-to-kernels: numerics official stores KV "
                         "entries as FP8 + bf16 RoPE dims, which this model "
                         "cannot: ")
           << layout.status().message();
  return int64_t(layout->entryBytes());
}

FailureOr<int64_t> KernelLowering::keyRowBytes(Operation *op, int64_t dim) {
  if (!official())
    return dim * 4;
  if (dim % int64_t(official::kFp4Block) != 0)
    return op->emitError("v4-lower-to-kernels: numerics official stores "
                         "indexer keys as FP4 in 32-blocks, but "
                         "index_head_dim ")
           << dim << " is not a multiple of 32";
  return int64_t(official::fp4KeyBytes(size_t(dim)));
}

FailureOr<int64_t> KernelLowering::afterRope(v4::RopeOp rope) {
  if (rope.getInverse())
    return 0;
  int64_t mode = 0;
  for (OpOperand &use : rope.getResult().getUses()) {
    Operation *user = use.getOwner();
    int64_t m = 0;
    if (auto attention = dyn_cast<v4::SparseAttentionOp>(user))
      m = &use == &attention.getKvMutable() ? 1 : 0;
    else if (auto indexer = dyn_cast<v4::IndexerTopkOp>(user))
      m = &use == &indexer.getQueryMutable() ? 2 : 0;
    if (m && mode && m != mode)
      return rope.emitError("v4-lower-to-kernels: a rope result cannot be "
                            "both attention kv and indexer queries");
    mode = m ? m : mode;
  }
  return mode;
}

FailureOr<v4::RopeOp> KernelLowering::quantizingRope(Operation *user, Value v,
                                                     StringRef what) {
  auto rope = v.getDefiningOp<v4::RopeOp>();
  if (!rope || rope.getInverse())
    return user->emitError("v4-lower-to-kernels: with numerics official the ")
           << what << " must come from a v4.rope (the launch that quantizes "
           << "it, docs/kernels.md)";
  return rope;
}

} // namespace birkhoff
