//===- ArenaLayout.h - Device placement of an entry's buffers -------------===//
//
// The compiler's memory plan puts buffer b of a call of S tokens at element
// offset_b·S of the arena. The CUDA kernels need every buffer to start on a
// 16-byte boundary (float4 accesses), which offset_b·S need not be (a 4-wide
// buffer after a 1-wide one, S odd). The device arena therefore stretches the
// plan: walking the plan's buffer boundaries in order, each one moves to the
// next multiple of 4 elements at or after where the previous boundary plus
// the gap between them lands. Every gap keeps at least its size, so buffers
// the plan keeps apart stay apart and buffers it overlays stay overlaid; the
// arena grows by at most 3 elements per boundary.
//
//===----------------------------------------------------------------------===//
#ifndef BIRKHOFF_RUNTIME_CUDA_ARENALAYOUT_H
#define BIRKHOFF_RUNTIME_CUDA_ARENALAYOUT_H

#include "../Program.h"

#include <cstdint>
#include <vector>

namespace birkhoff::rt {

struct ArenaLayout {
  std::vector<int64_t> offsets; // per buffer of the entry, in elements
  int64_t elems = 0;            // arena size for this call, in elements
};

/// Elements at which every buffer starts are multiples of this.
inline constexpr int64_t kArenaAlignElems = 4;

/// The aligned placement of `entry`'s buffers for a call of `tokens` tokens.
/// `elems` never decreases as `tokens` grows, so the layout at the entry's
/// max_tokens sizes the arena for every call.
ArenaLayout alignedArenaLayout(const EntryDesc &entry, int64_t tokens);

} // namespace birkhoff::rt

#endif // BIRKHOFF_RUNTIME_CUDA_ARENALAYOUT_H
