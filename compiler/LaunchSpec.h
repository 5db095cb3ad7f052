//===- LaunchSpec.h - A bk.launch as the CUDA generator sees it -*- C++ -*-===//
//
// The bridge between the bk dialect and compiler/cuda (which has no MLIR): a
// launch's CudaLaunchSpec (decoded params, weight formats, its entry's tokens
// per call, its #bk.schedule), and the conversions between #bk.schedule and
// cuda::Schedule.
//
//===----------------------------------------------------------------------===//
#ifndef BIRKHOFF_COMPILER_LAUNCHSPEC_H
#define BIRKHOFF_COMPILER_LAUNCHSPEC_H

#include "kernel/BkDialect.h"

#include "KernelSource.h"

#include "mlir/IR/SymbolTable.h"

namespace birkhoff {

/// `launch` as the CUDA generator sees it: its params decoded as the runtime
/// decodes the artifact's, its weights' formats and shapes, the max tokens
/// of its entry function, and its schedule when it has one.
Expected<cuda::CudaLaunchSpec> cudaLaunchSpec(bk::LaunchOp launch,
                                              mlir::SymbolTable &symbols);

bk::ScheduleAttr scheduleAttr(mlir::MLIRContext *context,
                              const cuda::Schedule &schedule);
cuda::Schedule scheduleOf(bk::ScheduleAttr attr);

} // namespace birkhoff

#endif // BIRKHOFF_COMPILER_LAUNCHSPEC_H
