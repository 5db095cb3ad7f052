//===- PagedDeviceBuffer.h - Device memory committed as it is used --------===//
//
// A session's compressed-KV and indexer states grow with its context: at a
// 1M-token capacity they are gigabytes a short conversation never touches.
// A PagedDeviceBuffer reserves the whole capacity as device addresses
// (cuMemAddressReserve) and maps physical memory behind it in allocation
// granules (2 MiB on Hopper) only as far as the context reaches. The
// addresses never move, so kernels index rows as in one flat buffer and a
// captured decode graph stays valid while the buffer grows.
//
//===----------------------------------------------------------------------===//
#ifndef BIRKHOFF_RUNTIME_CUDA_PAGEDDEVICEBUFFER_H
#define BIRKHOFF_RUNTIME_CUDA_PAGEDDEVICEBUFFER_H

#include "birkhoff/Status.h"
#include "cuda/CudaDriverApi.h"

#include <cstdint>
#include <vector>

namespace birkhoff::rt {

class PagedDeviceBuffer {
public:
  /// The driver's mapping granule for device `ordinal`.
  static Expected<uint64_t> granularity(const cuda::CudaDriverApi &api,
                                        int ordinal);

  /// Reserves addresses for `capacity` bytes (rounded up to the granule);
  /// nothing is mapped yet.
  static Expected<PagedDeviceBuffer> reserve(const cuda::CudaDriverApi &api,
                                             int ordinal, uint64_t capacity,
                                             uint64_t granule);

  PagedDeviceBuffer() = default;
  PagedDeviceBuffer(PagedDeviceBuffer &&other) noexcept;
  PagedDeviceBuffer &operator=(PagedDeviceBuffer &&other) noexcept;
  PagedDeviceBuffer(const PagedDeviceBuffer &) = delete;
  PagedDeviceBuffer &operator=(const PagedDeviceBuffer &) = delete;
  ~PagedDeviceBuffer();

  /// Makes the first `bytes` bytes usable: maps granules up to there and
  /// zeroes the new ones on `stream` (before anything later on it runs).
  /// OutOfRange past the reservation; a failed mapping names the sizes.
  Status grow(uint64_t bytes, cuda::CuStream stream);

  cuda::CuDevicePtr base() const { return base_; }
  uint64_t mapped() const { return mapped_; }
  uint64_t reserved() const { return reserved_; }

private:
  void release();

  const cuda::CudaDriverApi *api_ = nullptr;
  int ordinal_ = 0;
  uint64_t granule_ = 0;
  cuda::CuDevicePtr base_ = 0;
  uint64_t reserved_ = 0, mapped_ = 0;
  struct Mapping {
    cuda::CuMemHandle handle;
    uint64_t offset, bytes;
  };
  std::vector<Mapping> mappings_;
};

} // namespace birkhoff::rt

#endif // BIRKHOFF_RUNTIME_CUDA_PAGEDDEVICEBUFFER_H
