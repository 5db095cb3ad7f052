//===- Synth.cpp - Random-weight DeepSeek-V4 checkpoints ------------------===//
//
// Values come from a counter-based generator: element i of a tensor is a
// function of (seed, tensor name, i) only, so any split of the work over
// threads and chunks gives the same bytes. Normal variates are read from a
// 65,536-entry table of N(0,1) quantiles indexed by 16 random bits (one 64-bit
// hash gives four), which is several times faster than Box-Muller and plenty
// for random weights (the tails stop at ±4.17 sigma).
//
//===----------------------------------------------------------------------===//
#include "deepseek_v4/Synth.h"

#include "birkhoff/Numerics.h"
#include "birkhoff/Safetensors.h"
#include "deepseek_v4/CheckpointSchema.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <cassert>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <tuple>

namespace birkhoff::v4 {
namespace {

// ---- random numbers ---------------------------------------------------------

constexpr uint64_t kGamma = 0x9e3779b97f4a7c15ull;

/// SplitMix64's finalizer: a bijective 64-bit mix with full avalanche.
inline uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

uint64_t hashName(const std::string &s) {
  uint64_t h = 0xcbf29ce484222325ull; // FNV-1a, then mixed
  for (unsigned char ch : s)
    h = (h ^ ch) * 0x100000001b3ull;
  return mix64(h);
}

/// N(0,1) quantiles at (k + 0.5) / 65536, by Newton's method on the normal
/// CDF walking outwards from the median (each start is the previous root).
const float *normalTable() {
  static const std::vector<float> table = [] {
    constexpr int kN = 65536;
    std::vector<float> t(kN);
    double x = 0;
    for (int k = kN / 2; k < kN; ++k) {
      double p = (k + 0.5) / kN;
      for (int it = 0; it < 6; ++it) {
        double cdf = 0.5 * std::erfc(-x / std::sqrt(2.0));
        double pdf = std::exp(-0.5 * x * x) / std::sqrt(2.0 * M_PI);
        x -= (cdf - p) / pdf;
      }
      t[k] = float(x);
      t[kN - 1 - k] = float(-x);
    }
    return t;
  }();
  return table.data();
}

/// The random stream of one tensor.
struct Stream {
  uint64_t key;

  /// The 16-bit table indices of elements first..first+n: one hash serves
  /// four consecutive elements.
  void indices(uint64_t first, int64_t n, uint16_t *out) const {
    uint64_t i = first, end = first + uint64_t(n);
    for (; i < end && (i & 3); ++i)
      *out++ = uint16_t(group(i) >> ((i & 3) * 16));
    for (; i + 4 <= end; i += 4, out += 4) {
      uint64_t h = group(i);
      out[0] = uint16_t(h);
      out[1] = uint16_t(h >> 16);
      out[2] = uint16_t(h >> 32);
      out[3] = uint16_t(h >> 48);
    }
    for (; i < end; ++i)
      *out++ = uint16_t(group(i) >> ((i & 3) * 16));
  }
  uint64_t group(uint64_t i) const {
    return mix64(key + ((i >> 2) + 1) * kGamma);
  }

  /// Fills out[0..n) with mean + std * N(0,1) for elements first..first+n.
  void normal(uint64_t first, int64_t n, float mean, float std,
              float *out) const {
    const float *table = normalTable();
    constexpr int64_t kStep = 1024;
    uint16_t idx[kStep];
    for (int64_t done = 0; done < n; done += kStep) {
      int64_t m = std::min(kStep, n - done);
      indices(first + uint64_t(done), m, idx);
      for (int64_t j = 0; j < m; ++j)
        out[done + j] = mean + std * table[idx[j]];
    }
  }

  /// Uniform in [lo, hi) from 24 random bits per element.
  void uniform(uint64_t first, int64_t n, float lo, float hi,
               float *out) const {
    for (int64_t j = 0; j < n; ++j) {
      uint64_t h = mix64(key ^ ((first + uint64_t(j) + 1) * kGamma));
      out[j] = lo + (hi - lo) * float(h >> 40) * 0x1p-24f;
    }
  }

