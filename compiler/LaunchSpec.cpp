//===- LaunchSpec.cpp -----------------------------------------------------===//
#include "compiler/LaunchSpec.h"

#include "birkhoff/DType.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"

using namespace mlir;

namespace birkhoff {

Expected<cuda::CudaLaunchSpec> cudaLaunchSpec(bk::LaunchOp launch,
                                              SymbolTable &symbols) {
  std::vector<ParamPair> pairs;
  for (NamedAttribute a : launch.getParams()) {
    if (auto i = dyn_cast<IntegerAttr>(a.getValue()))
      pairs.emplace_back(a.getName().str(), double(i.getInt()));
    else if (auto f = dyn_cast<FloatAttr>(a.getValue()))
      pairs.emplace_back(a.getName().str(), f.getValueAsDouble());
  }
  BK_ASSIGN_OR_RETURN(cuda::CudaLaunchSpec spec,
                      cuda::launchSpecOf(launch.getKernel().str(), pairs));
  for (Attribute w : launch.getWeights()) {
    StringRef name = cast<FlatSymbolRefAttr>(w).getValue();
    auto op = symbols.lookup<bk::WeightOp>(name);
    if (!op)
      return internalError("weight '" + name.str() + "' is not declared");
    std::optional<DType> dtype = parseDTypeName(op.getDtype().str());
    if (!dtype)
      return internalError("weight '" + name.str() + "' has dtype " +
                           op.getDtype().str());
    spec.weight(*dtype, std::vector<int64_t>(op.getShape().begin(),
                                             op.getShape().end()));
  }
  if (auto fn = launch->getParentOfType<func::FuncOp>())
    if (auto tokens = fn->getAttrOfType<IntegerAttr>(bk::kMaxTokensAttr))
      spec.maxTokens = tokens.getInt();
  if (bk::ScheduleAttr s = launch.getScheduleAttr())
    spec.schedule = scheduleOf(s);
  return spec;
}

bk::ScheduleAttr scheduleAttr(MLIRContext *context, const cuda::Schedule &s) {
  return bk::ScheduleAttr::get(
      context, s.variant, s.warps, s.tokenTile, s.tokensPerY, s.lanes, s.rows,
      s.cluster, s.split, s.stagedTokens, s.stagedHidden, s.prefetch);
}

cuda::Schedule scheduleOf(bk::ScheduleAttr a) {
  cuda::Schedule s;
  s.variant = a.getVariant().str();
  s.warps = a.getWarps();
  s.tokenTile = a.getTokenTile();
  s.tokensPerY = a.getTokensPerY();
  s.lanes = a.getLanes();
  s.rows = a.getRows();
  s.cluster = a.getCluster();
  s.split = a.getSplit();
  s.stagedTokens = a.getStagedTokens();
  s.stagedHidden = a.getStagedHidden();
  s.prefetch = a.getPrefetch();
  return s;
}

} // namespace birkhoff
