//===- V4Ops.cpp - v4 op verifiers and builders ---------------------------===//
//
// Local checks (verify) and checks against the weight symbols
// (verifySymbolUses). Every diagnostic carries its check number [V4-n] from
// docs/dialect.md, and each has an expected-error case in
// test/lit/dialects/v4/invalid.mlir.
//
//===----------------------------------------------------------------------===//

#include "v4/V4Ops.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/OpImplementation.h"
#include "llvm/ADT/STLExtras.h"

using namespace mlir;
using namespace birkhoff::v4;

//===----------------------------------------------------------------------===//
// custom<EnumKeyword>: enum attributes printed as a bare keyword (`csa`)
//===----------------------------------------------------------------------===//

template <typename AttrT>
static ParseResult parseEnumKeyword(OpAsmParser &parser, AttrT &attr) {
  using EnumT = decltype(std::declval<AttrT>().getValue());
  SMLoc loc = parser.getCurrentLocation();
  StringRef keyword;
  if (parser.parseKeyword(&keyword))
    return failure();
  std::optional<EnumT> value = symbolizeEnum<EnumT>(keyword);
  if (!value)
    return parser.emitError(loc, "[V4-2] unknown ")
           << AttrT::getMnemonic() << " '" << keyword << "'";
  attr = AttrT::get(parser.getContext(), *value);
  return success();
}

template <typename AttrT>
static void printEnumKeyword(OpAsmPrinter &printer, Operation *, AttrT attr) {
  printer << stringifyEnum(attr.getValue());
}

#define GET_OP_CLASSES
#include "v4/V4Ops.cpp.inc"

