//===- ArtifactWriter.cpp - Serialize a bk module into an artifact --------===//
#include "compiler/ArtifactWriter.h"
#include "compiler/CudaTarget.h"

#include "kernel/BkDialect.h"

#include "birkhoff/Crc32c.h"
#include "birkhoff/DType.h"
#include "birkhoff/FileSafety.h"
#include "birkhoff/NonFinite.h"
#include "birkhoff/ProgramChecksum.h"
#include "birkhoff/Progress.h"
#include "birkhoff/schema/artifact_generated.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/SymbolTable.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/StringMap.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <set>
#include <vector>

using namespace mlir;
namespace fb = birkhoff::fb;

namespace birkhoff {
namespace {

constexpr uint64_t kWeightAlign = 64;
constexpr uint64_t kSectionAlign = 4096;

uint64_t alignUp(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }

// The schema's SynthKind is lib's, value for value.
static_assert(uint8_t(fb::SynthKind::Normal) == uint8_t(SynthKind::Normal) &&
              uint8_t(fb::SynthKind::Uniform) == uint8_t(SynthKind::Uniform) &&
              uint8_t(fb::SynthKind::DistinctIndices) ==
                  uint8_t(SynthKind::DistinctIndices) &&
              uint8_t(fb::SynthKind::BlockScale) ==
                  uint8_t(SynthKind::BlockScale) &&
              uint8_t(fb::SynthKind::MAX) == kMaxSynthKind);

struct WeightEntry {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  std::string scale;
  uint64_t offset = 0, size = 0;
  /// Stored weights: the CRC-32C of their bytes, known once they are written.
  uint32_t crc = 0;
  /// Generated at load time (no bytes in the section) from this recipe.
  std::optional<WeightRecipe> recipe;
};

/// Bytes a weight of this dtype and logical shape occupies.
uint64_t expectedBytes(DType d, const std::vector<int64_t> &shape) {
  uint64_t n = 1;
  for (int64_t s : shape)
    n *= uint64_t(s);
  if (d == DType::FP4E2M1x2)
    return (n + 1) / 2;
  return n * uint64_t(dtypeStorageBytes(d));
}

flatbuffers::Offset<fb::ModelConfig>
buildConfig(flatbuffers::FlatBufferBuilder &fbb, const v4::ModelConfig &c) {
  std::vector<int32_t> ratios;
  std::vector<uint8_t> kinds, hash;
  for (int64_t l = 0; l < c.nLayers; ++l) {
    ratios.push_back(int32_t(c.compressRatio(l)));
    kinds.push_back(uint8_t(c.attention[l]));
    hash.push_back(c.isHashLayer(l) ? 1 : 0);
  }
  return fb::CreateModelConfig(
      fbb, int32_t(c.vocabSize), int32_t(c.dim), int32_t(c.nLayers),
      int32_t(c.nHeads), int32_t(c.headDim), int32_t(c.ropeHeadDim),
      int32_t(c.qLoraRank), int32_t(c.oGroups), int32_t(c.oLoraRank),
      int32_t(c.windowSize), fbb.CreateVector(ratios), fbb.CreateVector(kinds),
      fbb.CreateVector(hash), int32_t(c.indexNHeads), int32_t(c.indexHeadDim),
      int32_t(c.indexTopk), int32_t(c.nRoutedExperts),
      int32_t(c.nActivatedExperts), int32_t(c.moeInterDim), float(c.routeScale),
      float(c.swigluLimit), int32_t(c.hcMult), int32_t(c.hcSinkhornIters),
      float(c.hcEps), float(c.normEps), float(c.ropeTheta),
      float(c.compressRopeTheta), float(c.ropeFactor),
      int32_t(c.originalSeqLen), float(c.betaFast), float(c.betaSlow),
      int32_t(c.bosTokenId), int32_t(c.eosTokenId), c.maxPositionEmbeddings);
}

flatbuffers::Offset<fb::GenerationConfig>
buildGenerationConfig(flatbuffers::FlatBufferBuilder &fbb,
                      const std::optional<GenerationConfig> &g) {
  if (!g)
    return 0;
  auto opt = [](const auto &v) {
    using T = typename std::decay_t<decltype(v)>::value_type;
    return v ? flatbuffers::Optional<T>(*v) : flatbuffers::Optional<T>();
  };
  return fb::CreateGenerationConfig(
      fbb, opt(g->doSample), opt(g->temperature), opt(g->topP), opt(g->topK),
      opt(g->maxNewTokens), opt(g->maxLength),
      g->eosTokenIds.empty() ? 0 : fbb.CreateVector(g->eosTokenIds),
      opt(g->repetitionPenalty));
}

/// Params as Param tables sorted by key; integers fill both `i` and `f`.
flatbuffers::Offset<flatbuffers::Vector<flatbuffers::Offset<fb::Param>>>
buildParams(flatbuffers::FlatBufferBuilder &fbb, DictionaryAttr dict) {
  std::vector<flatbuffers::Offset<fb::Param>> params;
  if (dict)
    for (NamedAttribute a : dict) {
      auto key = fbb.CreateString(a.getName().getValue().str());
      if (auto i = dyn_cast<IntegerAttr>(a.getValue()))
        params.push_back(
            fb::CreateParam(fbb, key, i.getInt(), double(i.getInt())));
      else if (auto f = dyn_cast<FloatAttr>(a.getValue()))
        params.push_back(fb::CreateParam(fbb, key, 0, f.getValueAsDouble()));
    }
  return fbb.CreateVectorOfSortedTables(&params);
}

class Writer {
public:
  Writer(ModuleOp module, const v4::ModelConfig &config, const Checkpoint &ckpt,
         const ArtifactOptions &options)
      : module_(module), config_(config), ckpt_(ckpt), options_(options) {}

