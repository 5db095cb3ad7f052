//===- DynamicLibrary.cpp -------------------------------------------------===//
#include "cuda/DynamicLibrary.h"

#include <dlfcn.h>

namespace birkhoff::cuda {

// Under AddressSanitizer a closed library stays mapped. LeakSanitizer looks
// at exit, and what a library's static initialisers allocated (NVRTC's own
// libstdc++ keeps a 71 KB exception pool) is reachable only from that
// library's data: unmapped, it would be reported as a leak of an unknown
// module, which no suppression can name.
#ifdef __SANITIZE_ADDRESS__
constexpr int kKeepMapped = RTLD_NODELETE;
#else
constexpr int kKeepMapped = 0;
#endif

Expected<std::unique_ptr<DynamicLibrary>>
DynamicLibrary::openFirst(const std::vector<std::string> &candidates) {
  std::string reasons;
  for (const std::string &c : candidates) {
    if (c.empty())
      continue;
    if (void *h = dlopen(c.c_str(), RTLD_NOW | RTLD_LOCAL | kKeepMapped))
      return std::unique_ptr<DynamicLibrary>(new DynamicLibrary(h, c));
    const char *err = dlerror();
    reasons += "\n  " + c + ": " + (err ? err : "unknown dlopen error");
  }
  return notFound("none of the candidate libraries could be loaded:" + reasons);
}

DynamicLibrary::~DynamicLibrary() {
  if (handle_)
    dlclose(handle_);
}

Expected<void *> DynamicLibrary::symbol(const char *symbol) const {
  dlerror();
  void *p = dlsym(handle_, symbol);
  if (!p)
    return notFound("symbol '" + std::string(symbol) + "' is missing from " +
                    path_);
  return p;
}

} // namespace birkhoff::cuda