  /// A uniform integer in [0, n) for draw j of row i.
  uint64_t below(uint64_t i, uint64_t j, uint64_t n) const {
    uint64_t h = mix64(mix64(key ^ ((i + 1) * kGamma)) + (j + 1) * kGamma);
    return uint64_t((unsigned __int128)h * n >> 64);
  }
};

// ---- worker pool ----------------------------------------------------------

/// Runs the tasks of one job over a fixed set of threads plus the caller.
class WorkerPool {
public:
  explicit WorkerPool(int threads) {
    for (int i = 1; i < threads; ++i)
      threads_.emplace_back([this] { loop(); });
  }
  ~WorkerPool() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    wake_.notify_all();
    for (std::thread &t : threads_)
      t.join();
  }
  int size() const { return int(threads_.size()) + 1; }

  /// Calls fn(i) for every i in [0, n); returns when all calls are done.
  void run(int64_t n, const std::function<void(int64_t)> &fn) {
    if (threads_.empty() || n <= 1) {
      for (int64_t i = 0; i < n; ++i)
        fn(i);
      return;
    }
    auto job = std::make_shared<Job>();
    job->fn = &fn;
    job->n = n;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      job_ = job;
    }
    wake_.notify_all();
    work(*job);
    std::unique_lock<std::mutex> lock(mutex_);
    done_.wait(lock, [&] { return job->finished.load() == job->n; });
  }

private:
  // A job lives as long as any thread holds it; a late worker only finds its
  // counter exhausted, so `fn` is never called after run() returned.
  struct Job {
    const std::function<void(int64_t)> *fn = nullptr;
    int64_t n = 0;
    std::atomic<int64_t> next{0};
    std::atomic<int64_t> finished{0};
  };

  void work(Job &job) {
    for (int64_t i; (i = job.next.fetch_add(1)) < job.n;) {
      (*job.fn)(i);
      if (job.finished.fetch_add(1) + 1 == job.n) {
        std::lock_guard<std::mutex> lock(mutex_);
        done_.notify_all();
      }
    }
  }

  void loop() {
    std::shared_ptr<Job> seen;
    std::unique_lock<std::mutex> lock(mutex_);
    while (true) {
      wake_.wait(lock, [&] { return stop_ || job_ != seen; });
      if (stop_)
        return;
      seen = job_;
      lock.unlock();
      work(*seen);
      lock.lock();
    }
  }

  std::vector<std::thread> threads_;
  std::mutex mutex_;
  std::condition_variable wake_, done_;
  std::shared_ptr<Job> job_;
  bool stop_ = false;
};

// ---- encoders -------------------------------------------------------------

constexpr float kFp8Max = 448.0f;
constexpr float kFp4Max = 6.0f;
constexpr float kFp8AmaxFloor = 1e-4f;         // the reference's floor (P5)
constexpr float kFp4AmaxFloor = 6 * 0x1p-126f; // the reference's floor (P7)

/// 1 / 2^(b-127), exact for every byte the scale rule produces.
inline float inverseScale(uint8_t byte) {
  return bitsToFloat(uint32_t(254 - byte) << 23);
}

/// Zero-mean normal values are std * T[u] for a 16-bit index u, so the
/// quantized code of a value under a given scale byte depends on u alone:
/// a 64 KiB table per (format, std, scale byte) turns quantization into one
/// load per element. The tables are built with lib's codecs on the very same
/// float operations (fl(std * T[u]) * 2^-(byte-127), clamped), so the codes
/// are exactly those of quantizing each value directly. They are cached for
/// the process: one synth run needs a few dozen.
enum class QuantKind : uint8_t { Fp8, Fp4 };

const uint8_t *quantTable(QuantKind kind, float std, uint8_t byte) {
  static std::mutex mutex;
  static std::map<std::tuple<int, uint32_t, uint8_t>,
                  std::unique_ptr<uint8_t[]>>
      cache;
  std::lock_guard<std::mutex> lock(mutex);
  auto key = std::make_tuple(int(kind), floatToBits(std), byte);
  auto it = cache.find(key);
  if (it != cache.end())
    return it->second.get();
  const float *t = normalTable();
  const float inv = inverseScale(byte);
  auto codes = std::make_unique<uint8_t[]>(65536);
  for (int u = 0; u < 65536; ++u) {
    float x = 0.0f + std * t[u]; // the value normal() produces for index u
    codes[u] = kind == QuantKind::Fp8
                   ? floatToE4m3(std::clamp(x * inv, -kFp8Max, kFp8Max))
                   : floatToE2m1(std::clamp(x * inv, -kFp4Max, kFp4Max));
  }
  return cache.emplace(key, std::move(codes)).first->second.get();
}

