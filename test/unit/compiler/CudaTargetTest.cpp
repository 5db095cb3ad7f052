//===- CudaTargetTest.cpp - birkhoff compile --target cuda ----------------===//
//
// Without a GPU (NVRTC only; the parts that compile skip without it):
// - the golden checkpoints' kernels that the CUDA generator lacks are named
//   exactly, by the library and by `birkhoff compile` (exit 1, no file);
// - the mini model (MiniModel.h, only generated kernels) becomes a "cuda"
//   artifact whose launches each run a verified cubin, identical
//   specializations shared, with the grid rule the generator gives;
// - a kernel shared by launches of different needs keeps the largest scratch;
// - host and cuda artifacts refuse the other device with a clear message;
// - --dump-kernels replaces a previous dump whole, and SIGINT while it is
//   written leaves no partial folder (on made-up kernels).
//
//===----------------------------------------------------------------------===//
#include "CompileSupport.h"
#include "MiniModel.h"

#include "ArtifactLoader.h"
#include "KernelSource.h"
#include "birkhoff/FileSafety.h"
#include "birkhoff/Runtime.h"
#include "birkhoff/schema/artifact_generated.h"
#include "cuda/CudaDriverApi.h"
#include "cuda/NvrtcApi.h"

#include "mlir/Parser/Parser.h"

#include <algorithm>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

using namespace birkhoff;
using namespace birkhoff::test;

