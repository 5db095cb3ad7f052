//===- CheckpointSchema.cpp - Expected tensors and checkpoint validation --===//
#include "deepseek_v4/CheckpointSchema.h"

#include "birkhoff/CheckedMath.h"

#include <cstring>
#include <set>

namespace birkhoff::v4 {
namespace {

constexpr int64_t kFp8Block = 128; // FP8 weight scales cover 128x128 blocks
constexpr int64_t kFp4Block = 32;  // FP4 expert scales cover 32 inputs of a row

int64_t ceilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

std::string shapeString(const std::vector<int64_t> &shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

std::string stDType(DType t) { return std::string(safetensorsDTypeName(t)); }

/// Builds the table in checkpoint order.
class TableBuilder {
public:
  TableBuilder(const ModelConfig &config, const CheckpointFormat &format)
      : c_(config), f_(format) {}

  std::vector<ExpectedTensor> build() {
    const int64_t d = c_.dim;
    add("embed.weight", DType::BF16, {c_.vocabSize, d}, TensorRole::Embedding,
        -1);
    for (int64_t l = 0; l < c_.nLayers; ++l)
      block("layers." + std::to_string(l) + ".", l, c_.attention[l],
            c_.routing[l]);
    add("norm.weight", DType::BF16, {d}, TensorRole::Norm, -1);
    add("head.weight", DType::BF16, {c_.vocabSize, d}, TensorRole::Head, -1);
    hcHead("", -1);
    // MTP blocks (V4_SPEC §3.9): a window-only, non-hashed block plus the
    // input projections and their own head collapse; embed/head are shared.
    for (int64_t k = 0; k < f_.mtpLayers; ++k) {
      std::string p = "mtp." + std::to_string(k) + ".";
      int64_t layer = c_.nLayers + k;
      block(p, layer, LayerAttention::Window, LayerRouting::TopK);
      linear(p + "e_proj", d, d, layer);
      linear(p + "h_proj", d, d, layer);
      add(p + "enorm.weight", DType::BF16, {d}, TensorRole::Norm, layer);
      add(p + "hnorm.weight", DType::BF16, {d}, TensorRole::Norm, layer);
      add(p + "norm.weight", DType::BF16, {d}, TensorRole::Norm, layer);
      hcHead(p, layer);
    }
    return std::move(out_);
  }

private:
  ExpectedTensor &add(std::string name, DType dtype, std::vector<int64_t> shape,
                      TensorRole role, int64_t layer) {
    ExpectedTensor t;
    t.name = std::move(name);
    t.dtype = dtype;
    t.element = dtype;
    t.shape = std::move(shape);
    t.role = role;
    t.layer = layer;
    out_.push_back(std::move(t));
    return out_.back();
  }

  void hcHead(const std::string &p, int64_t layer) {
    const int64_t hc = c_.hcMult;
    add(p + "hc_head_fn", DType::F32, {hc, hc * c_.dim}, TensorRole::HcFn,
        layer);
    add(p + "hc_head_base", DType::F32, {hc}, TensorRole::HcBase, layer);
    add(p + "hc_head_scale", DType::F32, {1}, TensorRole::HcScale, layer);
  }

  /// An FP8-capable linear `<prefix>.weight` [out, in] (+ `.scale`).
  void linear(const std::string &prefix, int64_t outF, int64_t inF,
              int64_t layer) {
    bool fp8 = f_.linears == LinearFormat::FP8;
    ExpectedTensor &w =
        add(prefix + ".weight", fp8 ? DType::F8E4M3 : DType::BF16, {outF, inF},
            TensorRole::Linear, layer);
    w.logicalShape = {outF, inF};
    if (!fp8)
      return;
    w.scale = prefix + ".scale";
    add(prefix + ".scale", DType::F8E8M0,
        {ceilDiv(outF, kFp8Block), ceilDiv(inF, kFp8Block)},
        TensorRole::LinearScale, layer);
  }

  /// A routed expert linear: packed FP4 [out, in/2] + per-32 scales, or BF16.
  void expert(const std::string &prefix, int64_t outF, int64_t inF,
              int64_t layer) {
    bool fp4 = f_.experts == ExpertFormat::FP4;
    ExpectedTensor &w =
        add(prefix + ".weight", fp4 ? DType::I8 : DType::BF16,
            {outF, fp4 ? inF / 2 : inF}, TensorRole::ExpertLinear, layer);
    w.logicalShape = {outF, inF};
    if (!fp4)
      return;
    w.element = DType::FP4E2M1x2;
    w.scale = prefix + ".scale";
    add(prefix + ".scale", DType::F8E8M0, {outF, ceilDiv(inF, kFp4Block)},
        TensorRole::ExpertScale, layer);
  }

  void projection(const std::string &name, int64_t outF, int64_t inF,
                  int64_t layer) {
    add(name, DType::BF16, {outF, inF}, TensorRole::Projection, layer)
        .logicalShape = {outF, inF};
  }

  /// A compressor (V4_SPEC §3.5): CSA overlaps two windows, so its
  /// projections and position bias are twice as wide (coff = 2).
  void compressor(const std::string &p, int64_t headDim, int64_t ratio,
                  bool overlap, int64_t layer) {
    int64_t width = (overlap ? 2 : 1) * headDim;
    add(p + "ape", DType::F32, {ratio, width}, TensorRole::CompressorApe,
        layer);
    projection(p + "wkv.weight", width, c_.dim, layer);
    projection(p + "wgate.weight", width, c_.dim, layer);
    add(p + "norm.weight", DType::BF16, {headDim}, TensorRole::Norm, layer);
  }

  void block(const std::string &p, int64_t layer, LayerAttention attention,
             LayerRouting routing) {
    const int64_t d = c_.dim, hc = c_.hcMult, mix = (2 + hc) * hc;
    for (const char *site : {"attn", "ffn"}) {
      std::string s = site;
      add(p + "hc_" + s + "_fn", DType::F32, {mix, hc * d}, TensorRole::HcFn,
          layer);
      add(p + "hc_" + s + "_base", DType::F32, {mix}, TensorRole::HcBase,
          layer);
      add(p + "hc_" + s + "_scale", DType::F32, {3}, TensorRole::HcScale,
          layer);
    }
    add(p + "attn_norm.weight", DType::BF16, {d}, TensorRole::Norm, layer);
    add(p + "ffn_norm.weight", DType::BF16, {d}, TensorRole::Norm, layer);

    const std::string a = p + "attn.";
    const int64_t qDim = c_.nHeads * c_.headDim;
    add(a + "attn_sink", DType::F32, {c_.nHeads}, TensorRole::AttnSink, layer);
    linear(a + "wq_a", c_.qLoraRank, d, layer);
    add(a + "q_norm.weight", DType::BF16, {c_.qLoraRank}, TensorRole::Norm,
        layer);
    linear(a + "wq_b", qDim, c_.qLoraRank, layer);
    linear(a + "wkv", c_.headDim, d, layer);
    add(a + "kv_norm.weight", DType::BF16, {c_.headDim}, TensorRole::Norm,
        layer);
    // Grouped output projection: group g maps its heads' outputs to r_o.
    linear(a + "wo_a", c_.oGroups * c_.oLoraRank, qDim / c_.oGroups, layer);
    linear(a + "wo_b", d, c_.oGroups * c_.oLoraRank, layer);
    if (attention != LayerAttention::Window) {
      bool csa = attention == LayerAttention::CSA;
      int64_t ratio = csa ? c_.csaRatio : c_.hcaRatio;
      compressor(a + "compressor.", c_.headDim, ratio, csa, layer);
      if (csa) {
        const std::string ix = a + "indexer.";
        linear(ix + "wq_b", c_.indexNHeads * c_.indexHeadDim, c_.qLoraRank,
               layer);
        projection(ix + "weights_proj.weight", c_.indexNHeads, d, layer);
        compressor(ix + "compressor.", c_.indexHeadDim, ratio, /*overlap=*/true,
                   layer);
      }
    }

    const std::string f = p + "ffn.";
    const int64_t experts = c_.nRoutedExperts, inter = c_.moeInterDim;
    add(f + "gate.weight", DType::BF16, {experts, d}, TensorRole::GateWeight,
        layer)
        .logicalShape = {experts, d};
    if (routing == LayerRouting::Hash)
      add(f + "gate.tid2eid", DType::I64, {c_.vocabSize, c_.nActivatedExperts},
          TensorRole::HashTable, layer);
    else
      add(f + "gate.bias", DType::F32, {experts}, TensorRole::GateBias, layer);
    linear(f + "shared_experts.w1", inter, d, layer);
    linear(f + "shared_experts.w2", d, inter, layer);
    linear(f + "shared_experts.w3", inter, d, layer);
    for (int64_t e = 0; e < experts; ++e) {
      std::string x = f + "experts." + std::to_string(e) + ".";
      expert(x + "w1", inter, d, layer);
      expert(x + "w2", d, inter, layer);
      expert(x + "w3", inter, d, layer);
    }
  }

  const ModelConfig &c_;
  const CheckpointFormat &f_;
  std::vector<ExpectedTensor> out_;
};

/// Collects problems so one run names several of them.
class Problems {
public:
  void add(StatusCode code, std::string message) {
    if (count_ == 0)
      code_ = code;
    if (count_ < kShown)
      messages_.push_back(std::move(message));
    ++count_;
  }
  bool empty() const { return count_ == 0; }
  Status status(const std::string &dir) const {
    if (count_ == 0)
      return Status::ok();
    std::string m = "checkpoint " + dir + ": ";
    if (count_ > 1)
      m += std::to_string(count_) + " problems: ";
    for (size_t i = 0; i < messages_.size(); ++i)
      m += (i ? "; " : "") + messages_[i];
    if (count_ > kShown)
      m += "; ... and " + std::to_string(count_ - kShown) + " more";
    return makeError(code_, m);
  }

private:
  static constexpr int64_t kShown = 8;
  StatusCode code_ = StatusCode::Ok;
  int64_t count_ = 0;
  std::vector<std::string> messages_;
};

std::string where(const TensorInfo &t) {
  return "'" + t.name + "' in " + t.file;
}

/// `mtp.{k}.<rest>` -> k, or -1 when the name is not of that form.
int64_t mtpIndex(const std::string &name, std::string *rest) {
  if (name.rfind("mtp.", 0) != 0)
    return -1;
  size_t i = 4, j = 4;
  while (j < name.size() && name[j] >= '0' && name[j] <= '9' && j - i < 9)
    ++j;
  if (j == i || j >= name.size() || name[j] != '.')
    return -1;
  if (rest)
    *rest = name.substr(j + 1);
  return std::stoll(name.substr(i, j - i));
}

/// MTP copies of the shared embedding and head, which DeepSeek's convert.py
/// drops (V4_SPEC §3.9): accepted and ignored.
bool allowListed(const std::string &name) {
  std::string rest;
  if (mtpIndex(name, &rest) < 0)
    return false;
  return rest.find("emb") != std::string::npos || rest == "head.weight";
}

/// Reads which format the checkpoint's tensors are in. Linears vote by dtype
/// (F8_E4M3 or BF16), experts by dtype (I8 or BF16); a checkpoint with both
/// kinds of one is refused, as is one that contradicts config.json.
Status detectFormat(const ModelConfig &config, const Checkpoint &ckpt,
                    CheckpointFormat &format) {
  format = declaredFormat(config);
  // The MTP blocks present; they must be mtp.0 .. mtp.{m-1}.
  std::set<int64_t> mtp;
  for (const auto &[name, info] : ckpt.tensors()) {
    int64_t k = mtpIndex(name, nullptr);
    if (k < 0 || allowListed(name))
      continue;
    if (k >= config.nMtpLayers)
      return invalidArgument("checkpoint " + ckpt.dir() + ": tensor " +
                             where(info) + " belongs to MTP block " +
                             std::to_string(k) + " but the config declares " +
                             std::to_string(config.nMtpLayers) +
                             " MTP layer(s) (num_nextn_predict_layers)");
    mtp.insert(k);
  }
  for (int64_t k = 0; k < int64_t(mtp.size()); ++k)
    if (!mtp.count(k))
      return invalidArgument("checkpoint " + ckpt.dir() + ": MTP block mtp." +
                             std::to_string(*mtp.rbegin()) +
                             " is present but mtp." + std::to_string(k) +
                             " is not");
  format.mtpLayers = int64_t(mtp.size());

  // Vote over the names of the full FP8/FP4 table (names are the same in both
  // formats apart from the scales).
  CheckpointFormat probe = format;
  probe.linears = LinearFormat::FP8;
  probe.experts = ExpertFormat::FP4;
  const TensorInfo *fp8 = nullptr, *bf16Linear = nullptr, *fp4 = nullptr,
                   *bf16Expert = nullptr;
  for (const ExpectedTensor &e : expectedTensors(config, probe)) {
    if (e.role != TensorRole::Linear && e.role != TensorRole::ExpertLinear)
      continue;
    const TensorInfo *t = ckpt.find(e.name);
    if (!t)
      continue;
    if (e.role == TensorRole::Linear) {
      if (t->dtype == DType::F8E4M3 && !fp8)
        fp8 = t;
      else if (t->dtype == DType::BF16 && !bf16Linear)
        bf16Linear = t;
    } else if (t->dtype == DType::I8 && !fp4) {
      fp4 = t;
    } else if (t->dtype == DType::BF16 && !bf16Expert) {
      bf16Expert = t;
    } else if (t->dtype == DType::F8E4M3) {
      return unsupported(
          "checkpoint " + ckpt.dir() + ": routed expert " + where(*t) +
          " is F8_E4M3; FP8 routed experts (the -Base checkpoints) are not "
          "supported, only packed FP4 or BF16");
    }
  }
  if (fp8 && bf16Linear)
    return corrupt("checkpoint " + ckpt.dir() +
                   ": mixed linear formats: " + where(*fp8) +
                   " is F8_E4M3 but " + where(*bf16Linear) + " is BF16");
  if (fp4 && bf16Expert)
    return corrupt("checkpoint " + ckpt.dir() +
                   ": mixed routed-expert formats: " + where(*fp4) +
                   " is packed FP4 (I8) but " + where(*bf16Expert) +
                   " is BF16");
  if (fp8)
    format.linears = LinearFormat::FP8;
  else if (bf16Linear)
    format.linears = LinearFormat::BF16;
  if (fp4)
    format.experts = ExpertFormat::FP4;
  else if (bf16Expert)
    format.experts = ExpertFormat::BF16;

  bool isFp8 = format.linears == LinearFormat::FP8;
  if (isFp8 != config.fp8Linears) {
    const TensorInfo *witness = isFp8 ? fp8 : bf16Linear;
    return invalidArgument(
        "checkpoint " + ckpt.dir() + ": config.json " +
        (config.fp8Linears ? "declares FP8 linears (quantization_config)"
                           : "declares no quantization") +
        " but " + (witness ? where(*witness) : std::string("the linears")) +
        " is " + (isFp8 ? "F8_E4M3" : "BF16"));
  }
  return Status::ok();
}

/// Packed FP4 needs whole bytes and whole 32-element scale blocks per row.
Status checkFp4Widths(const ModelConfig &config, const CheckpointFormat &format,
                      const std::string &dir) {
  if (format.experts != ExpertFormat::FP4)
    return Status::ok();
  for (auto [key, in] :
       {std::pair<const char *, int64_t>{"hidden_size", config.dim},
        {"moe_intermediate_size", config.moeInterDim}})
    if (in % kFp4Block != 0)
      return invalidArgument("checkpoint " + dir +
                             ": routed experts are packed FP4, which needs " +
                             "their input width to be a multiple of 32, but " +
                             key + " is " + std::to_string(in));
  return Status::ok();
}

void checkScaleBytes(const Checkpoint &ckpt, const ExpectedTensor &e,
                     const TensorInfo &t, Problems &problems) {
  Expected<std::span<const uint8_t>> bytes = ckpt.bytes(e.name);
  if (!bytes) {
    problems.add(bytes.status().code(), bytes.status().message());
    return;
  }
  const uint8_t *p = bytes->data();
  const void *hit = std::memchr(p, 0xff, bytes->size());
  if (!hit)
    return;
  int64_t i = static_cast<const uint8_t *>(hit) - p;
  int64_t cols = t.shape.size() == 2 ? t.shape[1] : 1;
  problems.add(StatusCode::Corrupt, "scale tensor " + where(t) +
                                        " holds the e8m0 NaN byte 0xFF at [" +
                                        std::to_string(i / cols) + ", " +
                                        std::to_string(i % cols) + "]");
}

void checkHashTable(const ModelConfig &config, const Checkpoint &ckpt,
                    const ExpectedTensor &e, const TensorInfo &t,
                    Problems &problems) {
  Expected<std::span<const uint8_t>> bytes = ckpt.bytes(e.name);
  if (!bytes) {
    problems.add(bytes.status().code(), bytes.status().message());
    return;
  }
  int64_t n = int64_t(bytes->size() / 8), cols = t.shape[1];
  for (int64_t i = 0; i < n; ++i) {
    int64_t v;
    std::memcpy(&v, bytes->data() + 8 * i,
                8); // little-endian, as safetensors stores it
    if (v < 0 || v >= config.nRoutedExperts) {
      problems.add(StatusCode::Corrupt,
                   "hash table " + where(t) + " routes token " +
                       std::to_string(i / cols) + " to expert " +
                       std::to_string(v) + ", outside [0, " +
                       std::to_string(config.nRoutedExperts) + ")");
      return;
    }
  }
}

} // namespace

CheckpointFormat declaredFormat(const ModelConfig &config) {
  CheckpointFormat f;
  f.linears = config.fp8Linears ? LinearFormat::FP8 : LinearFormat::BF16;
  f.experts = config.fp8Linears ? ExpertFormat::FP4 : ExpertFormat::BF16;
  f.mtpLayers = config.nMtpLayers;
  return f;
}

std::string describeFormat(const CheckpointFormat &format) {
  std::string s =
      format.linears == LinearFormat::FP8 ? "FP8 linears" : "BF16 linears";
  s += format.experts == ExpertFormat::FP4 ? ", FP4 experts" : ", BF16 experts";
  s += ", " + std::to_string(format.mtpLayers) + " MTP block(s)";
  return s;
}

const char *tensorRoleName(TensorRole role) {
  switch (role) {
  case TensorRole::Embedding:
    return "embedding";
  case TensorRole::Head:
    return "head";
  case TensorRole::Norm:
    return "norm";
  case TensorRole::Linear:
    return "linear";
  case TensorRole::LinearScale:
    return "linear-scale";
  case TensorRole::ExpertLinear:
    return "expert-linear";
  case TensorRole::ExpertScale:
    return "expert-scale";
  case TensorRole::Projection:
    return "projection";
  case TensorRole::GateWeight:
    return "gate-weight";
  case TensorRole::GateBias:
    return "gate-bias";
  case TensorRole::HashTable:
    return "hash-table";
  case TensorRole::AttnSink:
    return "attn-sink";
  case TensorRole::CompressorApe:
    return "compressor-ape";
  case TensorRole::HcFn:
    return "hc-fn";
  case TensorRole::HcBase:
    return "hc-base";
  case TensorRole::HcScale:
    return "hc-scale";
  }
  return "<invalid role>";
}

int64_t ExpectedTensor::numElements() const {
  std::optional<int64_t> n = checkedProduct(shape);
  return n ? *n : -1;
}

int64_t ExpectedTensor::byteSize() const {
  std::optional<int64_t> n = checkedProduct(shape);
  std::optional<int64_t> bytes;
  if (n)
    bytes = checkedMul<int64_t>(*n, dtypeStorageBytes(dtype));
  return bytes ? *bytes : -1;
}

std::vector<ExpectedTensor> expectedTensors(const ModelConfig &config,
                                            const CheckpointFormat &format) {
  return TableBuilder(config, format).build();
}

Status validateCheckpoint(const ModelConfig &config, const Checkpoint &ckpt,
                          CheckpointFormat *formatOut,
                          const ValidateOptions &options) {
  BK_RETURN_IF_ERROR(validateModelConfig(config, ckpt.dir() + "/config.json"));
  CheckpointFormat format;
  BK_RETURN_IF_ERROR(detectFormat(config, ckpt, format));
  BK_RETURN_IF_ERROR(checkFp4Widths(config, format, ckpt.dir()));

  std::vector<ExpectedTensor> table = expectedTensors(config, format);
  std::set<std::string> expected;
  Problems problems;
  for (const ExpectedTensor &e : table) {
    expected.insert(e.name);
    const TensorInfo *t = ckpt.find(e.name);
    if (!t) {
      problems.add(StatusCode::NotFound, "missing tensor '" + e.name + "' (" +
                                             stDType(e.dtype) + " " +
                                             shapeString(e.shape) + ")");
      continue;
    }
    if (t->dtype != e.dtype) {
      problems.add(StatusCode::InvalidArgument,
                   "tensor " + where(*t) + " has dtype " + stDType(t->dtype) +
                       ", expected " + stDType(e.dtype) + " (" +
                       describeFormat(format) + ")");
      continue;
    }
    if (t->shape != e.shape) {
      std::string note;
      if (e.element == DType::FP4E2M1x2)
        note = " (packed FP4 [out, in/2] of logical " +
               shapeString(e.logicalShape) + ")";
      problems.add(StatusCode::InvalidArgument,
                   "tensor " + where(*t) + " has shape " +
                       shapeString(t->shape) + ", expected " +
                       shapeString(e.shape) + note);
      continue;
    }
    if (options.checkScaleBytes && (e.role == TensorRole::LinearScale ||
                                    e.role == TensorRole::ExpertScale))
      checkScaleBytes(ckpt, e, *t, problems);
    if (options.checkHashTables && e.role == TensorRole::HashTable)
      checkHashTable(config, ckpt, e, *t, problems);
  }
  for (const auto &[name, info] : ckpt.tensors())
    if (!expected.count(name) && !allowListed(name))
      problems.add(StatusCode::InvalidArgument,
                   "unexpected tensor " + where(info) + " (" +
                       stDType(info.dtype) + " " + shapeString(info.shape) +
                       ") is not part of a " + describeFormat(format) +
                       " DeepSeek-V4 checkpoint of this config");
  BK_RETURN_IF_ERROR(problems.status(ckpt.dir()));
  if (formatOut)
    *formatOut = format;
  return Status::ok();
}

} // namespace birkhoff::v4