namespace {

constexpr int64_t kAny = ShapedType::kDynamic;

//===----------------------------------------------------------------------===//
// Shape helpers
//===----------------------------------------------------------------------===//

int64_t dimOf(Type type, unsigned i) {
  return cast<RankedTensorType>(type).getDimSize(i);
}
int64_t dimOf(Value value, unsigned i) { return dimOf(value.getType(), i); }

/// Dynamic sizes match anything: they are checked once they become static.
bool compatible(int64_t a, int64_t b) {
  return a == kAny || b == kAny || a == b;
}

bool compatible(ArrayRef<int64_t> actual, ArrayRef<int64_t> expected) {
  if (actual.size() != expected.size())
    return false;
  for (auto [a, e] : llvm::zip_equal(actual, expected))
    if (!compatible(a, e))
      return false;
  return true;
}

/// Product that stays dynamic if any factor is.
int64_t mul(int64_t a, int64_t b) {
  return a == kAny || b == kAny ? kAny : a * b;
}

std::string shapeStr(ArrayRef<int64_t> shape) {
  std::string s = "[";
  llvm::raw_string_ostream os(s);
  llvm::interleave(
      shape, os,
      [&](int64_t d) {
        if (d == kAny)
          os << '?';
        else
          os << d;
      },
      ", ");
  os << ']';
  return s;
}

//===----------------------------------------------------------------------===//
// Weight checks [V4-4] [V4-5] [V4-6]
//===----------------------------------------------------------------------===//

/// Bit sets over WeightFormat (enum values are 0..5).
using FormatSet = unsigned;
constexpr FormatSet bit(WeightFormat f) {
  return 1u << static_cast<unsigned>(f);
}
constexpr FormatSet kF32Only = bit(WeightFormat::F32);
constexpr FormatSet kDense = bit(WeightFormat::F32) | bit(WeightFormat::BF16);
constexpr FormatSet kAnyFloat =
    kDense | bit(WeightFormat::F8E4M3) | bit(WeightFormat::FP4E2M1);
constexpr FormatSet kI64Only = bit(WeightFormat::I64);

std::string formatsStr(FormatSet set) {
  std::string s;
  for (unsigned i = 0; i <= static_cast<unsigned>(WeightFormat::I64); ++i) {
    if (!(set & (1u << i)))
      continue;
    if (!s.empty())
      s += ", ";
    s += stringifyWeightFormat(static_cast<WeightFormat>(i)).str();
  }
  return s;
}

/// Resolves `ref` to a v4.weight in the nearest symbol table [V4-4] and
/// checks its format [V4-5] and logical shape [V4-6] (kAny = any size).
FailureOr<WeightType> checkWeight(Operation *op, SymbolTableCollection &tables,
                                  FlatSymbolRefAttr ref, StringRef role,
                                  ArrayRef<int64_t> shape, FormatSet formats) {
  auto weight = tables.lookupNearestSymbolFrom<WeightOp>(op, ref);
  if (!weight)
    return op->emitOpError("[V4-4] '")
           << role << "' symbol " << ref << " does not name a v4.weight";
  WeightType type = weight.getType();
  if (!(bit(type.getFormat()) & formats))
    return op->emitOpError("[V4-5] '")
           << role << "' weight " << ref << " has format "
           << stringifyWeightFormat(type.getFormat()) << ", expected one of "
           << formatsStr(formats);
  if (!compatible(type.getShape(), shape))
    return op->emitOpError("[V4-6] '")
           << role << "' weight " << ref << " has shape "
           << shapeStr(type.getShape()) << ", expected " << shapeStr(shape);
  return type;
}

//===----------------------------------------------------------------------===//
// Local check helpers
//===----------------------------------------------------------------------===//

/// [V4-10] `actual` must have shape `expected` (kAny = any size).
LogicalResult expectShape(Operation *op, Value value, StringRef what,
                          ArrayRef<int64_t> expected) {
  auto type = cast<RankedTensorType>(value.getType());
  if (compatible(type.getShape(), expected))
    return success();
  return op->emitOpError("[V4-10] ")
         << what << " has shape " << shapeStr(type.getShape()) << ", expected "
         << shapeStr(expected);
}

/// [V4-10] Shape-preserving ops: the result has the input's type.
LogicalResult expectSameType(Operation *op, Value input, Value result) {
  if (input.getType() == result.getType())
    return success();
  return op->emitOpError("[V4-10] result type ")
         << result.getType() << " must equal the input type "
         << input.getType();
}

/// [V4-11] features == heads * headDim.
LogicalResult expectHeads(Operation *op, Value input, int64_t heads,
                          int64_t headDim) {
  int64_t features = dimOf(input, 1);
  if (compatible(features, heads * headDim))
    return success();
  return op->emitOpError("[V4-11] feature width ")
         << features << " must equal heads * head_dim = " << heads << " * "
         << headDim;
}

/// [V4-13] RoPE applies to the tail of each head. It may cover the whole head:
/// small indexer heads (index_head_dim == qk_rope_head_dim) are fully rotated.
LogicalResult expectRopeFits(Operation *op, RopeAttr rope, int64_t headDim) {
  if (rope.getDim() <= headDim)
    return success();
  return op->emitOpError("[V4-13] rope dim ")
         << rope.getDim() << " must not exceed head_dim " << headDim;
}

/// [V4-17] A compressed sequence must have the width/ratio the op expects.
LogicalResult expectCompressed(Operation *op, CompressedType type,
                               StringRef what, int64_t headDim, int64_t ratio) {
  if (type.getHeadDim() == headDim &&
      (ratio == kAny || type.getRatio() == ratio))
    return success();
  InFlightDiagnostic diag = op->emitOpError("[V4-17] ")
                            << what << " type " << type
                            << " must have head_dim " << headDim;
  if (ratio != kAny)
    diag << " and ratio " << ratio;
  return diag;
}

/// [V4-15] top-k cannot exceed the candidates.
LogicalResult expectTopkFits(Operation *op, int64_t topk, int64_t candidates,
                             StringRef what) {
  if (candidates == kAny || topk <= candidates)
    return success();
  return op->emitOpError("[V4-15] topk ") << topk << " exceeds the number of "
                                          << what << " (" << candidates << ")";
}

/// [V4-19] Selection is either biased top-k or the hash table, never both.
LogicalResult expectOneSelector(Operation *op, Attribute bias,
                                Attribute tid2eid) {
  if (static_cast<bool>(bias) != static_cast<bool>(tid2eid))
    return success();
  return op->emitOpError(
      "[V4-19] exactly one of 'bias' (top-k) and 'tid2eid' (hash) must be set");
}

/// Shared by route_select and router: bias [E] f32 or tid2eid [V, topk] i64.
LogicalResult checkSelectorWeights(Operation *op, SymbolTableCollection &tables,
                                   FlatSymbolRefAttr bias,
                                   FlatSymbolRefAttr tid2eid, int64_t experts,
                                   int64_t topk) {
  if (bias &&
      failed(checkWeight(op, tables, bias, "bias", {experts}, kF32Only)))
    return failure();
  if (tid2eid && failed(checkWeight(op, tables, tid2eid, "tid2eid",
                                    {kAny, topk}, kI64Only)))
    return failure();
  return success();
}

/// mhc_pre(_norm) local shapes [V4-10]: u [S,D], post [S,HC], comb [S,HC,HC].
LogicalResult verifyMhcPreShapes(Operation *op, Value input, Value u,
                                 Value post, Value comb) {
  int64_t s = dimOf(input, 0), hc = dimOf(input, 1), d = dimOf(input, 2);
  if (failed(expectShape(op, u, "result 'u'", {s, d})) ||
      failed(expectShape(op, post, "result 'post'", {s, hc})) ||
      failed(expectShape(op, comb, "result 'comb'", {s, hc, hc})))
    return failure();
  return success();
}

/// mHC weights: fn [rows, HC*D] f32, base [rows] f32, scale [scales] f32;
/// rows = (2+HC)*HC for the pre-mix (pre, post, comb), HC for the head.
LogicalResult checkMhcWeights(Operation *op, SymbolTableCollection &tables,
                              Value input, bool preMix, FlatSymbolRefAttr fn,
                              FlatSymbolRefAttr base, FlatSymbolRefAttr scale) {
  int64_t hc = dimOf(input, 1), d = dimOf(input, 2);
  int64_t rows = hc == kAny ? kAny : (preMix ? (2 + hc) * hc : hc);
  int64_t scales = preMix ? 3 : 1;
  if (failed(checkWeight(op, tables, fn, "fn", {rows, mul(hc, d)}, kF32Only)) ||
      failed(checkWeight(op, tables, base, "base", {rows}, kF32Only)) ||
      failed(checkWeight(op, tables, scale, "scale", {scales}, kF32Only)))
    return failure();
  return success();
}

/// Reads one [w1, w2, w3] triple of the moe op [V4-20].
FailureOr<std::array<FlatSymbolRefAttr, 3>>
expertTriple(Operation *op, Attribute attr, StringRef what) {
  auto array = dyn_cast<ArrayAttr>(attr);
  std::array<FlatSymbolRefAttr, 3> refs;
  if (array && array.size() == 3) {
    bool ok = true;
    for (auto [i, elt] : llvm::enumerate(array.getValue())) {
      refs[i] = dyn_cast<FlatSymbolRefAttr>(elt);
      ok &= static_cast<bool>(refs[i]);
    }
    if (ok)
      return refs;
  }
  return op->emitOpError("[V4-20] ")
         << what << " must be an array of three symbols [w1, w2, w3]";
}

} // namespace

