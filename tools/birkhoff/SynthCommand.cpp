//===- SynthCommand.cpp - `birkhoff synth` --------------------------------===//
//
// Writes a random-weight DeepSeek-V4 checkpoint in DeepSeek's layout, of a
// preset shape or of any config.json, for tests, benchmarks of real-sized
// models and the bundled demo checkpoint.
//
//===----------------------------------------------------------------------===//
#include "Commands.h"

#include "deepseek_v4/ModelConfig.h"
#include "deepseek_v4/Synth.h"
#include "deepseek_v4/SynthModel.h"

#include "birkhoff/FileSafety.h"

#include <cstdio>
#include <memory>
#include <optional>
#include <string>

namespace birkhoff::tools {
namespace {

/// The command line, as the declarations read it.
struct SynthArgs {
  std::optional<std::string> preset, configFile;
  std::string output;
  std::optional<int64_t> layers, experts;
  int64_t seed = 0, shardMb = 2048, threads = 0;
  bool unquantized = false, noMtp = false;
};

int runSynth(const CLI::App &app, const SynthArgs &args) {
  if (!args.preset && !args.configFile)
    return cli::usageError(app, "--preset or --config is required");
  v4::SynthOptions options;
  options.seed = uint64_t(args.seed);
  options.quantized = !args.unquantized;
  options.mtp = !args.noMtp;
  options.maxShardBytes = args.shardMb << 20;
  options.threads = int(args.threads);

  // A bad config file is a usage error too: nothing has been written yet.
  Expected<v4::ModelConfig> config =
      args.preset ? v4::presetConfig(*args.preset)
                  : v4::loadModelConfig(*args.configFile);
  if (!config)
    return cli::usageError(app, args.preset ? config.status().message()
                                            : "--config: " +
                                                  config.status().toString());
  if (Status s = v4::applySynthShape(*config, args.layers, args.experts); !s)
    return cli::usageError(app, s.message());

  // --config may be the output's own config.json (regenerating a checkpoint
  // in place): it is read whole before anything is written, each file is
  // replaced whole, and an interrupt removes only files synth created.
  installInterruptCleanup();

  v4::SynthStats stats;
  const std::string &output = args.output;
  Status s = v4::writeSynthCheckpoint(*config, options, output, &stats);
  if (!s) {
    std::fprintf(stderr, "birkhoff synth: %s\n", s.toString().c_str());
    return 1;
  }
  double mb = double(stats.bytes) / 1e6;
  std::string source =
      args.preset ? "preset " + *args.preset : "config " + *args.configFile;
  std::printf("birkhoff synth: wrote %s (%s, %lld layers, %lld experts, %s%s)\n"
              "  %lld tensors, %.1f MB in %lld shards, %.2f s (%.0f MB/s)\n",
              output.c_str(), source.c_str(), (long long)config->nLayers,
              (long long)config->nRoutedExperts,
              options.quantized ? "FP8 linears + FP4 experts" : "BF16",
              options.mtp && config->nMtpLayers > 0 ? ", with MTP" : "",
              (long long)stats.tensors, mb, (long long)stats.shards,
              stats.seconds, stats.seconds > 0 ? mb / stats.seconds : 0.0);
  return 0;
}

cli::Runner declareSynth(CLI::App &app) {
  auto args = std::make_shared<SynthArgs>();
  CLI::Option *preset = cli::addChoice(
      app, "--preset", args->preset, kSynthPresets,
      "the shape: tiny (V4_SPEC 7.1), flash (V4-Flash) or pro (V4-Pro)",
      "none");
  CLI::Option *config = cli::addText(
      app, "--config FILE", args->configFile,
      "the shape of a config.json (either key form) instead of a preset; its "
      "quantization_config is replaced by the choice of --unquantized, its "
      "MTP count kept unless --no-mtp",
      "none");
  preset->excludes(config);
  cli::addText(app, "-o,--output DIR", args->output,
               "where to write (created if needed; files of the same names "
               "are replaced, each whole)")
      ->required();
  cli::addInt(app, "--layers N", args->layers, 0, INT64_MAX,
              "keep the first N layers of the schedule", "all");
  cli::addInt(app, "--experts E", args->experts, 0, INT64_MAX,
              "routed experts per layer (at least the experts activated per "
              "token)",
              "the config's");
  cli::addInt(app, "--seed S", args->seed, 0, INT64_MAX, "random seed");
  cli::addFlag(app, "--unquantized", args->unquantized,
               "BF16 linears and experts instead of FP8 + FP4");
  cli::addFlag(app, "--no-mtp", args->noMtp, "leave out the MTP block");
  // M MiB must fit an int64 count of bytes.
  cli::addInt(app, "--shard-mb M", args->shardMb, 1, INT64_MAX >> 20,
              "close a shard before it exceeds M MiB (at least 2 shards are "
              "written)");
  cli::addInt(app, "--threads T", args->threads, 0, cli::kMaxThreads,
              "generator threads, of the process's worker pool (0: all "
              "cores)");
  return [&app, args] { return runSynth(app, *args); };
}

} // namespace

cli::Command synthCommand() {
  return {"synth", "write a random-weight checkpoint in DeepSeek's layout",
          "birkhoff synth (--preset tiny|flash|pro | --config FILE) -o <dir> "
          "[options]",
          "Writes a random-weight DeepSeek-V4 checkpoint (config.json, "
          "safetensors shards, model.safetensors.index.json, a byte-level "
          "tokenizer.json and DeepSeek-V4's generation_config.json) in "
          "DeepSeek's official layout. Values depend only on the seed, so the "
          "output is the same for any thread count. A config that does not "
          "load is a usage error (exit 2), reported before anything is "
          "written.",
          declareSynth};
}

} // namespace birkhoff::tools
