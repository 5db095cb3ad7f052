//===- ArenaLayout.cpp ----------------------------------------------------===//
#include "ArenaLayout.h"

#include <algorithm>

namespace birkhoff::rt {

ArenaLayout alignedArenaLayout(const EntryDesc &entry, int64_t tokens) {
  auto alignUp = [](int64_t v) {
    return (v + kArenaAlignElems - 1) / kArenaAlignElems * kArenaAlignElems;
  };
  // Plan boundaries (per token): 0, every buffer's start and end.
  std::vector<int64_t> points = {0};
  for (const BufferDesc &b : entry.buffers) {
    points.push_back(b.offsetPerToken);
    points.push_back(b.offsetPerToken + b.elemsPerToken);
  }
  std::sort(points.begin(), points.end());
  points.erase(std::unique(points.begin(), points.end()), points.end());
  // moved[i]: where boundary points[i] lands in the device arena.
  std::vector<int64_t> moved(points.size());
  moved[0] = alignUp(points[0] * tokens);
  for (size_t i = 1; i < points.size(); ++i)
    moved[i] = alignUp(moved[i - 1] + (points[i] - points[i - 1]) * tokens);
  ArenaLayout layout;
  for (const BufferDesc &b : entry.buffers) {
    size_t i = size_t(
        std::lower_bound(points.begin(), points.end(), b.offsetPerToken) -
        points.begin());
    layout.offsets.push_back(moved[i]);
  }
  layout.elems = moved.back();
  return layout;
}

} // namespace birkhoff::rt
