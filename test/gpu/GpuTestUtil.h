//===- GpuTestUtil.h - Running generated kernels against the host kernels -===//
//
// Shared by the GPU tests: the device (or why the tests skip), running a
// KernelHarness's launch through its generated cubin on the same bytes as
// the host kernel (buffers and state rows), random inputs and the two
// comparisons (bitwise; within one bf16 ulp).
//
//===----------------------------------------------------------------------===//
#ifndef BIRKHOFF_TEST_GPU_GPUTESTUTIL_H
#define BIRKHOFF_TEST_GPU_GPUTESTUTIL_H

#include "KernelSource.h"
#include "KernelTestUtil.h"

#include "cuda/CudaDriverApi.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <random>
#include <utility>
#include <vector>

namespace birkhoff::cuda::gputest {

using birkhoff::test::HostKernelRef;
using birkhoff::test::KernelHarness;

struct Gpu {
  const CudaDriverApi *api = nullptr;
  CuDevice dev = 0;
  CuContext ctx = nullptr;
};

/// The device, or why there is none (the tests skip with it).
Expected<Gpu> gpu();

#define REQUIRE_GPU()                                                          \
  auto gpuOrSkip = ::birkhoff::cuda::gputest::gpu();                           \
  if (!gpuOrSkip)                                                              \
    GTEST_SKIP() << gpuOrSkip.status().toString();                             \
  const ::birkhoff::cuda::gputest::Gpu &G = *gpuOrSkip;                        \
  ASSERT_TRUE(                                                                 \
      G.api->check("cuCtxSetCurrent", G.api->ctxSetCurrent(G.ctx)).isOk())

/// The launch spec of the harness's launch: its params decoded as the runtime
/// decodes them (a bad one is the error), its weights' formats and shapes.
Expected<CudaLaunchSpec> specOf(const KernelHarness &h);

/// While alive, edits the schedule chooseSchedule gives every launch the
/// tests generate (to reach a knob's edge, e.g. scores beyond the scored
/// indexer's rows, at a size the host can check).
class ScheduleEdit {
public:
  explicit ScheduleEdit(std::function<void(Schedule &)> edit);
  ~ScheduleEdit();
  ScheduleEdit(const ScheduleEdit &) = delete;
  ScheduleEdit &operator=(const ScheduleEdit &) = delete;
};

/// Runs `check` once per indexer_topk schedule for a call of `tokens` tokens:
/// "cluster" (entry of unknown size), "scored" (an entry of `tokens` tokens),
/// and "scored" with only the first 10 entries' scores in scratch.
void forEachIndexerSchedule(KernelHarness &h, int64_t tokens,
                            const std::function<void()> &check);

/// The official sparse_attention "split" variant against the host kernel, in
/// bf16 ulps of the largest output of each (token, head) row
/// (expectWithinBf16UlpOfRow): its logits sum in another order and it rounds
/// P against each key range's running max (templates/attention_split.cuh).
/// Simulated in double against exact attention (random bf16 keys, 40 to
/// 8,320 of them), the split and the host kernel are equally far from it
/// (worst 1.2e-4 and 1.5e-4 at 640 keys, row rms 0.024); they differ by up to
/// a bf16 rounding of the larger elements.
inline constexpr int kSplitAttentionUlps = 2;

/// Runs `check(split)` once per official sparse_attention schedule for a call
/// of `tokens` tokens (heads a multiple of 4): "fixed" (split false), "split"
/// as `--split-decode-attention` chooses it (16 ranges of 4-head blocks), and
/// "split" into at most 3 key ranges of 2-head blocks (uneven ranges of
/// several stages); the split ones in an entry of `tokens` tokens.
void forEachAttentionSchedule(KernelHarness &h, int64_t tokens,
                              const std::function<void(bool split)> &check);

/// What a launch left: its output buffers and its state buffers (launch
/// order), as f32 words (integer outputs keep their bits).
struct LaunchResult {
  std::vector<std::vector<float>> outputs;
  std::vector<std::vector<float>> states;
};

/// Runs the harness's launch on the GPU from the harness's buffers and states
/// as they are now (the harness is not modified), as one sequence of
/// `tokens` tokens from position `start` in slot 0: BkToken t = {start + t,
/// 0, 0, tokens - 1}; fixed states (program.states' tokensPerRow 0) hold the
/// state's rows per slot; a growing state is one page of its rows rounded up
/// to a power of two (zero-padded), page table {0}.
Expected<LaunchResult> runLaunchOnGpu(const Gpu &g, const KernelHarness &h,
                                      int64_t tokens, int64_t start);
/// Milliseconds per launch over `reps` launches (after one warm-up launch),
/// back to back on the default stream, from the harness's buffers and states.
Expected<double> timeLaunchOnGpu(const Gpu &g, const KernelHarness &h,
                                 int64_t tokens, int64_t start, int reps);
/// Its outputs only.
Expected<std::vector<std::vector<float>>>
runOnGpu(const Gpu &g, const KernelHarness &h, int64_t tokens, int64_t start);

/// Runs the GPU, then the host kernel (which updates the harness, so a
/// following call starts from the host's state); {gpu, host}. Failures are
/// reported through gtest and give empty results.
std::pair<LaunchResult, LaunchResult>
runBothFull(const Gpu &g, KernelHarness &h, const HostKernelRef &fn,
            int64_t tokens, int64_t start);
/// Outputs only: {gpu outputs, host outputs}.
std::pair<std::vector<std::vector<float>>, std::vector<std::vector<float>>>
runBoth(const Gpu &g, KernelHarness &h, const HostKernelRef &fn, int64_t tokens,
        int64_t start);

/// One sequence of a batched call; the sequences' rows follow each other in
/// the harness's buffers (call order).
struct BatchSeq {
  int32_t slot = 0;
  int64_t start = 0, tokens = 0;
};

/// Where the device holds a batch's states: `slots` slots of every fixed
/// state, slot after slot; growing states in pages of `pageRows` rows (a power
/// of two), the pages of all slots shuffled over one pool (by `seed`). Rows
/// no sequence owns hold random bytes.
struct BatchPaging {
  int64_t slots = 4;
  int64_t pageRows = 2;
  uint32_t seed = 1;
};

/// States per sequence: [sequence][launch state], each in the harness's flat
/// layout of that state (its rows, f32 words).
using SeqStates = std::vector<std::vector<std::vector<float>>>;

/// What a batch left: the output buffers (all rows) and each sequence's
/// states, flat.
struct BatchResult {
  std::vector<std::vector<float>> outputs;
  SeqStates states;
};

/// Runs the harness's launch once on the GPU over the sequences of `seqs`
/// (their rows: the harness's buffers, in order), each sequence's states
/// placed in its slot and pages as `paging` says.
Expected<BatchResult> runBatchOnGpu(const Gpu &g, const KernelHarness &h,
                                    const std::vector<BatchSeq> &seqs,
                                    const SeqStates &states,
                                    const BatchPaging &paging);
/// Sequence k of the batch alone in a launch (its rows of the buffers, its
/// states) in `slot`, its pages placed as `paging` says.
Expected<BatchResult> runSequenceAloneOnGpu(const Gpu &g, KernelHarness &h,
                                            const std::vector<BatchSeq> &seqs,
                                            const SeqStates &states, size_t k,
                                            int32_t slot,
                                            const BatchPaging &paging);
/// The host kernel once per sequence on its rows and its flat states (the
/// harness's buffers and states are left as they were).
Expected<BatchResult> runBatchOnHost(KernelHarness &h, const HostKernelRef &fn,
                                     const std::vector<BatchSeq> &seqs,
                                     const SeqStates &states);

std::mt19937 &rng();
std::vector<float> randomFloats(size_t n, float scale = 1.0f);
/// Random values already rounded to bf16 (official activations are bf16).
std::vector<float> randomBf16(size_t n, float scale = 1.0f);
std::vector<uint8_t> bf16Bytes(const std::vector<float> &v);
std::vector<uint8_t> randomBytes(size_t n, int lo, int hi,
                                 bool avoidFp8Nan = false);
/// Random values on a coarse grid (integers times `step`, |v| <= lim·step):
/// dot products of such rows are exact in fp32 in any order, so projections
/// agree bitwise and the comparison sees the official roundings only.
std::vector<float> gridValues(size_t n, int lim, float step);
/// Rows of KV entries of head_dim `hd` with `rd` RoPE dims (or FP4 keys when
/// `keys`) encoding random bf16 values.
std::vector<uint8_t> encodedRows(int64_t rows, int64_t hd, int64_t rd,
                                 bool keys);
/// i32 values stored in an f32 buffer's words.
std::vector<float> intWords(const std::vector<int32_t> &v);
uint32_t bits(float f);

/// K distinct values of [0, n) per row, in random order: [rows, k].
std::vector<int32_t> distinctPerRow(int64_t rows, int64_t n, int64_t k);

/// Makes `h` a moe launch over the S token rows of `x`: inputs x, K distinct
/// experts of E per token in random order (i32 words) and positive random
/// routing weights; output y of x's shape. Weights and parameters are the
/// caller's.
void setMoeActivations(KernelHarness &h, int64_t S, int64_t K, int64_t E,
                       std::vector<float> x);

void expectBitwise(const std::vector<float> &gpuOut,
                   const std::vector<float> &host, const char *what);
/// How many values of `a` equal those of `b` bit for bit (same sizes).
size_t bitwiseEqualCount(const std::vector<float> &a,
                         const std::vector<float> &b);
/// |gpu - host| <= `ulps` bf16 ulps of max(|host|, 1e-3 · rms(host)) for
/// every value: the floor keeps heavily cancelled (near-zero) sums from
/// demanding more than fp32 reassociation can give.
void expectWithinBf16Ulp(const std::vector<float> &gpuOut,
                         const std::vector<float> &host, const char *what,
                         int ulps = 1);

/// |gpu - host| <= `ulps` bf16 ulps of the largest |host| of its row (rows of
/// `rowLen` values): a normwise bound, for outputs that are weighted averages
/// (attention), where an element near zero is a cancelled sum whose own ulp
/// says nothing about the error of the computation.
void expectWithinBf16UlpOfRow(const std::vector<float> &gpuOut,
                              const std::vector<float> &host, int64_t rowLen,
                              const char *what, int ulps);

/// Fails when every word of `v` is zero (a comparison of two all-zero
/// results would prove nothing).
void expectNotAllZero(const std::vector<float> &v, const char *what);

/// Sets each (key, value) as a launch parameter of `h`.
void setParams(KernelHarness &h,
               std::initializer_list<std::pair<const char *, double>> params);
/// V4-Flash's compressed-layer RoPE (YaRN, theta 160000) on `rd` dims, and
/// `numerics` 1 when `official`.
void yarnRope(KernelHarness &h, int64_t rd, bool official = false);

/// Adds an FP8 e4m3 weight [out, in] with its 128x128 e8m0 scales.
int addFp8Weight(KernelHarness &h, const std::string &name, int64_t out,
                 int64_t in);
/// Adds an FP4 e2m1 weight [out, in] with its per-32 e8m0 scales.
int addFp4Weight(KernelHarness &h, const std::string &name, int64_t out,
                 int64_t in);

} // namespace birkhoff::cuda::gputest

#endif // BIRKHOFF_TEST_GPU_GPUTESTUTIL_H
