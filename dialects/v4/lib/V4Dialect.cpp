//===- V4Dialect.cpp - v4 dialect, types and attributes -------------------===//
//
// Dialect registration, the custom syntax of !v4.weight and #v4.rope, type
// and attribute verifiers ([V4-7], [V4-12], [V4-17]) and the module
// attributes v4.config / v4.numerics ([V4-21]).
//
//===----------------------------------------------------------------------===//

#include "v4/V4Dialect.h"
#include "v4/V4Attrs.h"
#include "v4/V4Ops.h"
#include "v4/V4Types.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/DialectImplementation.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace birkhoff::v4;

#include "v4/V4Dialect.cpp.inc"
#include "v4/V4Enums.cpp.inc"

#define GET_TYPEDEF_CLASSES
#include "v4/V4Types.cpp.inc"

#define GET_ATTRDEF_CLASSES
#include "v4/V4Attrs.cpp.inc"

void V4Dialect::initialize() {
  registerTypes();
  registerAttributes();
  addOperations<
#define GET_OP_LIST
#include "v4/V4Ops.cpp.inc"
      >();
}

void V4Dialect::registerTypes() {
  addTypes<
#define GET_TYPEDEF_LIST
#include "v4/V4Types.cpp.inc"
      >();
}

void V4Dialect::registerAttributes() {
  addAttributes<
#define GET_ATTRDEF_LIST
#include "v4/V4Attrs.cpp.inc"
      >();
}

//===----------------------------------------------------------------------===//
// Module attributes [V4-21]
//===----------------------------------------------------------------------===//

LogicalResult V4Dialect::verifyOperationAttribute(Operation *op,
                                                  NamedAttribute attr) {
  StringAttr name = attr.getName();
  if (name == getConfigAttrHelper().getName()) {
    if (!isa<DictionaryAttr>(attr.getValue()))
      return op->emitError("[V4-21] 'v4.config' must be a dictionary");
    return success();
  }
  if (name == getNumericsAttrHelper().getName()) {
    if (!isa<NumericsAttr>(attr.getValue()))
      return op->emitError("[V4-21] 'v4.numerics' must be "
                           "#v4.numerics<reference> or #v4.numerics<official>");
    return success();
  }
  if (name == getMaxTokensAttrHelper().getName()) {
    auto tokens = dyn_cast<IntegerAttr>(attr.getValue());
    if (!isa<func::FuncOp>(op) || !tokens || tokens.getInt() < 1)
      return op->emitError("[V4-21] 'v4.max_tokens' must be a positive "
                           "integer on an entry function");
    return success();
  }
  return op->emitError("[V4-21] unknown v4 discardable attribute '")
         << name.getValue() << "'";
}

//===----------------------------------------------------------------------===//
// !v4.weight [V4-7]
//===----------------------------------------------------------------------===//

SmallVector<int64_t, 2>
birkhoff::v4::expectedScaleShape(WeightFormat format, ArrayRef<int64_t> shape) {
  if (shape.size() != 2)
    return {};
  int64_t out = shape[0], in = shape[1];
  switch (format) {
  case WeightFormat::F8E4M3:
    return {(out + 127) / 128, (in + 127) / 128};
  case WeightFormat::FP4E2M1:
    return {out, (in + 31) / 32};
  default:
    return {};
  }
}

int64_t WeightType::getNumElements() const {
  int64_t n = 1;
  for (int64_t d : getShape())
    n *= d;
  return n;
}

bool WeightType::isFloatFormat() const {
  WeightFormat f = getFormat();
  return f == WeightFormat::F32 || f == WeightFormat::BF16 ||
         f == WeightFormat::F8E4M3 || f == WeightFormat::FP4E2M1;
}

bool WeightType::needsScale() const {
  return getFormat() == WeightFormat::F8E4M3 ||
         getFormat() == WeightFormat::FP4E2M1;
}

Type WeightType::parse(AsmParser &parser) {
  // `<` format `,` d0 x d1 x ... `>`
  StringRef keyword;
  SMLoc loc = parser.getCurrentLocation();
  if (parser.parseLess() || parser.parseKeyword(&keyword))
    return {};
  std::optional<WeightFormat> format = symbolizeWeightFormat(keyword);
  if (!format) {
    parser.emitError(loc, "[V4-7] unknown weight format '")
        << keyword << "' (expected f32, bf16, f8e4m3, e8m0, fp4e2m1 or i64)";
    return {};
  }
  SmallVector<int64_t> shape;
  if (parser.parseComma() ||
      parser.parseDimensionList(shape, /*allowDynamic=*/false,
                                /*withTrailingX=*/false) ||
      parser.parseGreater())
    return {};
  return parser.getChecked<WeightType>(loc, parser.getContext(), *format,
                                       shape);
}