/// |T[u]| = T[max(u, 65535 - u)] (the table is odd-symmetric and increasing),
/// so the largest magnitude of a block is found on the indices.
inline uint16_t magnitudeKey(uint16_t u) {
  return u >= 32768 ? u : uint16_t(65535 - u);
}

/// How the values of a tensor are drawn.
struct Distribution {
  enum Kind { Normal, Uniform } kind = Normal;
  float a = 0, b = 1; // Normal: mean, std; Uniform: lo, hi
};

Distribution distributionFor(const ExpectedTensor &t, const ModelConfig &c) {
  auto normal = [](float mean, float std) {
    return Distribution{Distribution::Normal, mean, std};
  };
  switch (t.role) {
  case TensorRole::Embedding:
    return normal(0, 1);
  case TensorRole::Head:
    return normal(0, 1.0f / std::sqrt(float(c.dim)));
  case TensorRole::Norm:
    return normal(1, 0.1f);
  case TensorRole::Linear:
  case TensorRole::ExpertLinear:
  case TensorRole::Projection:
  case TensorRole::GateWeight:
    return normal(0, 1.0f / std::sqrt(float(t.logicalShape[1])));
  case TensorRole::GateBias:
    return normal(0, 0.1f);
  case TensorRole::AttnSink:
    return normal(0, 1);
  case TensorRole::CompressorApe:
    return normal(0, 0.5f);
  case TensorRole::HcFn:
    return normal(0, 0.02f);
  case TensorRole::HcBase:
    return normal(0, 0.5f);
  case TensorRole::HcScale:
    return Distribution{Distribution::Uniform, 0.5f, 1.5f};
  case TensorRole::LinearScale:
  case TensorRole::ExpertScale:
  case TensorRole::HashTable:
    break;
  }
  return normal(0, 1);
}

/// One tensor being generated: rows x cols logical values (1-D tensors are
/// one row), encoded rows [r0, r1) at a time into the stored bytes.
class TensorGenerator {
public:
  TensorGenerator(const ExpectedTensor &t, const ModelConfig &config,
                  uint64_t seed)
      : t_(t),
        config_(config), stream_{mix64(seed * kGamma ^ hashName(t.name))},
        dist_(distributionFor(t, config)) {
    rows_ = t.shape.size() >= 2 ? t.shape[0] : 1;
    cols_ = t.logicalShape.empty()
                ? t.numElements() / std::max<int64_t>(rows_, 1)
                : t.logicalShape[1];
    rowBytes_ = rows_ ? t.byteSize() / rows_ : 0;
    if (!t.scale.empty()) {
      bool fp8 = t.element == DType::F8E4M3;
      scaleCols_ = fp8 ? (cols_ + 127) / 128 : (cols_ + 31) / 32;
      scale_.assign(
          size_t(fp8 ? (rows_ + 127) / 128 * scaleCols_ : rows_ * scaleCols_),
          0);
    }
    // Quantized weights are N(0, std): the code tables rely on the zero mean.
    assert(t.scale.empty() ||
           (dist_.kind == Distribution::Normal && dist_.a == 0.0f));
  }

  int64_t rows() const { return rows_; }
  int64_t rowBytes() const { return rowBytes_; }
  /// FP8 scales cover 128 rows, so work is split on 128-row bands.
  int64_t rowAlign() const { return t_.element == DType::F8E4M3 ? 128 : 1; }
  /// The e8m0 bytes of the companion `.scale` tensor (after all rows).
  std::vector<uint8_t> takeScale() { return std::move(scale_); }

