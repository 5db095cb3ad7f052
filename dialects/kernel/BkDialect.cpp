//===- BkDialect.cpp - The `bk` dialect: registration and verifiers -------===//
//
// Verifier checks are numbered BK-n (dialects/kernel/README.md lists them).
//
//===----------------------------------------------------------------------===//
#include "kernel/BkDialect.h"

#include "birkhoff/DType.h"
#include "birkhoff/KernelCatalog.h"
#include "birkhoff/KernelParams.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/DialectImplementation.h"
#include "mlir/IR/OpImplementation.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace birkhoff::bk;

#include "kernel/BkDialect.cpp.inc"

#define GET_TYPEDEF_CLASSES
#include "kernel/BkTypes.cpp.inc"

#define GET_ATTRDEF_CLASSES
#include "kernel/BkAttrs.cpp.inc"

void BkDialect::initialize() {
  addAttributes<
#define GET_ATTRDEF_LIST
#include "kernel/BkAttrs.cpp.inc"
      >();
  addTypes<
#define GET_TYPEDEF_LIST
#include "kernel/BkTypes.cpp.inc"
      >();
  addOperations<
#define GET_OP_LIST
#include "kernel/BkOps.cpp.inc"
      >();
}

#define GET_OP_CLASSES
#include "kernel/BkOps.cpp.inc"

// BK-1: dtype is a DType name; BK-2: shape is non-empty and positive;
// BK-3: f8e4m3 and fp4e2m1x2 weights name a scale.
LogicalResult WeightOp::verify() {
  auto dtype = birkhoff::parseDTypeName(getDtype().str());
  if (!dtype)
    return emitOpError("BK-1: unknown dtype '") << getDtype() << "'";
  if (getShape().empty())
    return emitOpError("BK-2: shape must not be empty");
  for (int64_t d : getShape())
    if (d <= 0)
      return emitOpError("BK-2: shape dimensions must be positive");
  bool quantized =
      *dtype == birkhoff::DType::F8E4M3 || *dtype == birkhoff::DType::FP4E2M1x2;
  if (quantized && !getScale())
    return emitOpError("BK-3: ") << getDtype() << " weight needs a scale";
  return success();
}

// BK-4: state kind is known, sizes are non-negative and some rows exist.
LogicalResult StateOp::verify() {
  llvm::StringRef kind = getKind();
  if (kind != "window" && kind != "kv_entries" && kind != "compressor_tail" &&
      kind != "index_entries" && kind != "index_tail")
    return emitOpError("BK-4: unknown state kind '") << kind << "'";
  // I64Attr getters are unsigned: read the signed values.
  int64_t bytes = getBytesPerRowAttr().getInt();
  int64_t fixed = getFixedRowsAttr().getInt();
  int64_t perRow = getTokensPerRowAttr().getInt();
  if (bytes <= 0 || fixed < 0 || perRow < 0)
    return emitOpError(
        "BK-4: bytes_per_row must be positive, rows non-negative");
  if (fixed == 0 && perRow == 0)
    return emitOpError("BK-4: a state needs fixed rows or tokens_per_row");
  return success();
}

// BK-5: a buffer holds at least one element per token; offsets are >= 0.
LogicalResult AllocOp::verify() {
  if (getElemsPerTokenAttr().getInt() <= 0)
    return emitOpError("BK-5: elems_per_token must be positive");
  if (getOffsetAttr() && getOffsetAttr().getInt() < 0)
    return emitOpError("BK-5: offset must be non-negative");
  return success();
}

// BK-6: the kernel is in the catalogue; BK-7: buffer, weight and state counts
// are within its signature; BK-8: its params are those of its Kernels.def
// entry: integers or floats, every required one present, no unknown key,
// integers (and 0/1 flags) for Int and Bool params.
LogicalResult LaunchOp::verify() {
  const birkhoff::KernelSignature *sig =
      birkhoff::findKernel(getKernel().str());
  if (!sig)
    return emitOpError("BK-6: unknown kernel '") << getKernel() << "'";
  int nIn = getInputs().size(), nOut = getOutputs().size();
  int nW = getWeights().size(), nS = getStates().size();
  if (nIn < sig->minInputs || nIn > sig->maxInputs)
    return emitOpError("BK-7: '")
           << getKernel() << "' takes " << sig->minInputs << ".."
           << sig->maxInputs << " inputs, got " << nIn;
  if (nOut != sig->outputs)
    return emitOpError("BK-7: '") << getKernel() << "' has " << sig->outputs
                                  << " outputs, got " << nOut;
  if (nW < sig->minWeights || (sig->maxWeights >= 0 && nW > sig->maxWeights))
    return emitOpError("BK-7: '")
           << getKernel() << "' takes " << sig->minWeights << ".."
           << sig->maxWeights << " weights, got " << nW;
  if (nS < sig->minStates || nS > sig->maxStates)
    return emitOpError("BK-7: '")
           << getKernel() << "' takes " << sig->minStates << ".."
           << sig->maxStates << " states, got " << nS;
  std::vector<birkhoff::ParamPair> pairs;
  for (NamedAttribute p : getParams()) {
    StringRef key = p.getName().getValue();
    if (auto i = dyn_cast<IntegerAttr>(p.getValue())) {
      pairs.emplace_back(key.str(), double(i.getInt()));
    } else if (auto f = dyn_cast<FloatAttr>(p.getValue())) {
      const birkhoff::ParamInfo *info =
          sig->findParam(std::string_view(key.data(), key.size()));
      if (info && info->type != birkhoff::ParamType::Real)
        return emitOpError("BK-8: param '") << key << "' of '" << getKernel()
                                            << "' must be an integer attribute";
      pairs.emplace_back(key.str(), f.getValueAsDouble());
    } else {
      return emitOpError("BK-8: param '")
             << key << "' must be an integer or a float";
    }
  }
  birkhoff::Expected<birkhoff::KernelParams> decoded =
      birkhoff::decodeParams(sig->id, pairs);
  if (!decoded)
    return emitOpError("BK-8: ") << decoded.status().message();
  return success();
}

// BK-9: weights name bk.weight ops and states name bk.state ops.
LogicalResult LaunchOp::verifySymbolUses(SymbolTableCollection &symbolTable) {
  for (Attribute a : getWeights()) {
    auto ref = cast<FlatSymbolRefAttr>(a);
    if (!symbolTable.lookupNearestSymbolFrom<WeightOp>(*this, ref))
      return emitOpError("BK-9: ") << ref << " is not a bk.weight";
  }
  for (Attribute a : getStates()) {
    auto ref = cast<FlatSymbolRefAttr>(a);
    if (!symbolTable.lookupNearestSymbolFrom<StateOp>(*this, ref))
      return emitOpError("BK-9: ") << ref << " is not a bk.state";
  }
  return success();
}
