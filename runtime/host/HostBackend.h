//===- HostBackend.h - Running a program on the host's kernels ------------===//
#ifndef BIRKHOFF_RUNTIME_HOST_HOSTBACKEND_H
#define BIRKHOFF_RUNTIME_HOST_HOSTBACKEND_H

#include "../Backend.h"

#include <string>

namespace birkhoff::rt {

/// The multithreaded host backend: sessions run the host kernels
/// (HostKernels.h) on `numThreads` threads each (0: one per hardware thread).
/// Fails when a launched kernel has no host implementation; `origin` names
/// the artifact in the message.
Expected<std::unique_ptr<ModelBackend>>
makeHostBackend(const Program &program, int numThreads,
                const std::string &origin);

} // namespace birkhoff::rt

#endif // BIRKHOFF_RUNTIME_HOST_HOSTBACKEND_H
