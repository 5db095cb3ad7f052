//===- CudaTarget.cpp - The CUDA kernels of a bk module -------------------===//
#include "compiler/CudaTarget.h"
#include "compiler/LaunchSpec.h"

#include "kernel/BkDialect.h"

#include "CudaCompiler.h"
#include "KernelSource.h"

#include "birkhoff/DType.h"
#include "birkhoff/FileSafety.h"
#include "birkhoff/Progress.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/SymbolTable.h"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>
#include <tuple>

#include <fcntl.h>
#include <unistd.h>

using namespace mlir;

namespace birkhoff {
namespace {

std::string launchName(func::FuncOp fn, int index, bk::LaunchOp launch) {
  return "@" + fn.getName().str() + " launch " + std::to_string(index) + " ('" +
         launch.getKernel().str() + "', layer " +
         std::to_string(launch.getLayerAttr().getInt()) + ")";
}

template <typename Fn> void forEachLaunch(ModuleOp module, Fn &&fn) {
  for (func::FuncOp f : module.getOps<func::FuncOp>()) {
    if (!f->hasAttr(bk::kEntryAttr))
      continue;
    int index = 0;
    for (bk::LaunchOp l : f.getBody().front().getOps<bk::LaunchOp>())
      fn(f, index++, l);
  }
}

Status writeFile(const std::filesystem::path &path, const void *data,
                 size_t size) {
  std::ofstream out(path, std::ios::binary);
  out.write(static_cast<const char *>(data), std::streamsize(size));
  out.close();
  if (!out)
    return ioError("cannot write '" + path.string() + "'");
  return Status::ok();
}

} // namespace

std::string CudaKernelTable::key(const cuda::KernelSource &ks) {
  const cuda::GridRule &g = ks.grid;
  return std::to_string(g.xPerToken) + " " + std::to_string(g.xConst) + " " +
         std::to_string(g.tokensPerY) + " " + std::to_string(g.block) + " " +
         std::to_string(ks.cluster) + "\n" + ks.source;
}

Expected<int> CudaKernelTable::add(const cuda::KernelSource &ks,
                                   std::string_view kernel) {
  auto [it, inserted] =
      byKey_.try_emplace(key(ks), int(program_.kernels.size()));
  if (inserted) {
    CudaKernelImage k;
    k.name = ks.entry;
    k.kernel = std::string(kernel);
    k.arch = arch_;
    k.source = ks.source;
    k.grid = ks.grid;
    k.cluster = ks.cluster;
    program_.kernels.push_back(std::move(k));
  }
  CudaKernelImage &k = program_.kernels[size_t(it->second)];
  if (k.name != ks.entry)
    return internalError("one source, two entry names ('" + k.name + "', '" +
                         ks.entry + "')");
  // A source need not depend on the entry's token count while its scratch
  // does (the scored indexer's): the kernel's is the largest.
  k.scratchBytes = std::max(k.scratchBytes, ks.scratchBytes);
  ++k.launches;
  return it->second;
}

std::vector<std::string> missingCudaKernels(Operation *bkModule) {
  std::set<std::string> missing;
  auto module = dyn_cast_or_null<ModuleOp>(bkModule);
  if (!module)
    return {};
  std::vector<std::string_view> generated = cuda::cudaGeneratedKernels();
  forEachLaunch(module, [&](func::FuncOp, int, bk::LaunchOp l) {
    std::string kernel = l.getKernel().str();
    if (std::find(generated.begin(), generated.end(), kernel) ==
        generated.end())
      missing.insert(kernel);
  });
  return {missing.begin(), missing.end()};
}

Expected<CudaProgram> compileCudaProgram(Operation *bkModule,
                                         const CudaTargetOptions &options) {
  auto module = dyn_cast_or_null<ModuleOp>(bkModule);
  if (!module)
    return invalidArgument("--target cuda: expected a builtin.module");

  // Refuse up front, listing every kind at once, rather than at the first
  // launch a kernel is missing for.
  std::vector<std::string> missing = missingCudaKernels(bkModule);
  if (!missing.empty()) {
    std::set<std::string> kinds(missing.begin(), missing.end());
    int affected = 0, total = 0;
    forEachLaunch(module, [&](func::FuncOp, int, bk::LaunchOp l) {
      ++total;
      affected += kinds.count(l.getKernel().str()) ? 1 : 0;
    });
    std::string list;
    for (const std::string &k : missing)
      list += (list.empty() ? "" : ", ") + k;
    return unsupported(
        "--target cuda: kernels not yet generated for CUDA: " + list + " (" +
        std::to_string(affected) + " of " + std::to_string(total) +
        " launches); --target host runs every kernel");
  }

  // Generate every launch's source; identical sources share one kernel.
  SymbolTable symbols(module);
  cuda::CudaCodegenOptions codegen;
  codegen.hostOrderReductions = options.hostOrderReductions;
  CudaProgram program;
  CudaKernelTable table(program, options.arch);
  Status failure;
  forEachLaunch(module, [&](func::FuncOp fn, int index, bk::LaunchOp l) {
    if (!failure.isOk())
      return;
    std::string where = "--target cuda: " + launchName(fn, index, l);
    Expected<cuda::CudaLaunchSpec> spec = cudaLaunchSpec(l, symbols);
    if (!spec) {
      failure = spec.status().withContext(where);
      return;
    }
    // The generator decides no schedule of its own (bk-choose-schedule, in
    // buildCudaPipeline, writes every launch's).
    if (!spec->schedule) {
      failure = invalidArgument(where + " has no #bk.schedule (run "
                                        "bk-choose-schedule first)");
      return;
    }
    Expected<cuda::KernelSource> source =
        cuda::generateKernelSource(*spec, codegen);
    if (!source) {
      failure = source.status().withContext(where);
      return;
    }
    std::vector<int> &kernels = program.launchKernels[l.getOperation()];
    for (const cuda::KernelSource *ks : source->sequence()) {
      Expected<int> k = table.add(*ks, kernelName(spec->kernel()));
      if (!k) {
        failure = k.status().withContext(where);
        return;
      }
      kernels.push_back(*k);
    }
  });
  if (!failure.isOk())
    return failure;

  // NVRTC on distinct sources in parallel; the first failure (in kernel
  // order) is reported.
  size_t n = program.kernels.size();
  std::vector<Status> results(n);
  std::atomic<size_t> next{0};
  Progress progress("compile: CUDA kernels (NVRTC)", n, Progress::Unit::Items);
  auto worker = [&] {
    for (size_t i = next++; i < n; i = next++, progress.add(1)) {
      CudaKernelImage &k = program.kernels[i];
      Expected<cuda::CompiledKernel> c =
          cuda::compileCudaSource(k.source, k.name, k.arch);
      if (!c) {
        results[i] = c.status().withContext("--target cuda: compiling the '" +
                                            k.kernel + "' kernel " + k.name);
        continue;
      }
      k.cubin = std::move(c->cubin);
      k.ptx = std::move(c->ptx);
      k.registers = c->registers;
      k.spillBytes = c->spillStoreBytes + c->spillLoadBytes;
      k.stackBytes = c->stackBytes;
      k.sharedBytes = c->sharedBytes;
      if (k.cubin.empty())
        results[i] = internalError("--target cuda: NVRTC returned an empty "
                                   "cubin for " +
                                   k.name);
    }
  };
  unsigned threads = options.threads > 0
                         ? unsigned(options.threads)
                         : std::max(1u, std::thread::hardware_concurrency());
  threads = unsigned(std::min<size_t>(threads, std::max<size_t>(n, 1)));
  std::vector<std::thread> pool;
  for (unsigned t = 1; t < threads; ++t)
    pool.emplace_back(worker);
  worker();
  for (std::thread &t : pool)
    t.join();
  for (const Status &s : results)
    if (!s.isOk())
      return s;
  return program;
}

Status dumpCudaKernels(const CudaProgram &program, const std::string &dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::exists(fs::symlink_status(dir, ec)) && !fs::is_directory(dir, ec))
    return invalidArgument("--dump-kernels: '" + dir +
                           "' exists and is not a directory");
  // Written beside the target and swapped in whole: a failure leaves the
  // previous dump as it was and removes the partial folder.
  const std::string temp = dir + ".partial." + std::to_string(::getpid());
  fs::remove_all(temp, ec);
  fs::create_directories(temp, ec);
  if (ec)
    return ioError("--dump-kernels: cannot create '" + temp +
                   "': " + ec.message());
  // Registered as a folder: an interrupt removes it with what it holds.
  CleanupPath cleanup = CleanupPath::folder(temp);
  auto fail = [&](Status s) {
    std::error_code ignored;
    fs::remove_all(temp, ignored);
    return s;
  };
  std::string table =
      "# name kernel arch registers spill_bytes stack_bytes shared_bytes "
      "block grid_x_per_token grid_x_const grid_tokens_per_y cluster "
      "scratch_bytes launches cubin_bytes\n";
  for (const CudaKernelImage &k : program.kernels) {
    fs::path base = fs::path(temp) / k.name;
    for (auto [ext, data, size] :
         {std::tuple{".cu", (const void *)k.source.data(), k.source.size()},
          std::tuple{".ptx", (const void *)k.ptx.data(), k.ptx.size()},
          std::tuple{".cubin", (const void *)k.cubin.data(), k.cubin.size()}})
      if (Status s = writeFile(base.string() + ext, data, size); !s.isOk())
        return fail(s);
    char line[512];
    std::snprintf(line, sizeof line,
                  "%s %s %s %d %d %d %d %d %lld %lld %lld %d %llu %d %zu\n",
                  k.name.c_str(), k.kernel.c_str(), k.arch.c_str(), k.registers,
                  k.spillBytes, k.stackBytes, k.sharedBytes, k.grid.block,
                  (long long)k.grid.xPerToken, (long long)k.grid.xConst,
                  (long long)k.grid.tokensPerY, k.cluster,
                  (unsigned long long)k.scratchBytes, k.launches,
                  k.cubin.size());
    table += line;
  }
  if (Status s = writeFile(fs::path(temp) / "resources.txt", table.data(),
                           table.size());
      !s.isOk())
    return fail(s);
  // A directory cannot be renamed onto a non-empty one. RENAME_EXCHANGE swaps
  // the new dump and the previous one in one step, so DIR is a whole dump at
  // every moment and the previous one, now under the temporary name, is
  // still registered for removal. Where the file system cannot exchange, the
  // previous dump moves aside first and goes once the new one is in place
  // (an interrupt between the two renames leaves it as DIR.old.<pid>).
  const bool hadOld = fs::exists(dir, ec);
  if (hadOld && ::renameat2(AT_FDCWD, temp.c_str(), AT_FDCWD, dir.c_str(),
                            RENAME_EXCHANGE) == 0) {
    fs::remove_all(temp, ec);
    cleanup.release();
    return Status::ok();
  }
  const std::string old = dir + ".old." + std::to_string(::getpid());
  if (hadOld) {
    fs::remove_all(old, ec);
    fs::rename(dir, old, ec);
    if (ec)
      return fail(ioError("--dump-kernels: cannot move the previous '" + dir +
                          "' aside: " + ec.message()));
  }
  fs::rename(temp, dir, ec);
  if (ec) {
    std::error_code ignored;
    if (hadOld)
      fs::rename(old, dir, ignored);
    return fail(ioError("--dump-kernels: cannot rename '" + temp + "' to '" +
                        dir + "': " + ec.message()));
  }
  cleanup.release();
  if (hadOld)
    fs::remove_all(old, ec);
  return Status::ok();
}

} // namespace birkhoff
