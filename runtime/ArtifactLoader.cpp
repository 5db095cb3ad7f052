//===- ArtifactLoader.cpp -------------------------------------------------===//
#include "ArtifactLoader.h"

#include "LaunchValidation.h"
#include "birkhoff/CheckedMath.h"
#include "birkhoff/KernelCatalog.h"
#include "birkhoff/ProgramChecksum.h"
#include "birkhoff/Tokenizer.h"
#include "birkhoff/schema/artifact_generated.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <span>

namespace birkhoff::rt {
namespace {

std::string str(const flatbuffers::String *s) {
  return s ? std::string(s->c_str(), s->size()) : std::string();
}

Status bad(const std::string &origin, const std::string &what) {
  return corrupt(origin + ": " + what);
}

uint64_t alignUp(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }

/// Bytes a weight of this dtype and logical shape occupies.
Expected<uint64_t> weightBytes(DType dtype, const std::vector<int64_t> &shape) {
  uint64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0 || d > (int64_t(1) << 40))
      return invalidArgument("dimension " + std::to_string(d) +
                             " out of range");
    // A generated weight's size is not bounded by the file: keep the
    // element count itself in range.
    if (__builtin_mul_overflow(n, uint64_t(d), &n) || n > (uint64_t(1) << 60))
      return invalidArgument("too many elements");
  }
  if (dtype == DType::FP4E2M1x2) {
    if (shape.empty() || shape.back() % 2)
      return invalidArgument("FP4 weight with an odd innermost dimension");
    return n / 2;
  }
  return n * uint64_t(dtypeStorageBytes(dtype));
}

Status readConfig(const fb::ModelConfig *c, ConfigDesc &out,
                  const std::string &origin) {
  if (!c)
    return bad(origin, "artifact has no model config");
  out.vocabSize = c->vocab_size();
  out.dim = c->dim();
  out.nLayers = c->n_layers();
  out.nHeads = c->n_heads();
  out.headDim = c->head_dim();
  out.ropeHeadDim = c->rope_head_dim();
  out.windowSize = c->window_size();
  out.hcMult = c->hc_mult();
  out.nRoutedExperts = c->n_routed_experts();
  out.nActivatedExperts = c->n_activated_experts();
  out.indexTopk = c->index_topk();
  out.bosTokenId = c->bos_token_id();
  out.eosTokenId = c->eos_token_id();
  out.maxPositionEmbeddings = c->max_position_embeddings();
  if (out.maxPositionEmbeddings < 0)
    return bad(origin, "model config has a negative max_position_embeddings");
  if (c->compress_ratios())
    out.compressRatios.assign(c->compress_ratios()->begin(),
                              c->compress_ratios()->end());
  if (c->layer_kinds())
    out.layerKinds.assign(c->layer_kinds()->begin(), c->layer_kinds()->end());
  if (out.vocabSize <= 0 || out.dim <= 0 || out.nLayers <= 0 || out.hcMult <= 0)
    return bad(origin, "model config has non-positive vocab_size, dim, "
                       "n_layers or hc_mult");
  return Status::ok();
}

Status readParams(const flatbuffers::Vector<flatbuffers::Offset<fb::Param>> *ps,
                  std::vector<ParamPair> &out) {
  if (!ps)
    return Status::ok();
  for (const fb::Param *p : *ps) {
    if (!p->key())
      return invalidArgument("parameter without a key");
    // Integers are written to both fields; a float-only parameter has i == 0.
    double v = p->f();
    if (v == 0.0 && p->i() != 0)
      v = double(p->i());
    out.emplace_back(str(p->key()), v);
  }
  return Status::ok();
}