namespace {

std::set<std::string> launchedKernels(mlir::ModuleOp module) {
  std::set<std::string> kinds;
  module.walk([&](bk::LaunchOp l) { kinds.insert(l.getKernel().str()); });
  return kinds;
}

std::set<std::string> expectedMissing(const std::set<std::string> &kinds) {
  std::vector<std::string_view> generated = cuda::cudaGeneratedKernels();
  std::set<std::string> missing;
  for (const std::string &k : kinds)
    if (std::find(generated.begin(), generated.end(), k) == generated.end())
      missing.insert(k);
  return missing;
}

/// The kinds listed in "...not yet generated for CUDA: a, b (N of M ...".
std::set<std::string> listedKinds(const std::string &message) {
  const std::string marker = "kernels not yet generated for CUDA: ";
  size_t at = message.find(marker);
  if (at == std::string::npos)
    return {};
  size_t end = message.find(" (", at);
  std::string list = message.substr(
      at + marker.size(),
      end == std::string::npos ? std::string::npos : end - at - marker.size());
  std::set<std::string> out;
  std::stringstream ss(list);
  std::string item;
  while (std::getline(ss, item, ','))
    out.insert(item.substr(item.find_first_not_of(' ')));
  return out;
}

bool haveNvrtc() { return cuda::NvrtcApi::get().isOk(); }

// Every golden case: the library names exactly the kinds the generator
// lacks (computed here from the lowered module and cudaGeneratedKernels()).
TEST(CudaTarget, GoldensNameExactlyTheMissingKernels) {
  for (const char *name :
       {"tiny_mix", "tiny_rates", "tiny_quant", "tiny_dq", "tiny_dq2"}) {
    SCOPED_TRACE(name);
    LoadedCheckpoint m = loadCheckpoint(goldenDir(name));
    if (HasFailure())
      return;
    mlir::MLIRContext ctx;
    mlir::OwningOpRef<mlir::ModuleOp> module = compileToKernels(ctx, m, {});
    ASSERT_TRUE(module);
    std::set<std::string> kinds = launchedKernels(*module);
    ASSERT_GT(kinds.size(), 10u);
    std::set<std::string> missing = expectedMissing(kinds);
    std::vector<std::string> reported =
        missingCudaKernels(module->getOperation());
    EXPECT_EQ(std::set<std::string>(reported.begin(), reported.end()), missing);
    EXPECT_TRUE(std::is_sorted(reported.begin(), reported.end()));
    if (missing.empty()) {
      // Every kind exists: compiling the whole model is the CLI test's job
      // (tiny_mix); here only the classification is checked.
      continue;
    }
    Expected<CudaProgram> program =
        compileCudaProgram(module->getOperation(), CudaTargetOptions{});
    ASSERT_FALSE(program.isOk());
    EXPECT_EQ(program.status().code(), StatusCode::Unsupported);
    EXPECT_EQ(listedKinds(program.status().message()), missing)
        << program.status().message();
  }
}

// One source serving entries of different token counts (the scored
// indexer's score kernel, in a one-token and a 64-token entry) is one kernel
// whose scratch fits the larger; another grid rule is another kernel.
TEST(CudaTarget, SharedKernelsKeepTheLargestScratch) {
  CudaProgram program;
  CudaKernelTable table(program, "sm_90a");
  cuda::KernelSource score;
  score.source = "extern \"C\" __global__ void k_score() {}";
  score.entry = "k_score";
  score.grid = {128, 0, 0, 256};
  score.scratchBytes = 4096;
  cuda::KernelSource batch = score;
  batch.scratchBytes = 64 * 4096;
  cuda::KernelSource regridded = score;
  regridded.grid.xPerToken = 64;
  ASSERT_EQ(*table.add(score, "indexer_topk"), 0);
  ASSERT_EQ(*table.add(batch, "indexer_topk"), 0);
  ASSERT_EQ(*table.add(score, "indexer_topk"), 0);
  ASSERT_EQ(*table.add(regridded, "indexer_topk"), 1);
  ASSERT_EQ(program.kernels.size(), 2u);
  EXPECT_EQ(program.kernels[0].scratchBytes, 64u * 4096);
  EXPECT_EQ(program.kernels[0].launches, 3);
  EXPECT_EQ(program.kernels[1].grid.xPerToken, 64);
  cuda::KernelSource renamed = score;
  renamed.entry = "k_other";
  Expected<int> clash = table.add(renamed, "indexer_topk");
  ASSERT_FALSE(clash.isOk());
  EXPECT_NE(clash.status().message().find("two entry names"),
            std::string::npos);
}

// The generator decides no schedule: a launch bk-choose-schedule has not
// visited is refused by name, and one it has generates.
TEST(CudaTarget, LaunchesNeedTheirSchedule) {
  mlir::MLIRContext ctx;
  ctx.getOrLoadDialect<bk::BkDialect>();
  ctx.getOrLoadDialect<mlir::func::FuncDialect>();
  const char *text = R"mlir(
bk.weight @w {dtype = "f32", shape = array<i64: 64, 64>}
func.func @decode(%t: !bk.buffer, %l: !bk.buffer) attributes {bk.entry, bk.max_tokens = 1 : i64} {
  %a = bk.alloc {name = "a", elems_per_token = 64 : i64, is_int = false, offset = 0 : i64} : !bk.buffer
  bk.launch "linear" ins(%a) outs(%l) weights([@w]) states([]) params({in_features = 64 : i64, out_features = 64 : i64}) {layer = 3 : i64}
  return
}
)mlir";
  mlir::OwningOpRef<mlir::ModuleOp> module =
      mlir::parseSourceString<mlir::ModuleOp>(text, &ctx);
  ASSERT_TRUE(module);
  CudaTargetOptions options;
  options.threads = 1;
  Expected<CudaProgram> refused =
      compileCudaProgram(module->getOperation(), options);
  ASSERT_FALSE(refused.isOk());
  EXPECT_EQ(refused.status().code(), StatusCode::InvalidArgument);
  EXPECT_NE(refused.status().message().find(
                "@decode launch 0 ('linear', layer 3) has no #bk.schedule"),
            std::string::npos)
      << refused.status().message();

