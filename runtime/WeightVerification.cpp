//===- WeightVerification.cpp - Checking stored weights against their CRCs ===//
#include "WeightVerification.h"

#include "birkhoff/Crc32c.h"

#include <algorithm>
#include <cstdio>
#include <vector>

namespace birkhoff::rt {
namespace {

/// Bytes per job: large enough that a job's start and the CRC combination
/// cost nothing next to it, small enough that a model's few huge tensors
/// (embedding, LM head) spread over every thread.
constexpr uint64_t kPieceBytes = uint64_t(8) << 20;

struct Piece {
  size_t weight;
  uint64_t begin, size;
};

std::string hex32(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "0x%08x", v);
  return buf;
}

} // namespace

Expected<WeightVerificationStats>
verifyWeights(const Program &prog, const Workers &workers,
              const std::string &origin,
              const ModelOptions::Progress &progress) {
  WeightVerificationStats stats;
  std::vector<Piece> pieces;
  for (size_t i = 0; i < prog.weights.size(); ++i) {
    const WeightDesc &w = prog.weights[i];
    if (w.generated)
      continue;
    ++stats.weights;
    stats.bytes += w.size;
    // An empty weight still gets one (empty) piece: its CRC must be 0.
    uint64_t at = 0;
    do {
      uint64_t n = std::min(kPieceBytes, w.size - at);
      pieces.push_back({i, at, n});
      at += n;
    } while (at < w.size);
  }
  std::vector<uint32_t> crcs(pieces.size());
  workers.run(int64_t(pieces.size()), [&](int64_t p) {
    const Piece &piece = pieces[size_t(p)];
    crcs[size_t(p)] = crc32c(0, prog.weights[piece.weight].data + piece.begin,
                             size_t(piece.size));
    if (progress)
      progress("verifying weights", piece.size, stats.bytes);
  });
  // The pieces of a weight are consecutive and in order.
  for (size_t p = 0; p < pieces.size();) {
    size_t weight = pieces[p].weight;
    uint32_t crc = crcs[p++];
    for (; p < pieces.size() && pieces[p].weight == weight; ++p)
      crc = crc32cCombine(crc, crcs[p], pieces[p].size);
    const WeightDesc &w = prog.weights[weight];
    if (crc != w.crc32c)
      return corrupt(origin + ": weight '" + w.name +
                     "' checksum mismatch: stored " + hex32(w.crc32c) +
                     ", computed " + hex32(crc) + " over its " +
                     std::to_string(w.size) +
                     " bytes (corrupt artifact; rebuild or copy it again)");
  }
  return stats;
}

} // namespace birkhoff::rt