/// Checks the launch against its kernel's signature and decodes its params
/// into `l.id` and `l.params`.
Status checkLaunch(LaunchDesc &l, std::span<const ParamPair> params,
                   const EntryDesc &entry, const Program &prog,
                   const std::string &where) {
  const KernelSignature *sig = findKernel(l.kernel);
  if (!sig)
    return corrupt(where + ": unknown kernel '" + l.kernel + "'");
  l.id = sig->id;
  auto count = [&](const char *what, size_t n, int lo, int hi) -> Status {
    if (int(n) < lo || (hi >= 0 && int(n) > hi))
      return corrupt(
          where + ": kernel '" + l.kernel + "' takes " + std::to_string(lo) +
          (hi == lo ? ""
                    : ".." + (hi < 0 ? std::string("n") : std::to_string(hi))) +
          " " + what + ", has " + std::to_string(n));
    return Status::ok();
  };
  BK_RETURN_IF_ERROR(
      count("inputs", l.inputs.size(), sig->minInputs, sig->maxInputs));
  BK_RETURN_IF_ERROR(
      count("outputs", l.outputs.size(), sig->outputs, sig->outputs));
  BK_RETURN_IF_ERROR(
      count("weights", l.weights.size(), sig->minWeights, sig->maxWeights));
  BK_RETURN_IF_ERROR(
      count("states", l.states.size(), sig->minStates, sig->maxStates));
  Expected<KernelParams> decoded = decodeParams(sig->id, params);
  if (!decoded)
    return corrupt(where + ": " + decoded.status().message());
  l.params = decoded.take();
  int nb = int(entry.buffers.size());
  for (int b : l.inputs)
    if (b < -1 || b >= nb)
      return corrupt(where + ": input buffer index " + std::to_string(b) +
                     " out of range (" + std::to_string(nb) + " buffers)");
  for (int b : l.outputs)
    if (b < 0 || b >= nb)
      return corrupt(where + ": output buffer index " + std::to_string(b) +
                     " out of range (" + std::to_string(nb) + " buffers)");
  for (int w : l.weights)
    if (w < -1 || w >= int(prog.weights.size()))
      return corrupt(where + ": weight index " + std::to_string(w) +
                     " out of range");
  for (int s : l.states)
    if (s < 0 || s >= int(prog.states.size()))
      return corrupt(where + ": state index " + std::to_string(s) +
                     " out of range");
  return Status::ok();
}

/// A CUDA kernel table entry, before any launch refers to it.
Status readCudaKernel(const fb::CudaKernel *k, CudaKernelDesc &d,
                      const std::string &where) {
  d.name = str(k->name());
  d.kernel = str(k->kernel());
  d.arch = str(k->arch());
  if (d.name.empty())
    return corrupt(where + " has no entry name");
  if (!findKernel(d.kernel))
    return corrupt(where + " ('" + d.name + "') implements unknown kernel '" +
                   d.kernel + "'");
  if (d.arch.rfind("sm_", 0) != 0 || d.arch.size() < 5)
    return corrupt(where + " ('" + d.name + "') has architecture '" + d.arch +
                   "', not sm_XY");
  if (!k->cubin() || k->cubin()->size() == 0)
    return corrupt(where + " ('" + d.name + "') has no cubin");
  d.cubin = k->cubin()->data();
  d.cubinSize = k->cubin()->size();
  d.registers = k->registers();
  d.spillBytes = k->spill_bytes();
  d.stackBytes = k->stack_bytes();
  d.sharedBytes = k->shared_bytes();
  d.grid.block = k->block();
  d.grid.xPerToken = k->grid_x_per_token();
  d.grid.xConst = k->grid_x_const();
  d.grid.tokensPerY = k->grid_tokens_per_y();
  d.cluster = k->cluster();
  d.scratchBytes = k->scratch_bytes();
  // A bound far above any kernel's need (the MoE partials of a 512-token
  // call at V4-Pro width are ~0.1 GB) that keeps a corrupt value from
  // becoming a huge allocation.
  if (d.scratchBytes > (uint64_t(16) << 30))
    return corrupt(where + " ('" + d.name + "') asks for " +
                   std::to_string(d.scratchBytes) + " bytes of scratch");
  const cuda::GridRule &g = d.grid;
  if (g.block < 1 || g.block > 1024 || g.xPerToken < 0 || g.xConst < 0 ||
      g.tokensPerY < 0 || g.xPerToken + g.xConst < 1 ||
      g.xPerToken > (int64_t(1) << 31) || g.xConst > (int64_t(1) << 31) ||
      d.cluster < 1 || d.cluster > 16)
    return corrupt(
        where + " ('" + d.name + "') has an invalid grid rule (block " +
        std::to_string(g.block) + ", x = " + std::to_string(g.xPerToken) +
        "·S + " + std::to_string(g.xConst) + ", " +
        std::to_string(g.tokensPerY) + " tokens per y)");
  if (g.xPerToken % d.cluster || g.xConst % d.cluster)
    return corrupt(where + " ('" + d.name + "') has clusters of " +
                   std::to_string(d.cluster) +
                   " blocks but a grid.x that is not always a multiple of it");
  return Status::ok();
}