  Status collect();
  /// Appends a weight-table entry for checkpoint tensor `name` of the given
  /// dtype, logical shape and scale name (empty: none).
  Status add(const std::string &name, DType dtype, std::vector<int64_t> shape,
             std::string scale);
  /// Appends every `mtp.*` checkpoint tensor not yet in the table.
  Status addMtpTensors();
  /// The flatbuffer with `sectionOffset` recorded (ForceDefaults keeps its
  /// size independent of the value).
  Status build(uint64_t sectionOffset, flatbuffers::FlatBufferBuilder &fbb);
  Status write(const std::string &path, ArtifactStats &stats);

private:
  ModuleOp module_;
  const v4::ModelConfig &config_;
  const Checkpoint &ckpt_;
  const ArtifactOptions &options_;
  std::vector<WeightEntry> weights_;
  llvm::StringMap<int32_t> weightIndex_, stateIndex_;
  std::vector<bk::StateOp> states_;
  uint64_t sectionSize_ = 0;
  uint64_t launches_ = 0;
};

Status Writer::add(const std::string &name, DType dtype,
                   std::vector<int64_t> shape, std::string scale) {
  const TensorInfo *t = ckpt_.find(name);
  if (!t)
    return notFound("artifact: checkpoint has no tensor '" + name + "'");
  WeightEntry e{name, dtype, std::move(shape), std::move(scale)};
  e.size = t->byteSize;
  if (e.size != expectedBytes(e.dtype, e.shape))
    return corrupt("artifact: tensor '" + name + "' holds " +
                   std::to_string(e.size) +
                   " bytes, its dtype and shape need " +
                   std::to_string(expectedBytes(e.dtype, e.shape)));
  if (options_.generated) {
    auto it = options_.generated->find(name);
    if (it == options_.generated->end())
      return internalError("artifact: generated weight '" + name +
                           "' has no recipe");
    e.recipe = it->second;
  } else {
    e.offset = alignUp(sectionSize_, kWeightAlign);
    sectionSize_ = e.offset + e.size;
  }
  weightIndex_[name] = int32_t(weights_.size());
  weights_.push_back(std::move(e));
  return Status::ok();
}

/// The MTP block (V4_SPEC §3.9) is part of the model but not of the program
/// yet: its tensors are stored so that the artifact is the whole model, and
/// no launch references them. Their table entries follow the rules the IR
/// builder applies to program weights: packed FP4 (stored as I8) gets its
/// logical shape, and FP8/FP4 weights link their sibling `.scale` tensor.
Status Writer::addMtpTensors() {
  for (const auto &[name, t] : ckpt_.tensors()) {
    if (!llvm::StringRef(name).starts_with("mtp.") || weightIndex_.count(name))
      continue;
    DType dtype = t.dtype;
    std::vector<int64_t> shape = t.shape;
    if (dtype == DType::I8) {
      if (shape.empty())
        return invalidArgument("artifact: packed FP4 tensor '" + name +
                               "' has no dimensions");
      dtype = DType::FP4E2M1x2;
      shape.back() *= 2;
    }
    std::string scale;
    if (dtype == DType::F8E4M3 || dtype == DType::FP4E2M1x2) {
      llvm::StringRef base(name);
      if (!base.consume_back(".weight"))
        return invalidArgument("artifact: quantized tensor '" + name +
                               "' is not a `.weight`, so it has no scale");
      scale = (base + ".scale").str();
      if (!ckpt_.find(scale))
        return notFound("artifact: quantized tensor '" + name +
                        "' has no scale tensor '" + scale + "'");
    }
    BK_RETURN_IF_ERROR(add(name, dtype, std::move(shape), std::move(scale)));
  }
  return Status::ok();
}

Status Writer::collect() {
  // Weights the launches use, plus their scales, in module order.
  std::set<std::string> used;
  module_.walk([&](bk::LaunchOp l) {
    for (Attribute w : l.getWeights())
      used.insert(cast<FlatSymbolRefAttr>(w).getValue().str());
  });
  SymbolTable symbols(module_);
  for (const std::string &name : std::set<std::string>(used))
    if (auto w = symbols.lookup<bk::WeightOp>(name); w && w.getScale())
      used.insert(w.getScale()->str());
  for (bk::WeightOp w : module_.getOps<bk::WeightOp>()) {
    std::string name = w.getSymName().str();
    if (!used.count(name))
      continue;
    std::optional<DType> dtype = parseDTypeName(w.getDtype().str());
    if (!dtype)
      return internalError("artifact: weight '" + name + "' has dtype " +
                           w.getDtype().str());
    BK_RETURN_IF_ERROR(
        add(name, *dtype,
            std::vector<int64_t>(w.getShape().begin(), w.getShape().end()),
            w.getScale() ? w.getScale()->str() : std::string()));
  }
  BK_RETURN_IF_ERROR(addMtpTensors());
  for (const WeightEntry &e : weights_)
    if (!e.scale.empty() && !weightIndex_.count(e.scale))
      return internalError("artifact: scale '" + e.scale + "' of '" + e.name +
                           "' is not a weight");
  for (bk::StateOp s : module_.getOps<bk::StateOp>()) {
    stateIndex_[s.getSymName()] = int32_t(states_.size());
    states_.push_back(s);
  }
  return Status::ok();
}

Status Writer::build(uint64_t sectionOffset,
                     flatbuffers::FlatBufferBuilder &fbb) {
  fbb.ForceDefaults(true);
  std::vector<flatbuffers::Offset<fb::Weight>> weights;
  for (const WeightEntry &e : weights_) {
    int32_t scale = e.scale.empty() ? -1 : weightIndex_.lookup(e.scale);
    WeightRecipe r = e.recipe.value_or(WeightRecipe{});
    weights.push_back(fb::CreateWeight(
        fbb, fbb.CreateString(e.name), fb::DType(uint8_t(e.dtype)),
        fbb.CreateVector(e.shape), e.offset, e.size, scale,
        e.recipe.has_value(), r.key, fb::SynthKind(uint8_t(r.kind)), r.a, r.b,
        r.range, e.crc));
  }
  std::vector<flatbuffers::Offset<fb::State>> states;
  for (bk::StateOp s : states_)
    states.push_back(fb::CreateState(
        fbb, fbb.CreateString(s.getSymName().str()),
        int32_t(s.getLayerAttr().getInt()), fbb.CreateString(s.getKind().str()),
        uint64_t(s.getBytesPerRow()), s.getFixedRows(), s.getTokensPerRow()));
  const CudaProgram *cuda = options_.cuda;
  if ((options_.target == "cuda") != (cuda != nullptr))
    return internalError("artifact: target '" + options_.target +
                         "' needs CUDA kernels exactly when it is 'cuda'");
  std::vector<flatbuffers::Offset<fb::EntryPoint>> entries;
  launches_ = 0;
  for (func::FuncOp fn : module_.getOps<func::FuncOp>()) {
    if (!fn->hasAttr(bk::kEntryAttr))
      continue;
    auto maxTokens = fn->getAttrOfType<IntegerAttr>(bk::kMaxTokensAttr);
    auto arena = fn->getAttrOfType<IntegerAttr>(bk::kArenaAttr);
    auto logitsOffset = fn.getArgAttrOfType<IntegerAttr>(1, "bk.offset");
    auto logitsElems =
        fn.getArgAttrOfType<IntegerAttr>(1, "bk.elems_per_token");
    if (!maxTokens || !arena || !logitsOffset || !logitsElems)
      return internalError("artifact: @" + fn.getName().str() +
                           " has no memory plan (run bk-plan-memory)");
    // Buffer 0 is the logits argument; the token ids are input -1.
    llvm::DenseMap<Value, int32_t> index;
    index[fn.getArgument(0)] = -1;
    index[fn.getArgument(1)] = 0;
    std::vector<flatbuffers::Offset<fb::Buffer>> buffers = {
        fb::CreateBuffer(fbb, fbb.CreateString("logits"), logitsElems.getInt(),
                         logitsOffset.getInt(), false)};
    for (bk::AllocOp a : fn.getBody().front().getOps<bk::AllocOp>()) {
      if (!a.getOffset())
        return internalError("artifact: buffer '" + a.getName().str() +
                             "' has no offset");
      index[a.getResult()] = int32_t(buffers.size());
      buffers.push_back(
          fb::CreateBuffer(fbb, fbb.CreateString(a.getName().str()),
                           a.getElemsPerToken(), *a.getOffset(), a.getIsInt()));
    }
    std::vector<flatbuffers::Offset<fb::Launch>> launches;
    for (bk::LaunchOp l : fn.getBody().front().getOps<bk::LaunchOp>()) {
      std::vector<int32_t> ins, outs, ws, ss;
      for (Value v : l.getInputs())
        ins.push_back(index.lookup(v));
      for (Value v : l.getOutputs())
        outs.push_back(index.lookup(v));
      for (Attribute w : l.getWeights()) {
        StringRef n = cast<FlatSymbolRefAttr>(w).getValue();
        ws.push_back(weightIndex_.lookup(n));
      }
      for (Attribute s : l.getStates()) {
        StringRef n = cast<FlatSymbolRefAttr>(s).getValue();
        if (!stateIndex_.count(n))
          return internalError("artifact: state '" + n.str() +
                               "' is not declared");
        ss.push_back(stateIndex_.lookup(n));
      }
      int32_t cudaKernel = -1;
      flatbuffers::Offset<flatbuffers::Vector<int32_t>> cudaThen = 0;
      if (cuda) {
        auto it = cuda->launchKernels.find(l.getOperation());
        if (it == cuda->launchKernels.end() || it->second.empty())
          return internalError("artifact: a '" + l.getKernel().str() +
                               "' launch of @" + fn.getName().str() +
                               " has no CUDA kernel");
        cudaKernel = int32_t(it->second.front());
        if (it->second.size() > 1)
          cudaThen = fbb.CreateVector(
              std::vector<int32_t>(it->second.begin() + 1, it->second.end()));
      }
      launches.push_back(fb::CreateLaunch(
          fbb, fbb.CreateString(l.getKernel().str()),
          int32_t(l.getLayerAttr().getInt()), fbb.CreateVector(ins),
          fbb.CreateVector(outs), fbb.CreateVector(ws), fbb.CreateVector(ss),
          buildParams(fbb, l.getParams()),
          // The schedule list stays empty: a launch's #bk.schedule is
          // already in its CUDA kernels' sources, and the runtime reads none.
          buildParams(fbb, DictionaryAttr()), cudaKernel, cudaThen));
      ++launches_;
    }
    entries.push_back(fb::CreateEntryPoint(
        fbb, fbb.CreateString(fn.getName().str()), int32_t(maxTokens.getInt()),
        fbb.CreateVector(buffers), arena.getInt(), 0,
        fbb.CreateVector(launches)));
  }
  if (entries.empty())
    return internalError("artifact: the module has no bk entry function");
  flatbuffers::Offset<flatbuffers::Vector<flatbuffers::Offset<fb::CudaKernel>>>
      cudaKernels = 0;
  if (cuda) {
    std::vector<flatbuffers::Offset<fb::CudaKernel>> kernels;
    for (const CudaKernelImage &k : cuda->kernels) {
      // 16-byte aligned so that a loader may hand the image to the driver in
      // place.
      fbb.ForceVectorAlignment(k.cubin.size(), 1, 16);
      auto cubin = fbb.CreateVector(k.cubin);
      auto ptx = options_.embedPtx ? fbb.CreateString(k.ptx)
                                   : flatbuffers::Offset<flatbuffers::String>();
      kernels.push_back(fb::CreateCudaKernel(
          fbb, fbb.CreateString(k.name), fbb.CreateString(k.kernel),
          fbb.CreateString(k.arch), cubin, ptx, k.registers, k.spillBytes,
          k.stackBytes, k.sharedBytes, k.grid.block, k.grid.xPerToken,
          k.grid.xConst, k.grid.tokensPerY, k.cluster, k.scratchBytes));
    }
    cudaKernels = fbb.CreateVector(kernels);
  }
  auto root = fb::CreateArtifact(
      fbb, kArtifactFormatVersion, fbb.CreateString("birkhoff"),
      fbb.CreateString(options_.modelName), fbb.CreateString(options_.numerics),
      fbb.CreateString(options_.target), buildConfig(fbb, config_),
      fbb.CreateVector(weights), fbb.CreateVector(states),
      fbb.CreateVector(entries), sectionOffset, sectionSize_,
      options_.maxContext, cudaKernels,
      options_.tokenizerJson.empty()
          ? flatbuffers::Offset<flatbuffers::String>()
          : fbb.CreateString(options_.tokenizerJson),
      buildGenerationConfig(fbb, options_.generationConfig));
  fbb.FinishSizePrefixed(root, fb::ArtifactIdentifier());
  return Status::ok();
}

Status writeZeros(std::FILE *f, uint64_t n, const std::string &path) {
  static const char zeros[4096] = {};
  while (n > 0) {
    size_t k = size_t(std::min<uint64_t>(n, sizeof(zeros)));
    if (std::fwrite(zeros, 1, k, f) != k)
      return ioError("artifact: writing '" + path +
                     "': " + std::strerror(errno));
    n -= k;
  }
  return Status::ok();
}

Status Writer::write(const std::string &path, ArtifactStats &stats) {
  BK_RETURN_IF_ERROR(collect());
  // The program records each weight's checksum, known only once its bytes
  // have streamed past, and where the weight section starts. So the file
  // begins with a placeholder the size of the program (measured by a first
  // build; ForceDefaults keeps the size independent of the values), the
  // weights follow, and the final program and its checksum trailer are
  // written over the placeholder at the end.
  flatbuffers::FlatBufferBuilder probe;
  BK_RETURN_IF_ERROR(build(0, probe));
  uint64_t sectionOffset =
      alignUp(probe.GetSize() + kProgramChecksumBytes, kSectionAlign);

  // Written beside `path` and renamed onto it when complete: a failed or
  // interrupted write leaves the previous artifact as it was.
  Expected<OutputFile> out = OutputFile::create(path);
  if (!out)
    return out.status().withContext("artifact");
  std::FILE *f = out->stream();
  BK_RETURN_IF_ERROR(writeZeros(f, sectionOffset, path));
  uint64_t pos = 0, stored = 0;
  for (const WeightEntry &e : weights_)
    stored += e.recipe ? 0 : e.size;
  Progress progress("compile: weights", stored);
  for (WeightEntry &e : weights_) {
    if (e.recipe) {
      ++stats.generatedWeights;
      stats.generatedBytes += e.size;
      continue;
    }
    BK_RETURN_IF_ERROR(writeZeros(f, e.offset - pos, path));
    // Straight from the checkpoint's memory map: no copy of the model in RAM.
    Expected<std::span<const uint8_t>> bytes = ckpt_.bytes(e.name);
    if (!bytes)
      return bytes.status().withContext("artifact");
    // Every stored byte passes here once: a NaN or an infinity is refused
    // now, naming the tensor, rather than surfacing as NaN logits later.
    if (std::optional<int64_t> bad = firstNonFinite(e.dtype, *bytes))
      return corrupt("artifact: tensor '" + e.name + "' (" +
                     std::string(dtypeName(e.dtype)) +
                     ") holds a non-finite value at element " +
                     std::to_string(*bad));
    e.crc = crc32c(0, bytes->data(), bytes->size());
    if (std::fwrite(bytes->data(), 1, bytes->size(), f) != bytes->size())
      return ioError("artifact: writing '" + path +
                     "': " + std::strerror(errno));
    pos = e.offset + e.size;
    progress.add(e.size);
  }
  flatbuffers::FlatBufferBuilder fbb;
  BK_RETURN_IF_ERROR(build(sectionOffset, fbb));
  if (fbb.GetSize() != probe.GetSize())
    return internalError("artifact: the program changed size from " +
                         std::to_string(probe.GetSize()) + " to " +
                         std::to_string(fbb.GetSize()) + " bytes");
  auto trailer = programChecksumTrailer(fbb.GetBufferPointer(), fbb.GetSize());
  if (std::fseek(f, 0, SEEK_SET) != 0 ||
      std::fwrite(fbb.GetBufferPointer(), 1, fbb.GetSize(), f) !=
          fbb.GetSize() ||
      std::fwrite(trailer.data(), 1, trailer.size(), f) != trailer.size())
    return ioError("artifact: writing '" + path + "': " + std::strerror(errno));
  BK_RETURN_IF_ERROR(out->commit().withContext("artifact"));
  stats.flatbufferBytes = fbb.GetSize();
  stats.weightSectionOffset = sectionOffset;
  stats.weightSectionBytes = sectionSize_;
  stats.weights = weights_.size();
  stats.states = states_.size();
  stats.launches = launches_;
  if (options_.cuda) {
    stats.cudaKernels = options_.cuda->kernels.size();
    for (const CudaKernelImage &k : options_.cuda->kernels)
      stats.cubinBytes += k.cubin.size();
  }
  return Status::ok();
}

} // namespace

Expected<ArtifactStats> writeArtifact(Operation *bkModule,
                                      const v4::ModelConfig &config,
                                      const Checkpoint &checkpoint,
                                      const ArtifactOptions &options,
                                      const std::string &path) {
  auto module = dyn_cast_or_null<ModuleOp>(bkModule);
  if (!module)
    return invalidArgument("artifact: expected a builtin.module");
  Writer writer(module, config, checkpoint, options);
  ArtifactStats stats;
  BK_RETURN_IF_ERROR(writer.write(path, stats));
  return stats;
}

} // namespace birkhoff
