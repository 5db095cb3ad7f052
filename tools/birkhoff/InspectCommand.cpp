//===- InspectCommand.cpp - `birkhoff inspect`: what an artifact holds ----===//
#include "ArtifactLoader.h"
#include "Commands.h"
#include "JsonOut.h"
#include "TextOut.h"
#include "WeightGeneration.h"
#include "WeightVerification.h"
#include "birkhoff/CheckedMath.h"
#include "birkhoff/GenerationConfig.h"
#include "birkhoff/Progress.h"
#include "birkhoff/Tokenizer.h"
#include "birkhoff/WorkerPool.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <optional>
#include <string>

namespace birkhoff::tools {
namespace {

/// The stored generation config as JSON: the fields present (null: none).
nlohmann::json generationConfigJson(const std::optional<GenerationConfig> &g) {
  if (!g)
    return nullptr;
  nlohmann::json j = nlohmann::json::object();
  if (g->doSample)
    j["do_sample"] = *g->doSample;
  if (g->temperature)
    j["temperature"] = *g->temperature;
  if (g->topP)
    j["top_p"] = *g->topP;
  if (g->topK)
    j["top_k"] = *g->topK;
  if (g->maxNewTokens)
    j["max_new_tokens"] = *g->maxNewTokens;
  if (g->maxLength)
    j["max_length"] = *g->maxLength;
  if (!g->eosTokenIds.empty())
    j["eos_token_id"] = g->eosTokenIds;
  if (g->repetitionPenalty)
    j["repetition_penalty"] = *g->repetitionPenalty;
  return j;
}

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

/// The command line, as the declarations read it.
struct InspectArgs {
  std::string path;
  int64_t context = 0, threads = 0;
  bool launches = false, generate = false, verify = false, json = false;
};

int runInspect(const InspectArgs &args) {
  auto loaded = rt::loadArtifact(args.path);
  if (!loaded) {
    std::fprintf(stderr, "birkhoff inspect: %s\n",
                 loaded.status().toString().c_str());
    return 1;
  }
  const rt::Program &p = loaded->program;
  const TextOut say{!args.json};
  nlohmann::json j;
  const rt::ConfigDesc &c = p.config;
  say("artifact   %s (format %u, %llu bytes)\n", args.path.c_str(),
      p.formatVersion, (unsigned long long)loaded->file->size());
  say("producer   %s\nmodel      %s\nnumerics   %s\ntarget     %s\n",
      p.producer.c_str(), p.modelName.c_str(), p.numerics.c_str(),
      p.target.c_str());
  j["artifact"] = {{"path", args.path},
                   {"format", p.formatVersion},
                   {"file_bytes", loaded->file->size()}};
  j["producer"] = p.producer;
  j["model"] = p.modelName;
  j["numerics"] = p.numerics;
  j["target"] = p.target;
  j["config"] = {
      {"vocab_size", c.vocabSize},
      {"dim", c.dim},
      {"n_layers", c.nLayers},
      {"n_heads", c.nHeads},
      {"head_dim", c.headDim},
      {"rope_head_dim", c.ropeHeadDim},
      {"window_size", c.windowSize},
      {"hc_mult", c.hcMult},
      {"n_routed_experts", c.nRoutedExperts},
      {"n_activated_experts", c.nActivatedExperts},
      {"max_position_embeddings", c.maxPositionEmbeddings > 0
                                      ? nlohmann::json(c.maxPositionEmbeddings)
                                      : nlohmann::json(nullptr)}};
  if (p.tokenizer)
    j["tokenizer"] = {{"vocab_size", p.tokenizer->vocabSize()},
                      {"added_tokens", p.tokenizer->addedTokenCount()},
                      {"special_tokens", p.tokenizer->specialTokenCount()}};
  else
    j["tokenizer"] = nullptr;
  j["generation_config"] = generationConfigJson(p.generationConfig);
  say("config     vocab %lld, dim %lld, layers %lld, heads %lld x %lld "
      "(rope %lld), window %lld, hc %lld, experts %lld (top %lld)\n",
      (long long)c.vocabSize, (long long)c.dim, (long long)c.nLayers,
      (long long)c.nHeads, (long long)c.headDim, (long long)c.ropeHeadDim,
      (long long)c.windowSize, (long long)c.hcMult, (long long)c.nRoutedExperts,
      (long long)c.nActivatedExperts);
  // The context the model was trained for: a session beyond it gets a
  // warning (ModelInfo::contextWarning).
  if (c.maxPositionEmbeddings > 0)
    say("trained    %lld tokens of context (max_position_embeddings)\n",
        (long long)c.maxPositionEmbeddings);
  else
    say("trained    context not recorded (no max_position_embeddings)\n");
  if (p.tokenizer)
    say("tokenizer  %d ids, %zu added tokens (%zu special)\n",
        int(p.tokenizer->vocabSize()), p.tokenizer->addedTokenCount(),
        p.tokenizer->specialTokenCount());
  else
    say("tokenizer  none: the artifact takes and gives token ids "
        "only\n");
  if (say.on)
    printGenerationConfig(p.generationConfig);
  say("layers    ");
  j["layers"] = nlohmann::json::array();
  for (size_t l = 0; l < c.layerKinds.size(); ++l) {
    static const char *kinds[] = {"window", "csa", "hca"};
    int k = c.layerKinds[l];
    const int ratio =
        l < c.compressRatios.size() ? std::max(c.compressRatios[l], 0) : 0;
    say(" %s", k >= 0 && k < 3 ? kinds[k] : "?");
    if (ratio > 0)
      say("/%d", ratio);
    j["layers"].push_back({{"kind", k >= 0 && k < 3 ? kinds[k] : "?"},
                           {"compress_ratio", ratio}});
  }
  say("\n\nentry points\n");
  j["entries"] = nlohmann::json::array();
  for (const rt::EntryDesc &e : p.entries) {
    std::map<std::string, int> counts;
    size_t cudaKernels = 0; // an op may lower to several kernels
    for (const rt::LaunchDesc &l : e.launches) {
      ++counts[l.kernel];
      cudaKernels += l.cudaKernel >= 0 ? l.cudaKernelSequence().size() : 0;
    }
    say("  %-8s max %d tokens, %zu launches, %zu buffers, arena %lld "
        "floats/token\n",
        e.name.c_str(), e.maxTokens, e.launches.size(), e.buffers.size(),
        (long long)e.arenaElemsPerToken);
    if (cudaKernels > 0)
      say("           %zu CUDA kernels a call\n", cudaKernels);
    for (const auto &[kernel, n] : counts)
      say("    %-20s x%d\n", kernel.c_str(), n);
    nlohmann::json entry = {{"name", e.name},
                            {"max_tokens", e.maxTokens},
                            {"launches", e.launches.size()},
                            {"buffers", e.buffers.size()},
                            {"arena_floats_per_token", e.arenaElemsPerToken},
                            {"cuda_kernels_per_call", cudaKernels},
                            {"kernel_launches", counts}};
    if (args.launches) {
      entry["launch_list"] = nlohmann::json::array();
      for (const rt::LaunchDesc &l : e.launches) {
        say("      [L%d] %s", l.layer, l.kernel.c_str());
        nlohmann::json params = nlohmann::json::object();
        for (const auto &[k, v] : encodeParamPairs(l.params)) {
          say(" %s=%g", k.c_str(), v);
          params[k] = v;
        }
        say("\n");
        entry["launch_list"].push_back(
            {{"layer", l.layer}, {"kernel", l.kernel}, {"params", params}});
      }
    }
    j["entries"].push_back(std::move(entry));
  }

  j["cuda"] = nullptr;
  if (!p.cudaKernels.empty()) {
    uint64_t cubinBytes = 0;
    std::map<std::string, int> perKind;
    for (const rt::CudaKernelDesc &k : p.cudaKernels) {
      cubinBytes += k.cubinSize;
      ++perKind[k.kernel];
    }
    say("\ncuda       %zu kernels (%s), %llu bytes of cubins\n",
        p.cudaKernels.size(), p.cudaKernels.front().arch.c_str(),
        (unsigned long long)cubinBytes);
    for (const auto &[kernel, n] : perKind)
      say("  %-20s x%d\n", kernel.c_str(), n);
    j["cuda"] = {{"kernels", p.cudaKernels.size()},
                 {"arch", p.cudaKernels.front().arch},
                 {"cubin_bytes", cubinBytes},
                 {"kernels_by_op", perKind}};
    if (args.launches) {
      j["cuda"]["kernel_list"] = nlohmann::json::array();
      for (const rt::CudaKernelDesc &k : p.cudaKernels) {
        j["cuda"]["kernel_list"].push_back(
            {{"name", k.name},
             {"registers", k.registers},
             {"spill_bytes", k.spillBytes},
             {"stack_bytes", k.stackBytes},
             {"shared_bytes", k.sharedBytes},
             {"block", k.grid.block},
             {"grid_x_per_token", k.grid.xPerToken},
             {"grid_x_const", k.grid.xConst},
             {"grid_y_tokens_per_y", k.grid.tokensPerY}});
        say("    %s: %d registers, %d spill bytes, %d stack, %d smem; "
            "block %d, "
            "grid.x %lld*S+%lld, grid.y %s%lld\n",
            k.name.c_str(), k.registers, k.spillBytes, k.stackBytes,
            k.sharedBytes, k.grid.block, (long long)k.grid.xPerToken,
            (long long)k.grid.xConst, k.grid.tokensPerY ? "S/" : "",
            (long long)(k.grid.tokensPerY ? k.grid.tokensPerY : 1));
      }
    }
  }

  std::map<std::string, std::pair<int, uint64_t>> byDtype;
  for (const rt::WeightDesc &w : p.weights) {
    auto &slot = byDtype[std::string(dtypeName(w.dtype))];
    ++slot.first;
    slot.second += w.size;
  }
  say("\nweights    %zu tensors, %llu bytes\n", p.weights.size(),
      (unsigned long long)(p.weightSectionSize + p.generatedBytes));
  j["weights"] = {{"tensors", p.weights.size()},
                  {"bytes", p.weightSectionSize + p.generatedBytes},
                  {"by_dtype", nlohmann::json::object()}};
  for (const auto &[name, v] : byDtype)
    j["weights"]["by_dtype"][name] = {{"tensors", v.first},
                                      {"bytes", v.second}};
  for (const auto &[name, v] : byDtype)
    say("  %-10s %6d tensors %14llu bytes\n", name.c_str(), v.first,
        (unsigned long long)v.second);
  if (p.generatedBytes > 0) {
    size_t generated = 0;
    for (const rt::WeightDesc &w : p.weights)
      generated += w.generated;
    j["weights"]["generated"] = {{"tensors", generated},
                                 {"bytes", p.generatedBytes}};
    say("  generated  %6zu tensors %14llu bytes: not stored, made at "
        "load time from recipes\n",
        generated, (unsigned long long)p.generatedBytes);
  }
  // --generate and --verify show their progress on stderr as a load does.
  ProgressGroup progress("inspect");
  const ModelOptions::Progress report =
      [&progress](std::string_view task, uint64_t n, uint64_t total) {
        progress.report(task, n, total);
      };
  if (args.generate) {
    auto start = std::chrono::steady_clock::now();
    std::shared_ptr<WorkerPool> pool = WorkerPool::shared(); // as a load's
    Status s = rt::materializeGeneratedWeights(
        *loaded, Workers(*pool, int(args.threads)), report);
    progress.finish();
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
            .count();
    if (!s) {
      std::fprintf(stderr, "birkhoff inspect: %s\n", s.toString().c_str());
      return 1;
    }
    j["weights"]["generation_s"] = seconds;
    say("           generated in %.2f s (%.0f MB/s)\n", seconds,
        seconds > 0 ? double(p.generatedBytes) / 1e6 / seconds : 0.0);
  }
  if (args.verify) {
    auto start = std::chrono::steady_clock::now();
    std::shared_ptr<WorkerPool> pool = WorkerPool::shared();
    auto verified = rt::verifyWeights(p, Workers(*pool, int(args.threads)),
                                      args.path, report);
    progress.finish();
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
            .count();
    if (!verified) {
      std::fprintf(stderr, "birkhoff inspect: %s\n",
                   verified.status().toString().c_str());
      return 1;
    }
    j["verify"] = {{"program", "ok"},
                   {"weights", verified->weights},
                   {"bytes", verified->bytes},
                   {"seconds", seconds}};
    say("verify     program and %llu stored weights (%llu bytes): checksums "
        "match, %.2f s (%.0f MB/s)\n",
        (unsigned long long)verified->weights,
        (unsigned long long)verified->bytes, seconds,
        seconds > 0 ? double(verified->bytes) / 1e6 / seconds : 0.0);
  }

  const int64_t ctx = args.context > 0 ? args.context : p.maxContext;
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
  say("\nstate      %zu buffers per session: %llu bytes fixed + %.1f bytes per "
      "token of context\n",
      p.states.size(), (unsigned long long)fixed, perToken);
  say("           %llu bytes at %lld tokens (default context %lld)\n",
      (unsigned long long)atCtx, (long long)ctx, (long long)p.maxContext);
  j["state"] = {
      {"buffers", p.states.size()},  {"fixed_bytes", fixed},
      {"bytes_per_token", perToken}, {"context_tokens", ctx},
      {"bytes_at_context", atCtx},   {"default_context_tokens", p.maxContext}};
  if (!say.on)
    printJson(j);
  return 0;
}

cli::Runner declareInspect(CLI::App &app) {
  auto args = std::make_shared<InspectArgs>();
  cli::addPositional(app, "artifact", args->path, "the artifact to show");
  cli::addFlag(app, "--launches", args->launches,
               "also list every launch with its layer and parameters, and "
               "the CUDA kernels' resources");
  cli::addInt(app, "--context N", args->context, 0, kMaxContextTokens,
              "the context at which to give the state's size",
              "0 (the artifact's default context)");
  cli::addFlag(app, "--generate", args->generate,
               "also generate the weights made at load time, as a load does, "
               "and time it");
  cli::addFlag(app, "--verify", args->verify,
               "check every stored weight's checksum and print the result (a "
               "damaged weight is exit 1 naming it)");
  cli::addInt(app, "--threads T", args->threads, 0, cli::kMaxThreads,
              "threads of --generate and --verify, of the process's worker "
              "pool (0: all cores)");
  cli::addFlag(app, "--json", args->json, "print the same as one JSON object");
  return [args] { return runInspect(*args); };
}

} // namespace

cli::Command inspectCommand() {
  return {"inspect", "show an artifact's config, program, weights and state",
          "birkhoff inspect <artifact> [--launches] [--context N] [--generate] "
          "[--verify]\n                 [--threads T] [--json]",
          "Loads and verifies the artifact and prints its config, entry "
          "points and their kernels, CUDA kernels of a --target cuda "
          "artifact, weight bytes by dtype (and those generated at load "
          "time), and per-session state: fixed bytes, bytes per token of "
          "context, and the total at --context tokens. The program's checksum "
          "is checked on every load; the weights' only with --verify.",
          declareInspect};
}

} // namespace birkhoff::tools
