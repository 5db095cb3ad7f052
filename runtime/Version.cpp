//===- Version.cpp - What this runtime was built from ---------------------===//
#include "birkhoff/Runtime.h"

// CMake (cmake/BirkhoffVersion.cmake) passes the revision to this file alone,
// so that reconfiguring after a commit recompiles one file, not every includer
// of a header.
#ifndef BIRKHOFF_GIT_REVISION
#define BIRKHOFF_GIT_REVISION "unknown"
#endif

namespace birkhoff {

const BuildInfo &buildInfo() {
  static const BuildInfo info{BIRKHOFF_VERSION_STRING, BIRKHOFF_GIT_REVISION,
                              /*cuda=*/true};
  return info;
}

} // namespace birkhoff