  /// Encodes rows [r0, r1) into out (stored layout, (r1 - r0) * rowBytes).
  void encode(int64_t r0, int64_t r1, uint8_t *out) {
    switch (t_.element) {
    case DType::BF16:
      return encodeBf16(r0, r1, out);
    case DType::F32:
      return encodeF32(r0, r1, out);
    case DType::F8E4M3:
      return encodeFp8(r0, r1, out);
    case DType::FP4E2M1x2:
      return encodeFp4(r0, r1, out);
    case DType::I64:
      return encodeHashTable(r0, r1, out);
    default:
      return; // scales come from their weight (takeScale)
    }
  }

private:
  void values(int64_t r0, int64_t nRows, float *out) const {
    uint64_t first = uint64_t(r0) * uint64_t(cols_);
    int64_t n = nRows * cols_;
    if (dist_.kind == Distribution::Normal)
      stream_.normal(first, n, dist_.a, dist_.b, out);
    else
      stream_.uniform(first, n, dist_.a, dist_.b, out);
  }

  static std::vector<float> &scratch(size_t n) {
    thread_local std::vector<float> buffer;
    if (buffer.size() < n)
      buffer.resize(n);
    return buffer;
  }

  void encodeBf16(int64_t r0, int64_t r1, uint8_t *out) const {
    constexpr int64_t kStep = 4096;
    std::vector<float> &v = scratch(kStep);
    int64_t total = (r1 - r0) * cols_;
    uint64_t first = uint64_t(r0) * uint64_t(cols_);
    for (int64_t i = 0; i < total; i += kStep) {
      int64_t n = std::min(kStep, total - i);
      if (dist_.kind == Distribution::Normal)
        stream_.normal(first + i, n, dist_.a, dist_.b, v.data());
      else
        stream_.uniform(first + i, n, dist_.a, dist_.b, v.data());
      for (int64_t j = 0; j < n; ++j) {
        uint16_t h = floatToBf16(v[j]);
        std::memcpy(out + 2 * (i + j), &h, 2);
      }
    }
  }

  void encodeF32(int64_t r0, int64_t r1, uint8_t *out) const {
    std::vector<float> &v = scratch(size_t((r1 - r0) * cols_));
    values(r0, r1 - r0, v.data());
    std::memcpy(out, v.data(), size_t((r1 - r0) * cols_) * 4);
  }

  /// The code table for a scale byte, fetched once per tensor and byte.
  const uint8_t *table(QuantKind kind, uint8_t byte) {
    const uint8_t *t = tables_[byte].load(std::memory_order_acquire);
    if (!t) {
      t = quantTable(kind, dist_.b, byte);
      tables_[byte].store(t, std::memory_order_release);
    }
    return t;
  }

  /// The ue8m0 byte of a block whose largest index key is `key` (V4_SPEC
  /// P4, with the reference's amax floor).
  uint8_t scaleByte(uint16_t key, float floor, float qmax) const {
    float amax = 0.0f + dist_.b * normalTable()[key];
    return pow2ScaleByte(std::max(amax, floor), qmax);
  }

  static std::vector<uint16_t> &indexScratch(size_t n) {
    thread_local std::vector<uint16_t> buffer;
    if (buffer.size() < n)
      buffer.resize(n);
    return buffer;
  }

  /// FP8 e4m3 with one ue8m0 scale per 128x128 block (V4_SPEC §5.3); r0 is a
  /// multiple of 128. Values are N(0, std), quantized through quantTable.
  void encodeFp8(int64_t r0, int64_t r1, uint8_t *out) {
    for (int64_t b0 = r0; b0 < r1; b0 += 128) {
      int64_t b1 = std::min(r1, b0 + 128), nRows = b1 - b0;
      std::vector<uint16_t> &idx = indexScratch(size_t(nRows * cols_));
      stream_.indices(uint64_t(b0) * uint64_t(cols_), nRows * cols_,
                      idx.data());
      uint8_t *band = out + (b0 - r0) * cols_;
      for (int64_t c0 = 0; c0 < cols_; c0 += 128) {
        int64_t c1 = std::min(cols_, c0 + 128);
        uint16_t key = 32768;
        for (int64_t r = 0; r < nRows; ++r)
          for (int64_t c = c0; c < c1; ++c)
            key = std::max(key, magnitudeKey(idx[r * cols_ + c]));
        uint8_t byte = scaleByte(key, kFp8AmaxFloor, kFp8Max);
        scale_[size_t(b0 / 128 * scaleCols_ + c0 / 128)] = byte;
        const uint8_t *codes = table(QuantKind::Fp8, byte);
        for (int64_t r = 0; r < nRows; ++r)
          for (int64_t c = c0; c < c1; ++c)
            band[r * cols_ + c] = codes[idx[r * cols_ + c]];
      }
    }
  }

