//===- LaunchValidation.cpp -----------------------------------------------===//
#include "LaunchValidation.h"

#include "birkhoff/OfficialNumerics.h"

#include <string>
#include <type_traits>
#include <variant>
#include <vector>

namespace birkhoff::rt {
namespace {

std::string shapeText(const std::vector<int64_t> &s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) {
    if (i)
      out += ',';
    out += std::to_string(s[i]);
  }
  return out + "]";
}

/// Accumulates the first failure; each check returns whether it held so
/// later checks that depend on it can be skipped.
class Checker {
public:
  Checker(const Program &p, const EntryDesc &e, const LaunchDesc &l)
      : p_(p), e_(e), l_(l) {}

  Status status() const { return first_; }
  bool ok() const { return first_.isOk(); }

  bool fail(const std::string &what) {
    if (first_.isOk())
      first_ = corrupt("kernel '" + l_.kernel + "': " + what);
    return false;
  }

  /// `value` of integer parameter `key` if it lies in its catalogue range
  /// (Kernels.def), else the range's low end. decodeParams has checked that
  /// range already; this keeps the checks below from trusting a value that
  /// did not come through it.
  int64_t param(const char *key, int64_t value) {
    const ParamInfo *info = infoOf(key);
    return info ? param(key, value, int64_t(info->minValue),
                        int64_t(info->maxValue))
                : value;
  }
  double real(const char *key, double value) {
    const ParamInfo *info = infoOf(key);
    return info ? real(key, value, info->minValue, info->maxValue) : value;
  }