/// The launch's CUDA kernel references: present exactly for target "cuda", in
/// range, of the launch's kernel, and with grids the driver accepts at the
/// entry's largest call.
Status checkCudaLaunch(const LaunchDesc &l, const EntryDesc &entry,
                       const Program &prog, const std::string &where) {
  if (prog.target != "cuda") {
    if (l.cudaKernel != -1 || !l.cudaThen.empty())
      return corrupt(where + ": a '" + prog.target +
                     "' artifact's launch names CUDA kernel " +
                     std::to_string(l.cudaKernel));
    return Status::ok();
  }
  const std::vector<int> kernels = l.cudaKernelSequence();
  if (kernels.size() > 8)
    return corrupt(where + ": " + std::to_string(kernels.size()) +
                   " CUDA kernels for one launch (at most 8)");
  for (int index : kernels) {
    if (index < 0 || index >= int(prog.cudaKernels.size()))
      return corrupt(where + ": CUDA kernel index " + std::to_string(index) +
                     " out of range (" +
                     std::to_string(prog.cudaKernels.size()) + " kernels)");
    const CudaKernelDesc &k = prog.cudaKernels[size_t(index)];
    if (k.kernel != l.kernel)
      return corrupt(where + ": '" + l.kernel + "' launch runs CUDA kernel '" +
                     k.name + "', which implements '" + k.kernel + "'");
    int64_t s = entry.maxTokens;
    if (k.grid.gridX(s) > (int64_t(1) << 31) - 1 || k.grid.gridY(s) > 65535)
      return corrupt(where + ": CUDA kernel '" + k.name + "' needs a grid of " +
                     std::to_string(k.grid.gridX(s)) + " x " +
                     std::to_string(k.grid.gridY(s)) + " blocks at " +
                     std::to_string(s) + " tokens, beyond the device limits");
  }
  return Status::ok();
}

// The schema's SynthKind is lib's, value for value.
static_assert(uint8_t(fb::SynthKind::Normal) == uint8_t(SynthKind::Normal) &&
              uint8_t(fb::SynthKind::Uniform) == uint8_t(SynthKind::Uniform) &&
              uint8_t(fb::SynthKind::DistinctIndices) ==
                  uint8_t(SynthKind::DistinctIndices) &&
              uint8_t(fb::SynthKind::BlockScale) ==
                  uint8_t(SynthKind::BlockScale) &&
              uint8_t(fb::SynthKind::MAX) == kMaxSynthKind);

/// A generated weight's recipe: a known kind the generator can fill this
/// dtype and shape with, and no place in the weight section.
Status readRecipe(const fb::Weight &w, WeightDesc &d,
                  const std::string &where) {
  uint8_t kind = uint8_t(w.synth_kind());
  if (kind > kMaxSynthKind)
    return corrupt(where + " is generated by unknown recipe kind " +
                   std::to_string(int(kind)));
  if (kind == uint8_t(SynthKind::None))
    return corrupt(where + " is generated but has no recipe");
  if (w.offset() != 0)
    return corrupt(where + " is generated but has offset " +
                   std::to_string(w.offset()) + " (generated weights have 0)");
  d.generated = true;
  d.recipe = {SynthKind(kind), w.synth_a(), w.synth_b(), w.seed(),
              w.synth_range()};
  if (Status s = checkGeneratable(d.recipe, d.dtype, d.shape); !s)
    return corrupt(where + ": " + s.message());
  return Status::ok();
}