  /// Packed FP4 e2m1 (low nibble = even column) with one ue8m0 scale per 32
  /// inputs of a row (V4_SPEC §5.4); cols is a multiple of 32.
  void encodeFp4(int64_t r0, int64_t r1, uint8_t *out) {
    std::vector<uint16_t> &idx = indexScratch(size_t(cols_));
    for (int64_t r = r0; r < r1; ++r) {
      stream_.indices(uint64_t(r) * uint64_t(cols_), cols_, idx.data());
      uint8_t *row = out + (r - r0) * (cols_ / 2);
      for (int64_t c0 = 0; c0 < cols_; c0 += 32) {
        const uint16_t *block = idx.data() + c0;
        uint16_t key = 32768;
        for (int j = 0; j < 32; ++j)
          key = std::max(key, magnitudeKey(block[j]));
        uint8_t byte = scaleByte(key, kFp4AmaxFloor, kFp4Max);
        scale_[size_t(r * scaleCols_ + c0 / 32)] = byte;
        const uint8_t *codes = table(QuantKind::Fp4, byte);
        for (int j = 0; j < 16; ++j)
          row[c0 / 2 + j] =
              uint8_t(codes[block[2 * j]] | (codes[block[2 * j + 1]] << 4));
      }
    }
  }

  /// tid2eid: each row holds top-k distinct experts (V4_SPEC §7.4), drawn
  /// by rejection so the draw does not depend on the expert count's layout.
  void encodeHashTable(int64_t r0, int64_t r1, uint8_t *out) const {
    const uint64_t experts = uint64_t(config_.nRoutedExperts);
    std::vector<int64_t> picked(static_cast<size_t>(cols_));
    for (int64_t r = r0; r < r1; ++r) {
      int64_t k = 0;
      for (uint64_t draw = 0; k < cols_; ++draw) {
        int64_t e = int64_t(stream_.below(uint64_t(r), draw, experts));
        bool dup = false;
        for (int64_t j = 0; j < k; ++j)
          dup |= picked[j] == e;
        if (!dup)
          picked[k++] = e;
      }
      std::memcpy(out + (r - r0) * cols_ * 8, picked.data(), size_t(cols_) * 8);
    }
  }

  const ExpectedTensor &t_;
  const ModelConfig &config_;
  Stream stream_;
  Distribution dist_;
  int64_t rows_ = 0, cols_ = 0, rowBytes_ = 0, scaleCols_ = 0;
  std::vector<uint8_t> scale_;
  std::array<std::atomic<const uint8_t *>, 256> tables_{};
};

// ---- sharding and writing ---------------------------------------------------

struct Shard {
  std::string file;
  std::vector<const ExpectedTensor *> tensors;
  int64_t bytes = 0;
};

std::vector<Shard> planShards(const std::vector<ExpectedTensor> &table,
                              const SynthOptions &o) {
  int64_t total = 0;
  for (const ExpectedTensor &t : table)
    total += t.byteSize();
  // A shard closes once it holds its share of minShards (so there are at most
  // minShards of them from that rule), or before it would pass the size cap.
  int64_t share = (total + o.minShards - 1) / std::max<int64_t>(1, o.minShards);
  std::vector<Shard> shards(1);
  for (const ExpectedTensor &t : table) {
    Shard &last = shards.back();
    if (!last.tensors.empty() &&
        (last.bytes >= share || last.bytes + t.byteSize() > o.maxShardBytes))
      shards.emplace_back();
    shards.back().tensors.push_back(&t);
    shards.back().bytes += t.byteSize();
  }
  char name[64];
  for (size_t i = 0; i < shards.size(); ++i) {
    std::snprintf(name, sizeof name, "model-%05zu-of-%05zu.safetensors", i + 1,
                  shards.size());
    shards[i].file = name;
  }
  return shards;
}