  /// `value` of integer parameter `key` if it lies in [lo, hi], else lo
  /// (after recording the failure). For bounds that depend on other
  /// parameters; the fixed ones live in the catalogue.
  int64_t param(const char *key, int64_t value, int64_t lo, int64_t hi) {
    if (value < lo || value > hi) {
      fail(std::string("parameter ") + key + " = " + std::to_string(value) +
           " outside [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
      return lo;
    }
    return value;
  }
  double real(const char *key, double value, double lo, double hi) {
    if (!(value >= lo && value <= hi)) {
      fail(std::string("parameter ") + key + " = " + std::to_string(value) +
           " is out of range");
      return lo;
    }
    return value;
  }

  bool input(int i, int64_t elems, bool isInt = false) {
    int b = l_.inputs[size_t(i)];
    if (b < 0) {
      if (!isInt || elems != 1)
        return fail("input " + std::to_string(i) + " cannot be the token ids");
      return true;
    }
    return buffer(b, elems, isInt, "input " + std::to_string(i));
  }
  bool output(int i, int64_t elems, bool isInt = false) {
    return buffer(l_.outputs[size_t(i)], elems, isInt,
                  "output " + std::to_string(i));
  }

  /// A 2-D matrix weight in a format the kernels decode.
  bool matrix(int i, int64_t rows, int64_t cols) {
    const WeightDesc *w = weight(i);
    if (!w)
      return false;
    bool decodable = w->dtype == DType::F32 || w->dtype == DType::BF16 ||
                     w->dtype == DType::F8E4M3 || w->dtype == DType::FP4E2M1x2;
    if (!decodable)
      return fail("weight '" + w->name + "' has dtype " +
                  std::string(dtypeName(w->dtype)) + ", not a matrix format");
    if (w->shape != std::vector<int64_t>{rows, cols})
      return fail("weight '" + w->name + "' has shape " + shapeText(w->shape) +
                  ", expected " + shapeText({rows, cols}));
    return true;
  }
  /// A 1-D F32/BF16 vector weight (norms, biases, sinks, mHC bases).
  bool vector(int i, int64_t n) {
    const WeightDesc *w = weight(i);
    if (!w)
      return false;
    if (w->dtype != DType::F32 && w->dtype != DType::BF16)
      return fail("weight '" + w->name + "' must be f32 or bf16");
    if (w->shape != std::vector<int64_t>{n})
      return fail("weight '" + w->name + "' has shape " + shapeText(w->shape) +
                  ", expected [" + std::to_string(n) + "]");
    return true;
  }
  const WeightDesc *weight(int i) {
    int idx = i < int(l_.weights.size()) ? l_.weights[size_t(i)] : -1;
    if (idx < 0) {
      fail("weight " + std::to_string(i) + " is missing");
      return nullptr;
    }
    return &p_.weights[size_t(idx)];
  }
  bool state(int i, int64_t rowBytes, int64_t minFixedRows,
             int64_t tokensPerRow) {
    const StateDesc &s = p_.states[size_t(l_.states[size_t(i)])];
    if (int64_t(s.bytesPerRow) != rowBytes || s.fixedRows < minFixedRows ||
        s.tokensPerRow != tokensPerRow)
      return fail("state '" + s.name + "' has rows of " +
                  std::to_string(s.bytesPerRow) + " bytes (" +
                  std::to_string(s.fixedRows) + " fixed, 1 per " +
                  std::to_string(s.tokensPerRow) + " tokens), expected " +
                  std::to_string(rowBytes) + " (" +
                  std::to_string(minFixedRows) + ", 1 per " +
                  std::to_string(tokensPerRow) + ")");
    return true;
  }

  /// Bytes of one stored KV / key row in the format `value` of param `key`
  /// selects (0: f32; `fp4Format`: FP4 key; any other: FP8 KV entry).
  int64_t rowBytes(const char *key, int64_t value, int64_t maxFormat,
                   int64_t dim, int64_t ropeDim, int64_t fp4Format) {
    int64_t format = param(key, value, 0, maxFormat);
    if (format == 0)
      return 4 * dim;
    if (format == fp4Format) {
      if (dim % 32)
        fail("FP4 keys need a multiple of 32 dims, not " + std::to_string(dim));
      return int64_t(official::fp4KeyBytes(size_t(dim)));
    }
    auto layout = official::KvEntryLayout::make(size_t(dim), size_t(ropeDim));
    if (!layout.isOk()) {
      fail(layout.status().message());
      return 0;
    }
    return int64_t(layout->entryBytes());
  }

private:
  const ParamInfo *infoOf(const char *key) {
    if (l_.params.index() == 0)
      return nullptr;
    const ParamInfo *info =
        kernelSignature(kernelIdOf(l_.params)).findParam(key);
    if (!info)
      fail(std::string("checks parameter ") + key + ", not in the catalogue");
    return info;
  }

  bool buffer(int b, int64_t elems, bool isInt, const std::string &what) {
    const BufferDesc &d = e_.buffers[size_t(b)];
    if (d.elemsPerToken != elems || d.isInt != isInt)
      return fail(what + " '" + d.name + "' holds " +
                  std::to_string(d.elemsPerToken) +
                  (d.isInt ? " ints" : " floats") + " per token, expected " +
                  std::to_string(elems) + (isInt ? " ints" : " floats"));
    return true;
  }

  const Program &p_;
  const EntryDesc &e_;
  const LaunchDesc &l_;
  Status first_;
};

void checkRope(Checker &c, const RopeSpec &r, int64_t headDim) {
  int64_t dim = c.param("rope_dim", r.ropeDim, 0, headDim);
  if (dim % 2)
    c.fail("rope_dim must be even");
  c.real("theta", r.theta);
  if (r.yarn) {
    c.real("rope_factor", r.ropeFactor, 1e-6, 1e9);
    c.param("original_seq_len", r.originalSeqLen, 1, int64_t(1e12));
    c.real("beta_fast", r.betaFast, 1e-6, 1e6);
    c.real("beta_slow", r.betaSlow, 1e-6, 1e6);
  }
}

/// Weights and buffers of mhc_pre and mhc_pre_norm.
template <typename P> void checkMhcPre(Checker &c, const P &p) {
  int64_t dim = c.param("dim", p.dim), hc = c.param("hc", p.hc);
  c.param("iters", p.iters);
  c.real("hc_eps", p.hcEps);
  c.real("norm_eps", p.normEps);
  c.input(0, hc * dim) && c.output(0, dim) && c.output(1, hc) &&
      c.output(2, hc * hc);
  c.matrix(0, (2 + hc) * hc, hc * dim) && c.vector(1, (2 + hc) * hc) &&
      c.vector(2, 3);
  if constexpr (std::is_same_v<P, MhcPreNormParams>) {
    c.real("eps", p.eps);
    c.vector(3, dim);
  }
}

/// Weights and buffers of mhc_head and mhc_head_norm.
template <typename P> void checkMhcHead(Checker &c, const P &p) {
  int64_t dim = c.param("dim", p.dim), hc = c.param("hc", p.hc);
  c.real("hc_eps", p.hcEps);
  c.real("norm_eps", p.normEps);
  c.input(0, hc * dim) && c.output(0, dim);
  c.matrix(0, hc, hc * dim) && c.vector(1, hc) && c.vector(2, 1);
  if constexpr (std::is_same_v<P, MhcHeadNormParams>) {
    c.real("eps", p.eps);
    c.vector(3, dim);
  }
}

template <typename P> void checkLinear(Checker &c, const P &p) {
  int64_t in = c.param("in_features", p.inFeatures),
          out = c.param("out_features", p.outFeatures);
  c.input(0, in) && c.output(0, out) && c.matrix(0, out, in);
  if constexpr (std::is_same_v<P, LinearRmsNormParams>) {
    c.real("eps", p.eps);
    c.vector(1, out);
  }
}

/// head_rms_norm, rope and head_rms_norm_rope.
template <typename P> void checkHeads(Checker &c, const P &p) {
  int64_t heads = c.param("heads", p.heads),
          hd = c.param("head_dim", p.headDim);
  c.input(0, heads * hd) && c.output(0, heads * hd);
  if constexpr (!std::is_same_v<P, RopeParams>)
    c.real("eps", p.eps);
  if constexpr (!std::is_same_v<P, HeadRmsNormParams>)
    checkRope(c, ropeSpecOf(p), hd);
  if constexpr (std::is_same_v<P, RopeParams>)
    c.param("after_rope", p.afterRope);
}

/// Routing of route_select and router (after router's scores).
template <typename P> void checkRouting(Checker &c, const P &p) {
  constexpr bool fused = std::is_same_v<P, RouterParams>;
  int64_t experts = c.param("experts", p.experts),
          topk = c.param("topk", p.topk, 1, experts);
  c.real("route_scale", p.routeScale);
  if constexpr (!fused)
    c.input(0, experts);
  c.input(1, 1, true) && c.output(0, topk, true) && c.output(1, topk);
  int table = fused ? 1 : 0;
  if (p.hash) {
    const WeightDesc *w = c.weight(table);
    if (w &&
        (w->dtype != DType::I64 || w->shape.size() != 2 || w->shape[1] != topk))
      c.fail("hash table '" + w->name + "' must be i64 [vocab, " +
             std::to_string(topk) + "]");
    // A generated table's entries are known before they exist.
    else if (w && w->generated && w->recipe.range > experts)
      c.fail("hash table '" + w->name + "' is generated from experts [0, " +
             std::to_string(w->recipe.range) + "), the layer has " +
             std::to_string(experts));
  } else {
    c.vector(table, experts);
  }
}

void check(Checker &c, const Program &, const LaunchDesc &,
           const EmbedParams &e) {
  int64_t dim = c.param("dim", e.dim), hc = c.param("hc", e.hc);
  c.input(0, 1, true) && c.output(0, hc * dim);
  const WeightDesc *w = c.weight(0);
  if (w && (w->shape.size() != 2 || w->shape[1] != dim ||
            (w->dtype != DType::F32 && w->dtype != DType::BF16)))
    c.fail("embedding '" + w->name +
           "' must be an f32/bf16 [vocab, dim] table");
}
void check(Checker &c, const Program &, const LaunchDesc &,
           const MhcPreParams &p) {
  checkMhcPre(c, p);
}
void check(Checker &c, const Program &, const LaunchDesc &,
           const MhcPreNormParams &p) {
  checkMhcPre(c, p);
}
void check(Checker &c, const Program &, const LaunchDesc &,
           const MhcPostParams &p) {
  int64_t dim = c.param("dim", p.dim), hc = c.param("hc", p.hc);
  c.input(0, dim) && c.input(1, hc * dim) && c.input(2, hc) &&
      c.input(3, hc * hc) && c.output(0, hc * dim);
}
void check(Checker &c, const Program &, const LaunchDesc &,
           const MhcHeadParams &p) {
  checkMhcHead(c, p);
}
void check(Checker &c, const Program &, const LaunchDesc &,
           const MhcHeadNormParams &p) {
  checkMhcHead(c, p);
}
void check(Checker &c, const Program &, const LaunchDesc &,
           const RmsNormParams &p) {
  int64_t n = c.param("n", p.n);
  c.real("eps", p.eps);
  c.input(0, n) && c.output(0, n) && c.vector(0, n);
}
void check(Checker &c, const Program &, const LaunchDesc &,
           const LinearParams &p) {
  checkLinear(c, p);
}
void check(Checker &c, const Program &, const LaunchDesc &,
           const LinearRmsNormParams &p) {
  checkLinear(c, p);
}
void check(Checker &c, const Program &, const LaunchDesc &,
           const HeadRmsNormParams &p) {
  checkHeads(c, p);
}
void check(Checker &c, const Program &, const LaunchDesc &,
           const RopeParams &p) {
  checkHeads(c, p);
}
void check(Checker &c, const Program &, const LaunchDesc &,
           const HeadRmsNormRopeParams &p) {
  checkHeads(c, p);
}
void check(Checker &c, const Program &, const LaunchDesc &,
           const CompressorParams &p) {
  int64_t dim = c.param("dim", p.dim), D = c.param("head_dim", p.headDim);
  int64_t m = c.param("ratio", p.ratio);
  c.real("eps", p.eps);
  checkRope(c, ropeSpecOf(p), D);
  int64_t width = (p.overlap ? 2 : 1) * D;
  c.input(0, dim) && c.matrix(0, width, dim) && c.matrix(1, width, dim) &&
      c.matrix(2, m, width) && c.vector(3, D);
  int64_t entryBytes =
      c.rowBytes("entry_format", p.entryFormat, 2, D, p.ropeDim, 2);
  c.state(0, 8 * width, (p.overlap ? 2 : 1) * m, 0) &&
      c.state(1, entryBytes, 0, m);
}
void check(Checker &c, const Program &, const LaunchDesc &,
           const IndexerTopkParams &p) {
  int64_t heads = c.param("heads", p.heads),
          hd = c.param("head_dim", p.headDim);
  int64_t topk = c.param("topk", p.topk), m = c.param("ratio", p.ratio);
  int64_t keyBytes = c.rowBytes("key_format", p.keyFormat, 1, hd, 0, 1);
  c.input(0, heads * hd) && c.input(1, heads) && c.output(0, topk, true) &&
      c.state(0, keyBytes, 0, m);
}
void check(Checker &c, const Program &prog, const LaunchDesc &l,
           const SparseAttentionParams &p) {
  int64_t heads = c.param("heads", p.heads),
          hd = c.param("head_dim", p.headDim);
  int64_t window = c.param("window", p.window), mode = c.param("mode", p.mode);
  int64_t ratio = c.param("ratio", p.ratio, mode ? 1 : 0, 1 << 20);
  int64_t topk = c.param("topk", p.topk, mode == 1 ? 1 : 0, kMaxDim);
  int64_t kvBytes = c.rowBytes("kv_format", p.kvFormat, 1, hd, p.ropeDim, -1);
  c.input(0, heads * hd) && c.input(1, hd) && c.output(0, heads * hd) &&
      c.vector(0, heads);
  if (int(l.inputs.size()) != (mode == 1 ? 3 : 2) ||
      int(l.states.size()) != (mode ? 2 : 1))
    c.fail("attention mode " + std::to_string(mode) +
           " needs a top-k input exactly for CSA and entries for CSA/HCA");
  else {
    if (mode == 1)
      c.input(2, topk, true);
    const StateDesc &ring = prog.states[size_t(l.states[0])];
    if (ring.fixedRows != window)
      c.fail("window state '" + ring.name + "' has " +
             std::to_string(ring.fixedRows) + " rows for a window of " +
             std::to_string(window));
    c.state(0, kvBytes, window, 0);
    if (mode)
      c.state(1, kvBytes, 0, ratio);
  }
}
void check(Checker &c, const Program &prog, const LaunchDesc &l,
           const WindowWriteParams &p) {
  int64_t window = c.param("window", p.window),
          hd = c.param("head_dim", p.headDim);
  int64_t kvBytes = c.rowBytes("kv_format", p.kvFormat, 1, hd, p.ropeDim, -1);
  c.input(0, hd) && c.state(0, kvBytes, window, 0);
  if (c.ok() && prog.states[size_t(l.states[0])].fixedRows != window)
    c.fail("window state rows differ from the window");
}
void check(Checker &c, const Program &, const LaunchDesc &,
           const GroupedLinearParams &p) {
  int64_t g = c.param("groups", p.groups),
          in = c.param("in_per_group", p.inPerGroup),
          out = c.param("out_per_group", p.outPerGroup);
  c.input(0, g * in) && c.output(0, g * out) && c.matrix(0, g * out, in);
}
void check(Checker &c, const Program &, const LaunchDesc &,
           const RouterScoresParams &p) {
  int64_t dim = c.param("dim", p.dim), experts = c.param("experts", p.experts);
  c.input(0, dim) && c.matrix(0, experts, dim);
  c.output(0, experts);
}
void check(Checker &c, const Program &, const LaunchDesc &,
           const RouteSelectParams &p) {
  checkRouting(c, p);
}
void check(Checker &c, const Program &, const LaunchDesc &,
           const RouterParams &p) {
  int64_t dim = c.param("dim", p.dim), experts = c.param("experts", p.experts);
  c.input(0, dim) && c.matrix(0, experts, dim);
  if (c.ok())
    checkRouting(c, p);
}
void check(Checker &c, const Program &, const LaunchDesc &l,
           const MoeParams &p) {
  int64_t dim = c.param("dim", p.dim), inter = c.param("inter", p.inter);
  int64_t experts = c.param("experts", p.experts),
          topk = c.param("topk", p.topk, 1, experts);
  c.real("swiglu_limit", p.swigluLimit);
  c.input(0, dim) && c.input(1, topk, true) && c.input(2, topk) &&
      c.output(0, dim);
  if (int64_t(l.weights.size()) != 3 * (experts + 1))
    c.fail("needs 3 weights per expert and 3 for the shared expert");
  for (int64_t e = 0; c.ok() && e <= experts; ++e)
    c.matrix(int(3 * e), inter, dim) && c.matrix(int(3 * e + 1), dim, inter) &&
        c.matrix(int(3 * e + 2), inter, dim);
}
void check(Checker &c, const Program &, const LaunchDesc &,
           const std::monostate &) {
  c.fail("parameters were not decoded");
}

} // namespace

Status validateLaunch(const Program &p, const EntryDesc &e, const LaunchDesc &l,
                      const std::string &where) {
  Checker c(p, e, l);
  c.param("numerics", numericsOf(l.params));
  std::visit([&](const auto &params) { check(c, p, l, params); }, l.params);
  Status st = c.status();
  return st.isOk() ? st : st.withContext(where);
}

} // namespace birkhoff::rt