//===----------------------------------------------------------------------===//
// [V4-1] TokenMajor trait
//===----------------------------------------------------------------------===//

LogicalResult birkhoff::v4::OpTrait::detail::verifyTokenMajor(Operation *op) {
  int64_t tokens = kAny;
  auto check = [&](Type type) -> LogicalResult {
    auto tensor = dyn_cast<RankedTensorType>(type);
    if (!tensor || tensor.getRank() == 0)
      return success();
    int64_t dim = tensor.getDimSize(0);
    if (!compatible(tokens, dim))
      return op->emitOpError(
                 "[V4-1] tensor operands and results must share the leading "
                 "token dimension, got ")
             << tokens << " and " << dim;
    if (dim != kAny)
      tokens = dim;
    return success();
  };
  for (Type type : op->getOperandTypes())
    if (failed(check(type)))
      return failure();
  for (Type type : op->getResultTypes())
    if (failed(check(type)))
      return failure();
  return success();
}

//===----------------------------------------------------------------------===//
// v4.weight [V4-8] [V4-9]
//===----------------------------------------------------------------------===//

void WeightOp::build(OpBuilder &builder, OperationState &state, StringRef name,
                     WeightType type, StringRef scaleName) {
  FlatSymbolRefAttr scale;
  if (!scaleName.empty())
    scale = FlatSymbolRefAttr::get(builder.getContext(), scaleName);
  build(builder, state, name, type, scale, /*tensor=*/StringAttr());
}

