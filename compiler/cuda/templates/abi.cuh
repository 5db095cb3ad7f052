// abi.cuh - The launch ABI of every Birkhoff CUDA kernel (docs/cuda.md).
//
// Every generated kernel is `extern "C" __global__ void <name>(const BkLaunch
// args)`. The host mirror is lib/cuda/LaunchAbi.h; both sides check the size
// and offsets, so a change here must be made there too.
//
// A call is a batch of sequences: token t belongs to sequence slot
// tok[t].slot at position tok[t].pos, and its sequence's tokens are the
// consecutive rows tok[t].first .. tok[t].last of the call. Fixed state
// (window ring, compressor tails) is state_rows[i] rows per slot; growing
// state (compressed entries, indexer keys) lives in pages of state_rows[i]
// rows (a power of two) found through the slot's row of the page table.
#pragma once

struct BkToken {
  int pos;   // position in its sequence
  int slot;  // its sequence's slot
  int first; // call row of its sequence's first token
  int last;  // call row of its sequence's last token
};

struct BkLaunch {
  long long tokens;           // S: tokens of this call
  const BkToken *tok;         // [S] where each token belongs
  const int *token_ids;       // [S] device i32 (input index -1)
  const void *in[4];          // input buffers, launch order; row t at t*elems
  void *out[4];               // output buffers, launch order
  const void *const *weights; // device array: data of launch weight i
  const void *const *scales;  // device array: e8m0 block scale of weight i
  void *states[4];            // state pools, launch order
  long long state_rows[4];    // fixed: rows per slot; paged: rows per page
  const int *page_table;      // [slots][pages_per_slot]
  long long pages_per_slot;
  void *scratch; // device scratch of the kernel's scratch_bytes
};

static_assert(sizeof(BkToken) == 16, "BkToken layout changed");
static_assert(sizeof(BkLaunch) == 192, "BkLaunch layout changed");

// Token t's position, slot, and the position of its sequence's first token
// in this call (keys at or after it are rows of this call, earlier ones are
// in the state).
__device__ __forceinline__ long long bkPos(const BkLaunch &a, long long t) {
  return a.tok[t].pos;
}
__device__ __forceinline__ int bkSlot(const BkLaunch &a, long long t) {
  return a.tok[t].slot;
}
__device__ __forceinline__ long long bkFirstPos(const BkLaunch &a,
                                                long long t) {
  return a.tok[a.tok[t].first].pos;
}
// The position of the last token of t's sequence in this call (what the
// sequence's state holds once the call is done: compressed entries up to
// (bkLastPos + 1) / ratio).
__device__ __forceinline__ long long bkLastPos(const BkLaunch &a, long long t) {
  return a.tok[a.tok[t].last].pos;
}

// Row r of fixed state i of `slot`, rows of ROWBYTES bytes.
template <long long ROWBYTES>
__device__ __forceinline__ unsigned char *bkFixedRow(const BkLaunch &a, int i,
                                                     int slot, long long r) {
  return (unsigned char *)a.states[i] +
         ((long long)slot * a.state_rows[i] + r) * ROWBYTES;
}

// Row r of paged state i of `slot`, rows of ROWBYTES bytes.
template <long long ROWBYTES>
__device__ __forceinline__ unsigned char *bkPagedRow(const BkLaunch &a, int i,
                                                     int slot, long long r) {
  const long long rows = a.state_rows[i];
  const long long page = a.page_table[slot * a.pages_per_slot + r / rows];
  return (unsigned char *)a.states[i] +
         (page * rows + (r & (rows - 1))) * ROWBYTES;
}

// The rows of paged state I of one slot, for many lookups: the slot's row of
// the page table and the page size (a power of two: a shift, no division)
// found once, two registers; rows(a, r) is bkPagedRow<ROWBYTES>(a, I, slot,
// r), rows.row(a, r) its row of the pool that starts at rows.pool(a).
template <int I, long long ROWBYTES> struct BkPagedRows {
  int base;  // slot · pages_per_slot
  int shift; // log2(state_rows[I])
  static __device__ __forceinline__ unsigned char *pool(const BkLaunch &a) {
    return (unsigned char *)a.states[I];
  }
  __device__ __forceinline__ long long row(const BkLaunch &a,
                                           long long r) const {
    const long long page = a.page_table[base + (int)(r >> shift)];
    return (page << shift) + (r & ((1ll << shift) - 1));
  }
  __device__ __forceinline__ unsigned char *operator()(const BkLaunch &a,
                                                       long long r) const {
    return pool(a) + row(a, r) * ROWBYTES;
  }
};

template <int I, long long ROWBYTES>
__device__ __forceinline__ BkPagedRows<I, ROWBYTES>
bkPagedRows(const BkLaunch &a, int slot) {
  return {slot * (int)a.pages_per_slot, __ffsll(a.state_rows[I]) - 1};
}

// Sparse attention's compressed keys c0 .. c0 + n - 1 of a key list whose
// compressed part starts at key `first`: their pool rows (`ents`, the
// sequence's pages) into rows[0 .. n), one key per thread. MODE 2 takes every
// entry in order; MODE 1 the selected ones (`sel`), -1 for a slot that names no
// entry below nEntries, and for keys before `first`. Ends with a barrier.
template <int MODE, int BLOCK, class Rows>
__device__ __forceinline__ void
bkResolveKeyRows(const BkLaunch &a, const Rows &ents, const int *sel,
                 int nEntries, int first, int c0, int n, int *rows) {
  for (int i = threadIdx.x; i < n; i += BLOCK) {
    const int c = c0 + i - first; // compressed key c
    int row = -1;
    if (c >= 0) {
      if constexpr (MODE == 2) {
        row = (int)ents.row(a, c);
      } else {
        const int e = sel[c];
        if (e >= 0 && e < nEntries)
          row = (int)ents.row(a, e);
      }
    }
    rows[i] = row;
  }
  __syncthreads();
}