  mlir::PassManager pm(&ctx);
  buildCudaPipeline(pm);
  ASSERT_TRUE(mlir::succeeded(pm.run(*module)));
  bk::LaunchOp launch;
  module->walk([&](bk::LaunchOp l) { launch = l; });
  ASSERT_TRUE(launch);
  ASSERT_TRUE(launch.getScheduleAttr());
  EXPECT_EQ(launch.getScheduleAttr().getVariant(), "gemv");
  if (!haveNvrtc())
    GTEST_SKIP() << "no NVRTC: the scheduled launch is not compiled";
  Expected<CudaProgram> program =
      compileCudaProgram(module->getOperation(), options);
  ASSERT_TRUE(program.isOk()) << program.status().toString();
  EXPECT_EQ(program->kernels.size(), 1u);
}

// `birkhoff compile --target cuda` end to end on tiny_mix: while kinds are
// missing, exit 1 naming them and write no artifact; once none is, a loadable
// "cuda" artifact plus the --dump-kernels files.
TEST(CudaTarget, CompileCommandOnAGolden) {
  TempDir dir;
  LoadedCheckpoint m = loadCheckpoint(goldenDir("tiny_mix"));
  if (HasFailure())
    return;
  mlir::MLIRContext ctx;
  mlir::OwningOpRef<mlir::ModuleOp> module = compileToKernels(ctx, m, {});
  ASSERT_TRUE(module);
  std::set<std::string> missing = expectedMissing(launchedKernels(*module));
  if (missing.empty() && !haveNvrtc())
    GTEST_SKIP() << "every kernel kind is generated, but NVRTC is absent";

  std::string artifact = dir.path() + "/tiny_mix.cuda.bkart";
  std::string dump = dir.path() + "/kernels";
  CommandResult r =
      runTool("compile '" + goldenDir("tiny_mix") + "' -o '" + artifact +
                  "' --target cuda --dump-kernels '" + dump + "'",
              dir.path() + "/log");
  if (!missing.empty()) {
    EXPECT_EQ(r.exitCode, 1) << r.output;
    EXPECT_EQ(listedKinds(r.output), missing) << r.output;
    EXPECT_FALSE(std::filesystem::exists(artifact));
    return;
  }
  ASSERT_EQ(r.exitCode, 0) << r.output;
  Expected<rt::LoadedArtifact> loaded = rt::loadArtifact(artifact);
  ASSERT_TRUE(loaded.isOk()) << loaded.status().toString();
  EXPECT_EQ(loaded->program.target, "cuda");
  EXPECT_FALSE(loaded->program.cudaKernels.empty());
  EXPECT_TRUE(std::filesystem::exists(dump + "/resources.txt"));
}

TEST(CudaTarget, CompileCommandOptionErrors) {
  TempDir dir;
  std::string ckpt = goldenDir("tiny_mix");
  CommandResult r = runTool("compile '" + ckpt + "' -o '" + dir.path() +
                                "/a.bkart' --arch sm_90a",
                            dir.path() + "/log");
  // Usage errors (docs/cli.md): exit 2, before anything is read.
  EXPECT_EQ(r.exitCode, 2);
  EXPECT_NE(r.output.find("need --target cuda"), std::string::npos) << r.output;
  r = runTool("compile '" + ckpt + "' -o '" + dir.path() +
                  "/a.bkart' --target cuda --arch gfx90a",
              dir.path() + "/log");
  EXPECT_EQ(r.exitCode, 2);
  EXPECT_NE(r.output.find("--arch expects a CUDA architecture like sm_90a, "
                          "got 'gfx90a'"),
            std::string::npos)
      << r.output;
}

class MiniModel : public ::testing::Test {
protected:
  void SetUp() override {
    Status s = writeMiniCheckpoint(dir_.path());
    ASSERT_TRUE(s.isOk()) << s.toString();
  }
  std::string path(const std::string &name) const {
    return dir_.path() + "/" + name;
  }
  TempDir dir_;
};

std::vector<int32_t> someTokens(int n) {
  std::vector<int32_t> t;
  for (int i = 0; i < n; ++i)
    t.push_back(int32_t((i * 37 + 11) % kMiniVocab));
  return t;
}

