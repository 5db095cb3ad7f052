//===- InspectCommand.cpp - `birkhoff inspect`: what an artifact holds ----===//
#include "Args.h"
#include "ArtifactLoader.h"
#include "Commands.h"
#include "WeightGeneration.h"
#include "birkhoff/CheckedMath.h"
#include "birkhoff/GenerationConfig.h"
#include "birkhoff/Tokenizer.h"
#include "birkhoff/WorkerPool.h"

#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <optional>
#include <string>

namespace birkhoff::tools {
namespace {

/// The `generation` lines: the stored generation config's fields, and what
/// of them is not applied.
void printGenerationConfig(const std::optional<GenerationConfig> &g) {
  if (!g) {
    std::printf("generation none: no generation config (no sampling "
                "defaults)\n");
    return;
  }
  std::string fields;
  auto add = [&](const char *name, const std::string &value) {
    fields += (fields.empty() ? "" : ", ") + std::string(name) + " " + value;
  };
  auto real = [](float v) {
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%g", double(v));
    return std::string(buf);
  };
  if (g->doSample)
    add("do_sample", *g->doSample ? "true" : "false");
  if (g->temperature)
    add("temperature", real(*g->temperature));
  if (g->topP)
    add("top_p", real(*g->topP));
  if (g->topK)
    add("top_k", std::to_string(*g->topK));
  if (g->maxNewTokens)
    add("max_new_tokens", std::to_string(*g->maxNewTokens));
  if (g->maxLength)
    add("max_length", std::to_string(*g->maxLength));
  if (!g->eosTokenIds.empty()) {
    std::string ids;
    for (int32_t id : g->eosTokenIds)
      ids += (ids.empty() ? "" : ",") + std::to_string(id);
    add("eos_token_id", ids);
  }
  if (g->repetitionPenalty)
    add("repetition_penalty", real(*g->repetitionPenalty));
  std::printf("generation %s\n",
              fields.empty() ? "stored, with none of the fields Birkhoff reads"
                             : fields.c_str());
  const bool samplingFields = g->temperature || g->topP || g->topK;
  if (g->doSample && !*g->doSample && samplingFields)
    std::printf("           do_sample false: greedy; temperature, top_p and "
                "top_k are not applied\n");
  else if (!g->doSample && samplingFields)
    std::printf("           no do_sample: temperature, top_p and top_k are "
                "not applied\n");
  if (g->repetitionPenalty)
    std::printf("           repetition_penalty: unsupported, not applied "
                "(Birkhoff's sampler has no penalties)\n");
}

} // namespace

int runInspectCommand(int argc, char **argv) {
  auto args = parseArgs(argc, argv, {"context", "threads"},
                        {"help", "launches", "generate"});
  const char *usage =
      "usage: birkhoff inspect <artifact> [--launches] [--context N]\n"
      "                        [--generate [--threads T]]\n"
      "Prints the artifact's config, entry points and their kernels (every\n"
      "launch with --launches), CUDA kernels of a --target cuda artifact\n"
      "(their resources with --launches), weight bytes by dtype (and those\n"
      "generated at load time), and per-session state: fixed bytes, bytes per\n"
      "token of context, and the total at --context tokens. --generate also\n"
      "generates the weights made at load time, on T threads (default: all\n"
      "cores), and times it.\n";
  if (args && args->has("help")) {
    std::fputs(usage, stdout);
    return 0;
  }
  if (!args || args->positional.size() != 1) {
    std::fputs(usage, stderr);
    return 2;
  }
  auto context = args->getInt("context", 0, 0, kMaxContextTokens);
  if (!context) {
    std::fprintf(stderr, "birkhoff inspect: %s\n",
                 context.status().message().c_str());
    return 2;
  }
  auto loaded = rt::loadArtifact(args->positional[0]);
  if (!loaded) {
    std::fprintf(stderr, "birkhoff inspect: %s\n",
                 loaded.status().toString().c_str());
    return 1;
  }
  const rt::Program &p = loaded->program;
  const rt::ConfigDesc &c = p.config;
  std::printf("artifact   %s (format %u, %llu bytes)\n",
              args->positional[0].c_str(), p.formatVersion,
              (unsigned long long)loaded->file->size());
  std::printf("producer   %s\nmodel      %s\nnumerics   %s\ntarget     %s\n",
              p.producer.c_str(), p.modelName.c_str(), p.numerics.c_str(),
              p.target.c_str());
  std::printf("config     vocab %lld, dim %lld, layers %lld, heads %lld x %lld "
              "(rope %lld), window %lld, hc %lld, experts %lld (top %lld)\n",
              (long long)c.vocabSize, (long long)c.dim, (long long)c.nLayers,
              (long long)c.nHeads, (long long)c.headDim,
              (long long)c.ropeHeadDim, (long long)c.windowSize,
              (long long)c.hcMult, (long long)c.nRoutedExperts,
              (long long)c.nActivatedExperts);
  if (p.tokenizer)
    std::printf("tokenizer  %d ids, %zu added tokens (%zu special)\n",
                int(p.tokenizer->vocabSize()), p.tokenizer->addedTokenCount(),
                p.tokenizer->specialTokenCount());
  else
    std::printf("tokenizer  none: the artifact takes and gives token ids "
                "only\n");
  printGenerationConfig(p.generationConfig);
  std::printf("layers    ");
  for (size_t l = 0; l < c.layerKinds.size(); ++l) {
    static const char *kinds[] = {"window", "csa", "hca"};
    int k = c.layerKinds[l];
    std::printf(" %s", k >= 0 && k < 3 ? kinds[k] : "?");
    if (l < c.compressRatios.size() && c.compressRatios[l] > 0)
      std::printf("/%d", c.compressRatios[l]);
  }
  std::printf("\n\nentry points\n");
  for (const rt::EntryDesc &e : p.entries) {
    std::map<std::string, int> counts;
    size_t cudaKernels = 0; // an op may lower to several kernels
    for (const rt::LaunchDesc &l : e.launches) {
      ++counts[l.kernel];
      cudaKernels += l.cudaKernel >= 0 ? l.cudaKernelSequence().size() : 0;
    }
    std::printf("  %-8s max %d tokens, %zu launches, %zu buffers, arena %lld "
                "floats/token\n",
                e.name.c_str(), e.maxTokens, e.launches.size(),
                e.buffers.size(), (long long)e.arenaElemsPerToken);
    if (cudaKernels > 0)
      std::printf("           %zu CUDA kernels a call\n", cudaKernels);
    for (const auto &[kernel, n] : counts)
      std::printf("    %-20s x%d\n", kernel.c_str(), n);
    if (args->has("launches"))
      for (const rt::LaunchDesc &l : e.launches) {
        std::printf("      [L%d] %s", l.layer, l.kernel.c_str());
        for (const auto &[k, v] : encodeParamPairs(l.params))
          std::printf(" %s=%g", k.c_str(), v);
        std::printf("\n");
      }
  }

  if (!p.cudaKernels.empty()) {
    uint64_t cubinBytes = 0;
    std::map<std::string, int> perKind;
    for (const rt::CudaKernelDesc &k : p.cudaKernels) {
      cubinBytes += k.cubinSize;
      ++perKind[k.kernel];
    }
    std::printf("\ncuda       %zu kernels (%s), %llu bytes of cubins\n",
                p.cudaKernels.size(), p.cudaKernels.front().arch.c_str(),
                (unsigned long long)cubinBytes);
    for (const auto &[kernel, n] : perKind)
      std::printf("  %-20s x%d\n", kernel.c_str(), n);
    if (args->has("launches"))
      for (const rt::CudaKernelDesc &k : p.cudaKernels)
        std::printf("    %s: %d registers, %d spill bytes, %d stack, %d smem; "
                    "block %d, "
                    "grid.x %lld*S+%lld, grid.y %s%lld\n",
                    k.name.c_str(), k.registers, k.spillBytes, k.stackBytes,
                    k.sharedBytes, k.grid.block, (long long)k.grid.xPerToken,
                    (long long)k.grid.xConst, k.grid.tokensPerY ? "S/" : "",
                    (long long)(k.grid.tokensPerY ? k.grid.tokensPerY : 1));
  }

  std::map<std::string, std::pair<int, uint64_t>> byDtype;
  for (const rt::WeightDesc &w : p.weights) {
    auto &slot = byDtype[std::string(dtypeName(w.dtype))];
    ++slot.first;
    slot.second += w.size;
  }
  std::printf("\nweights    %zu tensors, %llu bytes\n", p.weights.size(),
              (unsigned long long)(p.weightSectionSize + p.generatedBytes));
  for (const auto &[name, v] : byDtype)
    std::printf("  %-10s %6d tensors %14llu bytes\n", name.c_str(), v.first,
                (unsigned long long)v.second);
  if (p.generatedBytes > 0) {
    size_t generated = 0;
    for (const rt::WeightDesc &w : p.weights)
      generated += w.generated;
    std::printf("  generated  %6zu tensors %14llu bytes: not stored, made at "
                "load time from recipes\n",
                generated, (unsigned long long)p.generatedBytes);
  }
  if (args->has("generate")) {
    auto threads = args->getInt("threads", 0, 0, kMaxThreads);
    if (!threads) {
      std::fprintf(stderr, "birkhoff inspect: %s\n",
                   threads.status().message().c_str());
      return 2;
    }
    auto start = std::chrono::steady_clock::now();
    std::shared_ptr<WorkerPool> pool = WorkerPool::shared(); // as a load's
    Status s =
        rt::materializeGeneratedWeights(*loaded, Workers(*pool, int(*threads)));
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
            .count();
    if (!s) {
      std::fprintf(stderr, "birkhoff inspect: %s\n", s.toString().c_str());
      return 1;
    }
    std::printf("           generated in %.2f s (%.0f MB/s)\n", seconds,
                seconds > 0 ? double(p.generatedBytes) / 1e6 / seconds : 0.0);
  }

  const int64_t ctx = *context > 0 ? *context : p.maxContext;
  // Checked sums: the context comes from a flag or the file.
  uint64_t fixed = 0, atCtx = 0;
  double perToken = 0.0;
  for (const rt::StateDesc &s : p.states) {
    Expected<uint64_t> empty = s.bytesFor(0), full = s.bytesFor(ctx);
    std::optional<uint64_t> sumFixed, sumAt;
    if (empty && full) {
      sumFixed = checkedAdd(fixed, *empty);
      sumAt = checkedAdd(atCtx, *full);
    }
    if (!sumFixed || !sumAt) {
      Status st = !empty  ? empty.status()
                  : !full ? full.status()
                          : outOfRange("the states' bytes at a context of " +
                                       std::to_string(ctx) +
                                       " tokens overflow 64 bits");
      std::fprintf(stderr, "birkhoff inspect: %s\n", st.toString().c_str());
      return 1;
    }
    fixed = *sumFixed;
    atCtx = *sumAt;
    if (s.tokensPerRow > 0)
      perToken += double(s.bytesPerRow) / double(s.tokensPerRow);
  }
  std::printf(
      "\nstate      %zu buffers per session: %llu bytes fixed + %.1f bytes per "
      "token of context\n",
      p.states.size(), (unsigned long long)fixed, perToken);
  std::printf("           %llu bytes at %lld tokens (default context %lld)\n",
              (unsigned long long)atCtx, (long long)ctx,
              (long long)p.maxContext);
  return 0;
}

} // namespace birkhoff::tools
