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
#include "Args.h"
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
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace birkhoff::tools {
namespace {

constexpr const char *kUsage =
    "usage: birkhoff compile <checkpoint-dir> -o <artifact> [options]\n"
    "       birkhoff compile --synth-preset tiny|flash|pro -o <artifact> "
    "[options]\n"
    "  --synth-preset NAME         instead of a checkpoint: the model "
    "`birkhoff\n"
    "                              synth --preset NAME` would write; the\n"
    "                              artifact stores no weight bytes, the "
    "runtime\n"
    "                              generates the same values at load time "
    "(and\n"
    "                              synth's tokenizer unless --tokenizer)\n"
    "  --tokenizer FILE            the tokenizer.json to store in the "
    "artifact\n"
    "                              (default: the checkpoint's "
    "tokenizer.json);\n"
    "                              without one the artifact takes and gives\n"
    "                              token ids only\n"
    "  --generation-config FILE    the generation_config.json whose defaults\n"
    "                              (sampling, lengths, end-of-sequence ids) "
    "the\n"
    "                              artifact stores (default: the "
    "checkpoint's,\n"
    "                              synth's with --synth-preset; none: no\n"
    "                              defaults)\n"
    "  --layers N, --experts E, --seed S, --unquantized, --no-mtp\n"
    "                              with --synth-preset: as for `birkhoff "
    "synth`\n"
    "  --target host|cuda          code generation target (default host); "
    "cuda\n"
    "                              compiles every launch's kernel with NVRTC\n"
    "                              (no GPU needed) into the artifact\n"
    "  --arch sm_90a               CUDA architecture of the cubins (--target "
    "cuda)\n"
    "  --dump-kernels DIR          also write each CUDA kernel's .cu, .ptx "
    "and\n"
    "                              .cubin and a resources.txt into DIR\n"
    "  --embed-ptx                 store each kernel's PTX in the artifact "
    "too\n"
    "  --tree-reductions           CUDA norms by block tree sums (faster; not\n"
    "                              bitwise equal to the host backend)\n"
    "  --split-decode-attention    official decode (one-token) attention "
    "splits\n"
    "                              its keys over blocks (faster at batch 1;\n"
    "                              within 2 bf16 ulps of the host kernel, so\n"
    "                              batch-1 and batched decode logits differ\n"
    "                              within tolerance, not bitwise)\n"
    "  --numerics reference|official  numerics profile (default reference;\n"
    "                              official needs head_dim - rope_head_dim a\n"
    "                              multiple of 64 and index_head_dim a\n"
    "                              multiple of 32)\n"
    "  --shared-expert-clamp on|off  clamp the shared expert's SwiGLU\n"
    "                              like the routed experts' (default on,\n"
    "                              DeepSeek's later V1 code); off reproduces\n"
    "                              the release-day V0 behaviour\n"
    "  --max-tokens N              tokens per prefill call (default 512)\n"
    "  --max-context N             default session context (default 4096)\n"
    "  --compile-to v4|fused|kernel|artifact  stop after a phase; the IR goes "
    "to\n"
    "                              -o (or stdout without -o)\n"
    "  --dump-ir FILE              also write the last phase's IR to FILE\n"
    "  --print-ir-after-all        print the IR after every pass (stderr)\n"
    "  --timing                    print the time of each phase\n";

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
Expected<SourceModel> loadSynthModel(const ParsedArgs &args) {
  const std::string preset = args.get("synth-preset");
  BK_ASSIGN_OR_RETURN(v4::ModelConfig shape, v4::presetConfig(preset));
  std::optional<int64_t> layers, experts;
  v4::SynthOptions options;
  for (const char *name : {"layers", "experts", "seed"}) {
    if (!args.has(name))
      continue;
    BK_ASSIGN_OR_RETURN(int64_t v, args.getInt(name, 0, 0, INT64_MAX));
    if (std::string(name) == "layers")
      layers = v;
    else if (std::string(name) == "experts")
      experts = v;
    else
      options.seed = uint64_t(v);
  }
  options.quantized = !args.has("unquantized");
  options.mtp = !args.has("no-mtp");
  BK_RETURN_IF_ERROR(v4::applySynthShape(shape, layers, experts));
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

/// The text of the option's FILE when given, else of `name` in the
/// checkpoint folder when it exists, else for --synth-preset synth's
/// (`synthText`, when it is not empty); nullopt for none.
Expected<std::optional<Input>>
readInput(const ParsedArgs &args, const SourceModel &source, const char *option,
          const char *name, const char *what,
          const std::function<std::string()> &synthText) {
  std::string path;
  if (args.has(option)) {
    path = args.get(option);
  } else if (source.generated) {
    std::string text = synthText();
    if (text.empty())
      return std::optional<Input>();
    return std::optional<Input>(Input{std::string("synth ") + what, text});
  } else {
    path = (std::filesystem::path(args.positional[0]) / name).string();
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
Expected<std::string> chooseTokenizer(const ParsedArgs &args,
                                      const SourceModel &source) {
  BK_ASSIGN_OR_RETURN(
      std::optional<Input> input,
      readInput(args, source, "tokenizer", "tokenizer.json", "tokenizer",
                [&] { return v4::synthTokenizerJson(source.config); }));
  if (!input && source.generated) {
    std::fprintf(stderr,
                 "birkhoff compile: warning: vocab_size %lld is too small "
                 "for synth's byte-level tokenizer (256 bytes + BOS/EOS): "
                 "the artifact takes and gives token ids only\n",
                 (long long)source.config.vocabSize);
    return std::string();
  }
  if (!input) {
    std::fprintf(stderr, "birkhoff compile: warning: no tokenizer.json: the "
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
chooseGenerationConfig(const ParsedArgs &args, const SourceModel &source) {
  BK_ASSIGN_OR_RETURN(
      std::optional<Input> input,
      readInput(args, source, "generation-config", "generation_config.json",
                "generation config",
                [&] { return v4::synthGenerationConfigJson(source.config); }));
  if (!input)
    return std::optional<GenerationConfig>();
  const std::string &path = input->origin;
  BK_ASSIGN_OR_RETURN(
      GenerationConfig config,
      parseGenerationConfig(input->text, path, source.config.vocabSize));
  if (!config.doSample && config.hasSamplingFields())
    std::fprintf(stderr,
                 "birkhoff compile: warning: generation config '%s' gives "
                 "sampling fields but not do_sample: as in transformers, they "
                 "apply only with do_sample true\n",
                 path.c_str());
  if (config.repetitionPenalty && *config.repetitionPenalty != 1.0f)
    std::fprintf(stderr,
                 "birkhoff compile: warning: generation config '%s' gives "
                 "repetition_penalty %g: stored, but not applied (Birkhoff's "
                 "sampler has no penalties)\n",
                 path.c_str(), double(*config.repetitionPenalty));
  return std::optional<GenerationConfig>(std::move(config));
}

/// Every file the compile reads: the checkpoint's config, index and shards,
/// its tokenizer and generation config, or the files given for them.
std::vector<std::string> inputFiles(const ParsedArgs &args,
                                    const SourceModel &source) {
  std::vector<std::string> inputs;
  for (const char *option : {"tokenizer", "generation-config"})
    if (args.has(option))
      inputs.push_back(args.get(option));
  if (source.generated)
    return inputs;
  std::filesystem::path dir(args.positional[0]);
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

} // namespace

int runCompileCommand(int argc, char **argv) {
  // `-o FILE` is the one short option; map it onto --output.
  std::vector<std::string> storage;
  for (int i = 0; i < argc; ++i)
    storage.push_back(std::string(argv[i]) == "-o" ? "--output" : argv[i]);
  std::vector<char *> args;
  for (std::string &s : storage)
    args.push_back(s.data());
  Expected<ParsedArgs> parsed = parseArgs(
      int(args.size()), args.data(),
      {"output", "target", "numerics", "max-tokens", "max-context",
       "compile-to", "dump-ir", "shared-expert-clamp", "arch", "dump-kernels",
       "synth-preset", "layers", "experts", "seed", "tokenizer",
       "generation-config"},
      {"timing", "print-ir-after-all", "help", "embed-ptx", "tree-reductions",
       "split-decode-attention", "unquantized", "no-mtp"});
  if (!parsed) {
    std::fprintf(stderr, "birkhoff compile: %s\n%s",
                 parsed.status().message().c_str(), kUsage);
    return 2;
  }
  if (parsed->has("help")) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  const bool synth = parsed->has("synth-preset");
  if (parsed->positional.size() != (synth ? 0u : 1u)) {
    std::fprintf(stderr,
                 synth ? "birkhoff compile: --synth-preset takes no "
                         "checkpoint directory\n%s"
                       : "birkhoff compile: expected one checkpoint "
                         "directory (or --synth-preset)\n%s",
                 kUsage);
    return 2;
  }
  if (!synth)
    for (const char *o : {"layers", "experts", "seed", "unquantized", "no-mtp"})
      if (parsed->has(o))
        return fail(
            invalidArgument(std::string("--") + o + " needs --synth-preset"));
  const std::string output = parsed->get("output");
  const std::string target = parsed->get("target", "host");
  const std::string numerics = parsed->get("numerics", "reference");
  const std::string compileTo = parsed->get("compile-to", "artifact");
  const std::string sharedClamp = parsed->get("shared-expert-clamp", "on");
  // An entry takes an int32 count of tokens; a context is at most the
  // loader's bound, so what compiles also loads.
  Expected<int64_t> maxTokens = parsed->getInt("max-tokens", 512, 1, INT32_MAX);
  Expected<int64_t> maxContext =
      parsed->getInt("max-context", 4096, 1, kMaxContextTokens);
  for (const Expected<int64_t> *v : {&maxTokens, &maxContext})
    if (!*v) {
      std::fprintf(stderr, "birkhoff compile: %s\n",
                   v->status().message().c_str());
      return 2;
    }
  if (target != "host" && target != "cuda")
    return fail(
        invalidArgument("unknown --target '" + target + "' (host|cuda)"));
  const bool cudaTarget = target == "cuda";
  if (!cudaTarget &&
      (parsed->has("arch") || parsed->has("dump-kernels") ||
       parsed->has("embed-ptx") || parsed->has("tree-reductions") ||
       parsed->has("split-decode-attention")))
    return fail(invalidArgument("--arch, --dump-kernels, --embed-ptx, "
                                "--tree-reductions and "
                                "--split-decode-attention need --target cuda"));
  const std::string arch = parsed->get("arch", "sm_90a");
  if (arch.rfind("sm_", 0) != 0 || arch.size() < 5)
    return fail(invalidArgument("--arch '" + arch +
                                "' is not a CUDA architecture like sm_90a"));
  if (numerics != "reference" && numerics != "official")
    return fail(invalidArgument("unknown --numerics '" + numerics +
                                "' (reference|official)"));
  if (sharedClamp != "on" && sharedClamp != "off")
    return fail(invalidArgument("unknown --shared-expert-clamp '" +
                                sharedClamp + "' (on|off)"));
  if (compileTo != "v4" && compileTo != "fused" && compileTo != "kernel" &&
      compileTo != "artifact")
    return fail(invalidArgument("unknown --compile-to '" + compileTo +
                                "' (v4|fused|kernel|artifact)"));
  if (compileTo == "artifact" && output.empty())
    return fail(invalidArgument("missing -o <artifact>"));
  const bool printAfterAll = parsed->has("print-ir-after-all");
  PhaseTimer timer(parsed->has("timing"));

  Expected<SourceModel> source =
      synth ? loadSynthModel(*parsed)
            : loadCheckpointModel(parsed->positional[0]);
  if (!source)
    return fail(source.status());
  // The artifact replaces its target only when complete (FileSafety.h), but
  // an input as the target would still be destroyed: refused up front, with
  // the usage errors (exit 2), before any work.
  for (const char *option : {"output", "dump-ir"}) {
    const std::string path = parsed->get(option);
    if (path.empty() || path == "-")
      continue;
    if (Status s = refuseInputAsOutput(path, inputFiles(*parsed, *source));
        !s) {
      std::fprintf(stderr, "birkhoff compile: %s\n", s.message().c_str());
      return 2;
    }
  }
  installInterruptCleanup();
  const v4::ModelConfig &config = source->config;
  const Checkpoint &checkpoint = source->checkpoint;
  std::string tokenizerJson;
  if (compileTo == "artifact" || parsed->has("tokenizer")) {
    Expected<std::string> tok = chooseTokenizer(*parsed, *source);
    if (!tok)
      return fail(tok.status());
    tokenizerJson = tok.take();
  }
  std::optional<GenerationConfig> generationConfig;
  if (compileTo == "artifact" || parsed->has("generation-config")) {
    Expected<std::optional<GenerationConfig>> gen =
        chooseGenerationConfig(*parsed, *source);
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
  buildOptions.sharedExpertClamp = sharedClamp == "on";
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

  const int64_t tokens = *maxTokens;
  if (Status s = runPipeline(
          *module, printAfterAll,
          [tokens](mlir::OpPassManager &pm) {
            buildLoweringPipeline(pm, tokens);
          },
          "lowering");
      !s)
    return fail(s);
  timer.done("lowering");
  if (parsed->has("dump-ir"))
    if (Status s = printModule(*module, parsed->get("dump-ir")); !s)
      return fail(s);
  if (compileTo == "kernel")
    return finish("kernel");

  // The CUDA kernels: checked before the artifact is written, so a missing
  // kernel kind fails without leaving a half-made file.
  CudaProgram cudaProgram;
  if (cudaTarget) {
    if (Status s = runPipeline(
            *module, printAfterAll,
            [split = parsed->has("split-decode-attention")](
                mlir::OpPassManager &pm) { buildCudaPipeline(pm, split); },
            "cuda");
        !s)
      return fail(s);
    CudaTargetOptions cudaOptions;
    cudaOptions.arch = arch;
    cudaOptions.hostOrderReductions = !parsed->has("tree-reductions");
    Expected<CudaProgram> compiled =
        compileCudaProgram(module->getOperation(), cudaOptions);
    if (!compiled)
      return fail(compiled.status());
    cudaProgram = compiled.take();
    timer.done("cuda");
    if (parsed->has("dump-kernels"))
      if (Status s = dumpCudaKernels(cudaProgram, parsed->get("dump-kernels"));
          !s)
        return fail(s);
  }

  ArtifactOptions options;
  options.cuda = cudaTarget ? &cudaProgram : nullptr;
  options.embedPtx = parsed->has("embed-ptx");
  options.modelName = source->name;
  options.generated = source->generated ? &source->recipes : nullptr;
  options.numerics = numerics;
  options.target = target;
  options.maxContext = *maxContext;
  options.tokenizerJson = std::move(tokenizerJson);
  options.generationConfig = std::move(generationConfig);
  Expected<ArtifactStats> stats = writeArtifact(module->getOperation(), config,
                                                checkpoint, options, output);
  if (!stats)
    return fail(stats.status());
  timer.done("artifact");
  std::fprintf(
      stderr,
      "birkhoff compile: wrote %s (%llu weights, %llu states, %llu launches, "
      "%.1f MiB of weights)\n",
      output.c_str(), (unsigned long long)stats->weights,
      (unsigned long long)stats->states, (unsigned long long)stats->launches,
      double(stats->weightSectionBytes) / (1024.0 * 1024.0));
  if (stats->generatedWeights)
    std::fprintf(stderr,
                 "birkhoff compile: %llu weights (%.1f MiB) generated at load "
                 "time\n",
                 (unsigned long long)stats->generatedWeights,
                 double(stats->generatedBytes) / (1024.0 * 1024.0));
  if (cudaTarget)
    std::fprintf(stderr,
                 "birkhoff compile: %llu CUDA kernels for %s (%.1f KiB of "
                 "cubins)\n",
                 (unsigned long long)stats->cudaKernels, arch.c_str(),
                 double(stats->cubinBytes) / 1024.0);
  return 0;
}

} // namespace birkhoff::tools