LogicalResult WeightOp::verify() {
  WeightType type = getType();
  if (type.needsScale() && !getScale())
    return emitOpError("[V4-8] ")
           << stringifyWeightFormat(type.getFormat())
           << " weight needs a 'scale' (e8m0 block scales)";
  if (!type.needsScale() && getScale())
    return emitOpError("[V4-8] ") << stringifyWeightFormat(type.getFormat())
                                  << " weight must not have a 'scale'";
  return success();
}

LogicalResult WeightOp::verifySymbolUses(SymbolTableCollection &tables) {
  if (!getScale())
    return success();
  WeightType type = getType();
  auto scale = tables.lookupNearestSymbolFrom<WeightOp>(*this, getScaleAttr());
  if (!scale)
    return emitOpError("[V4-4] 'scale' symbol ")
           << getScaleAttr() << " does not name a v4.weight";
  WeightType scaleType = scale.getType();
  SmallVector<int64_t, 2> expected =
      expectedScaleShape(type.getFormat(), type.getShape());
  if (scaleType.getFormat() != WeightFormat::E8M0 ||
      scaleType.getShape() != ArrayRef<int64_t>(expected))
    return emitOpError("[V4-9] scale ")
           << getScaleAttr() << " must be !v4.weight<e8m0, " << expected[0]
           << "x" << expected[1] << "> for a "
           << stringifyWeightFormat(type.getFormat()) << " weight of shape "
           << shapeStr(type.getShape()) << ", got " << scaleType;
  return success();
}

//===----------------------------------------------------------------------===//
// Embedding and mHC
//===----------------------------------------------------------------------===//

// All of embed's checks need the table; see verifySymbolUses.
LogicalResult EmbedOp::verify() { return success(); }

LogicalResult EmbedOp::verifySymbolUses(SymbolTableCollection &tables) {
  return checkWeight(*this, tables, getWeightAttr(), "weight",
                     {kAny, dimOf(getResult(), 1)}, kDense);
}

LogicalResult MhcExpandOp::verify() {
  int64_t hc = static_cast<int64_t>(getHc());
  if (!compatible(dimOf(getResult(), 1), hc))
    return emitOpError("[V4-16] result stream count ")
           << dimOf(getResult(), 1) << " must equal hc = " << hc;
  return expectShape(*this, getResult(), "result",
                     {dimOf(getInput(), 0), hc, dimOf(getInput(), 1)});
}

LogicalResult MhcPreOp::verify() {
  return verifyMhcPreShapes(*this, getInput(), getU(), getPost(), getComb());
}

LogicalResult MhcPreOp::verifySymbolUses(SymbolTableCollection &tables) {
  return checkMhcWeights(*this, tables, getInput(), /*preMix=*/true,
                         getFnAttr(), getBaseAttr(), getScaleAttr());
}

LogicalResult MhcPreNormOp::verify() {
  return verifyMhcPreShapes(*this, getInput(), getU(), getPost(), getComb());
}

LogicalResult MhcPreNormOp::verifySymbolUses(SymbolTableCollection &tables) {
  if (failed(checkMhcWeights(*this, tables, getInput(), /*preMix=*/true,
                             getFnAttr(), getBaseAttr(), getScaleAttr())))
    return failure();
  return checkWeight(*this, tables, getNormAttr(), "norm",
                     {dimOf(getInput(), 2)}, kDense);
}