Status writeText(const std::string &path, const std::string &text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out.good())
    return ioError(path + ": cannot open for writing");
  out << text;
  out.close();
  if (!out.good())
    return ioError(path + ": write failed");
  return Status::ok();
}

constexpr int64_t kChunkBytes = int64_t(8) << 20;

/// Hands pieces to the safetensors writer on a background thread, so that the
/// next chunk is generated while the previous one is copied into the file.
/// At most one write is in flight, which keeps the appends in order; small
/// pieces are written directly (a hand-off costs more than the copy).
class BackgroundWriter {
public:
  explicit BackgroundWriter(SafetensorsWriter &writer)
      : writer_(writer), thread_([this] { loop(); }) {}
  ~BackgroundWriter() {
    {
      std::unique_lock<std::mutex> lock(mutex_);
      idle_.wait(lock, [&] { return !pending_; });
      stop_ = true;
    }
    work_.notify_all();
    thread_.join();
  }

  /// Waits for the write in flight; the first failure stays reported.
  Status wait() {
    std::unique_lock<std::mutex> lock(mutex_);
    idle_.wait(lock, [&] { return !pending_; });
    return status_;
  }

  /// `data` must stay untouched until the next append() or wait() returns.
  Status append(const std::string &name, std::span<const uint8_t> data) {
    BK_RETURN_IF_ERROR(wait());
    if (data.size() < kDirectBytes)
      return keep(writer_.append(name, data));
    {
      std::lock_guard<std::mutex> lock(mutex_);
      name_ = name;
      data_ = data;
      pending_ = true;
    }
    work_.notify_one();
    return Status::ok();
  }

private:
  static constexpr size_t kDirectBytes = size_t(1) << 20;

  Status keep(Status s) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (status_.isOk() && !s.isOk())
      status_ = s;
    return s;
  }

  void loop() {
    std::unique_lock<std::mutex> lock(mutex_);
    while (true) {
      work_.wait(lock, [&] { return stop_ || pending_; });
      if (!pending_)
        return;
      lock.unlock();
      Status s = writer_.append(name_, data_);
      lock.lock();
      if (status_.isOk() && !s.isOk())
        status_ = s;
      pending_ = false;
      idle_.notify_all();
    }
  }

  SafetensorsWriter &writer_;
  std::mutex mutex_;
  std::condition_variable work_, idle_;
  std::string name_;
  std::span<const uint8_t> data_;
  bool pending_ = false, stop_ = false;
  Status status_;
  std::thread thread_; // last: starts after the members it uses exist
};

/// Per-run state of the generator.
struct SynthRun {
  const ModelConfig &config;
  uint64_t seed;
  WorkerPool &pool;
  /// Scale bytes made with their weight, written when the scale's turn comes.
  std::map<std::string, std::vector<uint8_t>> pendingScales;
  /// Two chunk buffers: one being written while the other is filled.
  std::vector<uint8_t> buffers[2];
  int next = 0;
};

/// Streams one tensor into the writer in chunks of ~8 MiB generated in
/// parallel; a quantized weight leaves its scale bytes in `pendingScales`.
Status writeTensor(const ExpectedTensor &t, SynthRun &run,
                   BackgroundWriter &out) {
  if (t.role == TensorRole::LinearScale || t.role == TensorRole::ExpertScale) {
    auto it = run.pendingScales.find(t.name);
    if (it == run.pendingScales.end())
      return internalError("synth: scale '" + t.name +
                           "' comes before its weight");
    // Written before the next append(), so the bytes can go right after.
    std::vector<uint8_t> bytes = std::move(it->second);
    run.pendingScales.erase(it);
    BK_RETURN_IF_ERROR(out.append(t.name, bytes));
    return out.wait();
  }
  TensorGenerator gen(t, run.config, run.seed);
  const int64_t rows = gen.rows(), rowBytes = gen.rowBytes(),
                align = gen.rowAlign();
  int64_t chunkRows =
      std::max<int64_t>(1, kChunkBytes / std::max<int64_t>(rowBytes, 1));
  chunkRows = std::max(align, chunkRows / align * align);
  for (int64_t r0 = 0; r0 < rows; r0 += chunkRows) {
    int64_t r1 = std::min(rows, r0 + chunkRows), n = r1 - r0;
    std::vector<uint8_t> &buffer = run.buffers[run.next];
    run.next ^= 1;
    buffer.resize(size_t(n * rowBytes));
    // Small pieces are not worth a thread hand-off.
    int64_t tasks =
        n * rowBytes < (int64_t(256) << 10)
            ? 1
            : std::min<int64_t>(run.pool.size() * 4, (n + align - 1) / align);
    int64_t perTask = (n + tasks - 1) / tasks;
    perTask = (perTask + align - 1) / align * align;
    tasks = (n + perTask - 1) / perTask;
    uint8_t *base = buffer.data();
    run.pool.run(tasks, [&](int64_t i) {
      int64_t a = r0 + i * perTask, b = std::min(r1, a + perTask);
      gen.encode(a, b, base + (a - r0) * rowBytes);
    });
    BK_RETURN_IF_ERROR(out.append(
        t.name, std::span<const uint8_t>(buffer.data(), buffer.size())));
  }
  if (!t.scale.empty())
    run.pendingScales[t.scale] = gen.takeScale();
  return Status::ok();
}

} // namespace

