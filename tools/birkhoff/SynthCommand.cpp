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

#include <charconv>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>

namespace birkhoff::tools {
namespace {

constexpr const char *kUsage =
    "usage: birkhoff synth (--preset tiny|flash|pro | --config FILE) -o <dir>\n"
    "                      [options]\n"
    "\n"
    "Writes a random-weight DeepSeek-V4 checkpoint (config.json, safetensors\n"
    "shards, model.safetensors.index.json, a byte-level tokenizer.json and\n"
    "DeepSeek-V4's generation_config.json) in DeepSeek's official layout.\n"
    "\n"
    "options:\n"
    "  --preset NAME    tiny (V4_SPEC 7.1), flash (V4-Flash) or pro (V4-Pro)\n"
    "  --config FILE    the shape of a config.json (either key form) instead\n"
    "                   of a preset; its quantization_config is replaced by\n"
    "                   the choice of --unquantized, its MTP count is kept\n"
    "                   unless --no-mtp\n"
    "  -o, --output DIR where to write (created if needed)\n"
    "  --layers N       keep the first N layers of the schedule\n"
    "  --experts E      routed experts per layer (at least the top-k)\n"
    "  --seed S         random seed (default 0)\n"
    "  --unquantized    BF16 linears and experts instead of FP8 + FP4\n"
    "  --no-mtp         leave out the MTP block\n"
    "  --shard-mb M     close a shard before it exceeds M MiB (default 2048)\n"
    "  --threads T      generator threads (default: all cores)\n";

int usageError(const std::string &message) {
  std::fprintf(stderr, "birkhoff synth: %s\n\n%s", message.c_str(), kUsage);
  return 2;
}

std::optional<int64_t> parseCount(const char *text) {
  int64_t v = 0;
  const char *end = text + std::strlen(text);
  auto [ptr, ec] = std::from_chars(text, end, v);
  if (ec != std::errc() || ptr != end || v < 0)
    return std::nullopt;
  return v;
}

} // namespace

int runSynthCommand(int argc, char **argv) {
  std::string preset, configFile, output;
  std::optional<int64_t> layers, experts;
  v4::SynthOptions options;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if (arg == "--unquantized") {
      options.quantized = false;
      continue;
    }
    if (arg == "--no-mtp") {
      options.mtp = false;
      continue;
    }
    bool takesValue = arg == "--preset" || arg == "--config" || arg == "-o" ||
                      arg == "--output" || arg == "--layers" ||
                      arg == "--experts" || arg == "--seed" ||
                      arg == "--shard-mb" || arg == "--threads";
    if (!takesValue)
      return usageError("unknown option '" + arg + "'");
    if (i + 1 >= argc)
      return usageError("option '" + arg + "' needs a value");
    const char *value = argv[++i];
    if (arg == "--preset") {
      preset = value;
      continue;
    }
    if (arg == "--config") {
      configFile = value;
      continue;
    }
    if (arg == "-o" || arg == "--output") {
      output = value;
      continue;
    }
    std::optional<int64_t> n = parseCount(value);
    if (!n)
      return usageError("option '" + arg +
                        "' needs a non-negative integer, got '" + value + "'");
    if (arg == "--layers")
      layers = *n;
    else if (arg == "--experts")
      experts = *n;
    else if (arg == "--seed")
      options.seed = uint64_t(*n);
    else if (arg == "--shard-mb") {
      if (*n < 1)
        return usageError("--shard-mb must be at least 1");
      options.maxShardBytes = *n << 20;
    } else if (arg == "--threads") {
      if (*n < 1)
        return usageError("--threads must be at least 1");
      options.threads = int(*n);
    }
  }
  if (!preset.empty() && !configFile.empty())
    return usageError("--preset and --config are mutually exclusive");
  if (preset.empty() && configFile.empty())
    return usageError("--preset or --config is required");
  if (output.empty())
    return usageError("-o <dir> is required");

  // A bad config file is a usage error too: nothing has been written yet.
  Expected<v4::ModelConfig> config = configFile.empty()
                                         ? v4::presetConfig(preset)
                                         : v4::loadModelConfig(configFile);
  if (!config)
    return usageError(configFile.empty()
                          ? config.status().message()
                          : "--config: " + config.status().toString());
  if (Status s = v4::applySynthShape(*config, layers, experts); !s)
    return usageError(s.message());

  // --config may be the output's own config.json (regenerating a checkpoint
  // in place): it is read whole before anything is written, each file is
  // replaced whole, and an interrupt removes only files synth created.
  installInterruptCleanup();

  v4::SynthStats stats;
  Status s = v4::writeSynthCheckpoint(*config, options, output, &stats);
  if (!s) {
    std::fprintf(stderr, "birkhoff synth: %s\n", s.toString().c_str());
    return 1;
  }
  double mb = double(stats.bytes) / 1e6;
  std::string source =
      configFile.empty() ? "preset " + preset : "config " + configFile;
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

} // namespace birkhoff::tools