LogicalResult MhcPostOp::verify() {
  Value x = getResidual();
  int64_t s = dimOf(x, 0), hc = dimOf(x, 1), d = dimOf(x, 2);
  if (failed(expectShape(*this, getSublayer(), "operand 'sublayer'", {s, d})) ||
      failed(expectShape(*this, getPost(), "operand 'post'", {s, hc})) ||
      failed(expectShape(*this, getComb(), "operand 'comb'", {s, hc, hc})))
    return failure();
  return expectSameType(*this, x, getResult());
}

LogicalResult MhcHeadOp::verify() {
  return expectShape(*this, getResult(), "result",
                     {dimOf(getInput(), 0), dimOf(getInput(), 2)});
}

LogicalResult MhcHeadOp::verifySymbolUses(SymbolTableCollection &tables) {
  return checkMhcWeights(*this, tables, getInput(), /*preMix=*/false,
                         getFnAttr(), getBaseAttr(), getScaleAttr());
}

LogicalResult MhcHeadNormOp::verify() {
  return expectShape(*this, getResult(), "result",
                     {dimOf(getInput(), 0), dimOf(getInput(), 2)});
}

LogicalResult MhcHeadNormOp::verifySymbolUses(SymbolTableCollection &tables) {
  if (failed(checkMhcWeights(*this, tables, getInput(), /*preMix=*/false,
                             getFnAttr(), getBaseAttr(), getScaleAttr())))
    return failure();
  return checkWeight(*this, tables, getNormAttr(), "norm",
                     {dimOf(getInput(), 2)}, kDense);
}

//===----------------------------------------------------------------------===//
// Norms, linears, rope
//===----------------------------------------------------------------------===//

LogicalResult RmsNormOp::verify() {
  return expectSameType(*this, getInput(), getResult());
}

LogicalResult RmsNormOp::verifySymbolUses(SymbolTableCollection &tables) {
  return checkWeight(*this, tables, getWeightAttr(), "weight",
                     {dimOf(getInput(), 1)}, kDense);
}

// The feature widths are fixed by the weight; see verifySymbolUses.
LogicalResult LinearOp::verify() { return success(); }

LogicalResult LinearOp::verifySymbolUses(SymbolTableCollection &tables) {
  return checkWeight(*this, tables, getWeightAttr(), "weight",
                     {dimOf(getResult(), 1), dimOf(getInput(), 1)}, kAnyFloat);
}

// The feature widths are fixed by the weights; see verifySymbolUses.
LogicalResult LinearRmsNormOp::verify() { return success(); }

LogicalResult LinearRmsNormOp::verifySymbolUses(SymbolTableCollection &tables) {
  int64_t n = dimOf(getResult(), 1);
  if (failed(checkWeight(*this, tables, getWeightAttr(), "weight",
                         {n, dimOf(getInput(), 1)}, kAnyFloat)))
    return failure();
  return checkWeight(*this, tables, getNormAttr(), "norm", {n}, kDense);
}

LogicalResult HeadRmsNormOp::verify() {
  int64_t heads = static_cast<int64_t>(getHeads());
  int64_t features = dimOf(getInput(), 1);
  if (features != kAny && features % heads != 0)
    return emitOpError("[V4-11] feature width ")
           << features << " is not divisible by heads = " << heads;
  return expectSameType(*this, getInput(), getResult());
}

/// The checks shared by the ops that rotate each head in place: V4-11 (heads
/// split the features), V4-13 (RoPE fits the head) and an unchanged type.
template <typename HeadRopeOp>
static LogicalResult verifyHeadRope(HeadRopeOp op) {
  int64_t headDim = static_cast<int64_t>(op.getHeadDim());
  if (failed(expectHeads(op, op.getInput(), static_cast<int64_t>(op.getHeads()),
                         headDim)) ||
      failed(expectRopeFits(op, op.getRope(), headDim)))
    return failure();
  return expectSameType(op, op.getInput(), op.getResult());
}

LogicalResult RopeOp::verify() { return verifyHeadRope(*this); }

LogicalResult HeadRmsNormRopeOp::verify() { return verifyHeadRope(*this); }

//===----------------------------------------------------------------------===//
// Attention
//===----------------------------------------------------------------------===//

