//===- PagedDeviceBuffer.cpp - Device memory committed as it is used ------===//
#include "PagedDeviceBuffer.h"

#include <algorithm>
#include <string>
#include <utility>

namespace birkhoff::rt {

namespace {

std::string mib(uint64_t bytes) {
  return std::to_string((bytes + (1u << 20) - 1) >> 20) + " MiB";
}

cuda::CuMemAllocationProp deviceProp(int ordinal) {
  cuda::CuMemAllocationProp prop;
  prop.location.id = ordinal;
  return prop;
}

} // namespace

Expected<uint64_t>
PagedDeviceBuffer::granularity(const cuda::CudaDriverApi &api, int ordinal) {
  cuda::CuMemAllocationProp prop = deviceProp(ordinal);
  size_t granule = 0;
  BK_RETURN_IF_ERROR(api.check(
      "cuMemGetAllocationGranularity",
      api.memGetAllocationGranularity(&granule, &prop, /*MINIMUM=*/0)));
  if (granule == 0)
    return internalError("cuMemGetAllocationGranularity returned 0");
  return uint64_t(granule);
}

Expected<PagedDeviceBuffer>
PagedDeviceBuffer::reserve(const cuda::CudaDriverApi &api, int ordinal,
                           uint64_t capacity, uint64_t granule) {
  PagedDeviceBuffer b;
  b.api_ = &api;
  b.ordinal_ = ordinal;
  b.granule_ = granule;
  b.reserved_ = (capacity + granule - 1) / granule * granule;
  if (b.reserved_ == 0)
    b.reserved_ = granule;
  BK_RETURN_IF_ERROR(
      api.check("cuMemAddressReserve",
                api.memAddressReserve(&b.base_, b.reserved_, granule, 0, 0))
          .withContext("reserving " + mib(b.reserved_) + " of addresses"));
  return b;
}

PagedDeviceBuffer::PagedDeviceBuffer(PagedDeviceBuffer &&other) noexcept {
  *this = std::move(other);
}

PagedDeviceBuffer &
PagedDeviceBuffer::operator=(PagedDeviceBuffer &&other) noexcept {
  if (this != &other) {
    release();
    api_ = other.api_;
    ordinal_ = other.ordinal_;
    granule_ = other.granule_;
    base_ = std::exchange(other.base_, 0);
    reserved_ = std::exchange(other.reserved_, 0);
    mapped_ = std::exchange(other.mapped_, 0);
    mappings_ = std::move(other.mappings_);
    other.mappings_.clear();
  }
  return *this;
}

PagedDeviceBuffer::~PagedDeviceBuffer() { release(); }

void PagedDeviceBuffer::release() {
  if (!api_ || !base_)
    return;
  // Best effort: the caller synchronized the streams that used the memory.
  for (const Mapping &m : mappings_) {
    api_->memUnmap(base_ + m.offset, m.bytes);
    api_->memRelease(m.handle);
  }
  mappings_.clear();
  api_->memAddressFree(base_, reserved_);
  base_ = 0;
  mapped_ = 0;
}

Status PagedDeviceBuffer::grow(uint64_t bytes, cuda::CuStream stream) {
  if (bytes <= mapped_)
    return Status::ok();
  if (bytes > reserved_)
    return outOfRange("state needs " + std::to_string(bytes) +
                      " bytes, its reservation holds " +
                      std::to_string(reserved_));
  // Grow by at least a quarter of what is mapped, so a long generation maps
  // O(log n) times rather than once per granule.
  uint64_t want = std::max(bytes, mapped_ + mapped_ / 4);
  uint64_t target =
      std::min(reserved_, (want + granule_ - 1) / granule_ * granule_);
  uint64_t size = target - mapped_;
  cuda::CuMemAllocationProp prop = deviceProp(ordinal_);
  cuda::CuMemHandle handle = 0;
  if (cuda::CuResult r = api_->memCreate(&handle, size, &prop, 0))
    return api_->error("cuMemCreate", r)
        .withContext("committing " + mib(size) + " more of session state (" +
                     mib(mapped_) + " committed)");
  if (cuda::CuResult r = api_->memMap(base_ + mapped_, size, 0, handle, 0)) {
    api_->memRelease(handle);
    return api_->error("cuMemMap", r).withContext("mapping session state");
  }
  cuda::CuMemAccessDesc access;
  access.location.id = ordinal_;
  if (cuda::CuResult r =
          api_->memSetAccess(base_ + mapped_, size, &access, 1)) {
    api_->memUnmap(base_ + mapped_, size);
    api_->memRelease(handle);
    return api_->error("cuMemSetAccess", r)
        .withContext("mapping session state");
  }
  mappings_.push_back({handle, mapped_, size});
  const uint64_t fresh = mapped_;
  mapped_ = target;
  return api_->check("cuMemsetD8Async",
                     api_->memsetD8Async(base_ + fresh, 0, size, stream));
}

} // namespace birkhoff::rt
