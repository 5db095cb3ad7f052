//===- CompileCommand.cpp - `birkhoff compile`
//-----------------------------===//
//
// checkpoint dir -> config + tensor index -> validation -> v4 IR -> model
// pipeline (fusions) -> lowering pipeline (bk launches, memory plan) ->
// artifact. `--compile-to` stops after a phase and prints its IR.
// `--synth-preset` replaces the checkpoint by the model `birkhoff synth`
// would write, and the artifact generates its weights at load time.
//
//===----------------------------------------------------------------------===//
#include "Commands.h"

#include "compiler/ArtifactWriter.h"
#include "compiler/CudaTarget.h"
#include "compiler/Passes.h"
#include "deepseek_v4/CheckpointSchema.h"
#include "deepseek_v4/IRBuilder.h"
#include "deepseek_v4/ModelConfig.h"
#include "deepseek_v4/Synth.h"
#include "deepseek_v4/SynthModel.h"
#include "kernel/BkDialect.h"

#include "birkhoff/CheckedMath.h"
#include "birkhoff/FileSafety.h"
#include "birkhoff/GenerationConfig.h"
#include "birkhoff/Log.h"
#include "birkhoff/Tokenizer.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/raw_ostream.h"

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace birkhoff::tools {
namespace {

/// The command line, as the declarations read it.
struct CompileArgs {
  std::string checkpoint; // empty with --synth-preset
  std::string output, target = "host", arch = "sm_90a";
  std::string numerics = "reference", sharedClamp = "on";
  std::string compileTo = "artifact";
  int64_t maxTokens = 512, maxContext = 4096, seed = 0;
  std::optional<int64_t> layers, experts;
  std::optional<std::string> synthPreset, tokenizer, generationConfig;
  std::optional<std::string> dumpIr, dumpKernels;
  bool timing = false, printIrAfterAll = false, embedPtx = false;
  bool treeReductions = false, splitDecodeAttention = false;
  bool unquantized = false, noMtp = false;
};

int fail(const Status &s) {
  std::fprintf(stderr, "birkhoff compile: %s\n", s.message().c_str());
  return 1;
}

class PhaseTimer {
public:
  explicit PhaseTimer(bool enabled) : enabled_(enabled) {}
  void done(const char *phase) {
    auto now = std::chrono::steady_clock::now();
    if (enabled_)
      std::fprintf(
          stderr, "  %-10s %8.1f ms\n", phase,
          std::chrono::duration<double, std::milli>(now - last_).count());
    last_ = now;
  }

private:
  bool enabled_;
  std::chrono::steady_clock::time_point last_ =
      std::chrono::steady_clock::now();
};

Status printModule(mlir::ModuleOp module, const std::string &path) {
  if (path.empty() || path == "-") {
    module.print(llvm::outs());
    llvm::outs() << "\n";
    llvm::outs().flush();
    return Status::ok();
  }
  // Like the artifact: a complete file or the previous one, never half.
  std::string text;
  llvm::raw_string_ostream os(text);
  module.print(os);
  os << "\n";
  os.flush();
  BK_ASSIGN_OR_RETURN(OutputFile out, OutputFile::create(path));
  BK_RETURN_IF_ERROR(out.write(text.data(), text.size()));
  return out.commit();
}

Status runPipeline(mlir::ModuleOp module, bool printAfterAll,
                   const std::function<void(mlir::OpPassManager &)> &build,
                   const char *phase) {
  mlir::PassManager pm(module.getContext());
  if (printAfterAll) {
    module.getContext()->disableMultithreading();
    pm.enableIRPrinting(
        /*shouldPrintBeforePass=*/[](mlir::Pass *,
                                     mlir::Operation *) { return false; },
        /*shouldPrintAfterPass=*/
        [](mlir::Pass *, mlir::Operation *) { return true; },
        /*printModuleScope=*/true, /*printAfterOnlyOnChange=*/false);
  }
  build(pm);
  if (mlir::failed(pm.run(module)))
    return internalError(std::string("the ") + phase +
                         " pipeline failed (diagnostics above)");
  return Status::ok();
}

/// What is compiled: a checkpoint, or a synth model generated at load time.
struct SourceModel {
  v4::ModelConfig config;
  Checkpoint checkpoint;
  std::string name;
  /// --synth-preset: every tensor's recipe; the artifact stores no bytes.
  std::map<std::string, WeightRecipe> recipes;
  bool generated = false;
};

Expected<SourceModel> loadCheckpointModel(const std::string &dir) {
  SourceModel m;
  BK_ASSIGN_OR_RETURN(m.config, v4::loadModelConfig(dir));
  BK_ASSIGN_OR_RETURN(m.checkpoint, Checkpoint::open(dir));
  BK_RETURN_IF_ERROR(v4::validateCheckpoint(m.config, m.checkpoint, nullptr));
  m.name = std::filesystem::path(dir).lexically_normal().filename().string();
  if (m.name.empty())
    m.name = std::filesystem::path(dir).parent_path().filename().string();
  return m;
}

/// The model `birkhoff synth --preset ...` would write, from the same options.
Expected<SourceModel> loadSynthModel(const CompileArgs &args) {
  const std::string &preset = *args.synthPreset;
  BK_ASSIGN_OR_RETURN(v4::ModelConfig shape, v4::presetConfig(preset));
  v4::SynthOptions options;
  options.seed = uint64_t(args.seed);
  options.quantized = !args.unquantized;
  options.mtp = !args.noMtp;
  BK_RETURN_IF_ERROR(v4::applySynthShape(shape, args.layers, args.experts));
  BK_ASSIGN_OR_RETURN(
      v4::SynthModel synth,
      v4::makeSynthModel(shape, options, "synth preset " + preset));
  // The table is ours, so only its structure needs checking: no bytes exist.
  v4::ValidateOptions validate;
  validate.checkScaleBytes = false;
  validate.checkHashTables = false;
  BK_RETURN_IF_ERROR(v4::validateCheckpoint(synth.config, synth.checkpoint,
                                            nullptr, validate));
  SourceModel m;
  m.config = std::move(synth.config);
  m.checkpoint = std::move(synth.checkpoint);
  m.recipes = std::move(synth.recipes);
  m.generated = true;
  m.name = "synth-" + preset;
  return m;
}

/// A file the artifact stores beside the checkpoint's tensors: where it came
/// from (its path, or "synth <what>") and its text.
struct Input {
  std::string origin, text;
};

/// The text of the option's FILE (`given`) when given, else of `name` in the
/// checkpoint folder when it exists, else for --synth-preset synth's
/// (`synthText`, when it is not empty); nullopt for none.
Expected<std::optional<Input>>
readInput(const CompileArgs &args, const SourceModel &source,
          const std::optional<std::string> &given, const char *name,
          const char *what, const std::function<std::string()> &synthText) {
  std::string path;
  if (given) {
    path = *given;
  } else if (source.generated) {
    std::string text = synthText();
    if (text.empty())
      return std::optional<Input>();
    return std::optional<Input>(Input{std::string("synth ") + what, text});
  } else {
    path = (std::filesystem::path(args.checkpoint) / name).string();
    if (!std::filesystem::exists(path))
      return std::optional<Input>();
  }
  Expected<std::string> text = readInputFile(path);
  if (!text)
    return text.status().withContext(std::string("cannot read ") + what + " '" +
                                     path + "'");
  return std::optional<Input>(Input{path, text.take()});
}

/// The tokenizer.json text to store: --tokenizer FILE, else the checkpoint's
/// tokenizer.json, else synth's for --synth-preset; empty for none. It must
/// load and its ids must fit the model's vocabulary.
Expected<std::string> chooseTokenizer(const CompileArgs &args,
                                      const SourceModel &source) {
  BK_ASSIGN_OR_RETURN(
      std::optional<Input> input,
      readInput(args, source, args.tokenizer, "tokenizer.json", "tokenizer",
                [&] { return v4::synthTokenizerJson(source.config); }));
  if (!input && source.generated) {
    logf(LogLevel::Warning,
         "birkhoff compile: warning: vocab_size %lld is too small "
         "for synth's byte-level tokenizer (256 bytes + BOS/EOS): "
         "the artifact takes and gives token ids only\n",
         (long long)source.config.vocabSize);
    return std::string();
  }
  if (!input) {
    logf(LogLevel::Warning, "birkhoff compile: warning: no tokenizer.json: the "
                            "artifact takes and gives token ids only\n");
    return std::string();
  }
  const std::string &path = input->origin, &json = input->text;
  Expected<std::unique_ptr<Tokenizer>> tok = Tokenizer::fromJson(json);
  if (!tok)
    return invalidArgument("tokenizer '" + path +
                           "' does not load: " + tok.status().toString());
  int64_t ids = (*tok)->vocabSize();
  if (ids > source.config.vocabSize)
    return invalidArgument(
        "tokenizer '" + path + "' has ids up to " + std::to_string(ids - 1) +
        ", but the model's vocab_size is " +
        std::to_string(source.config.vocabSize) + " (ids 0.." +
        std::to_string(source.config.vocabSize - 1) + ")");
  return json;
}

/// The generation defaults to store: --generation-config FILE, else the
/// checkpoint's generation_config.json, else synth's for --synth-preset;
/// nullopt for none. A file that does not parse or holds values out of range
/// fails, naming the file and the field.
Expected<std::optional<GenerationConfig>>
chooseGenerationConfig(const CompileArgs &args, const SourceModel &source) {
  BK_ASSIGN_OR_RETURN(
      std::optional<Input> input,
      readInput(args, source, args.generationConfig, "generation_config.json",
                "generation config",
                [&] { return v4::synthGenerationConfigJson(source.config); }));
  if (!input)
    return std::optional<GenerationConfig>();
  const std::string &path = input->origin;
  BK_ASSIGN_OR_RETURN(
      GenerationConfig config,
      parseGenerationConfig(input->text, path, source.config.vocabSize));
  if (!config.doSample && config.hasSamplingFields())
    logf(LogLevel::Warning,
         "birkhoff compile: warning: generation config '%s' gives "
         "sampling fields but not do_sample: as in transformers, they "
         "apply only with do_sample true\n",
         path.c_str());
  if (config.repetitionPenalty && *config.repetitionPenalty != 1.0f)
    logf(LogLevel::Warning,
         "birkhoff compile: warning: generation config '%s' gives "
         "repetition_penalty %g: stored, but not applied (Birkhoff's "
         "sampler has no penalties)\n",
         path.c_str(), double(*config.repetitionPenalty));
  return std::optional<GenerationConfig>(std::move(config));
}

/// Every file the compile reads: the checkpoint's config, index and shards,
/// its tokenizer and generation config, or the files given for them.
std::vector<std::string> inputFiles(const CompileArgs &args,
                                    const SourceModel &source) {
  std::vector<std::string> inputs;
  for (const std::optional<std::string> *given :
       {&args.tokenizer, &args.generationConfig})
    if (*given)
      inputs.push_back(**given);
  if (source.generated)
    return inputs;
  std::filesystem::path dir(args.checkpoint);
  for (const char *name :
       {"config.json", "tokenizer.json", "generation_config.json",
        "model.safetensors.index.json", "model.safetensors"})
    inputs.push_back((dir / name).string());
  std::set<std::string> shards;
  for (const auto &[name, info] : source.checkpoint.tensors())
    if (shards.insert(info.file).second)
      inputs.push_back(info.file);
  return inputs;
}

int runCompile(const CLI::App &app, const CompileArgs &args) {
  const bool synth = args.synthPreset.has_value();
  const bool hasCheckpoint = app.count("checkpoint-dir") > 0;
  if (synth && hasCheckpoint)
    return cli::usageError(app, "--synth-preset takes no checkpoint directory");
  if (!synth && !hasCheckpoint)
    return cli::usageError(
        app, "expected one checkpoint directory (or --synth-preset)");
  const bool cudaTarget = args.target == "cuda";
  if (!cudaTarget &&
      (app.count("--arch") || args.dumpKernels || args.embedPtx ||
       args.treeReductions || args.splitDecodeAttention))
    return cli::usageError(app, "--arch, --dump-kernels, --embed-ptx, "
                                "--tree-reductions and "
                                "--split-decode-attention need --target cuda");
  if (args.compileTo == "artifact" && args.output.empty())
    return cli::usageError(app, "missing -o <artifact>");
  // --layers and --experts against the preset's schedule and experts: a
  // usage error, as in `birkhoff synth`, found before any work.
  if (synth) {
    Expected<v4::ModelConfig> shape = v4::presetConfig(*args.synthPreset);
    Status s = shape ? v4::applySynthShape(*shape, args.layers, args.experts)
                     : shape.status();
    if (!s)
      return cli::usageError(app, s.message());
  }
  const std::string &output = args.output;
  const std::string &target = args.target;
  const std::string &numerics = args.numerics;
  const std::string &compileTo = args.compileTo;
  const std::string &arch = args.arch;
  const bool printAfterAll = args.printIrAfterAll;
  PhaseTimer timer(args.timing);

  Expected<SourceModel> source =
      synth ? loadSynthModel(args) : loadCheckpointModel(args.checkpoint);
  if (!source)
    return fail(source.status());
  // The artifact replaces its target only when complete (FileSafety.h), but
  // an input as the target would still be destroyed: refused up front, with
  // the usage errors (exit 2), before any work.
  for (const std::string &path : {args.output, args.dumpIr.value_or("")}) {
    if (path.empty() || path == "-")
      continue;
    if (Status s = refuseInputAsOutput(path, inputFiles(args, *source)); !s)
      return cli::usageError(app, s.message());
  }
  installInterruptCleanup();
  const v4::ModelConfig &config = source->config;
  const Checkpoint &checkpoint = source->checkpoint;
  std::string tokenizerJson;
  if (compileTo == "artifact" || args.tokenizer) {
    Expected<std::string> tok = chooseTokenizer(args, *source);
    if (!tok)
      return fail(tok.status());
    tokenizerJson = tok.take();
  }
  std::optional<GenerationConfig> generationConfig;
  if (compileTo == "artifact" || args.generationConfig) {
    Expected<std::optional<GenerationConfig>> gen =
        chooseGenerationConfig(args, *source);
    if (!gen)
      return fail(gen.status());
    generationConfig = gen.take();
  }
  timer.done("load");

  mlir::MLIRContext context;
  v4::loadIRBuilderDialects(context);
  context.getOrLoadDialect<bk::BkDialect>();
  v4::BuildOptions buildOptions;
  buildOptions.numerics = numerics;
  buildOptions.sharedExpertClamp = args.sharedClamp == "on";
  Expected<mlir::OwningOpRef<mlir::ModuleOp>> built =
      v4::buildV4Module(context, config, checkpoint, buildOptions);
  if (!built)
    return fail(built.status());
  mlir::OwningOpRef<mlir::ModuleOp> module = built.take();
  timer.done("build-ir");

  auto finish = [&](const char *phase) -> int {
    if (Status s = printModule(*module, output); !s)
      return fail(s);
    (void)phase;
    return 0;
  };
  if (compileTo == "v4")
    return finish("v4");

  if (Status s = runPipeline(
          *module, printAfterAll,
          [](mlir::OpPassManager &pm) { buildModelPipeline(pm); }, "model");
      !s)
    return fail(s);
  timer.done("model");
  if (compileTo == "fused")
    return finish("fused");

  const int64_t tokens = args.maxTokens;
  if (Status s = runPipeline(
          *module, printAfterAll,
          [tokens](mlir::OpPassManager &pm) {
            buildLoweringPipeline(pm, tokens);
          },
          "lowering");
      !s)
    return fail(s);
  timer.done("lowering");
  if (args.dumpIr)
    if (Status s = printModule(*module, *args.dumpIr); !s)
      return fail(s);
  if (compileTo == "kernel")
    return finish("kernel");

  // The CUDA kernels: checked before the artifact is written, so a missing
  // kernel kind fails without leaving a half-made file.
  CudaProgram cudaProgram;
  if (cudaTarget) {
    if (Status s = runPipeline(
            *module, printAfterAll,
            [split = args.splitDecodeAttention](mlir::OpPassManager &pm) {
              buildCudaPipeline(pm, split);
            },
            "cuda");
        !s)
      return fail(s);
    CudaTargetOptions cudaOptions;
    cudaOptions.arch = arch;
    cudaOptions.hostOrderReductions = !args.treeReductions;
    Expected<CudaProgram> compiled =
        compileCudaProgram(module->getOperation(), cudaOptions);
    if (!compiled)
      return fail(compiled.status());
    cudaProgram = compiled.take();
    timer.done("cuda");
  }

  ArtifactOptions options;
  options.cuda = cudaTarget ? &cudaProgram : nullptr;
  options.embedPtx = args.embedPtx;
  options.modelName = source->name;
  options.generated = source->generated ? &source->recipes : nullptr;
  options.numerics = numerics;
  options.target = target;
  // Not given, the default context stays within what the model was trained
  // for, so that a session of the artifact's default draws no warning.
  options.maxContext =
      app.count("--max-context") > 0
          ? args.maxContext
          : std::min(args.maxContext,
                     std::max<int64_t>(1, config.maxPositionEmbeddings));
  options.tokenizerJson = std::move(tokenizerJson);
  options.generationConfig = std::move(generationConfig);
  Expected<ArtifactStats> stats = writeArtifact(module->getOperation(), config,
                                                checkpoint, options, output);
  if (!stats)
    return fail(stats.status());
  timer.done("artifact");
  // The kernels' dump once the artifact is in place: a failed compile
  // leaves the previous dump with the previous artifact.
  if (cudaTarget && args.dumpKernels)
    if (Status s = dumpCudaKernels(cudaProgram, *args.dumpKernels); !s)
      return fail(s);
  logf(LogLevel::Info,
       "birkhoff compile: wrote %s (%llu weights, %llu states, %llu launches, "
       "%.1f MiB of weights)\n",
       output.c_str(), (unsigned long long)stats->weights,
       (unsigned long long)stats->states, (unsigned long long)stats->launches,
       double(stats->weightSectionBytes) / (1024.0 * 1024.0));
  if (stats->generatedWeights)
    logf(LogLevel::Info,
         "birkhoff compile: %llu weights (%.1f MiB) generated at load "
         "time\n",
         (unsigned long long)stats->generatedWeights,
         double(stats->generatedBytes) / (1024.0 * 1024.0));
  if (cudaTarget)
    logf(LogLevel::Info,
         "birkhoff compile: %llu CUDA kernels for %s (%.1f KiB of "
         "cubins)\n",
         (unsigned long long)stats->cudaKernels, arch.c_str(),
         double(stats->cubinBytes) / 1024.0);
  return 0;
}

cli::Runner declareCompile(CLI::App &app) {
  auto args = std::make_shared<CompileArgs>();
  cli::addPositional(
      app, "checkpoint-dir", args->checkpoint,
      "the checkpoint: config.json, the safetensors shards and their index "
      "(not with --synth-preset)",
      /*required=*/false);
  cli::addText(app, "-o,--output FILE", args->output,
               "the artifact; with --compile-to other than artifact, where "
               "the IR goes",
               "none (the IR: stdout)");
  CLI::Option *synth = cli::addChoice(
      app, "--synth-preset", args->synthPreset, kSynthPresets,
      "instead of a checkpoint: the model `birkhoff synth --preset NAME` "
      "would write; the artifact stores no weight bytes, the runtime "
      "generates the same values at load time",
      "none");
  cli::addText(app, "--tokenizer FILE", args->tokenizer,
               "the tokenizer.json to store in the artifact; without one the "
               "artifact takes and gives token ids only",
               "the checkpoint's tokenizer.json; synth's with --synth-preset");
  cli::addText(app, "--generation-config FILE", args->generationConfig,
               "the generation_config.json whose defaults (sampling, lengths, "
               "end-of-sequence ids) the artifact stores",
               "the checkpoint's; synth's with --synth-preset");
  // The synth model's shape, as for `birkhoff synth`.
  cli::addInt(app, "--layers N", args->layers, 0, INT64_MAX,
              "with --synth-preset: keep the first N layers of the schedule",
              "all")
      ->needs(synth);
  cli::addInt(app, "--experts E", args->experts, 0, INT64_MAX,
              "with --synth-preset: routed experts per layer", "the preset's")
      ->needs(synth);
  cli::addInt(app, "--seed S", args->seed, 0, INT64_MAX,
              "with --synth-preset: the seed `synth --seed` would use")
      ->needs(synth);
  cli::addFlag(app, "--unquantized", args->unquantized,
               "with --synth-preset: BF16 linears and experts instead of FP8 "
               "+ FP4")
      ->needs(synth);
  cli::addFlag(app, "--no-mtp", args->noMtp,
               "with --synth-preset: leave out the MTP block")
      ->needs(synth);
  cli::addChoice(app, "--target", args->target, {"host", "cuda"},
                 "code generation target; cuda also compiles every launch's "
                 "kernel with NVRTC (no GPU needed) into the artifact");
  cli::addText(app, "--arch sm_XY[a]", args->arch,
               "--target cuda: the cubins' architecture", "",
               [](const std::string &arch) -> std::string {
                 if (arch.rfind("sm_", 0) == 0 && arch.size() >= 5)
                   return "";
                 return "--arch expects a CUDA architecture like sm_90a, "
                        "got '" +
                        arch + "'";
               });
  cli::addText(app, "--dump-kernels DIR", args->dumpKernels,
               "--target cuda: also write each kernel's .cu, .ptx, .cubin and "
               "a resources.txt into DIR",
               "none");
  cli::addFlag(app, "--embed-ptx", args->embedPtx,
               "--target cuda: store each kernel's PTX in the artifact too");
  cli::addFlag(app, "--tree-reductions", args->treeReductions,
               "--target cuda: norms by block tree sums (faster; not bitwise "
               "equal to the host)");
  cli::addFlag(app, "--split-decode-attention", args->splitDecodeAttention,
               "--target cuda, official numerics: the decode entry's "
               "attention splits each token's keys over blocks (faster at "
               "batch 1; within 2 bf16 ulps of the host kernel, not bitwise)");
  cli::addChoice(app, "--numerics", args->numerics, {"reference", "official"},
                 "numerics profile (docs/kernels.md); official needs head_dim "
                 "- rope_head_dim a multiple of 64 and index_head_dim a "
                 "multiple of 32");
  cli::addChoice(app, "--shared-expert-clamp", args->sharedClamp, {"on", "off"},
                 "clamp the shared expert's SwiGLU like the routed experts' "
                 "(DeepSeek's later code); off is the release-day behaviour");
  // An entry takes an int32 count of tokens; a context is at most the
  // loader's bound, so what compiles also loads.
  cli::addInt(app, "--max-tokens N", args->maxTokens, 1, INT32_MAX,
              "tokens per call of the prefill entry point; longer prompts "
              "are split into calls of at most N");
  cli::addInt(app, "--max-context N", args->maxContext, 1, kMaxContextTokens,
              "a session's default context capacity",
              "4096, or the model's max_position_embeddings when smaller");
  cli::addChoice(app, "--compile-to", args->compileTo,
                 {"v4", "fused", "kernel", "artifact"},
                 "stop after a phase and print its IR (to -o, else stdout): "
                 "v4 as built, fused after the model pipeline, kernel after "
                 "lowering and memory planning");
  cli::addText(app, "--dump-ir FILE", args->dumpIr,
               "also write the kernel-level IR (after lowering) to FILE",
               "none");
  cli::addFlag(app, "--print-ir-after-all", args->printIrAfterAll,
               "print the module to stderr after every pass");
  cli::addFlag(app, "--timing", args->timing,
               "print the time of each phase to stderr");
  return [&app, args] { return runCompile(app, *args); };
}

} // namespace

cli::Command compileCommand() {
  return {"compile", "compile a DeepSeek-V4 checkpoint into an artifact",
          "birkhoff compile <checkpoint-dir> -o <artifact> [options]\n"
          "birkhoff compile --synth-preset tiny|flash|pro -o <artifact> "
          "[options]",
          "Reads config.json and the safetensors headers, validates every "
          "tensor against the config, builds the v4 module, runs the model "
          "pipeline (verification, canonicalization, CSE, fusions) and the "
          "lowering pipeline (kernel launches, memory plan), and writes the "
          "artifact (docs/artifact.md). A failed compile leaves the previous "
          "artifact as it was.",
          declareCompile};
}

} // namespace birkhoff::tools