/// Weight `i` is quantized with a well-shaped scale: a generated weight
/// needs a generated scale of its own (it fills it), a stored one a stored
/// scale (nothing would fill a generated one).
Status checkGeneratedScale(const Program &prog, int i,
                           std::vector<int> &scaleOwner,
                           const std::string &where) {
  const WeightDesc &w = prog.weights[size_t(i)];
  const WeightDesc &s = prog.weights[size_t(w.scale)];
  if (w.generated != s.generated)
    return corrupt(where + (w.generated ? " is generated but its scale '" +
                                              s.name + "' is stored"
                                        : " is stored but its scale '" +
                                              s.name + "' is generated"));
  if (!s.generated)
    return Status::ok();
  if (scaleOwner[size_t(w.scale)] >= 0)
    return corrupt(where + ": scale '" + s.name + "' is also the scale of '" +
                   prog.weights[size_t(scaleOwner[size_t(w.scale)])].name +
                   "'; a generated scale belongs to one weight");
  scaleOwner[size_t(w.scale)] = i;
  return Status::ok();
}

/// The stored generation defaults, under the same checks as the compiler
/// applies to generation_config.json.
Expected<GenerationConfig> readGenerationConfig(const fb::GenerationConfig &g,
                                                int64_t vocabSize,
                                                const std::string &origin) {
  auto opt = [](const auto &v) {
    using T = std::decay_t<decltype(*v)>;
    return v ? std::optional<T>(*v) : std::nullopt;
  };
  GenerationConfig c;
  c.doSample = opt(g.do_sample());
  c.temperature = opt(g.temperature());
  c.topP = opt(g.top_p());
  c.topK = opt(g.top_k());
  c.maxNewTokens = opt(g.max_new_tokens());
  c.maxLength = opt(g.max_length());
  if (g.eos_token_ids())
    c.eosTokenIds.assign(g.eos_token_ids()->begin(), g.eos_token_ids()->end());
  c.repetitionPenalty = opt(g.repetition_penalty());
  if (Status s = checkGenerationConfig(c, vocabSize); !s.isOk())
    return bad(origin, "stored generation config: " + s.message());
  return c;
}

std::string hex32(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "0x%08x", v);
  return buf;
}

/// The trailer after the `programEnd` bytes of the size-prefixed flatbuffer
/// holds their CRC-32C (lib/birkhoff/ProgramChecksum.h). Checked before any
/// field is read, so that no damaged byte of the program is ever trusted,
/// whatever it holds: an offset, an index, a parameter, the version itself.
Status checkProgramChecksum(const uint8_t *data, uint64_t size,
                            uint64_t programEnd, const std::string &origin) {
  const std::string mismatch =
      "program checksum mismatch (corrupt or truncated artifact)";
  if (programEnd + kProgramChecksumBytes <= size &&
      std::memcmp(data + programEnd, kProgramChecksumMagic, 4) == 0) {
    uint32_t stored = flatbuffers::ReadScalar<uint32_t>(data + programEnd + 4);
    uint32_t computed = crc32c(0, data, programEnd);
    if (stored != computed)
      return bad(origin, mismatch + ": stored " + hex32(stored) +
                             ", computed " + hex32(computed));
    return Status::ok();
  }
  // No trailer: an artifact written before checksums existed, or damage.
  // The (unverified) version only picks the message; either way it is
  // refused.
  flatbuffers::Verifier verifier(data, programEnd, /*max_depth=*/64,
                                 /*max_tables=*/100000000);
  if (fb::VerifySizePrefixedArtifactBuffer(verifier)) {
    uint32_t version = fb::GetSizePrefixedArtifact(data)->format_version();
    if (version < kOldestArtifactFormatVersion)
      return unsupported(
          origin + ": artifact format version " + std::to_string(version) +
          " has no checksums; this runtime reads versions " +
          std::to_string(kOldestArtifactFormatVersion) + " to " +
          std::to_string(kArtifactFormatVersion) +
          ": rebuild the artifact with this release (birkhoff compile)");
  }
  return bad(origin, mismatch + ": no checksum after the program");
}

} // namespace

int logitsTail(const EntryDesc &entry) {
  auto rowLocal = [](const LaunchDesc &l) {
    bool rowKernel = l.id == KernelId::Linear || l.id == KernelId::RmsNorm ||
                     l.id == KernelId::MhcHead || l.id == KernelId::MhcHeadNorm;
    return rowKernel && l.states.empty() &&
           std::find(l.inputs.begin(), l.inputs.end(), -1) == l.inputs.end();
  };
  int begin = int(entry.launches.size());
  while (begin > 0 && rowLocal(entry.launches[size_t(begin - 1)]))
    --begin;
  for (size_t i = size_t(begin); i < entry.launches.size(); ++i) {
    const std::vector<int> &out = entry.launches[i].outputs;
    if (std::find(out.begin(), out.end(), entry.logitsBuffer) != out.end())
      return begin;
  }
  return -1;
}

