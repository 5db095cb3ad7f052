// Ceilings.cu - what the GPU can do at best, measured in the same run as
// Birkhoff's own numbers (scripts/gpu-bench.sh): device-to-device copy
// bandwidth, streaming read bandwidth (what a decode step's weight reads are
// bound by), and the dense FP8 GEMM rate of cuBLASLt (e4m3 x e4m3 -> bf16,
// fp32 accumulation), the rate a prefill's matrix work is bound by.
//
// Built with nvcc by scripts/gpu-bench.sh on the GPU machine; not part of
// the CMake build (the project itself needs no CUDA toolkit to build).
//
//   gpu-ceilings [--gemm M,N,K ...]
#include <cublasLt.h>
#include <cuda_bf16.h>
#include <cuda_fp8.h>
#include <cuda_runtime.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#define CHECK_CUDA(x)                                                          \
  do {                                                                         \
    cudaError_t e_ = (x);                                                      \
    if (e_ != cudaSuccess) {                                                   \
      std::fprintf(stderr, "%s failed: %s\n", #x, cudaGetErrorString(e_));     \
      std::exit(1);                                                            \
    }                                                                          \
  } while (0)
#define CHECK_LT(x)                                                            \
  do {                                                                         \
    cublasStatus_t s_ = (x);                                                   \
    if (s_ != CUBLAS_STATUS_SUCCESS) {                                         \
      std::fprintf(stderr, "%s failed: status %d\n", #x, int(s_));             \
      std::exit(1);                                                            \
    }                                                                          \
  } while (0)

namespace {

// Sums 16-byte vectors, grid-stride; the sum is written so the reads stay.
__global__ void readAll(const uint4 *p, size_t n, unsigned *sink) {
  unsigned acc = 0;
  for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < n;
       i += size_t(gridDim.x) * blockDim.x) {
    uint4 v = __ldg(p + i);
    acc ^= v.x ^ v.y ^ v.z ^ v.w;
  }
  if (acc == 0x12345678u)
    *sink = acc;
}

template <class Fn> float bestMs(int reps, Fn &&fn) {
  cudaEvent_t a, b;
  CHECK_CUDA(cudaEventCreate(&a));
  CHECK_CUDA(cudaEventCreate(&b));
  fn(); // warm up
  float best = 1e30f;
  for (int r = 0; r < reps; ++r) {
    CHECK_CUDA(cudaEventRecord(a));
    fn();
    CHECK_CUDA(cudaEventRecord(b));
    CHECK_CUDA(cudaEventSynchronize(b));
    float ms = 0;
    CHECK_CUDA(cudaEventElapsedTime(&ms, a, b));
    best = ms < best ? ms : best;
  }
  CHECK_CUDA(cudaEventDestroy(a));
  CHECK_CUDA(cudaEventDestroy(b));
  return best;
}

void bandwidth() {
  const size_t bytes = size_t(4) << 30;
  void *src = nullptr, *dst = nullptr;
  unsigned *sink = nullptr;
  CHECK_CUDA(cudaMalloc(&src, bytes));
  CHECK_CUDA(cudaMalloc(&dst, bytes));
  CHECK_CUDA(cudaMalloc(&sink, 4));
  CHECK_CUDA(cudaMemset(src, 1, bytes));
  float copy = bestMs(10, [&] {
    CHECK_CUDA(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice));
  });
  int sms = 0;
  CHECK_CUDA(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0));
  float read = bestMs(10, [&] {
    readAll<<<sms * 8, 256>>>((const uint4 *)src, bytes / 16, sink);
  });
  std::printf("copy_bandwidth_gbs %.1f   (cudaMemcpy D2D of %zu MiB: read + "
              "write bytes / time)\n",
              2.0 * double(bytes) / (copy * 1e6), bytes >> 20);
  std::printf("read_bandwidth_gbs %.1f   (streaming 16-byte loads of %zu "
              "MiB)\n",
              double(bytes) / (read * 1e6), bytes >> 20);
  CHECK_CUDA(cudaFree(src));
  CHECK_CUDA(cudaFree(dst));
  CHECK_CUDA(cudaFree(sink));
}

