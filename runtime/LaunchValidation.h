//===- LaunchValidation.h - Load-time checks of every launch's shapes
//------===//
//
// The flatbuffers verifier proves an artifact is well-formed bytes; this proves
// each launch is executable: its parameters agree with its buffers' widths, its
// weights' shapes and dtypes, and its states' layouts. Kernels rely on it, so a
// corrupted or hand-edited artifact is refused at load time with a message
// naming the launch, never run into an out-of-bounds access.
//
//===----------------------------------------------------------------------===//
#ifndef BIRKHOFF_RUNTIME_LAUNCHVALIDATION_H
#define BIRKHOFF_RUNTIME_LAUNCHVALIDATION_H

#include "Program.h"
#include "birkhoff/Status.h"

namespace birkhoff::rt {

/// Checks one launch of `entry`; `where` prefixes the message.
Status validateLaunch(const Program &program, const EntryDesc &entry,
                      const LaunchDesc &launch, const std::string &where);

} // namespace birkhoff::rt

#endif // BIRKHOFF_RUNTIME_LAUNCHVALIDATION_H