// The host artifact runs (so the program is a valid model), chunked calls
// equal one call bitwise, and the CUDA device refuses it before any driver
// is touched.
TEST_F(MiniModel, HostArtifactRunsAndRefusesTheCudaDevice) {
  auto written =
      writeMiniArtifact(dir_.path(), path("mini.host.bkart"), "host");
  ASSERT_TRUE(written.isOk()) << written.status().toString();
  EXPECT_EQ(written->stats.launches, 20u);
  EXPECT_EQ(written->stats.cudaKernels, 0u);

  auto model = Model::load(path("mini.host.bkart"));
  ASSERT_TRUE(model.isOk()) << model.status().toString();
  EXPECT_EQ((*model)->info().device, "host");
  std::vector<int32_t> tokens = someTokens(13);
  auto full = Session::create(*model);
  ASSERT_TRUE(full.isOk());
  std::vector<float> a, b, part;
  ASSERT_TRUE((*full)->prefill(tokens, &a).isOk());
  double sum = 0;
  for (float v : a) {
    ASSERT_TRUE(std::isfinite(v));
    sum += std::fabs(v);
  }
  EXPECT_GT(sum, 0.0);
  auto chunked = Session::create(*model);
  ASSERT_TRUE(chunked.isOk());
  const std::vector<std::pair<int, int>> calls = {
      {0, 5}, {5, 4}, {9, 1}, {10, 1}, {11, 2}};
  for (auto [at, len] : calls) {
    ASSERT_TRUE(
        (*chunked)
            ->prefill(std::span<const int32_t>(tokens.data() + at, size_t(len)),
                      &part)
            .isOk());
    b.insert(b.end(), part.begin(), part.end());
  }
  ASSERT_EQ(a.size(), b.size());
  EXPECT_EQ(0, std::memcmp(a.data(), b.data(), a.size() * 4));

  ModelOptions onGpu;
  onGpu.device = "cuda";
  auto refused = Model::load(path("mini.host.bkart"), onGpu);
  ASSERT_FALSE(refused.isOk());
  EXPECT_EQ(refused.status().code(), StatusCode::Unsupported);
  EXPECT_NE(refused.status().message().find("--target cuda"), std::string::npos)
      << refused.status().message();
  onGpu.device = "gpu0";
  auto unknown = Model::load(path("mini.host.bkart"), onGpu);
  ASSERT_FALSE(unknown.isOk());
  EXPECT_EQ(unknown.status().code(), StatusCode::InvalidArgument);
}

/// The generator's view of a loaded launch of entry `e` (what the compiler
/// gave it).
cuda::CudaLaunchSpec specOf(const rt::Program &p, const rt::EntryDesc &e,
                            const rt::LaunchDesc &l) {
  cuda::CudaLaunchSpec s;
  s.params = l.params;
  s.maxTokens = e.maxTokens;
  for (int w : l.weights)
    s.weight(p.weights[size_t(w)].dtype, p.weights[size_t(w)].shape);
  return s;
}