// D[M,N] = A[M,K] · B[N,K]^T in e4m3, bf16 out, fp32 accumulation; the "TN"
// layout cuBLASLt requires for FP8 (column-major A^T stored K x M).
void fp8Gemm(cublasLtHandle_t lt, int64_t M, int64_t N, int64_t K) {
  void *A, *B, *D, *workspace;
  const size_t wsBytes = size_t(64) << 20;
  CHECK_CUDA(cudaMalloc(&A, size_t(M * K)));
  CHECK_CUDA(cudaMalloc(&B, size_t(N * K)));
  CHECK_CUDA(cudaMalloc(&D, size_t(M * N) * 2));
  CHECK_CUDA(cudaMalloc(&workspace, wsBytes));
  CHECK_CUDA(cudaMemset(A, 0x38, size_t(M * K))); // 1.0 in e4m3
  CHECK_CUDA(cudaMemset(B, 0x30, size_t(N * K))); // 0.5
  cublasLtMatmulDesc_t op;
  CHECK_LT(cublasLtMatmulDescCreate(&op, CUBLAS_COMPUTE_32F, CUDA_R_32F));
  cublasOperation_t ta = CUBLAS_OP_T, tb = CUBLAS_OP_N;
  CHECK_LT(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_TRANSA, &ta,
                                          sizeof ta));
  CHECK_LT(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_TRANSB, &tb,
                                          sizeof tb));
  cublasLtMatrixLayout_t la, lb, ld;
  CHECK_LT(cublasLtMatrixLayoutCreate(&la, CUDA_R_8F_E4M3, K, M, K));
  CHECK_LT(cublasLtMatrixLayoutCreate(&lb, CUDA_R_8F_E4M3, K, N, K));
  CHECK_LT(cublasLtMatrixLayoutCreate(&ld, CUDA_R_16BF, M, N, M));
  cublasLtMatmulPreference_t pref;
  CHECK_LT(cublasLtMatmulPreferenceCreate(&pref));
  CHECK_LT(cublasLtMatmulPreferenceSetAttribute(
      pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &wsBytes,
      sizeof wsBytes));
  cublasLtMatmulHeuristicResult_t heur{};
  int found = 0;
  CHECK_LT(cublasLtMatmulAlgoGetHeuristic(lt, op, la, lb, ld, ld, pref, 1,
                                          &heur, &found));
  if (found == 0) {
    std::printf("fp8_gemm %lldx%lldx%lld: no cuBLASLt algorithm\n",
                (long long)M, (long long)N, (long long)K);
    return;
  }
  const float alpha = 1.0f, beta = 0.0f;
  float ms = bestMs(20, [&] {
    CHECK_LT(cublasLtMatmul(lt, op, &alpha, A, la, B, lb, &beta, D, ld, D, ld,
                            &heur.algo, workspace, wsBytes, 0));
  });
  double tflops = 2.0 * double(M) * double(N) * double(K) / (ms * 1e9);
  std::printf("fp8_gemm_tflops %.1f   (cuBLASLt e4m3 TN -> bf16, M=%lld "
              "N=%lld K=%lld, %.3f ms)\n",
              tflops, (long long)M, (long long)N, (long long)K, ms);
  cublasLtMatmulPreferenceDestroy(pref);
  cublasLtMatrixLayoutDestroy(la);
  cublasLtMatrixLayoutDestroy(lb);
  cublasLtMatrixLayoutDestroy(ld);
  cublasLtMatmulDescDestroy(op);
  CHECK_CUDA(cudaFree(A));
  CHECK_CUDA(cudaFree(B));
  CHECK_CUDA(cudaFree(D));
  CHECK_CUDA(cudaFree(workspace));
}

} // namespace

int main(int argc, char **argv) {
  cudaDeviceProp prop{};
  CHECK_CUDA(cudaGetDeviceProperties(&prop, 0));
  std::printf("device %s, %d SMs, %.1f GiB\n", prop.name,
              prop.multiProcessorCount,
              double(prop.totalGlobalMem) / double(1u << 30));
  bandwidth();
  cublasLtHandle_t lt;
  CHECK_LT(cublasLtCreate(&lt));
  std::vector<std::vector<int64_t>> shapes = {{8192, 8192, 8192},
                                              {512, 32768, 1024},
                                              {512, 4096, 8192}};
  for (int i = 1; i + 1 < argc; i += 2)
    if (std::string(argv[i]) == "--gemm") {
      long long m, n, k;
      if (std::sscanf(argv[i + 1], "%lld,%lld,%lld", &m, &n, &k) == 3)
        shapes.push_back({m, n, k});
    }
  for (const auto &s : shapes)
    fp8Gemm(lt, s[0], s[1], s[2]);
  cublasLtDestroy(lt);
  return 0;
}
