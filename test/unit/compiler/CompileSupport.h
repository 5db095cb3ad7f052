//===- CompileSupport.h - Shared helpers of the compiler tests ------------===//
//
// Loading a checkpoint, running the compile pipelines on it, and reading
// launch parameters and states of the lowered module.
//
//===----------------------------------------------------------------------===//
#ifndef BIRKHOFF_TEST_UNIT_COMPILER_COMPILESUPPORT_H
#define BIRKHOFF_TEST_UNIT_COMPILER_COMPILESUPPORT_H

#include "compiler/ArtifactWriter.h"
#include "compiler/Passes.h"
#include "deepseek_v4/CheckpointSchema.h"
#include "deepseek_v4/IRBuilder.h"
#include "deepseek_v4/ModelConfig.h"
#include "deepseek_v4/SynthModel.h"
#include "kernel/BkDialect.h"

#include "birkhoff/Safetensors.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Pass/PassManager.h"

#include "TempDir.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>
#include <sys/wait.h>

namespace birkhoff::test {

struct LoadedCheckpoint {
  v4::ModelConfig config;
  Checkpoint checkpoint;
};

/// Opens and validates the checkpoint in `dir` (failures are test failures;
/// check HasFailure() after).
inline LoadedCheckpoint
loadCheckpoint(const std::string &dir,
               const v4::ValidateOptions &options = {}) {
  Expected<v4::ModelConfig> config = v4::loadModelConfig(dir);
  EXPECT_TRUE(config.isOk()) << config.status().message();
  Expected<Checkpoint> ckpt = Checkpoint::open(dir);
  EXPECT_TRUE(ckpt.isOk()) << ckpt.status().message();
  if (!config.isOk() || !ckpt.isOk())
    return {};
  Status s = v4::validateCheckpoint(*config, *ckpt, nullptr, options);
  EXPECT_TRUE(s.isOk()) << s.message();
  return {config.take(), ckpt.take()};
}

inline std::string goldenDir(const std::string &name) {
  return std::string(BIRKHOFF_GOLDENS_DIR) + "/" + name;
}

/// Builds the v4 module and runs the model and lowering pipelines (as
/// `birkhoff compile` does); an empty ref on failure, reported through
/// gtest.
inline mlir::OwningOpRef<mlir::ModuleOp>
compileToKernels(mlir::MLIRContext &ctx, const LoadedCheckpoint &m,
                 const v4::BuildOptions &options, int64_t maxTokens = 16) {
  v4::loadIRBuilderDialects(ctx);
  ctx.getOrLoadDialect<bk::BkDialect>();
  auto built = v4::buildV4Module(ctx, m.config, m.checkpoint, options);
  EXPECT_TRUE(built.isOk()) << built.status().message();
  if (!built.isOk())
    return {};
  mlir::OwningOpRef<mlir::ModuleOp> module = built.take();
  mlir::PassManager pm(&ctx);
  buildModelPipeline(pm);
  buildLoweringPipeline(pm, maxTokens);
  bool ok = mlir::succeeded(pm.run(*module));
  EXPECT_TRUE(ok) << "the compile pipelines failed";
  if (!ok)
    return {};
  return module;
}

/// An integer launch parameter, nullopt when absent.
inline std::optional<int64_t> intParam(bk::LaunchOp launch,
                                       llvm::StringRef key) {
  mlir::DictionaryAttr params = launch.getParams();
  if (!params)
    return std::nullopt;
  auto v = params.getAs<mlir::IntegerAttr>(key);
  if (!v)
    return std::nullopt;
  return v.getInt();
}

/// The bk.state a launch's `i`-th state reference names.
inline bk::StateOp stateOf(mlir::ModuleOp module, bk::LaunchOp launch,
                           unsigned i) {
  auto ref = llvm::cast<mlir::FlatSymbolRefAttr>(launch.getStates()[i]);
  return module.lookupSymbol<bk::StateOp>(ref.getValue());
}

/// The synth tiny model (`compile --synth-preset tiny`'s source), compiled
/// once per test suite; each test writes artifacts of it with the options it
/// studies.
class TinySynthArtifact : public ::testing::Test {
protected:
  static void SetUpTestSuite() {
    Expected<v4::SynthModel> synth =
        v4::makeSynthModel(*v4::presetConfig("tiny"), {}, "synth preset tiny");
    ASSERT_TRUE(synth.isOk()) << synth.status().message();
    synth_ = new v4::SynthModel(synth.take());
    ctx_ = new mlir::MLIRContext();
    LoadedCheckpoint declared{synth_->config, synth_->checkpoint};
    module_ = new mlir::OwningOpRef<mlir::ModuleOp>(
        compileToKernels(*ctx_, declared, {}));
    ASSERT_TRUE(*module_);
  }
  static void TearDownTestSuite() {
    delete module_;
    delete ctx_;
    delete synth_;
    module_ = nullptr;
    ctx_ = nullptr;
    synth_ = nullptr;
  }

  /// Writes the artifact `name` in the test's folder with `options` (the
  /// model name "tiny" and the weight recipes filled in).
  std::string writeWith(const std::string &name, ArtifactOptions options) {
    options.modelName = "tiny";
    options.generated = &synth_->recipes;
    std::string path = dir_.file(name);
    auto stats = writeArtifact((*module_)->getOperation(), synth_->config,
                               synth_->checkpoint, options, path);
    EXPECT_TRUE(stats.isOk()) << stats.status().message();
    return path;
  }

  static inline v4::SynthModel *synth_ = nullptr;
  static inline mlir::MLIRContext *ctx_ = nullptr;
  static inline mlir::OwningOpRef<mlir::ModuleOp> *module_ = nullptr;
  TempDir dir_;
};

struct CommandResult {
  int exitCode = -1;
  std::string output;
};

/// Runs `birkhoff <args>` with stdout and stderr into `logPath`.
inline CommandResult runTool(const std::string &args,
                             const std::string &logPath) {
  std::string cmd = std::string(BIRKHOFF_BIN_DIR) + "/birkhoff " + args +
                    " > '" + logPath + "' 2>&1";
  int status = std::system(cmd.c_str());
  CommandResult r;
  r.exitCode = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::ifstream in(logPath);
  r.output.assign(std::istreambuf_iterator<char>(in), {});
  return r;
}

} // namespace birkhoff::test

#endif // BIRKHOFF_TEST_UNIT_COMPILER_COMPILESUPPORT_H