LogicalResult CompressorOp::verify() {
  int64_t headDim = static_cast<int64_t>(getHeadDim());
  if (failed(expectCompressed(*this, getResult().getType(), "result", headDim,
                              static_cast<int64_t>(getRatio()))))
    return failure();
  return expectRopeFits(*this, getRope(), headDim);
}

LogicalResult CompressorOp::verifySymbolUses(SymbolTableCollection &tables) {
  // CSA windows overlap: wkv/wgate/ape carry both halves (coff = 2).
  int64_t width = getCoff() * static_cast<int64_t>(getHeadDim());
  int64_t d = dimOf(getInput(), 1);
  if (failed(checkWeight(*this, tables, getWkvAttr(), "wkv", {width, d},
                         kDense)) ||
      failed(checkWeight(*this, tables, getWgateAttr(), "wgate", {width, d},
                         kDense)) ||
      failed(checkWeight(*this, tables, getApeAttr(), "ape",
                         {static_cast<int64_t>(getRatio()), width}, kF32Only)))
    return failure();
  return checkWeight(*this, tables, getNormAttr(), "norm",
                     {static_cast<int64_t>(getHeadDim())}, kDense);
}

LogicalResult IndexerTopkOp::verify() {
  int64_t heads = static_cast<int64_t>(getHeads());
  int64_t headDim = static_cast<int64_t>(getHeadDim());
  int64_t s = dimOf(getQuery(), 0);
  if (failed(expectHeads(*this, getQuery(), heads, headDim)) ||
      failed(
          expectShape(*this, getWeights(), "operand 'weights'", {s, heads})) ||
      failed(expectCompressed(*this, getKeys().getType(), "keys", headDim,
                              static_cast<int64_t>(getRatio()))))
    return failure();
  return expectShape(*this, getResult(), "result",
                     {s, static_cast<int64_t>(getTopk())});
}

LogicalResult SparseAttentionOp::verify() {
  AttentionKind kind = getKind();
  bool needEntries = kind != AttentionKind::Window;
  bool needTopk = kind == AttentionKind::CSA;
  if (static_cast<bool>(getEntries()) != needEntries ||
      static_cast<bool>(getTopk()) != needTopk)
    return emitOpError("[V4-18] ")
           << stringifyAttentionKind(kind) << " attention takes "
           << (kind == AttentionKind::Window ? "neither 'entries' nor 'topk'"
               : kind == AttentionKind::HCA  ? "'entries' and no 'topk'"
                                             : "both 'entries' and 'topk'");
  int64_t headDim = static_cast<int64_t>(getHeadDim());
  if (failed(expectHeads(*this, getQuery(), static_cast<int64_t>(getHeads()),
                         headDim)) ||
      failed(expectShape(*this, getKv(), "operand 'kv'",
                         {dimOf(getKv(), 0), headDim})))
    return failure();
  if (getEntries() && failed(expectCompressed(*this, getEntries().getType(),
                                              "entries", headDim, kAny)))
    return failure();
  return expectSameType(*this, getQuery(), getResult());
}

LogicalResult
SparseAttentionOp::verifySymbolUses(SymbolTableCollection &tables) {
  return checkWeight(*this, tables, getSinkAttr(), "sink",
                     {static_cast<int64_t>(getHeads())}, kF32Only);
}

LogicalResult GroupedLinearOp::verify() {
  int64_t groups = static_cast<int64_t>(getGroups());
  for (auto [what, width] :
       {std::pair<StringRef, int64_t>{"input", dimOf(getInput(), 1)},
        {"result", dimOf(getResult(), 1)}})
    if (width != kAny && width % groups != 0)
      return emitOpError("[V4-14] ")
             << what << " feature width " << width
             << " is not divisible by groups = " << groups;
  return success();
}

LogicalResult GroupedLinearOp::verifySymbolUses(SymbolTableCollection &tables) {
  int64_t in = dimOf(getInput(), 1);
  int64_t perGroup = in == kAny ? kAny : in / static_cast<int64_t>(getGroups());
  return checkWeight(*this, tables, getWeightAttr(), "weight",
                     {dimOf(getResult(), 1), perGroup}, kAnyFloat);
}

