//===- LaunchValidation.cpp -----------------------------------------------===//
#include "LaunchValidation.h"

#include "birkhoff/OfficialNumerics.h"

#include <string>
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

  int64_t param(const char *key, int64_t lo, int64_t hi) {
    int64_t v = l_.params.i(key);
    if (v < lo || v > hi || double(v) != l_.params.f(key)) {
      fail(std::string("parameter ") + key + " = " + std::to_string(l_.params.f(key)) +
           " outside [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
      return lo;
    }
    return v;
  }
  double real(const char *key, double lo, double hi) {
    double v = l_.params.f(key);
    if (!(v >= lo && v <= hi)) {
      fail(std::string("parameter ") + key + " = " + std::to_string(v) +
           " is out of range");
      return lo;
    }
    return v;
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
    return buffer(l_.outputs[size_t(i)], elems, isInt, "output " + std::to_string(i));
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
  bool state(int i, int64_t rowBytes, int64_t minFixedRows, int64_t tokensPerRow) {
    const StateDesc &s = p_.states[size_t(l_.states[size_t(i)])];
    if (int64_t(s.bytesPerRow) != rowBytes || s.fixedRows < minFixedRows ||
        s.tokensPerRow != tokensPerRow)
      return fail("state '" + s.name + "' has rows of " + std::to_string(s.bytesPerRow) +
                  " bytes (" + std::to_string(s.fixedRows) + " fixed, 1 per " +
                  std::to_string(s.tokensPerRow) + " tokens), expected " +
                  std::to_string(rowBytes) + " (" + std::to_string(minFixedRows) +
                  ", 1 per " + std::to_string(tokensPerRow) + ")");
    return true;
  }

  /// Bytes of one stored KV / key row in the format selected by param `key`
  /// (0: f32; `fp4Format`: FP4 key; any other: FP8 KV entry).
  int64_t rowBytes(const char *key, int64_t maxFormat, int64_t dim, int64_t ropeDim,
                   int64_t fp4Format) {
    int64_t format = param(key, 0, maxFormat);
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
  bool buffer(int b, int64_t elems, bool isInt, const std::string &what) {
    const BufferDesc &d = e_.buffers[size_t(b)];
    if (d.elemsPerToken != elems || d.isInt != isInt)
      return fail(what + " '" + d.name + "' holds " + std::to_string(d.elemsPerToken) +
                  (d.isInt ? " ints" : " floats") + " per token, expected " +
                  std::to_string(elems) + (isInt ? " ints" : " floats"));
    return true;
  }

  const Program &p_;
  const EntryDesc &e_;
  const LaunchDesc &l_;
  Status first_;
};

constexpr int64_t kMaxDim = int64_t(1) << 24;

void checkRopeParams(Checker &c, int64_t headDim) {
  int64_t r = c.param("rope_dim", 0, headDim);
  if (r % 2)
    c.fail("rope_dim must be even");
  c.real("theta", 1.0, 1e12);
  int64_t yarn = c.param("yarn", 0, 1);
  if (yarn) {
    c.real("rope_factor", 1e-6, 1e9);
    c.real("original_seq_len", 1.0, 1e12);
    c.real("beta_fast", 1e-6, 1e6);
    c.real("beta_slow", 1e-6, 1e6);
  }
}

} // namespace

Status validateLaunch(const Program &p, const EntryDesc &e, const LaunchDesc &l,
                      const std::string &where) {
  Checker c(p, e, l);
  const std::string &k = l.kernel;
  if (k == "embed") {
    int64_t dim = c.param("dim", 1, kMaxDim), hc = c.param("hc", 1, 64);
    c.input(0, 1, true) && c.output(0, hc * dim);
    const WeightDesc *w = c.weight(0);
    if (w && (w->shape.size() != 2 || w->shape[1] != dim ||
              (w->dtype != DType::F32 && w->dtype != DType::BF16)))
      c.fail("embedding '" + w->name + "' must be an f32/bf16 [vocab, dim] table");
  } else if (k == "mhc_pre" || k == "mhc_pre_norm") {
    int64_t dim = c.param("dim", 1, kMaxDim), hc = c.param("hc", 1, 64);
    c.param("iters", 1, 1000);
    c.real("hc_eps", 0, 1);
    c.real("norm_eps", 0, 1);
    c.input(0, hc * dim) && c.output(0, dim) && c.output(1, hc) && c.output(2, hc * hc);
    c.matrix(0, (2 + hc) * hc, hc * dim) && c.vector(1, (2 + hc) * hc) && c.vector(2, 3);
    if (k == "mhc_pre_norm") {
      c.real("eps", 0, 1);
      c.vector(3, dim);
    }
  } else if (k == "mhc_post") {
    int64_t dim = c.param("dim", 1, kMaxDim), hc = c.param("hc", 1, 64);
    c.input(0, dim) && c.input(1, hc * dim) && c.input(2, hc) && c.input(3, hc * hc) &&
        c.output(0, hc * dim);
  } else if (k == "mhc_head" || k == "mhc_head_norm") {
    int64_t dim = c.param("dim", 1, kMaxDim), hc = c.param("hc", 1, 64);
    c.real("hc_eps", 0, 1);
    c.real("norm_eps", 0, 1);
    c.input(0, hc * dim) && c.output(0, dim);
    c.matrix(0, hc, hc * dim) && c.vector(1, hc) && c.vector(2, 1);
    if (k == "mhc_head_norm") {
      c.real("eps", 0, 1);
      c.vector(3, dim);
    }
  } else if (k == "rms_norm") {
    int64_t n = c.param("n", 1, kMaxDim);
    c.real("eps", 0, 1);
    c.input(0, n) && c.output(0, n) && c.vector(0, n);
  } else if (k == "linear" || k == "linear_rms_norm") {
    int64_t in = c.param("in_features", 1, kMaxDim), out = c.param("out_features", 1, kMaxDim);
    c.input(0, in) && c.output(0, out) && c.matrix(0, out, in);
    if (k == "linear_rms_norm") {
      c.real("eps", 0, 1);
      c.vector(1, out);
    }
  } else if (k == "head_rms_norm" || k == "rope" || k == "head_rms_norm_rope") {
    int64_t heads = c.param("heads", 1, kMaxDim), hd = c.param("head_dim", 1, kMaxDim);
    c.input(0, heads * hd) && c.output(0, heads * hd);
    if (k != "rope")
      c.real("eps", 0, 1);
    if (k != "head_rms_norm")
      checkRopeParams(c, hd);
    if (k == "rope")
      c.param("inverse", 0, 1);
  } else if (k == "compressor") {
    int64_t dim = c.param("dim", 1, kMaxDim), D = c.param("head_dim", 1, kMaxDim);
    int64_t m = c.param("ratio", 1, 1 << 20), overlap = c.param("overlap", 0, 1);
    c.real("eps", 0, 1);
    checkRopeParams(c, D);
    int64_t width = (overlap ? 2 : 1) * D;
    c.input(0, dim) && c.matrix(0, width, dim) && c.matrix(1, width, dim) &&
        c.matrix(2, m, width) && c.vector(3, D);
    int64_t entryBytes = c.rowBytes("entry_format", 2, D, l.params.i("rope_dim"), 2);
    c.state(0, 8 * width, (overlap ? 2 : 1) * m, 0) && c.state(1, entryBytes, 0, m);
  } else if (k == "indexer_topk") {
    int64_t heads = c.param("heads", 1, kMaxDim), hd = c.param("head_dim", 1, kMaxDim);
    int64_t topk = c.param("topk", 1, kMaxDim), m = c.param("ratio", 1, 1 << 20);
    int64_t keyBytes = c.rowBytes("key_format", 1, hd, 0, 1);
    c.input(0, heads * hd) && c.input(1, heads) && c.output(0, topk, true) &&
        c.state(0, keyBytes, 0, m);
  } else if (k == "sparse_attention") {
    int64_t heads = c.param("heads", 1, kMaxDim), hd = c.param("head_dim", 1, kMaxDim);
    int64_t window = c.param("window", 1, 1 << 20), mode = c.param("mode", 0, 2);
    int64_t ratio = c.param("ratio", mode ? 1 : 0, 1 << 20);
    int64_t topk = c.param("topk", mode == 1 ? 1 : 0, kMaxDim);
    int64_t kvBytes = c.rowBytes("kv_format", 1, hd, l.params.i("rope_dim"), -1);
    c.input(0, heads * hd) && c.input(1, hd) && c.output(0, heads * hd) &&
        c.vector(0, heads);
    if (int(l.inputs.size()) != (mode == 1 ? 3 : 2) || int(l.states.size()) != (mode ? 2 : 1))
      c.fail("attention mode " + std::to_string(mode) +
             " needs a top-k input exactly for CSA and entries for CSA/HCA");
    else {
      if (mode == 1)
        c.input(2, topk, true);
      const StateDesc &ring = p.states[size_t(l.states[0])];
      if (ring.fixedRows != window)
        c.fail("window state '" + ring.name + "' has " + std::to_string(ring.fixedRows) +
               " rows for a window of " + std::to_string(window));
      c.state(0, kvBytes, window, 0);
      if (mode)
        c.state(1, kvBytes, 0, ratio);
    }
  } else if (k == "window_write") {
    int64_t window = c.param("window", 1, 1 << 20), hd = c.param("head_dim", 1, kMaxDim);
    int64_t kvBytes = c.rowBytes("kv_format", 1, hd, l.params.i("rope_dim"), -1);
    c.input(0, hd) && c.state(0, kvBytes, window, 0);
    if (c.ok() && p.states[size_t(l.states[0])].fixedRows != window)
      c.fail("window state rows differ from the window");
  } else if (k == "grouped_linear") {
    int64_t g = c.param("groups", 1, 4096), in = c.param("in_per_group", 1, kMaxDim),
            out = c.param("out_per_group", 1, kMaxDim);
    c.input(0, g * in) && c.output(0, g * out) && c.matrix(0, g * out, in);
  } else if (k == "router_scores" || k == "router") {
    int64_t dim = c.param("dim", 1, kMaxDim), experts = c.param("experts", 1, 1 << 16);
    c.input(0, dim) && c.matrix(0, experts, dim);
    if (k == "router_scores")
      c.output(0, experts);
  }
  if (c.ok() && (k == "route_select" || k == "router")) {
    int64_t experts = c.param("experts", 1, 1 << 16), topk = c.param("topk", 1, experts);
    int64_t hash = c.param("hash", 0, 1);
    c.real("route_scale", -1e6, 1e6);
    if (k == "route_select")
      c.input(0, experts);
    c.input(1, 1, true) && c.output(0, topk, true) && c.output(1, topk);
    int table = k == "router" ? 1 : 0;
    if (hash) {
      const WeightDesc *w = c.weight(table);
      if (w && (w->dtype != DType::I64 || w->shape.size() != 2 || w->shape[1] != topk))
        c.fail("hash table '" + w->name + "' must be i64 [vocab, " + std::to_string(topk) + "]");
      // A generated table's entries are known before they exist.
      else if (w && w->generated && w->recipe.range > experts)
        c.fail("hash table '" + w->name + "' is generated from experts [0, " +
               std::to_string(w->recipe.range) + "), the layer has " +
               std::to_string(experts));
    } else {
      c.vector(table, experts);
    }
  } else if (k == "moe") {
    int64_t dim = c.param("dim", 1, kMaxDim), inter = c.param("inter", 1, kMaxDim);
    int64_t experts = c.param("experts", 1, 1 << 16), topk = c.param("topk", 1, experts);
    c.real("swiglu_limit", 0, 1e30);
    c.param("shared_clamp", 0, 1);
    c.input(0, dim) && c.input(1, topk, true) && c.input(2, topk) && c.output(0, dim);
    if (int64_t(l.weights.size()) != 3 * (experts + 1))
      c.fail("needs 3 weights per expert and 3 for the shared expert");
    for (int64_t e = 0; c.ok() && e <= experts; ++e)
      c.matrix(int(3 * e), inter, dim) && c.matrix(int(3 * e + 1), dim, inter) &&
          c.matrix(int(3 * e + 2), inter, dim);
  }
  Status st = c.status();
  return st.isOk() ? st : st.withContext(where);
}

} // namespace birkhoff::rt