std::vector<int> tailInputs(const EntryDesc &entry, int tailBegin) {
  std::vector<int> reads;
  std::vector<bool> written(entry.buffers.size(), false);
  for (size_t i = size_t(std::max(tailBegin, 0)); i < entry.launches.size();
       ++i) {
    const LaunchDesc &l = entry.launches[i];
    for (int b : l.inputs)
      if (b >= 0 && !written[size_t(b)] &&
          std::find(reads.begin(), reads.end(), b) == reads.end())
        reads.push_back(b);
    for (int b : l.outputs)
      written[size_t(b)] = true;
  }
  return reads;
}

const EntryDesc *Program::entry(const std::string &name) const {
  for (const EntryDesc &e : entries)
    if (e.name == name)
      return &e;
  return nullptr;
}

Expected<Program> parseArtifact(const uint8_t *data, uint64_t size,
                                const std::string &origin) {
  // The smallest program: its size, its root table's offset and the file
  // identifier, which is read next.
  constexpr uint64_t kMinProgramBytes = 8 + flatbuffers::kFileIdentifierLength;
  if (size < kMinProgramBytes)
    return bad(origin, "file is " + std::to_string(size) +
                           " bytes, too short to be an artifact");
  uint32_t fbSize = flatbuffers::ReadScalar<uint32_t>(data);
  if (uint64_t(fbSize) + 4 > size)
    return bad(origin,
               "truncated: header says " + std::to_string(fbSize + 4ull) +
                   " bytes of program, file has " + std::to_string(size));
  if (uint64_t(fbSize) + 4 < kMinProgramBytes)
    return bad(origin, "header says " + std::to_string(fbSize + 4ull) +
                           " bytes of program, too short to be an artifact");
  if (!fb::SizePrefixedArtifactBufferHasIdentifier(data))
    return bad(origin, "not a Birkhoff artifact (file identifier is not '" +
                           std::string(fb::ArtifactIdentifier()) + "')");
  uint64_t programEnd = uint64_t(fbSize) + 4;
  BK_RETURN_IF_ERROR(checkProgramChecksum(data, size, programEnd, origin));
  flatbuffers::Verifier verifier(data, programEnd,
                                 /*max_depth=*/64, /*max_tables=*/100000000);
  if (!fb::VerifySizePrefixedArtifactBuffer(verifier))
    return bad(origin, "program section failed flatbuffers verification "
                       "(corrupted bytes)");
  const fb::Artifact *a = fb::GetSizePrefixedArtifact(data);

  Program prog;
  prog.formatVersion = a->format_version();
  if (prog.formatVersion < kOldestArtifactFormatVersion ||
      prog.formatVersion > kArtifactFormatVersion)
    return unsupported(origin + ": artifact format version " +
                       std::to_string(prog.formatVersion) +
                       ", this runtime reads versions " +
                       std::to_string(kOldestArtifactFormatVersion) + " to " +
                       std::to_string(kArtifactFormatVersion) +
                       "; recompile it with this release");
  prog.producer = str(a->producer());
  prog.modelName = str(a->model_name());
  prog.numerics = str(a->numerics());
  prog.target = str(a->target());
  prog.maxContext = a->max_context();
  if (prog.numerics != "reference" && prog.numerics != "official")
    return bad(origin, "unknown numerics profile '" + prog.numerics + "'");
  if (prog.target != "host" && prog.target != "cuda")
    return bad(origin, "unknown target '" + prog.target + "'");
  BK_RETURN_IF_ERROR(readConfig(a->config(), prog.config, origin));

  uint64_t sectionOffset = a->weight_section_offset();
  uint64_t sectionSize = a->weight_section_size();
  uint64_t expectedOffset = alignUp(programEnd + kProgramChecksumBytes, 4096);
  if (sectionOffset != expectedOffset)
    return bad(origin, "weight section offset " +
                           std::to_string(sectionOffset) + " should be " +
                           std::to_string(expectedOffset));
  // The padding is zeros: then every byte before the weight section is
  // either checksummed or checked here.
  for (uint64_t i = programEnd + kProgramChecksumBytes;
       i < std::min(sectionOffset, size); ++i)
    if (data[i] != 0)
      return bad(origin, "byte " + std::to_string(i) +
                             " of the padding after the program is not zero "
                             "(corrupt artifact)");
  if (sectionOffset + sectionSize > size ||
      sectionOffset + sectionSize < sectionOffset)
    return bad(origin, "truncated: weight section ends at byte " +
                           std::to_string(sectionOffset + sectionSize) +
                           ", file has " + std::to_string(size) + " bytes");
  prog.weightSectionSize = sectionSize;
  const uint8_t *section = data + sectionOffset;

  if (a->weights()) {
    for (const fb::Weight *w : *a->weights()) {
      WeightDesc d;
      d.name = str(w->name());
      std::string where = origin + ": weight '" + d.name + "'";
      if (uint8_t(w->dtype()) > uint8_t(DType::I8))
        return corrupt(where + " has unknown dtype " +
                       std::to_string(int(w->dtype())));
      d.dtype = DType(w->dtype());
      if (const flatbuffers::Vector<int64_t> *shape = w->shape()) {
        // flatbuffers' verifier aligns a vector's length, not its 8-byte
        // elements; a writer always aligns them, so damage that misaligns
        // them is refused here rather than read with misaligned loads.
        if (reinterpret_cast<uintptr_t>(shape->data()) % alignof(int64_t))
          return corrupt(where + " has a misaligned shape (corrupt artifact)");
        d.shape.assign(shape->begin(), shape->end());
      }
      auto bytes = weightBytes(d.dtype, d.shape);
      if (!bytes)
        return corrupt(where + ": " + bytes.status().message());
      if (*bytes != w->size())
        return corrupt(where + " holds " + std::to_string(w->size()) +
                       " bytes, its dtype and shape need " +
                       std::to_string(*bytes));
      d.size = w->size();
      d.scale = w->scale();
      if (w->generated()) {
        BK_RETURN_IF_ERROR(readRecipe(*w, d, where));
        if (__builtin_add_overflow(prog.generatedBytes, d.size,
                                   &prog.generatedBytes))
          return corrupt(where + ": the generated weights' size overflows");
      } else {
        if (w->synth_kind() != fb::SynthKind::None)
          return corrupt(where + " is stored but has a generator recipe");
        if (w->offset() % 64 || w->offset() + w->size() > sectionSize ||
            w->offset() + w->size() < w->offset())
          return corrupt(where + " lies outside the weight section (offset " +
                         std::to_string(w->offset()) + ", size " +
                         std::to_string(w->size()) + ")");
        d.data = section + w->offset();
        d.crc32c = w->crc32c();
      }
      prog.weights.push_back(std::move(d));
    }
  }
  // The generated weight that fills each generated scale.
  std::vector<int> scaleOwner(prog.weights.size(), -1);
  for (size_t i = 0; i < prog.weights.size(); ++i) {
    const WeightDesc &w = prog.weights[i];
    bool quantized = w.dtype == DType::F8E4M3 || w.dtype == DType::FP4E2M1x2;
    std::string where = origin + ": weight '" + w.name + "'";
    if (!quantized) {
      if (w.scale != -1)
        return corrupt(where + " is not quantized but names a scale");
      continue;
    }
    if (w.scale < 0 || w.scale >= int(prog.weights.size()))
      return corrupt(where + " needs a block scale, scale index is " +
                     std::to_string(w.scale));
    const WeightDesc &s = prog.weights[w.scale];
    if (s.dtype != DType::F8E8M0 || w.shape.size() != 2 || s.shape.size() != 2)
      return corrupt(where + ": scale '" + s.name +
                     "' is not a 2-D e8m0 tensor");
    int64_t out = w.shape[0], in = w.shape[1];
    std::vector<int64_t> want =
        w.dtype == DType::F8E4M3
            ? std::vector<int64_t>{(out + 127) / 128, (in + 127) / 128}
            : std::vector<int64_t>{out, (in + 31) / 32};
    if (s.shape != want)
      return corrupt(where + ": scale '" + s.name + "' has shape [" +
                     std::to_string(s.shape[0]) + "," +
                     std::to_string(s.shape[1]) + "], expected [" +
                     std::to_string(want[0]) + "," + std::to_string(want[1]) +
                     "]");
    BK_RETURN_IF_ERROR(checkGeneratedScale(prog, int(i), scaleOwner, where));
  }
  for (size_t i = 0; i < prog.weights.size(); ++i)
    if (prog.weights[i].recipe.kind == SynthKind::BlockScale &&
        scaleOwner[i] < 0)
      return corrupt(origin + ": weight '" + prog.weights[i].name +
                     "' is a generated block scale, but no generated weight "
                     "names it as its scale");

  if (a->states()) {
    for (const fb::State *s : *a->states()) {
      StateDesc d;
      d.name = str(s->name());
      d.layer = s->layer();
      d.kind = str(s->kind());
      d.bytesPerRow = s->bytes_per_row();
      d.fixedRows = s->fixed_rows();
      d.tokensPerRow = s->tokens_per_row();
      // Bounded so that a state's bytes at any context up to
      // kMaxContextTokens fit 64 bits (rows < 2^32, rows of at most 2^30).
      if (d.bytesPerRow == 0 || d.fixedRows < 0 || d.tokensPerRow < 0 ||
          d.bytesPerRow > (1u << 30) || d.fixedRows > INT32_MAX)
        return corrupt(origin + ": state '" + d.name +
                       "' has an invalid layout");
      // A state is either fixed rows per sequence or rows that grow with
      // the context (the engine pages those); the page size is a multiple of
      // every ratio, so a ratio must divide 2^20.
      if (d.tokensPerRow > 0 &&
          (d.fixedRows != 0 || (d.tokensPerRow & (d.tokensPerRow - 1)) ||
           d.tokensPerRow > (1 << 20)))
        return corrupt(origin + ": state '" + d.name + "' grows one row per " +
                       std::to_string(d.tokensPerRow) + " tokens with " +
                       std::to_string(d.fixedRows) +
                       " fixed rows; a growing state needs 0 fixed rows and "
                       "a power-of-two ratio up to 2^20");
      prog.states.push_back(std::move(d));
    }
  }

  if (a->cuda_kernels()) {
    if (prog.target != "cuda" && a->cuda_kernels()->size() > 0)
      return bad(origin,
                 "a '" + prog.target + "' artifact carries CUDA kernels");
    int index = 0;
    for (const fb::CudaKernel *k : *a->cuda_kernels()) {
      CudaKernelDesc d;
      BK_RETURN_IF_ERROR(readCudaKernel(
          k, d, origin + ": CUDA kernel " + std::to_string(index++)));
      prog.cudaKernels.push_back(std::move(d));
    }
  }

  if (!a->entries() || a->entries()->size() == 0)
    return bad(origin, "artifact has no entry points");
  for (const fb::EntryPoint *e : *a->entries()) {
    EntryDesc d;
    d.name = str(e->name());
    d.maxTokens = e->max_tokens();
    d.arenaElemsPerToken = e->arena_elems_per_token();
    d.logitsBuffer = e->logits_buffer();
    std::string where = origin + ": entry '" + d.name + "'";
    if (d.maxTokens <= 0 || d.arenaElemsPerToken <= 0 ||
        d.arenaElemsPerToken > (int64_t(1) << 32))
      return corrupt(where + " has an invalid token or arena size");
    // The arena holds max_tokens rows of 4-byte elements; its byte size must
    // fit 64 bits (2^32 elements times 2^31 tokens would not).
    if (!checkedProduct({d.arenaElemsPerToken, int64_t(d.maxTokens), 4}))
      return corrupt(where + ": an arena of " +
                     std::to_string(d.arenaElemsPerToken) +
                     " elements per token for " + std::to_string(d.maxTokens) +
                     " tokens overflows 64 bits");
    if (e->buffers()) {
      for (const fb::Buffer *b : *e->buffers()) {
        BufferDesc bd;
        bd.name = str(b->name());
        bd.elemsPerToken = b->elems_per_token();
        bd.offsetPerToken = b->offset_per_token();
        bd.isInt = b->is_int();
        std::optional<int64_t> end =
            checkedAdd<int64_t>(bd.offsetPerToken, bd.elemsPerToken);
        if (bd.elemsPerToken <= 0 || bd.offsetPerToken < 0 || !end ||
            *end > d.arenaElemsPerToken)
          return corrupt(where + ": buffer '" + bd.name +
                         "' lies outside the arena");
        d.buffers.push_back(std::move(bd));
      }
    }
    if (d.logitsBuffer < 0 || d.logitsBuffer >= int(d.buffers.size()) ||
        d.buffers[d.logitsBuffer].elemsPerToken != prog.config.vocabSize)
      return corrupt(where + ": logits buffer is missing or not vocab-sized");
    if (e->launches()) {
      int index = 0;
      for (const fb::Launch *l : *e->launches()) {
        LaunchDesc ld;
        ld.kernel = str(l->kernel());
        ld.layer = l->layer();
        if (l->inputs())
          ld.inputs.assign(l->inputs()->begin(), l->inputs()->end());
        if (l->outputs())
          ld.outputs.assign(l->outputs()->begin(), l->outputs()->end());
        if (l->weights())
          ld.weights.assign(l->weights()->begin(), l->weights()->end());
        if (l->states())
          ld.states.assign(l->states()->begin(), l->states()->end());
        ld.cudaKernel = l->cuda_kernel();
        if (l->cuda_then())
          ld.cudaThen.assign(l->cuda_then()->begin(), l->cuda_then()->end());
        std::string lwhere = where + " launch " + std::to_string(index++);
        std::vector<ParamPair> params;
        BK_RETURN_IF_ERROR(readParams(l->params(), params).withContext(lwhere));
        BK_RETURN_IF_ERROR(checkLaunch(ld, params, d, prog, lwhere));
        BK_RETURN_IF_ERROR(validateLaunch(prog, d, ld, lwhere));
        BK_RETURN_IF_ERROR(checkCudaLaunch(ld, d, prog, lwhere));
        d.launches.push_back(std::move(ld));
      }
    }
    if (d.launches.empty())
      return corrupt(where + " has no launches");
    d.logitsTailBegin = logitsTail(d);
    if (d.logitsTailBegin >= 0)
      d.tailInputs = tailInputs(d, d.logitsTailBegin);
    prog.entries.push_back(std::move(d));
  }
  if (!prog.entry("prefill") || !prog.entry("decode"))
    return bad(origin, "artifact lacks the 'prefill' or 'decode' entry point");
  if (prog.maxContext <= 0)
    return bad(origin, "artifact has a non-positive default context");
  if (prog.maxContext > kMaxContextTokens)
    return bad(origin, "artifact's max_context " +
                           std::to_string(prog.maxContext) +
                           " is past the most tokens of context, 2^30 (" +
                           std::to_string(kMaxContextTokens) + ")");
  if (const flatbuffers::String *json = a->tokenizer_json()) {
    Expected<std::unique_ptr<Tokenizer>> tok =
        Tokenizer::fromJson(std::string_view(json->c_str(), json->size()));
    if (!tok)
      return bad(origin,
                 "stored tokenizer does not load: " + tok.status().toString());
    if ((*tok)->vocabSize() > prog.config.vocabSize)
      return bad(origin, "stored tokenizer has ids up to " +
                             std::to_string((*tok)->vocabSize() - 1) +
                             ", beyond the model's vocab_size " +
                             std::to_string(prog.config.vocabSize));
    prog.tokenizer = std::shared_ptr<const Tokenizer>(tok.take());
  }
  if (const fb::GenerationConfig *g = a->generation_config()) {
    BK_ASSIGN_OR_RETURN(
        prog.generationConfig,
        readGenerationConfig(*g, prog.config.vocabSize, origin));
  }
  return prog;
}

Expected<LoadedArtifact> loadArtifact(const std::string &path) {
  BK_ASSIGN_OR_RETURN(MappedFile file, MappedFile::open(path));
  auto shared = std::make_shared<MappedFile>(std::move(file));
  BK_ASSIGN_OR_RETURN(Program prog,
                      parseArtifact(shared->data(), shared->size(), path));
  return LoadedArtifact{std::move(shared), std::move(prog), nullptr};
}

} // namespace birkhoff::rt