//===----------------------------------------------------------------------===//
// MoE
//===----------------------------------------------------------------------===//

// The expert count is fixed by the gate; see verifySymbolUses.
LogicalResult RouterScoresOp::verify() { return success(); }

LogicalResult RouterScoresOp::verifySymbolUses(SymbolTableCollection &tables) {
  return checkWeight(*this, tables, getGateAttr(), "gate",
                     {dimOf(getResult(), 1), dimOf(getInput(), 1)}, kDense);
}

LogicalResult RouteSelectOp::verify() {
  int64_t topk = static_cast<int64_t>(getTopk());
  int64_t s = dimOf(getScores(), 0);
  if (failed(expectOneSelector(*this, getBiasAttr(), getTid2eidAttr())) ||
      failed(expectTopkFits(*this, topk, dimOf(getScores(), 1), "experts")) ||
      failed(expectShape(*this, getIndices(), "result 'indices'", {s, topk})))
    return failure();
  return expectShape(*this, getWeights(), "result 'weights'", {s, topk});
}

LogicalResult RouteSelectOp::verifySymbolUses(SymbolTableCollection &tables) {
  return checkSelectorWeights(*this, tables, getBiasAttr(), getTid2eidAttr(),
                              dimOf(getScores(), 1),
                              static_cast<int64_t>(getTopk()));
}

LogicalResult RouterOp::verify() {
  int64_t topk = static_cast<int64_t>(getTopk());
  int64_t s = dimOf(getInput(), 0);
  if (failed(expectOneSelector(*this, getBiasAttr(), getTid2eidAttr())) ||
      failed(expectShape(*this, getIndices(), "result 'indices'", {s, topk})))
    return failure();
  return expectShape(*this, getWeights(), "result 'weights'", {s, topk});
}

LogicalResult RouterOp::verifySymbolUses(SymbolTableCollection &tables) {
  FailureOr<WeightType> gate =
      checkWeight(*this, tables, getGateAttr(), "gate",
                  {kAny, dimOf(getInput(), 1)}, kDense);
  if (failed(gate))
    return failure();
  int64_t experts = gate->getShape()[0];
  int64_t topk = static_cast<int64_t>(getTopk());
  if (failed(expectTopkFits(*this, topk, experts, "experts")))
    return failure();
  return checkSelectorWeights(*this, tables, getBiasAttr(), getTid2eidAttr(),
                              experts, topk);
}

LogicalResult MoeOp::verify() {
  if (getExperts().empty())
    return emitOpError("[V4-20] 'experts' must not be empty");
  for (Attribute expert : getExperts())
    if (failed(expertTriple(*this, expert, "each 'experts' entry")))
      return failure();
  if (failed(expertTriple(*this, getShared(), "'shared'")))
    return failure();
  int64_t s = dimOf(getInput(), 0), k = dimOf(getIndices(), 1);
  if (failed(expectShape(*this, getWeights(), "operand 'weights'", {s, k})) ||
      failed(expectTopkFits(*this, k, getNumExperts(), "experts")))
    return failure();
  return expectSameType(*this, getInput(), getResult());
}

LogicalResult MoeOp::verifySymbolUses(SymbolTableCollection &tables) {
  int64_t d = dimOf(getInput(), 1);
  int64_t inter = static_cast<int64_t>(getInter());
  auto checkTriple = [&](Attribute attr) -> LogicalResult {
    // Structure was checked by verify(), which runs first.
    auto refs = *expertTriple(*this, attr, "");
    if (failed(
            checkWeight(*this, tables, refs[0], "w1", {inter, d}, kAnyFloat)) ||
        failed(
            checkWeight(*this, tables, refs[1], "w2", {d, inter}, kAnyFloat)) ||
        failed(
            checkWeight(*this, tables, refs[2], "w3", {inter, d}, kAnyFloat)))
      return failure();
    return success();
  };
  for (Attribute expert : getExperts())
    if (failed(checkTriple(expert)))
      return failure();
  return checkTriple(getShared());
}
