//===- DynamicLibrary.h - dlopen with Status errors
//------------------------===//
//
// The CUDA pieces (NVRTC, the driver) are loaded at run time, never linked:
// Birkhoff must build and run where neither exists (CI, the compile machine
// has no driver). This wraps dlopen/dlsym with errors that name the library
// and the symbol.
//
//===----------------------------------------------------------------------===//
#ifndef BIRKHOFF_CUDA_DYNAMICLIBRARY_H
#define BIRKHOFF_CUDA_DYNAMICLIBRARY_H

#include "birkhoff/Status.h"

#include <memory>
#include <string>
#include <vector>

namespace birkhoff::cuda {

class DynamicLibrary {
public:
  /// Opens the first of `candidates` that dlopen accepts. The error lists every
  /// candidate with dlerror's reason.
  static Expected<std::unique_ptr<DynamicLibrary>>
  openFirst(const std::vector<std::string> &candidates);
  ~DynamicLibrary();
  DynamicLibrary(const DynamicLibrary &) = delete;
  DynamicLibrary &operator=(const DynamicLibrary &) = delete;

  /// The address of `symbol`, or NotFound naming the library.
  Expected<void *> symbol(const char *symbol) const;
  /// The candidate that was opened.
  const std::string &path() const { return path_; }

private:
  DynamicLibrary(void *handle, std::string path)
      : handle_(handle), path_(std::move(path)) {}
  void *handle_;
  std::string path_;
};

/// Binds `*slot` to `symbol` of `lib` (typed function pointer).
template <typename Fn>
Status bindSymbol(const DynamicLibrary &lib, const char *symbol, Fn *slot) {
  Expected<void *> p = lib.symbol(symbol);
  if (!p)
    return p.status();
  *slot = reinterpret_cast<Fn>(*p);
  return Status::ok();
}

} // namespace birkhoff::cuda

#endif // BIRKHOFF_CUDA_DYNAMICLIBRARY_H
