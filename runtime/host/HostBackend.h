//===- HostBackend.h - Running a program on the host's kernels ------------===//
#ifndef BIRKHOFF_RUNTIME_HOST_HOSTBACKEND_H
#define BIRKHOFF_RUNTIME_HOST_HOSTBACKEND_H

#include "../Backend.h"
#include "birkhoff/WorkerPool.h"

#include <memory>
#include <string>

namespace birkhoff::rt {

/// The multithreaded host backend: every engine and session of the model
/// runs the host kernels (HostKernels.h) on `pool`, each call on at most
/// `maxThreads` of its threads (0: all). Fails when a launched kernel has no
/// host implementation; `origin` names the artifact in the message.
Expected<std::unique_ptr<ModelBackend>>
makeHostBackend(const Program &program, std::shared_ptr<WorkerPool> pool,
                int maxThreads, const std::string &origin);

} // namespace birkhoff::rt

#endif // BIRKHOFF_RUNTIME_HOST_HOSTBACKEND_H