void WeightType::print(AsmPrinter &printer) const {
  printer << '<' << stringifyWeightFormat(getFormat()) << ", ";
  llvm::interleave(getShape(), printer.getStream(), "x");
  printer << '>';
}

LogicalResult WeightType::verify(function_ref<InFlightDiagnostic()> emitError,
                                 WeightFormat format, ArrayRef<int64_t> shape) {
  if (shape.empty())
    return emitError() << "[V4-7] weight shape must have rank >= 1";
  for (int64_t d : shape)
    if (d <= 0)
      return emitError() << "[V4-7] weight dimensions must be positive";
  if ((format == WeightFormat::F8E4M3 || format == WeightFormat::FP4E2M1) &&
      shape.size() != 2)
    return emitError() << "[V4-7] " << stringifyWeightFormat(format)
                       << " weights must have rank 2 ([out, in])";
  if (format == WeightFormat::FP4E2M1 && shape[1] % 2 != 0)
    return emitError() << "[V4-7] fp4e2m1 in-features must be even (two "
                          "values per byte)";
  return success();
}

//===----------------------------------------------------------------------===//
// !v4.compressed [V4-17]
//===----------------------------------------------------------------------===//

LogicalResult
CompressedType::verify(function_ref<InFlightDiagnostic()> emitError,
                       int64_t headDim, int64_t ratio) {
  if (headDim <= 0 || ratio <= 0)
    return emitError() << "[V4-17] compressed head_dim and ratio must be "
                          "positive";
  return success();
}

//===----------------------------------------------------------------------===//
// #v4.rope [V4-12]
//===----------------------------------------------------------------------===//

Attribute RopeAttr::parse(AsmParser &parser, Type) {
  // `<` dim = I, theta = F, yarn = B, factor = F, original = I,
  //     beta_fast = F, beta_slow = F `>` (fixed order, all required)
  SMLoc loc = parser.getCurrentLocation();
  int64_t dim = 0, original = 0;
  double theta = 0, factor = 0, betaFast = 0, betaSlow = 0;
  bool yarn = false;
  auto key = [&](StringRef name) {
    return parser.parseKeyword(name) || parser.parseEqual();
  };
  auto boolean = [&](bool &out) -> ParseResult {
    if (succeeded(parser.parseOptionalKeyword("true"))) {
      out = true;
      return success();
    }
    out = false;
    return parser.parseKeyword("false");
  };
  if (parser.parseLess() || key("dim") || parser.parseInteger(dim) ||
      parser.parseComma() || key("theta") || parser.parseFloat(theta) ||
      parser.parseComma() || key("yarn") || boolean(yarn) ||
      parser.parseComma() || key("factor") || parser.parseFloat(factor) ||
      parser.parseComma() || key("original") || parser.parseInteger(original) ||
      parser.parseComma() || key("beta_fast") || parser.parseFloat(betaFast) ||
      parser.parseComma() || key("beta_slow") || parser.parseFloat(betaSlow) ||
      parser.parseGreater())
    return {};
  return parser.getChecked<RopeAttr>(
      loc, parser.getContext(), dim, APFloat(theta), yarn, APFloat(factor),
      original, APFloat(betaFast), APFloat(betaSlow));
}

void RopeAttr::print(AsmPrinter &printer) const {
  printer << "<dim = " << getDim() << ", theta = ";
  printer.printFloat(getTheta());
  printer << ", yarn = " << (getYarn() ? "true" : "false") << ", factor = ";
  printer.printFloat(getFactor());
  printer << ", original = " << getOriginal() << ", beta_fast = ";
  printer.printFloat(getBetaFast());
  printer << ", beta_slow = ";
  printer.printFloat(getBetaSlow());
  printer << '>';
}

LogicalResult RopeAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                               int64_t dim, APFloat theta, bool yarn,
                               APFloat factor, int64_t original,
                               APFloat betaFast, APFloat betaSlow) {
  if (dim <= 0 || dim % 2 != 0)
    return emitError() << "[V4-12] rope dim must be positive and even, got "
                       << dim;
  if (!(theta.convertToDouble() > 0.0))
    return emitError() << "[V4-12] rope theta must be positive";
  if (yarn && (!(factor.convertToDouble() > 0.0) || original <= 0))
    return emitError()
           << "[V4-12] yarn rope needs a positive factor and original length";
  if (original < 0)
    return emitError() << "[V4-12] rope original length must be non-negative";
  return success();
}
