// cluster.cuh - Thread block clusters (sm_90): the block's rank in its
// cluster, the cluster-wide barrier, and distributed shared memory (another
// block's shared variables through a generic pointer). Kernels using these are
// generated with __cluster_dims__, so plain launches form the clusters.
#pragma once

namespace bk {

__device__ __forceinline__ unsigned clusterRank() {
  unsigned r;
  asm volatile("mov.u32 %0, %%cluster_ctarank;" : "=r"(r));
  return r;
}

// Every thread of every block of the cluster must call it. Release/acquire:
// shared and global writes before it are visible to the cluster after it.
__device__ __forceinline__ void clusterSync() {
  asm volatile("barrier.cluster.arrive.release.aligned;\n\t"
               "barrier.cluster.wait.acquire.aligned;" ::
                   : "memory");
}

// clusterSync in two halves, for a block that writes into another's shared
// memory before any barrier: arrive early (no ordering), then wait before
// the first remote access, which is when every block of the cluster is
// known to have started.
__device__ __forceinline__ void clusterArrive() {
  asm volatile("barrier.cluster.arrive.relaxed.aligned;" ::: "memory");
}
__device__ __forceinline__ void clusterWait() {
  asm volatile("barrier.cluster.wait.aligned;" ::: "memory");
}

// `p` (a shared variable of this block) as the same variable of block `rank`
// of the cluster; ordinary loads and stores through it reach that block.
template <typename T>
__device__ __forceinline__ T *clusterMap(T *p, unsigned rank) {
  unsigned long long in = (unsigned long long)p, out;
  asm volatile("mapa.u64 %0, %1, %2;" : "=l"(out) : "l"(in), "r"(rank));
  return (T *)out;
}

} // namespace bk