ModelConfig synthConfig(const ModelConfig &config,
                        const SynthOptions &options) {
  ModelConfig c = config;
  c.fp8Linears = options.quantized;
  if (!options.mtp)
    c.nMtpLayers = 0;
  return c;
}

Status writeSynthCheckpoint(const ModelConfig &inputConfig,
                            const SynthOptions &options, const std::string &dir,
                            SynthStats *stats) {
  auto start = std::chrono::steady_clock::now();
  ModelConfig config = synthConfig(inputConfig, options);
  BK_RETURN_IF_ERROR(validateModelConfig(config, "synth config"));
  CheckpointFormat format = declaredFormat(config);
  if (format.experts == ExpertFormat::FP4 &&
      (config.dim % 32 || config.moeInterDim % 32))
    return invalidArgument(
        "synth: packed FP4 experts need hidden_size and moe_intermediate_size "
        "to be multiples of 32 (got " +
        std::to_string(config.dim) + ", " + std::to_string(config.moeInterDim) +
        "); use --unquantized");

  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec)
    return ioError(dir + ": cannot create directory: " + ec.message());
  BK_RETURN_IF_ERROR(
      writeText(dir + "/config.json", modelConfigToJson(config)));

  std::vector<ExpectedTensor> table = expectedTensors(config, format);
  std::vector<Shard> shards = planShards(table, options);
  int threads = options.threads > 0
                    ? options.threads
                    : int(std::max(1u, std::thread::hardware_concurrency()));
  WorkerPool pool(threads);
  SynthRun run{config, options.seed, pool, {}, {}, 0};
  nlohmann::json weightMap = nlohmann::json::object();
  int64_t total = 0;
  for (const Shard &shard : shards) {
    std::vector<SafetensorsWriter::Declared> declared;
    for (const ExpectedTensor *t : shard.tensors)
      declared.push_back({t->name, t->element, t->shape});
    std::string path = dir + "/" + shard.file;
    BK_ASSIGN_OR_RETURN(SafetensorsWriter writer,
                        SafetensorsWriter::create(path, std::move(declared),
                                                  {{"format", "pt"}}));
    BackgroundWriter out(writer);
    for (const ExpectedTensor *t : shard.tensors) {
      BK_RETURN_IF_ERROR(
          writeTensor(*t, run, out).withContext("synth: " + path));
      weightMap[t->name] = shard.file;
      total += t->byteSize();
    }
    BK_RETURN_IF_ERROR(out.wait());
    BK_RETURN_IF_ERROR(writer.finish());
  }
  nlohmann::json index;
  index["metadata"] = {{"total_size", total}};
  index["weight_map"] = std::move(weightMap);
  BK_RETURN_IF_ERROR(
      writeText(dir + "/model.safetensors.index.json", index.dump(1) + "\n"));

  if (stats) {
    stats->tensors = int64_t(table.size());
    stats->bytes = total;
    stats->shards = int64_t(shards.size());
    stats->seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
            .count();
  }
  return Status::ok();
}

} // namespace birkhoff::v4