TEST_F(MiniModel, CudaArtifactCarriesOneVerifiedCubinPerSpecialization) {
  if (!haveNvrtc())
    GTEST_SKIP() << "NVRTC not available";
  auto written =
      writeMiniArtifact(dir_.path(), path("mini.cuda.bkart"), "cuda");
  ASSERT_TRUE(written.isOk()) << written.status().toString();
  // Ten distinct specializations (three linears of different formats), each
  // run by the same launch of @prefill and @decode, but for mhc_pre_norm:
  // @decode's (one token) lowers to two kernels of its own (a block per
  // mixing row, then a block per token).
  ASSERT_EQ(written->cuda.kernels.size(), 12u);
  for (const CudaKernelImage &k : written->cuda.kernels)
    EXPECT_EQ(k.launches, k.kernel == "mhc_pre_norm" ? 1 : 2) << k.name;
  EXPECT_EQ(written->stats.cudaKernels, 12u);

  Expected<rt::LoadedArtifact> loaded =
      rt::loadArtifact(path("mini.cuda.bkart"));
  ASSERT_TRUE(loaded.isOk()) << loaded.status().toString();
  const rt::Program &p = loaded->program;
  EXPECT_EQ(p.target, "cuda");
  ASSERT_EQ(p.cudaKernels.size(), 12u);
  std::set<std::string> kinds;
  for (const rt::CudaKernelDesc &k : p.cudaKernels) {
    SCOPED_TRACE(k.name);
    kinds.insert(k.kernel);
    EXPECT_EQ(k.arch, "sm_90a");
    ASSERT_GE(k.cubinSize, 4u);
    EXPECT_EQ(0, std::memcmp(k.cubin,
                             "\x7f"
                             "ELF",
                             4));
    EXPECT_GT(k.registers, 0);
    EXPECT_EQ(k.spillBytes, 0);
    EXPECT_EQ(k.name.rfind("bk_" + k.kernel + "_", 0), 0u);
  }
  std::vector<std::string> expectedKinds = miniModelKernels();
  EXPECT_EQ(kinds,
            std::set<std::string>(expectedKinds.begin(), expectedKinds.end()));
  for (const rt::EntryDesc &e : p.entries)
    for (const rt::LaunchDesc &l : e.launches) {
      SCOPED_TRACE(e.name + " " + l.kernel);
      ASSERT_GE(l.cudaKernel, 0);
      const rt::CudaKernelDesc &k = p.cudaKernels[size_t(l.cudaKernel)];
      EXPECT_EQ(k.kernel, l.kernel);
      // The stored kernel is the one the generator makes for this launch.
      auto source = cuda::generateKernelSource(scheduled(specOf(p, e, l)));
      ASSERT_TRUE(source.isOk()) << source.status().toString();
      EXPECT_EQ(source->entry, k.name);
      EXPECT_TRUE(source->grid == k.grid);
      ASSERT_EQ(source->then.size(), l.cudaThen.size());
      for (size_t j = 0; j < l.cudaThen.size(); ++j) {
        const rt::CudaKernelDesc &next = p.cudaKernels[size_t(l.cudaThen[j])];
        EXPECT_EQ(source->then[j].entry, next.name);
        EXPECT_TRUE(source->then[j].grid == next.grid);
      }
    }

  // PTX is left out unless asked for.
  auto withPtx = writeMiniArtifact(dir_.path(), path("mini.ptx.bkart"), "cuda",
                                   {}, /*embedPtx=*/true);
  ASSERT_TRUE(withPtx.isOk()) << withPtx.status().toString();
  for (const char *file : {"mini.cuda.bkart", "mini.ptx.bkart"}) {
    std::ifstream in(path(file), std::ios::binary);
    std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), {});
    const fb::Artifact *a = fb::GetSizePrefixedArtifact(bytes.data());
    ASSERT_TRUE(a->cuda_kernels());
    bool ptx = std::string(file) == "mini.ptx.bkart";
    for (const fb::CudaKernel *k : *a->cuda_kernels()) {
      EXPECT_EQ(k->ptx() != nullptr, ptx) << file;
      if (ptx)
        EXPECT_NE(k->ptx()->str().find(".entry " + k->name()->str()),
                  std::string::npos);
    }
  }

  // --dump-kernels writes each kernel's files and the resource table.
  std::string dump = path("dump");
  ASSERT_TRUE(dumpCudaKernels(written->cuda, dump).isOk());
  std::ifstream table(dump + "/resources.txt");
  std::string line;
  int rows = 0;
  while (std::getline(table, line))
    rows += line.empty() || line[0] == '#' ? 0 : 1;
  EXPECT_EQ(rows, 12);
  for (const CudaKernelImage &k : written->cuda.kernels) {
    EXPECT_EQ(std::filesystem::file_size(dump + "/" + k.name + ".cubin"),
              k.cubin.size());
    EXPECT_GT(std::filesystem::file_size(dump + "/" + k.name + ".ptx"), 0u);
    EXPECT_GT(std::filesystem::file_size(dump + "/" + k.name + ".cu"), 0u);
  }

  // The host device refuses a cuda artifact; the cuda device fails cleanly
  // where there is no driver.
  auto onHost = Model::load(path("mini.cuda.bkart"));
  ASSERT_FALSE(onHost.isOk());
  EXPECT_EQ(onHost.status().code(), StatusCode::Unsupported);
  EXPECT_NE(onHost.status().message().find("device 'cuda'"), std::string::npos)
      << onHost.status().message();
  auto driver = cuda::CudaDriverApi::get();
  if (!driver) {
    ModelOptions onGpu;
    onGpu.device = "cuda";
    auto noDriver = Model::load(path("mini.cuda.bkart"), onGpu);
    ASSERT_FALSE(noDriver.isOk());
    EXPECT_EQ(noDriver.status().code(), driver.status().code());
    EXPECT_EQ(noDriver.status().message(), driver.status().message());
  }
}

