//===- DynamicLibrary.cpp -------------------------------------------------===//
#include "cuda/DynamicLibrary.h"

#include <dlfcn.h>

namespace birkhoff::cuda {

Expected<std::unique_ptr<DynamicLibrary>>
DynamicLibrary::openFirst(const std::vector<std::string> &candidates) {
  std::string reasons;
  for (const std::string &c : candidates) {
    if (c.empty())
      continue;
    if (void *h = dlopen(c.c_str(), RTLD_NOW | RTLD_LOCAL))
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