// A program of `n` kernels with made-up files (no NVRTC needed); the last
// kernel's cubin is `lastCubin` bytes.
CudaProgram fakeProgram(int n, size_t lastCubin) {
  CudaProgram p;
  for (int i = 0; i < n; ++i) {
    CudaKernelImage k;
    k.name = "k" + std::to_string(i);
    k.kernel = "linear";
    k.arch = "sm_90a";
    k.source = "// source " + std::to_string(i);
    k.ptx = "// ptx " + std::to_string(i);
    k.cubin.assign(i + 1 == n ? lastCubin : 16, uint8_t(i));
    p.kernels.push_back(std::move(k));
  }
  return p;
}

std::vector<std::string> listing(const std::string &dir) {
  std::vector<std::string> names;
  for (const auto &e : std::filesystem::directory_iterator(dir))
    names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

// A dump replaces the previous one whole (no file of it stays) and leaves
// nothing beside it.
TEST(DumpKernels, ReplacesThePreviousDumpWhole) {
  TempDir dir;
  std::string dump = dir.file("dump");
  ASSERT_TRUE(dumpCudaKernels(fakeProgram(3, 16), dump).isOk());
  writeBytes(dump + "/stale.txt", "from an older dump");
  ASSERT_TRUE(dumpCudaKernels(fakeProgram(2, 16), dump).isOk());
  EXPECT_EQ(listing(dump),
            (std::vector<std::string>{"k0.cu", "k0.cubin", "k0.ptx", "k1.cu",
                                      "k1.cubin", "k1.ptx", "resources.txt"}));
  EXPECT_EQ(listing(dir.path()), std::vector<std::string>{"dump"});
}

// SIGINT while the dump is being written (its folder holds finished files):
// the process dies of the signal and leaves no DIR.partial.<pid>, and the
// previous dump stays as it was. The interrupt comes at a set point: the
// child's file-size limit makes writing the last cubin raise SIGXFSZ, whose
// handler raises SIGINT.
TEST(DumpKernels, InterruptLeavesNothingBehind) {
  for (bool previous : {false, true}) {
    TempDir dir;
    std::string dump = dir.file("dump");
    if (previous)
      ASSERT_TRUE(dumpCudaKernels(fakeProgram(1, 16), dump).isOk());
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      std::signal(SIGINT, SIG_DFL);
      installInterruptCleanup();
      std::signal(SIGXFSZ, [](int) { std::raise(SIGINT); });
      rlimit limit{64 << 10, 64 << 10};
      ::setrlimit(RLIMIT_FSIZE, &limit);
      (void)dumpCudaKernels(fakeProgram(40, 1 << 20), dump);
      ::_exit(3); // not interrupted
    }
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGINT)
        << "previous " << previous << ": status " << status;
    EXPECT_EQ(listing(dir.path()), previous ? std::vector<std::string>{"dump"}
                                            : std::vector<std::string>{})
        << "previous " << previous;
    if (previous)
      EXPECT_EQ(listing(dump),
                (std::vector<std::string>{"k0.cu", "k0.cubin", "k0.ptx",
                                          "resources.txt"}));
  }
}

} // namespace
